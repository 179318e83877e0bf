OK_FORMAT = True

test = {   'name': 'q2',
    'points': 3,
    'suites': [   {   'cases': [{'code': '>>> print([int(x) for x in acquire(np.array([0.1, 0.9, 0.5]), np.array([10, 11, 12]), 2)])\n[11, 12]\n', 'hidden': False, 'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
