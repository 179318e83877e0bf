OK_FORMAT = True

test = {   'name': 'q2',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> import keras\n'
                                               '>>> layer = AlwaysOnDropout(0.5)\n'
                                               ">>> x = np.ones((8, 100), 'float32')\n"
                                               '>>> a = keras.ops.convert_to_numpy(layer(x, training=False))\n'
                                               '>>> b = keras.ops.convert_to_numpy(layer(x, training=False))\n'
                                               ">>> print(a.shape, 'two calls at inference agree:', bool(np.allclose(a, b)))\n"
                                               '(8, 100) two calls at inference agree: False\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
