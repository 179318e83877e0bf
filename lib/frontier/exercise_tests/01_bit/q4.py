OK_FORMAT = True

test = {   'name': 'q4',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> import numpy as np\n'
                                               '>>> x = np.random.default_rng(0).normal(size=(2, 4, 4, 8))\n'
                                               '>>> assert group_norm(x, 4).shape == (2, 4, 4, 8)\n'
                                               '>>> assert depends_on_batch is False\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
