OK_FORMAT = True

test = {   'name': 'q3',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> import hashlib, pathlib, tempfile\n'
                                               ">>> p = pathlib.Path(tempfile.mkdtemp()) / 'hello.txt'\n"
                                               ">>> _ = p.write_bytes(b'hello')\n"
                                               ">>> print(verify(p, hashlib.sha256(b'hello').hexdigest()), verify(p, '0' * 64))\n"
                                               'True False\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
