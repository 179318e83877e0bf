OK_FORMAT = True

test = {   'name': 'q3',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> needed = [labels_needed([10, 20], [3.0, 1.0], 2.0), labels_needed([10, 20], [3.0, 2.5], 2.0)]\n'
                                               '>>> print([None if x is None else float(x) for x in needed])\n'
                                               '[15.0, None]\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
