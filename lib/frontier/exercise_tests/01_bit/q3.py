OK_FORMAT = True

test = {   'name': 'q3',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> import numpy as np\n'
                                               '>>> k = np.random.default_rng(0).normal(3.0, 2.0, size=(3, 3, 4, 5))\n'
                                               '>>> w = standardize(k)\n'
                                               '>>> assert w.shape == (3, 3, 4, 5)\n'
                                               '>>> assert np.allclose(w.mean(axis=(0, 1, 2)), 0, atol=1e-06)\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
