"""frontier.quantum: the TensorFlow statevector simulator against cirq, gradients, shot noise,
the layerwise recipe and the lesson's experiments."""

from __future__ import annotations

import cirq
import numpy as np
import pytest
import sympy
import tensorflow as tf

from frontier import quantum as q


def random_circuit(n_qubits: int, depth: int, rng: np.random.Generator):
    """Every supported gate, symbolic (linear) and numeric angles, random placement."""
    qubits = cirq.LineQubit.range(n_qubits)
    symbols = sympy.symbols(f"s0:{3}")
    ops = []
    for _ in range(depth):
        kind = rng.integers(0, 9)
        a = qubits[rng.integers(n_qubits)]
        b = qubits[(qubits.index(a) + 1 + rng.integers(n_qubits - 1)) % n_qubits]
        angle = [symbols[rng.integers(3)], 2 * symbols[rng.integers(3)] - 0.4,
                 sympy.pi * symbols[rng.integers(3)], float(rng.uniform(-3, 3))][rng.integers(4)]
        ops.append([cirq.rx(angle).on(a), cirq.ry(angle).on(a), cirq.rz(angle).on(a),
                    cirq.X(a), cirq.Y(a), cirq.Z(a), cirq.H(a), cirq.CZ(a, b),
                    cirq.CNOT(a, b)][kind])
    circuit = cirq.Circuit(cirq.H.on_each(*qubits), ops)
    observables = [cirq.Z(qubits[0]), cirq.Z(qubits[0]) * cirq.Z(qubits[-1]),
                   0.5 * cirq.X(qubits[1]) * cirq.Y(qubits[0]) - 0.25 * cirq.Z(qubits[-1])]
    return circuit, list(symbols), observables


def cirq_expectations(circuit, symbols, values, observables):
    sim = cirq.Simulator(dtype=np.complex128)
    qubit_map = {qb: i for i, qb in enumerate(sorted(circuit.all_qubits()))}
    out = []
    for row in values:
        resolver = {str(s): float(v) for s, v in zip(symbols, row, strict=True)}
        state = sim.simulate(circuit, param_resolver=resolver,
                             qubit_order=sorted(circuit.all_qubits())).final_state_vector
        out.append([cirq.PauliSum.wrap(o).expectation_from_state_vector(state, qubit_map).real
                    for o in observables])
    return np.array(out)


