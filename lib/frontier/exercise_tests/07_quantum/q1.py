OK_FORMAT = True

test = {   'name': 'q1',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> e = estimate(np.full(1000, 0.5), 10, np.random.default_rng(0))\n'
                                               '>>> assert e.shape == (1000,)\n'
                                               ">>> assert np.allclose(e * 10, np.round(e * 10)), 'means of 10 outcomes are multiples of 0.2'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
