"""Lesson 07's experiments: layerwise learning for quantum neural networks (Skolik et al. 2021).

The circuits are built in cirq (:func:`qnn_circuit`, :func:`random_layers_circuit`) and run on
the course's simulator (:mod:`frontier.quantum.simulator`). The recipe, layerwise learning, is
the pure function :func:`layerwise_phases`; :class:`Runs` trains many independent runs at once
(one batch axis for runs, one for examples), :func:`train_layerwise` and
:func:`train_complete_depth` follow the two schedules, and :func:`compare_ll_cdl` runs the
lesson's comparison at an equal measurement budget. :func:`gradient_variance` measures barren
plateaus (McClean et al. 2018).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from frontier.profiles import register
from frontier.quantum.simulator import LayeredCircuit, ladder_layers, rotation_types

SIZES = register(
    "quantum",
    # smoke: seconds, every code path; quick: 7 qubits (3x2 pixels + readout), the paper's 21
    # layers, 20 runs per method and learning rate; full: the paper's setup on MNIST (4x4).
    smoke=dict(pixels=(3, 2), threshold=0.3, n_steps=1, epochs_per_step=1, sweeps=1, runs=2,
               learning_rates=(0.2,), batch_size=8, train_size=16, test_size=16,
               plateau_qubits=(2, 4), plateau_layers=(2, 4), plateau_circuits=16),
    quick=dict(pixels=(3, 2), threshold=0.3, n_steps=10, epochs_per_step=1, sweeps=1, runs=20,
               learning_rates=(0.05, 0.2), batch_size=16, train_size=64, test_size=64,
               plateau_qubits=(2, 4, 6, 8, 10), plateau_layers=(5, 20, 50),
               plateau_circuits=200),
    full=dict(pixels=(4, 4), threshold=0.5, n_steps=10, epochs_per_step=10, sweeps=5, runs=100,
              learning_rates=(0.01, 0.05, 0.1, 0.2), batch_size=128, train_size=2000,
              test_size=500, plateau_qubits=(2, 4, 6, 8, 10, 12), plateau_layers=(5, 20, 50),
              plateau_circuits=1000),
)


# -- circuits for the lesson -------------------------------------------------------------------
def qnn_circuit(n_data: int, n_layers: int, seed: int = 0) -> tuple[Any, list[Any], list[Any],
                                                                  Any]:
    """The lesson's QNN: ``n_data`` data qubits and one readout qubit (last).

    Data: an ``rx(pi * x_i)`` on data qubit i (x_i a binarised pixel: X when 1, identity when
    0). Readout: prepared in |+> with H. Then ``n_layers`` layers of :func:`ladder_layers`, each
    one rotation per qubit (axis drawn by ``seed``, angle a trainable symbol ``w_l_q``) and a CZ
    ladder between neighbours. Returns (circuit, data symbols, weight symbols, readout qubit).
    """
    import cirq
    import sympy

    qubits = cirq.LineQubit.range(n_data + 1)
    readout = qubits[-1]
    xs = sympy.symbols(f"x0:{n_data}")
    ws = [sympy.Symbol(f"w_{layer}_{q}") for layer in range(n_layers)
          for q in range(n_data + 1)]
    circuit = cirq.Circuit([cirq.rx(sympy.pi * x).on(q) for x, q in zip(xs, qubits, strict=False)],
                           cirq.H(readout))
    circuit += ladder_layers(qubits, rotation_types(n_data + 1, n_layers, seed), ws)
    return circuit, list(xs), ws, readout


def random_layers_circuit(n_qubits: int, n_layers: int, seed: int) -> tuple[Any, list[Any]]:
    """McClean et al. (2018)'s random circuit: RY(pi/4) on every qubit, then ``n_layers`` layers
    of :func:`ladder_layers`, one rotation per qubit about a random axis (X, Y or Z; drawn by
    ``seed``) and a CZ ladder. Returns (circuit, angle symbols)."""
    import cirq
    import sympy

    qubits = cirq.LineQubit.range(n_qubits)
    thetas = list(sympy.symbols(f"t0:{n_layers * n_qubits}"))
    circuit = cirq.Circuit(cirq.ry(math.pi / 4).on_each(*qubits))
    circuit += ladder_layers(qubits, rotation_types(n_qubits, n_layers, seed), thetas)
    return circuit, thetas


class LayeredQNN(LayeredCircuit):
    """The lesson's QNN (:func:`qnn_circuit`) as a :class:`LayeredCircuit`: its encoding is the
    prefix, its layers run in a loop, so one XLA compilation serves every depth.

    ``expect(x, w)``: x (batch, n_data) in {0, 1}, w (batch, layers, n_data + 1) angles ->
    <Z_readout> (batch,). Equal to compiling :func:`qnn_circuit` with :class:`Simulator`
    (tested).
    """

    def __init__(self, n_data: int, max_layers: int, seed: int = 0, jit_compile: bool = True):
        encoding, xs, _, readout = qnn_circuit(n_data, 0, seed)
        super().__init__(encoding, xs, [readout], max_layers,
                         axes=rotation_types(n_data + 1, max_layers, seed),
                         jit_compile=jit_compile)
        self.n_data = n_data


def plateau_circuit(n_qubits: int, max_layers: int) -> LayeredCircuit:
    """:func:`random_layers_circuit` measured with <Z_0 Z_1>, as a :class:`LayeredCircuit` whose
    axes are passed per row (one random circuit per row: ``axes`` (batch, layers, n, 3))."""
    prefix, _ = random_layers_circuit(n_qubits, 0, seed=0)
    qubits = sorted(prefix.all_qubits())
    return LayeredCircuit(prefix, [], qubits[:2], max_layers, jit_compile=False)


def gradient_variance(n_qubits: int, n_layers: int, n_circuits: int = 200,
                      seed: int = 0) -> float:
    """Variance of dE/d(theta_1) for E = <Z_0 Z_1> (McClean et al. 2018) over ``n_circuits``
    random circuits of :func:`random_layers_circuit`'s form, each with its own random axes
    and angles in [0, 2 pi). Exact (no shot noise): this is the landscape itself."""
    rng = np.random.default_rng(seed)
    kinds = rng.integers(0, 3, (n_circuits, n_layers, n_qubits))
    axes = tf.constant(np.eye(3, dtype=np.float32)[kinds])
    thetas = tf.Variable(rng.uniform(0, 2 * math.pi, (n_circuits, n_layers, n_qubits))
                         .astype(np.float32))
    circuit = plateau_circuit(n_qubits, n_layers)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(circuit.expect(tf.zeros([n_circuits, 0]), thetas, axes=axes))
    return float(np.var(tape.gradient(total, thetas).numpy()[:, 0, 0]))


# -- the recipe ------------------------------------------------------------------------------------
def layerwise_phases(n_steps: int = 10, layers_per_step: int = 2, start_layers: int = 1,
                     partition: float = 0.5) -> dict[str, list[dict[str, Any]]]:
    """The layerwise-learning recipe (Skolik et al. 2021) as data.

    Phase I: step s (1..n_steps) has ``start_layers + s * layers_per_step`` layers and trains
    the start layer(s) plus the ``layers_per_step`` newest ones; the rest are frozen. Phase II:
    the final circuit is split into contiguous parts of ``partition`` of its layers, trained in
    turn (a sweep trains each part once). Returns ``{"phase1": [{"layers": L, "trainable":
    [...]}, ...], "phase2": [{"layers": L, "trainable": [...]}, ...]}`` (one sweep).
    """
    if n_steps < 1 or layers_per_step < 1 or start_layers < 1 or not 0 < partition <= 1:
        raise ValueError(f"layerwise_phases: need n_steps, layers_per_step, start_layers >= 1 "
                         f"and 0 < partition <= 1; got {n_steps}, {layers_per_step}, "
                         f"{start_layers}, {partition}")
    phase1 = []
    for step in range(1, n_steps + 1):
        total = start_layers + step * layers_per_step
        trainable = list(range(start_layers)) + list(range(total - layers_per_step, total))
        phase1.append({"layers": total, "trainable": trainable})
    total = phase1[-1]["layers"]
    size = max(1, math.ceil(total * partition))
    phase2 = [{"layers": total, "trainable": list(range(i, min(i + size, total)))}
              for i in range(0, total, size)]
    return {"phase1": phase1, "phase2": phase2}


# -- data ---------------------------------------------------------------------------------------
def binary_digits(pixels: tuple[int, int] = (2, 2), classes: tuple[int, int] = (3, 6),
                  threshold: float = 0.5, images: np.ndarray | None = None,
                  labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Two digit classes, downsampled to ``pixels`` by area averaging and binarised.

    ``images``: (n, h, w) in [0, 1] (default: scikit-learn's 8x8 digits, scaled). Label +1 for
    ``classes[0]``, -1 for ``classes[1]``. Images whose binary pattern occurs in both classes
    are removed (they cannot be told apart), as in the TensorFlow Quantum MNIST tutorial.
    Returns (x (n, h*w) float32 in {0, 1}, y (n,) float32 in {-1, +1}, info).
    """
    if images is None:
        from frontier.data import digits

        images, labels = digits()
        images = images / 16.0
    keep = np.isin(labels, classes)
    images, labels = images[keep], labels[keep]
    small = tf.image.resize(images[..., None].astype(np.float32), pixels,
                            method="area").numpy()[..., 0]
    x = (small > threshold).astype(np.float32).reshape(len(small), -1)
    y = np.where(labels == classes[0], 1.0, -1.0).astype(np.float32)
    patterns: dict[bytes, set[float]] = {}
    for xi, yi in zip(x, y, strict=True):
        patterns.setdefault(xi.tobytes(), set()).add(float(yi))
    ok = np.array([len(patterns[xi.tobytes()]) == 1 for xi in x])
    info = {"before": int(len(x)), "contradicting_removed": int((~ok).sum()),
            "distinct_patterns": int(sum(len(v) == 1 for v in patterns.values()))}
    return x[ok], y[ok], info


