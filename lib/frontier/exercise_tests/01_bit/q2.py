OK_FORMAT = True

test = {   'name': 'q2',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> import keras\n'
                                               '>>> s = post_schedule(500, 0.003)\n'
                                               '>>> assert isinstance(s, keras.optimizers.schedules.PiecewiseConstantDecay)\n'
                                               '>>> assert abs(float(s(100)) - 0.003) < 1e-09\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
