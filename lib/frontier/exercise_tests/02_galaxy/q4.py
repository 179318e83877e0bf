OK_FORMAT = True

test = {   'name': 'q4',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> lo, hi = predictive_interval(np.array([[0.5]]), np.array([4]))\n>>> print(lo.shape, int(lo[0]), int(hi[0]))\n(1,) 1 3\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
