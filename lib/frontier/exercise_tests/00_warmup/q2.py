OK_FORMAT = True

test = {   'name': 'q2',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> from frontier.report import MIME_TYPE\n'
                                               ">>> cell = {'cell_type': 'code', 'outputs': [{'output_type': 'display_data', 'data': {MIME_TYPE: {'name': 'acc', 'value': 0.9}, 'text/plain': "
                                               "'[recorded] acc = 0.9'}}]}\n"
                                               ">>> print(sorted(dict(read_results({'cells': [cell]})).items()))\n"
                                               "[('acc', 0.9)]\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
