OK_FORMAT = True

test = {   'name': 'q3',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> import numpy as np\n'
                                               '>>> k = np.random.default_rng(0).normal(3.0, 2.0, size=(3, 3, 4, 5))\n'
                                               '>>> w = standardize(k)\n'
                                               '>>> print(w.shape, [abs(round(float(m), 6)) for m in w.mean(axis=(0, 1, 2))])\n'
                                               '(3, 3, 4, 5) [0.0, 0.0, 0.0, 0.0, 0.0]\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
