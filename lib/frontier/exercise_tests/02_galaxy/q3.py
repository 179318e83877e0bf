OK_FORMAT = True

test = {   'name': 'q3',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> scores = bald(np.array([[0.1, 0.5], [0.9, 0.5]]), np.array([10, 10]))\n'
                                               '>>> print(scores.shape, round(float(scores[0]), 4), abs(round(float(scores[1]), 9)))\n'
                                               '(2,) 0.6913 0.0\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
