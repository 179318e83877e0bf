OK_FORMAT = True

test = {   'name': 'q3',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> scores = bald(np.array([[0.1, 0.5], [0.9, 0.5]]), np.array([10, 10]))\n'
                                               '>>> assert scores.shape == (2,)\n'
                                               ">>> assert scores[0] > 0.5 and abs(scores[1]) < 1e-09, 'disagreeing samples score high, agreeing ones 0'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
