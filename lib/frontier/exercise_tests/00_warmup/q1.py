OK_FORMAT = True

test = {   'name': 'q1',
    'points': 2,
    'suites': [   {   'cases': [   {'code': ">>> import frontier\n>>> P = frontier.profile('smoke', 'warmup')\n>>> print(P.examples <= 32, P.epochs)\nTrue 1\n", 'hidden': False, 'locked': False},
                                   {   'code': ">>> import frontier\n>>> print(work(frontier.profile('smoke', 'warmup')) < work(frontier.profile('quick', 'warmup')))\nTrue\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
