OK_FORMAT = True

test = {   'name': 'q2',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> import cirq, sympy\n'
                                               '>>> from frontier import quantum as q\n'
                                               ">>> t = sympy.Symbol('t')\n"
                                               '>>> qubit = cirq.LineQubit(0)\n'
                                               '>>> sim = q.Simulator(cirq.Circuit(cirq.rx(t).on(qubit)), [t], [cirq.Z(qubit)])\n'
                                               '>>> g = shift_gradient(sim, np.array([[0.4], [1.2]], np.float32), 0)\n'
                                               '>>> print(g.shape, [round(float(v), 4) for v in g])\n'
                                               '(2,) [-0.3894, -0.932]\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