def split(x: np.ndarray, y: np.ndarray, train: int, test: int, seed: int
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A seeded random train/test split of sizes ``train`` and ``test``."""
    order = np.random.default_rng(seed).permutation(len(x))
    if train + test > len(x):
        raise ValueError(f"asked for {train} + {test} examples, only {len(x)} available")
    a, b = order[:train], order[train:train + test]
    return x[a], y[a], x[b], y[b]


# -- training many runs at once -------------------------------------------------------------------
def squared_hinge(y: tf.Tensor, e: tf.Tensor) -> tf.Tensor:
    """Mean over the last axis of max(0, 1 - y e)^2 (labels +-1, predictions in [-1, 1])."""
    return tf.reduce_mean(tf.square(tf.nn.relu(1.0 - y * e)), axis=-1)


@dataclass
class Runs:
    """Many independent training runs of the lesson's QNN, simulated together.

    ``weights``: (runs, max_layers, n_data + 1) rotation angles, zero-initialised; ``shots``:
    the measurements each run has used for training so far (for the wall-clock axis).
    """

    n_data: int
    max_layers: int
    runs: int
    repetitions: int | None
    seed: int = 0

    def __post_init__(self) -> None:
        self.n_qubits = self.n_data + 1
        self.qnn = LayeredQNN(self.n_data, self.max_layers, seed=self.seed)
        self.weights = np.zeros((self.runs, self.max_layers, self.n_qubits), np.float32)
        self.shots = np.zeros(self.runs)
        self._rng = np.random.default_rng(self.seed)

    def _inputs(self, x: np.ndarray, w: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Every run's weights next to every example: x (runs*batch, n_data), w (runs*batch,
        layers, n_qubits)."""
        batch = x.shape[0]
        xs = tf.reshape(tf.tile(tf.constant(x)[None], [self.runs, 1, 1]), [-1, self.n_data])
        layers = int(w.shape[1])
        # broadcast, not tf.repeat: repeat's gradient runs an int32 op that makes oneDNN log
        # an error line into the notebook on CPUs without AVX-512
        ws = tf.reshape(tf.broadcast_to(w[:, None], [self.runs, batch, layers, self.n_qubits]),
                        [-1, layers, self.n_qubits])
        return xs, ws

    def predict(self, x: np.ndarray, layers: int, repetitions: int | None) -> np.ndarray:
        """<Z_readout> per run and example, (runs, n), from ``repetitions`` shots (or exact)."""
        xs, ws = self._inputs(x, tf.constant(self.weights[:, :layers]))
        e = self.qnn.expect(xs, ws, repetitions, seed=self._rng.integers(0, 2**31, 2),
                            trainable=np.zeros((layers, self.n_qubits), bool))
        return tf.reshape(e, [self.runs, -1]).numpy()

    def test_error(self, x: np.ndarray, y: np.ndarray, layers: int) -> np.ndarray:
        """Share of test examples misclassified per run, predicting from the sign of the mean
        of ``repetitions`` measurements (a tie counts as an error)."""
        e = self.predict(x, layers, self.repetitions)
        return np.mean(np.sign(e) != y[None], axis=1)

    def train(self, x: np.ndarray, y: np.ndarray, layers: int, trainable_layers: Sequence[int],
              epochs: int, batch_size: int, learning_rate: float) -> list[float]:
        """Train the listed layers of every run (a fresh Adam) for ``epochs``; mean losses."""
        trainable = np.zeros((layers, self.n_qubits), bool)
        trainable[list(trainable_layers)] = True
        mask = tf.constant(trainable.astype(np.float32))
        w = tf.Variable(self.weights[:, :layers])
        optimizer = keras.optimizers.Adam(learning_rate)
        losses = []
        for _ in range(epochs):
            order = self._rng.permutation(len(x))
            for start in range(0, len(x), batch_size):
                idx = order[start:start + batch_size]
                with tf.GradientTape() as tape:
                    xs, ws = self._inputs(x[idx], w)
                    e = self.qnn.expect(xs, ws, self.repetitions,
                                        seed=self._rng.integers(0, 2**31, 2), trainable=trainable)
                    loss = squared_hinge(tf.constant(y[idx])[None],
                                         tf.reshape(e, [self.runs, -1]))
                    total = tf.reduce_sum(loss)
                grad = tape.gradient(total, w) * mask[None]
                optimizer.apply_gradients([(grad, w)])
                if self.repetitions:  # one estimate plus two per trained angle, per example
                    self.shots += len(idx) * self.repetitions * (1 + 2 * int(trainable.sum()))
                losses.append(float(tf.reduce_mean(loss)))
        self.weights[:, :layers] = w.numpy()
        return losses


def train_layerwise(runs: Runs, data: tuple[np.ndarray, ...], *, n_steps: int,
                    epochs_per_step: int, sweeps: int, batch_size: int, learning_rate: float,
                    layers_per_step: int = 2, start_layers: int = 1, partition: float = 0.5,
                    progress: bool = True) -> dict[str, list]:
    """Layerwise learning: grow the circuit (phase I), then train halves in turn (phase II).

    Returns a history: after every epoch-block, the training shots used so far (mean over runs)
    and each run's test error.
    """
    from tqdm.auto import tqdm

    x, y, x_test, y_test = data
    plan = layerwise_phases(n_steps, layers_per_step, start_layers, partition)
    schedule = [(p["layers"], p["trainable"]) for p in plan["phase1"]] + \
        [(p["layers"], p["trainable"]) for _ in range(sweeps) for p in plan["phase2"]]
    history: dict[str, list] = {"shots": [], "test_error": [], "layers": []}
    for layers, trainable in tqdm(schedule, desc="LL", leave=False, disable=not progress):
        runs.train(x, y, layers, trainable, epochs_per_step, batch_size, learning_rate)
        _log(history, runs, x_test, y_test, layers)
    return history


def _log(history: dict[str, list], runs: Runs, x_test: np.ndarray, y_test: np.ndarray,
         layers: int) -> None:
    """Append the runs' mean training shots so far and each run's test error to ``history``."""
    history["shots"].append(float(runs.shots.mean()))
    history["test_error"].append(runs.test_error(x_test, y_test, layers).tolist())
    history["layers"].append(layers)


def train_complete_depth(runs: Runs, data: tuple[np.ndarray, ...], *, layers: int,
                         batch_size: int, learning_rate: float, epochs: int | None = None,
                         budget_shots: float | None = None,
                         progress: bool = True) -> dict[str, list]:
    """Complete-depth learning: the full circuit, every parameter at once, from the runs'
    current weights (zero at first), one epoch at a time.

    Stops after ``epochs`` epochs, or before the epoch that would take the mean measurements
    per run past ``budget_shots`` (LL's spend, for an equal wall-clock time), whichever comes
    first. Returns a history starting before training: the training shots used so far (mean
    over runs) and each run's test error, after every epoch.
    """
    from tqdm.auto import tqdm

    if epochs is None and budget_shots is None:
        raise ValueError("train_complete_depth: pass epochs, budget_shots or both")
    if budget_shots is not None and not runs.repetitions:
        raise ValueError("train_complete_depth: budget_shots needs sampled runs "
                         "(Runs(repetitions=...)); exact runs spend no measurements")
    x, y, x_test, y_test = data
    history: dict[str, list] = {"shots": [], "test_error": [], "layers": []}
    _log(history, runs, x_test, y_test, layers)
    budget = math.inf if budget_shots is None else budget_shots
    epoch_numbers = itertools.count() if epochs is None else range(epochs)
    for _ in tqdm(epoch_numbers, desc="CDL", total=epochs, leave=False, disable=not progress):
        if history["shots"][-1] >= budget:
            break
        runs.train(x, y, layers, range(layers), 1, batch_size, learning_rate)
        if runs.shots.mean() > budget * 1.0001:
            break  # this epoch went past the budget: keep the history up to the previous one
        _log(history, runs, x_test, y_test, layers)
    return history


# -- the lesson's experiment ----------------------------------------------------------------------
SAMPLING_RATE_HZ = 10_000  # measurements per second, the post's assumption for wall-clock time


def compare_ll_cdl(data: tuple[np.ndarray, ...], *, learning_rates: Sequence[float], runs: int,
                   repetitions: int, n_steps: int, epochs_per_step: int, sweeps: int,
                   batch_size: int, seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Layerwise vs complete-depth learning on the same final circuit, ``runs`` runs each.

    LL follows :func:`layerwise_phases`; CDL (:func:`train_complete_depth`) trains every layer
    of the final circuit from zero, epoch by epoch, until it has used as many measurements as
    LL did (the same wall-clock time at :data:`SAMPLING_RATE_HZ`). A run succeeds when its final
    test error is below 0.5. Returns the success fractions per learning rate and the
    test-error curves over time.
    """
    x = data[0]
    layers = 1 + 2 * n_steps
    out: dict[str, Any] = {"learning_rates": list(learning_rates), "runs": runs,
                           "repetitions": repetitions, "layers": layers, "ll_success": [],
                           "cdl_success": [], "budget_seconds": [], "curves": []}
    for lr in learning_rates:
        ll = Runs(x.shape[1], layers, runs, repetitions, seed=seed)
        ll_hist = train_layerwise(ll, data, n_steps=n_steps, epochs_per_step=epochs_per_step,
                                  sweeps=sweeps, batch_size=batch_size, learning_rate=lr,
                                  progress=progress)
        budget = ll_hist["shots"][-1]
        cdl = Runs(x.shape[1], layers, runs, repetitions, seed=seed)
        cdl_hist = train_complete_depth(cdl, data, layers=layers, batch_size=batch_size,
                                        learning_rate=lr, budget_shots=budget, progress=progress)
        ll_final = np.array(ll_hist["test_error"][-1])
        cdl_final = np.array(cdl_hist["test_error"][-1])
        out["ll_success"].append(float(np.mean(ll_final < 0.5)))
        out["cdl_success"].append(float(np.mean(cdl_final < 0.5)))
        out["budget_seconds"].append(budget / SAMPLING_RATE_HZ)
        start = float(np.mean(cdl_hist["test_error"][0]))  # both start from the same circuit
        out["curves"].append({
            "ll_seconds": [0.0] + [s / SAMPLING_RATE_HZ for s in ll_hist["shots"]],
            "ll_error": [start] + np.mean(ll_hist["test_error"], axis=1).tolist(),
            "cdl_seconds": [s / SAMPLING_RATE_HZ for s in cdl_hist["shots"]],
            "cdl_error": np.mean(cdl_hist["test_error"], axis=1).tolist()})
    return out


def lesson_data(P: Any) -> tuple[np.ndarray, np.ndarray, dict]:
    """The lesson's two-class binary digits for profile sizes ``P``: scikit-learn's bundled
    8x8 digits offline (smoke, quick), MNIST through tensorflow-datasets in ``full`` (as the
    paper; fails fast offline with :class:`frontier.data.FetchError`)."""
    if P.name != "full":
        return binary_digits(tuple(P.pixels), threshold=P.threshold)
    from frontier.data import tfds_load

    images, labels = tfds_load("mnist", split="train", batch_size=-1, as_supervised=True)
    return binary_digits(tuple(P.pixels), threshold=P.threshold,
                         images=images.numpy()[..., 0] / 255.0, labels=labels.numpy())
