OK_FORMAT = True

test = {   'name': 'q1',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> assert np.isclose(vote_nll(2, 4, 0.5), 4 * np.log(2))\n>>> assert np.isclose(ratio_4, (0.5 / 0.3) ** 2 * (0.5 / 0.7) ** 2)\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
