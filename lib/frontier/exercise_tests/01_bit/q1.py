OK_FORMAT = True

test = {   'name': 'q1',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> b = (100, 200, 300, 400, 500)\n'
                                               '>>> assert type(bit_lr(150, b, 0.003)) is float\n'
                                               '>>> assert abs(bit_lr(50, b, 0.003) - 0.0015) < 1e-12\n'
                                               '>>> assert abs(bit_lr(250, b, 0.003) - 0.0003) < 1e-12\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
