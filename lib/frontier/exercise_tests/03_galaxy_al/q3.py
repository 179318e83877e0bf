OK_FORMAT = True

test = {   'name': 'q3',
    'points': 3,
    'suites': [   {   'cases': [{'code': '>>> assert labels_needed([10, 20], [3.0, 1.0], 2.0) == 15\n>>> assert labels_needed([10, 20], [3.0, 2.5], 2.0) is None\n', 'hidden': False, 'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
