"""Benchmark: the course's TensorFlow statevector simulator against cirq's, same circuits, same run.

    python tests/benchmarks/bench_quantum.py [--quick]

For the lesson's QNN (``frontier.quantum.qnn_circuit``) at 6 and 10 qubits and 10 and 21 layers,
a batch of 128 parameter sets: forward time and forward+gradient time (ours: XLA-compiled,
gradient by backpropagation), and cirq's ``Simulator`` forward on the same 128 parameter sets
(the baseline, measured here). cirq has no gradient; a parameter-shift gradient with it would
cost (1 + 2 x parameters) forward passes, which the table states as an estimate. Then how our
forward time grows from 4 to 16 qubits (10 layers). Prints a table and writes
build/bench/bench_quantum.json.
"""

from __future__ import annotations

import argparse
import os
import time

from _report import write_report  # tests/benchmarks/_report.py, beside this script

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cirq  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from frontier import quantum as q  # noqa: E402

BATCH = 128


def best_of(fn, repeat: int) -> float:
    fn()  # warm-up (and compilation)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def case(n_qubits: int, layers: int, repeat: int, cirq_rows: int) -> dict:
    circuit, xs, ws, readout = q.qnn_circuit(n_qubits - 1, layers, seed=0)
    symbols = xs + ws
    sim = q.Simulator(circuit, symbols, [cirq.Z(readout)])
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.integers(0, 2, (BATCH, len(xs))),
                             rng.uniform(-np.pi, np.pi, (BATCH, len(ws)))], 1).astype(np.float32)
    var = tf.Variable(values)

    def forward():
        return sim(var).numpy()

    def forward_gradient():
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(sim(var))
        return tape.gradient(total, var).numpy()

    ours_fwd = best_of(forward, repeat)
    ours_grad = best_of(forward_gradient, repeat)
    reference = cirq.Simulator()
    names = [str(s) for s in symbols]

    qubit_map = {qb: i for i, qb in enumerate(sorted(circuit.all_qubits()))}

    def cirq_forward():
        for row in values[:cirq_rows]:
            state = reference.simulate(circuit, dict(zip(names, map(float, row), strict=True)))
            cirq.Z(readout).expectation_from_state_vector(state.final_state_vector, qubit_map)

    cirq_fwd = best_of(cirq_forward, 1) * BATCH / cirq_rows
    check = q.expectation(circuit, symbols, values[:2], [cirq.Z(readout)]).numpy()
    return {"qubits": n_qubits, "layers": layers, "batch": BATCH, "ours_forward_s": ours_fwd,
            "ours_forward_gradient_s": ours_grad, "cirq_forward_s": cirq_fwd,
            "cirq_parameter_shift_estimate_s": cirq_fwd * (1 + 2 * len(ws)),
            "speedup_forward": cirq_fwd / ours_fwd,
            "speedup_gradient_vs_cirq_shift": cirq_fwd * (1 + 2 * len(ws)) / ours_grad,
            "checked_value": float(check[0, 0])}


def growth(qubits: list[int], repeat: int) -> list[dict]:
    rows = []
    for n in qubits:
        circuit, xs, ws, readout = q.qnn_circuit(n - 1, 10, seed=0)
        sim = q.Simulator(circuit, xs + ws, [cirq.Z(readout)])
        batch = BATCH if n <= 12 else 16
        values = np.random.default_rng(0).uniform(-1, 1, (batch, len(xs) + len(ws)))
        values = values.astype(np.float32)
        seconds = best_of(lambda v=values, s=sim: s(v).numpy(), repeat)
        rows.append({"qubits": n, "batch": batch, "forward_s": seconds,
                     "per_state_ms": 1000 * seconds / batch})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and cirq rows")
    args = parser.parse_args()
    repeat, cirq_rows = (2, 16) if args.quick else (5, BATCH)
    cases = [case(n, layers, repeat, cirq_rows) for n in (6, 10) for layers in (10, 21)]
    grow = growth([4, 6, 8, 10, 12, 14, 16] if not args.quick else [4, 8, 12, 16], repeat)
    print(f"{'qubits':>6} {'layers':>6} {'ours fwd':>10} {'ours fwd+grad':>14} "
          f"{'cirq fwd':>10} {'fwd x':>8} {'cirq shift est.':>16} {'grad x':>8}")
    for c in cases:
        print(f"{c['qubits']:>6} {c['layers']:>6} {1000 * c['ours_forward_s']:>8.1f}ms "
              f"{1000 * c['ours_forward_gradient_s']:>12.1f}ms {c['cirq_forward_s']:>9.2f}s "
              f"{c['speedup_forward']:>7.0f}x {c['cirq_parameter_shift_estimate_s']:>15.1f}s "
              f"{c['speedup_gradient_vs_cirq_shift']:>7.0f}x")
    print("\ngrowth, 10 layers, forward only:")
    base = grow[0]["per_state_ms"]
    for g in grow:
        print(f"  {g['qubits']:>2} qubits: {1000 * g['forward_s']:8.1f} ms per batch of "
              f"{g['batch']:>3} ({g['per_state_ms'] / base:6.1f}x the 4-qubit cost per state)")
    write_report("bench_quantum", {"cases": cases, "growth": grow,
                                   "tfq_reference_ms": {"forward_gradient_adjoint": 250,
                                                        "parameter_shift": 12000,
                                                        "note": "TFQ 0.7.6 figures quoted in "
                                                                "the issue, not measured here"}})


if __name__ == "__main__":
    main()
