OK_FORMAT = True

test = {   'name': 'q1',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> got = expected_volunteers(np.array([[0.9, 0.05], [0.7, 0.07]]), np.array([30, 50]))\n>>> print([int(x) for x in got])\n[32, 2]\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
