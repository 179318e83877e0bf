OK_FORMAT = True

test = {   'name': 'q4',
    'points': 3,
    'suites': [{'cases': [{'code': '>>> print(shots_needed(0.5), shots_needed(0.1))\n2 50\n', 'hidden': False, 'locked': False}], 'scored': True, 'setup': '', 'teardown': '', 'type': 'doctest'}]}