@pytest.mark.parametrize("n_qubits", [2, 3, 5, 7])
def test_matches_cirq(n_qubits):
    rng = np.random.default_rng(n_qubits)
    circuit, symbols, observables = random_circuit(n_qubits, 40, rng)
    values = rng.uniform(-np.pi, np.pi, (6, len(symbols))).astype(np.float32)
    ours = q.expectation(circuit, symbols, values, observables).numpy()
    assert ours.shape == (6, 3) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, cirq_expectations(circuit, symbols, values, observables),
                               atol=1e-5)


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    circuit, symbols, observables = random_circuit(4, 30, rng)
    sim = q.Simulator(circuit, symbols, observables[:2])
    values = tf.Variable(rng.uniform(-2, 2, (3, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(sim(values))
    grad = tape.gradient(total, values).numpy()
    h = 1e-2
    numeric = np.zeros_like(grad)
    base = values.numpy().astype(np.float64)
    for i in range(base.shape[0]):
        for j in range(base.shape[1]):
            plus, minus = base.copy(), base.copy()
            plus[i, j] += h
            minus[i, j] -= h
            numeric[i, j] = (np.sum(cirq_expectations(circuit, symbols, plus, observables[:2]))
                             - np.sum(cirq_expectations(circuit, symbols, minus,
                                                        observables[:2]))) / (2 * h)
    np.testing.assert_allclose(grad, numeric, atol=2e-3)


def test_sampled_values_lie_on_the_shot_grid_and_average_to_the_truth():
    qubits = cirq.LineQubit.range(2)
    theta = sympy.Symbol("theta")
    circuit = cirq.Circuit(cirq.ry(theta).on(qubits[0]), cirq.CNOT(*qubits))
    sim = q.Simulator(circuit, [theta], [cirq.Z(qubits[1])])
    values = np.full((4000, 1), 1.1, np.float32)
    r = 7
    sampled = sim(values, repetitions=r, seed=(3, 4)).numpy()[:, 0]
    grid = -1 + 2 * np.arange(r + 1) / r
    assert np.all(np.min(np.abs(sampled[:, None] - grid[None]), axis=1) < 1e-6)
    exact = np.cos(1.1)
    assert abs(sampled.mean() - exact) < 4 * np.sqrt((1 - exact**2) / r / len(sampled))
    assert len(np.unique(sampled)) > 3, "shot noise varies between examples"


def test_parameter_shift_gradient_is_unbiased_and_noisy():
    qubits = cirq.LineQubit.range(1)
    theta = sympy.Symbol("theta")
    sim = q.Simulator(cirq.Circuit(cirq.rx(theta).on(qubits[0])), [theta], [cirq.Z(qubits[0])])
    values = tf.Variable(np.full((3000, 1), 0.7, np.float32))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(sim(values, repetitions=10, seed=(5, 6)))
    grads = tape.gradient(total, values).numpy()[:, 0]
    assert abs(grads.mean() - (-np.sin(0.7))) < 0.03
    assert grads.std() > 0.1, "10 shots per expectation make single gradients noisy"
    assert np.all(np.abs(grads * 10 - np.round(grads * 10)) < 1e-5), "(k+ - k-) / r"


def test_unsupported_gate_is_named():
    qubits = cirq.LineQubit.range(3)
    with pytest.raises(ValueError, match="TOFFOLI|CCX|unsupported gate"):
        q.compile_circuit(cirq.Circuit(cirq.TOFFOLI(*qubits)))
    with pytest.raises(ValueError, match="not linear"):
        a = sympy.Symbol("a")
        q.compile_circuit(cirq.Circuit(cirq.rx(a * a).on(qubits[0])), [a])


def test_layerwise_phases_recipe():
    plan = q.layerwise_phases(n_steps=10, layers_per_step=2, start_layers=1, partition=0.5)
    phase1 = plan["phase1"]
    assert [p["layers"] for p in phase1] == [3, 5, 7, 9, 11, 13, 15, 17, 19, 21]
    assert all(len(p["trainable"]) == 3 and p["trainable"][0] == 0 for p in phase1)
    assert phase1[-1]["trainable"] == [0, 19, 20]
    halves = plan["phase2"]
    assert len(halves) == 2 and sorted(halves[0]["trainable"] + halves[1]["trainable"]) == \
        list(range(21))
    with pytest.raises(ValueError):
        q.layerwise_phases(partition=0)


def test_qnn_circuit_layers_and_zero_init_state():
    circuit, xs, ws, readout = q.qnn_circuit(3, 4, seed=2)
    assert len(xs) == 3 and len(ws) == 4 * 4
    sim = q.Simulator(circuit, xs + ws, [cirq.Z(readout)])
    values = np.zeros((2, len(xs) + len(ws)), np.float32)
    values[1, :3] = 1.0
    # zero weights: every rotation is the identity; the readout stays in |+>, so <Z> = 0
    np.testing.assert_allclose(sim(values).numpy(), 0.0, atol=1e-6)


def test_profile_resolves_from_a_fresh_interpreter():
    import os
    import subprocess
    import sys
    from pathlib import Path

    import frontier

    code = ("import frontier; P = frontier.profile('smoke', 'quantum'); "
            "print(P.pixels, P.runs)")
    env = {**os.environ, "PYTHONPATH": str(Path(frontier.__file__).parents[1]),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[-2] == "(3, 2) 2"


def test_binary_digits_removes_contradictions():
    x, y, info = q.binary_digits((3, 2), threshold=0.3)
    assert x.shape[1] == 6 and set(np.unique(x)) <= {0.0, 1.0} and set(np.unique(y)) == {-1, 1}
    labels: dict[bytes, set] = {}
    for xi, yi in zip(x, y, strict=True):
        labels.setdefault(xi.tobytes(), set()).add(yi)
    assert all(len(v) == 1 for v in labels.values())
    assert info["before"] == len(x) + info["contradicting_removed"]


def test_runs_train_and_count_shots():
    x, y, _ = q.binary_digits((3, 2), threshold=0.3)
    data = q.split(x, y, 32, 32, seed=0)
    runs = q.Runs(n_data=6, max_layers=3, runs=3, repetitions=None, seed=0)
    history = q.train_complete_depth(runs, data, layers=3, epochs=6, batch_size=16,
                                     learning_rate=0.1, progress=False)
    assert len(history["test_error"]) == 7, "the start, then one entry per epoch"
    assert np.mean(history["test_error"][-1]) < np.mean(history["test_error"][0])
    noisy = q.Runs(n_data=6, max_layers=3, runs=2, repetitions=10, seed=0)
    q.train_layerwise(noisy, data, n_steps=1, epochs_per_step=1, sweeps=0, batch_size=16,
                      learning_rate=0.1, progress=False)
    # 32 examples x 10 shots x (1 + 2 x 21 trainable angles: 3 layers x 7 qubits)
    assert noisy.shots.tolist() == [32 * 10 * (1 + 2 * 21)] * 2


def test_complete_depth_stops_at_the_measurement_budget():
    x, y, _ = q.binary_digits((3, 2), threshold=0.3)
    data = q.split(x, y, 16, 16, seed=0)
    per_epoch = 16 * 10 * (1 + 2 * 3 * 7)  # examples x shots x (1 + 2 x trained angles)
    runs = q.Runs(n_data=6, max_layers=3, runs=2, repetitions=10, seed=0)
    history = q.train_complete_depth(runs, data, layers=3, batch_size=8, learning_rate=0.1,
                                     budget_shots=2.5 * per_epoch, progress=False)
    assert history["shots"] == [0.0, per_epoch, 2 * per_epoch], "stops before the third epoch"
    with pytest.raises(ValueError, match="budget_shots needs sampled runs"):
        q.train_complete_depth(q.Runs(6, 3, 1, None), data, layers=3, batch_size=8,
                               learning_rate=0.1, budget_shots=10)


def test_layered_qnn_matches_the_general_simulator():
    """Exact values agree; with the same seed the layer loop and the general simulator share the
    measurements and the parameter-shift gradient (one sampler, one rule)."""
    circuit, xs, ws, readout = q.qnn_circuit(3, 5, seed=4)
    general = q.Simulator(circuit, xs + ws, [cirq.Z(readout)])
    layered = q.LayeredQNN(3, max_layers=7, seed=4)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (6, 3)).astype(np.float32)
    w = tf.Variable(rng.uniform(-np.pi, np.pi, (6, 5, 4)).astype(np.float32))
    values = tf.Variable(np.concatenate([x, w.numpy().reshape(6, -1)], 1))
    np.testing.assert_allclose(layered.expect(x, w).numpy(), general(values).numpy()[:, 0],
                               atol=1e-5)
    trainable = np.zeros((5, 4), bool)
    trainable[[0, 3]] = True  # the start layer and one later layer
    with tf.GradientTape() as tape:
        a = layered.expect(x, w, repetitions=10, seed=(1, 2), trainable=trainable)
        total_a = tf.reduce_sum(a)
    grad_a = tape.gradient(total_a, w).numpy()
    columns = general.columns_for(3 + np.flatnonzero(trainable.ravel()))
    with tf.GradientTape() as tape:
        b = general(values, repetitions=10, seed=(1, 2), shift_columns=columns)[:, 0]
        total_b = tf.reduce_sum(b)
    grad_b = tape.gradient(total_b, values).numpy()
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    assert np.all(np.abs(a.numpy() * 10 - np.round(a.numpy() * 10)) < 1e-5), "10-shot grid"
    np.testing.assert_allclose(grad_a, grad_b[:, 3:].reshape(6, 5, 4), atol=1e-6)
    assert np.all(grad_a[:, ~trainable] == 0) and np.any(grad_a[:, trainable] != 0)
    assert np.all(grad_b[:, :3] == 0), "data symbols are not shifted"


def test_parameter_shift_rejects_zero_repetitions():
    with pytest.raises(ValueError, match="at least one measurement"):
        q.parameter_shift(lambda p: p[:, 0], tf.zeros([2, 1]), 0, tf.constant([1, 2]), [0])


def test_cz_ladder_and_z_signs_match_cirq():
    qubits = cirq.LineQubit.range(4)
    pairs = zip(qubits[:-1], qubits[1:], strict=True)
    ladder = cirq.unitary(cirq.Circuit(cirq.CZ(a, b) for a, b in pairs))
    np.testing.assert_allclose(q.cz_ladder_signs(4), np.diag(ladder).real)
    z0z2 = cirq.Circuit(cirq.Z(qubits[0]), cirq.Z(qubits[2]), cirq.I.on_each(*qubits))
    np.testing.assert_allclose(q.z_signs(4, [0, 2]), np.diag(cirq.unitary(z0z2)).real)


def test_fast_barren_plateau_circuit_matches_cirq_built_one():
    circuit, thetas = q.random_layers_circuit(3, 4, seed=7)
    kinds = q.rotation_types(3, 4, seed=7)
    angles = np.random.default_rng(1).uniform(0, 6, (1, 4, 3)).astype(np.float32)
    qubits = sorted(circuit.all_qubits())
    general = q.expectation(circuit, thetas, angles.reshape(1, -1),
                            [cirq.Z(qubits[0]) * cirq.Z(qubits[1])]).numpy()[0, 0]
    fast = q.plateau_circuit(3, 4).expect(np.zeros((1, 0)), angles,
                                          axes=q.axes_onehot(kinds)[None]).numpy()[0]
    assert abs(general - fast) < 1e-5


def test_gradient_variance_falls_with_qubits():
    small = q.gradient_variance(2, 10, 300, seed=0)
    large = q.gradient_variance(8, 10, 300, seed=0)
    assert large < small / 2
