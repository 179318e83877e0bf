OK_FORMAT = True

test = {   'name': 'q3',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> import hashlib, pathlib, tempfile\n'
                                               ">>> p = pathlib.Path(tempfile.mkdtemp()) / 'hello.txt'\n"
                                               ">>> _ = p.write_bytes(b'hello')\n"
                                               ">>> assert verify(p, hashlib.sha256(b'hello').hexdigest()) is True\n"
                                               ">>> assert verify(p, '0' * 64) is False\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
