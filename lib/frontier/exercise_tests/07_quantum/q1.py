OK_FORMAT = True

test = {   'name': 'q1',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> e = estimate(np.full(1000, 0.5), 10, np.random.default_rng(0))\n'
                                               ">>> print(e.shape, 'means of 10 outcomes are multiples of 0.1:', bool(np.allclose(e * 10, np.round(e * 10))))\n"
                                               '(1000,) means of 10 outcomes are multiples of 0.1: True\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
