OK_FORMAT = True

test = {   'name': 'q2',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> import keras\n'
                                               '>>> s = post_schedule(500, 0.003)\n'
                                               '>>> print(isinstance(s, keras.optimizers.schedules.PiecewiseConstantDecay), round(float(s(100)), 9))\n'
                                               'True 0.003\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
