OK_FORMAT = True

test = {   'name': 'q1',
    'points': 2,
    'suites': [   {   'cases': [   {'code': ">>> import frontier\n>>> P = frontier.profile('smoke', 'warmup')\n>>> assert P.examples <= 32 and P.epochs == 1\n", 'hidden': False, 'locked': False},
                                   {   'code': ">>> import frontier\n>>> assert work(frontier.profile('smoke', 'warmup')) < work(frontier.profile('quick', 'warmup'))\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
