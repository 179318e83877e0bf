OK_FORMAT = True

test = {   'name': 'q1',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> b = (100, 200, 300, 400, 500)\n'
                                               '>>> print(type(bit_lr(150, b, 0.003)) is float, round(bit_lr(50, b, 0.003), 10), round(bit_lr(250, b, 0.003), 10))\n'
                                               'True 0.0015 0.0003\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
