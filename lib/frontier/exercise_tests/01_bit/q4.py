OK_FORMAT = True

test = {   'name': 'q4',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> import numpy as np\n'
                                               '>>> x = np.random.default_rng(0).normal(size=(2, 4, 4, 8))\n'
                                               '>>> print(group_norm(x, 4).shape, depends_on_batch)\n'
                                               '(2, 4, 4, 8) False\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
