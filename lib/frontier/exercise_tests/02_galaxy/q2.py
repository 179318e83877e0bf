OK_FORMAT = True

test = {   'name': 'q2',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> import keras\n'
                                               '>>> layer = AlwaysOnDropout(0.5)\n'
                                               ">>> x = np.ones((8, 100), 'float32')\n"
                                               '>>> a = keras.ops.convert_to_numpy(layer(x, training=False))\n'
                                               '>>> b = keras.ops.convert_to_numpy(layer(x, training=False))\n'
                                               ">>> assert a.shape == (8, 100) and (not np.allclose(a, b)), 'two calls at inference should differ'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
