OK_FORMAT = True

test = {   'name': 'q4',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> import pathlib, tempfile\n'
                                               '>>> d = pathlib.Path(tempfile.mkdtemp())\n'
                                               ">>> print(bytes(save_atomically([b'ab', b'cd'], d / 'x.bin').read_bytes()))\n"
                                               "b'abcd'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
