"""Quantum neural networks, simulated in TensorFlow (lesson 07: layerwise learning).

TensorFlow Quantum pins an older TensorFlow, so the course simulates circuits itself. Circuits
are written in cirq; :func:`compile_circuit` turns one into a list of tensor operations on a
batched statevector of shape (batch, 2, ..., 2), and :func:`expectation` evaluates Pauli
observables on it, differentiably. With ``repetitions=r`` every expectation is the mean of ``r``
simulated measurements (binomial shot noise) and its gradient is the parameter-shift rule
evaluated with such noisy expectations, as a quantum computer would give it.

The lesson's recipe, layerwise learning (Skolik et al. 2021), is the pure function
:func:`layerwise_phases`; :func:`train_layerwise` and :func:`train_complete_depth` train many
independent runs at once (one batch axis for runs, one for examples).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from frontier.profiles import register

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

COMPLEX = tf.complex64


# -- compiling a cirq circuit -------------------------------------------------------------------
@dataclass(frozen=True)
class Op:
    """One compiled gate: ``kind`` in {"rot", "fixed"}; ``axes`` the qubit axes it acts on."""

    kind: str
    axes: tuple[int, ...]
    matrix: np.ndarray | None = None  # fixed gates: (2,2) or (2,2,2,2) unitary
    pauli: str = ""  # rotations: "X", "Y" or "Z" (the gate is exp(-i angle P / 2))
    angle_index: int = -1  # rotations: column in the angle matrix


@dataclass(frozen=True)
class Compiled:
    """A circuit ready to simulate: angles = values @ weights + offsets, one column per
    rotation gate (``values``: (batch, n_symbols), in the order of ``symbols``)."""

    qubits: tuple[Any, ...]
    symbols: tuple[str, ...]
    ops: tuple[Op, ...]
    weights: np.ndarray  # (n_symbols, n_rotations)
    offsets: np.ndarray  # (n_rotations,)

    @property
    def n_qubits(self) -> int:
        return len(self.qubits)

    @property
    def n_rotations(self) -> int:
        return self.weights.shape[1]


_PAULI = {
    "I": np.eye(2, dtype=np.complex64),
    "X": np.array([[0, 1], [1, 0]], dtype=np.complex64),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=np.complex64),
    "Z": np.array([[1, 0], [0, -1]], dtype=np.complex64),
}
_H = (np.array([[1, 1], [1, -1]]) / math.sqrt(2)).astype(np.complex64)
_CZ = np.diag([1, 1, 1, -1]).astype(np.complex64).reshape(2, 2, 2, 2)
_CNOT = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]],
                 dtype=np.complex64).reshape(2, 2, 2, 2)


def _linear(expr: Any, symbols: Sequence[str], where: str) -> tuple[np.ndarray, float]:
    """Coefficients of a linear sympy expression in ``symbols`` (or a number)."""
    import sympy

    expr = sympy.sympify(expr)
    names = {sym.name for sym in expr.free_symbols}
    unknown = sorted(names - set(symbols))
    if unknown:
        raise ValueError(f"{where}: symbol(s) {unknown} not in symbols {list(symbols)}; "
                         "pass every symbol the circuit uses")
    coeffs = np.zeros(len(symbols), dtype=np.float64)
    for i, name in enumerate(symbols):
        if name in names:
            d = expr.diff(sympy.Symbol(name))
            if d.free_symbols:
                raise ValueError(f"{where}: angle {expr} is not linear in the symbols; use "
                                 "angles like 'theta', '2*theta' or 'pi*x + 0.5'")
            coeffs[i] = float(sympy.N(d))
    offset = float(sympy.N(expr.subs({sym: 0 for sym in expr.free_symbols})))
    return coeffs, offset


def compile_circuit(circuit: Any, symbols: Sequence[Any] = ()) -> Compiled:
    """Compile a ``cirq.Circuit`` of rx/ry/rz (symbolic or numeric angles), X, Y, Z, H, CZ and
    CNOT gates. Qubits are ordered as ``sorted(circuit.all_qubits())``.

    Raises ValueError naming the first unsupported gate.
    """
    import cirq
    import sympy

    symbols = tuple(str(s) for s in symbols)
    qubits = tuple(sorted(circuit.all_qubits()))
    axis = {q: i for i, q in enumerate(qubits)}
    ops: list[Op] = []
    columns: list[tuple[np.ndarray, float]] = []
    for moment_index, moment in enumerate(circuit):
        for op in moment.operations:
            gate, where = op.gate, f"moment {moment_index}: {op}"
            axes = tuple(axis[q] for q in op.qubits)
            rotation = {cirq.Rx: "X", cirq.Ry: "Y", cirq.Rz: "Z"}.get(type(gate))
            if rotation is not None:
                angle = gate.exponent * sympy.pi if isinstance(gate.exponent, sympy.Basic) \
                    else gate.exponent * math.pi
                columns.append(_linear(angle, symbols, where))
                ops.append(Op("rot", axes, pauli=rotation, angle_index=len(columns) - 1))
                continue
            matrix = None
            if gate == cirq.H:
                matrix = _H
            elif gate in (cirq.X, cirq.Y, cirq.Z):
                matrix = _PAULI[str(gate)]
            elif gate == cirq.CZ:
                matrix = _CZ
            elif gate == cirq.CNOT:
                matrix = _CNOT
            if matrix is None:
                raise ValueError(f"unsupported gate {gate!r} at {where}: the simulator supports "
                                 "rx, ry, rz, X, Y, Z, H, CZ and CNOT")
            ops.append(Op("fixed", axes, matrix=matrix))
    weights = np.stack([c for c, _ in columns], axis=1) if columns else \
        np.zeros((len(symbols), 0))
    offsets = np.array([o for _, o in columns], dtype=np.float64)
    return Compiled(qubits, symbols, tuple(ops), weights.astype(np.float32),
                    offsets.astype(np.float32))


# -- the statevector simulator ------------------------------------------------------------------
# A state is a (batch, 2**n) complex64 tensor; qubit 0 is the most significant bit (as in cirq).
# A one-qubit gate on qubit k views the state as (batch, 2**k, 2, 2**(n-k-1)) and mixes the two
# halves with the gate's four entries, elementwise: no matrix products over tiny matrices.
# Runs of diagonal +-1 gates (CZ, Z) are merged into one sign vector at compile time.


def _halves(state: tf.Tensor, axis: int, n: int) -> tuple[tf.Tensor, tf.Tensor]:
    view = tf.reshape(state, [-1, 2 ** axis, 2, 2 ** (n - axis - 1)])
    return view[:, :, 0, :], view[:, :, 1, :]


def _join(a0: tf.Tensor, a1: tf.Tensor, n: int) -> tf.Tensor:
    return tf.reshape(tf.stack([a0, a1], axis=2), [-1, 2 ** n])


def _apply_matrix(state: tf.Tensor, m: Any, axis: int, n: int) -> tf.Tensor:
    """Apply a 2x2 matrix ``m`` (entries: python complex or (batch, 1, 1) tensors)."""
    a0, a1 = _halves(state, axis, n)
    return _join(m[0][0] * a0 + m[0][1] * a1, m[1][0] * a0 + m[1][1] * a1, n)


def _apply_rotation(state: tf.Tensor, pauli: str, angle: tf.Tensor, axis: int,
                    n: int) -> tf.Tensor:
    """exp(-i angle P / 2) on qubit ``axis``, one angle per batch row."""
    half = tf.reshape(angle, [-1, 1, 1]) / 2
    c, s = tf.complex(tf.cos(half), 0.0), tf.complex(tf.sin(half), 0.0)
    a0, a1 = _halves(state, axis, n)
    if pauli == "X":
        return _join(c * a0 - 1j * s * a1, c * a1 - 1j * s * a0, n)
    if pauli == "Y":
        return _join(c * a0 - s * a1, s * a0 + c * a1, n)
    phase = tf.complex(tf.cos(half), -tf.sin(half))  # exp(-i angle / 2)
    return _join(phase * a0, tf.math.conj(phase) * a1, n)


def _apply_axis_rotation(state: tf.Tensor, angle: tf.Tensor, axis_onehot: tf.Tensor, qubit: int,
                         n: int) -> tf.Tensor:
    """exp(-i angle P / 2) with P = tx X + ty Y + tz Z given as a one-hot (tx, ty, tz), shared
    by every row (shape (3,)) or one per row (shape (batch, 3)): the axis is data, so layers
    with different axes run through the same compiled loop body."""
    half = tf.reshape(angle, [-1, 1, 1]) / 2
    cos, sin = tf.complex(tf.cos(half), 0.0), tf.sin(half)
    t = [tf.reshape(axis_onehot[..., k], [-1, 1, 1]) for k in range(3)]
    m = [[cos - 1j * tf.complex(sin * t[2], 0.0), tf.complex(-sin * t[1], -sin * t[0])],
         [tf.complex(sin * t[1], -sin * t[0]), cos + 1j * tf.complex(sin * t[2], 0.0)]]
    return _apply_matrix(state, m, qubit, n)


def _diagonal_sign(op_matrix: np.ndarray, axes: tuple[int, ...], n: int) -> np.ndarray | None:
    """The +-1 diagonal of a CZ or Z gate over all 2**n basis states (None if not diagonal)."""
    diag = np.diag(op_matrix.reshape(2 ** len(axes), 2 ** len(axes)))
    if not np.allclose(op_matrix.reshape(len(diag), len(diag)), np.diag(diag)):
        return None
    bits = (np.arange(2 ** n)[:, None] >> (n - 1 - np.array(axes))[None]) & 1
    index = np.zeros(2 ** n, dtype=int)
    for b in range(len(axes)):
        index = index * 2 + bits[:, b]
    return diag[index].real.astype(np.float32)


def _cnot_permutation(control: int, target: int, n: int) -> np.ndarray:
    idx = np.arange(2 ** n)
    flip = ((idx >> (n - 1 - control)) & 1) << (n - 1 - target)
    return idx ^ flip


def _plan(compiled: Compiled) -> list[tuple[str, Any]]:
    """The simulation steps: ("rot", op), ("matrix", (m, axis)), ("sign", vec), ("perm", idx)."""
    n = compiled.n_qubits
    steps: list[tuple[str, Any]] = []
    for op in compiled.ops:
        if op.kind == "rot":
            steps.append(("rot", op))
            continue
        sign = _diagonal_sign(op.matrix, op.axes, n) if np.allclose(
            np.abs(np.diag(op.matrix.reshape(2 ** len(op.axes), -1))), 1) else None
        if sign is not None and np.allclose(np.abs(sign), 1) and np.allclose(sign.imag, 0):
            if steps and steps[-1][0] == "sign":
                steps[-1] = ("sign", steps[-1][1] * sign)
            else:
                steps.append(("sign", sign))
        elif len(op.axes) == 1:
            steps.append(("matrix", (op.matrix.tolist(), op.axes[0])))
        else:  # CNOT
            steps.append(("perm", _cnot_permutation(op.axes[0], op.axes[1], n)))
    return steps


def simulate(compiled: Compiled, angles: tf.Tensor) -> tf.Tensor:
    """Final states (batch, 2**n) complex64 for gate ``angles`` (batch, n_rotations)."""
    n = compiled.n_qubits
    batch = tf.shape(angles)[0]
    state = tf.tile(tf.one_hot(0, 2 ** n, dtype=COMPLEX)[None], [batch, 1])
    for kind, item in _plan(compiled):
        if kind == "rot":
            state = _apply_rotation(state, item.pauli, angles[:, item.angle_index],
                                    item.axes[0], n)
        elif kind == "matrix":
            state = _apply_matrix(state, item[0], item[1], n)
        elif kind == "sign":
            state = state * tf.constant(item.astype(np.complex64))[None]
        else:
            state = tf.gather(state, item, axis=1)
    return state


def _pauli_terms(observable: Any, qubits: tuple[Any, ...]) -> list[tuple[float, str]]:
    """A cirq Pauli string or sum as [(coefficient, "IXZ...")] over ``qubits``."""
    import cirq

    terms = observable if isinstance(observable, cirq.PauliSum) else \
        [cirq.PauliString(observable) if not isinstance(observable, cirq.PauliString)
         else observable]
    out = []
    index = {q: i for i, q in enumerate(qubits)}
    for term in terms:
        coeff = complex(term.coefficient)
        if abs(coeff.imag) > 1e-9:
            raise ValueError(f"observable term {term} has a complex coefficient")
        word = ["I"] * len(qubits)
        for q, p in term.items():
            if q not in index:
                raise ValueError(f"observable acts on {q}, which is not in the circuit")
            word[index[q]] = str(p)
        out.append((coeff.real, "".join(word)))
    return out


def _pauli_expectations(state: tf.Tensor, words: list[str]) -> tf.Tensor:
    """<psi| P |psi> for each Pauli word: (batch, len(words)) float32."""
    n = len(words[0]) if words else 0
    probs = None
    out = []
    for word in words:
        if set(word) <= {"I", "Z"}:  # diagonal: a signed sum of probabilities
            if probs is None:
                probs = tf.math.real(state * tf.math.conj(state))
            sign = np.ones(2 ** n, np.float32)
            for axis, p in enumerate(word):
                if p == "Z":
                    sign = sign * (1 - 2 * ((np.arange(2 ** n) >> (n - 1 - axis)) & 1))
            out.append(tf.reduce_sum(probs * sign[None], axis=1))
            continue
        phi = state
        for axis, p in enumerate(word):
            if p != "I":
                phi = _apply_matrix(phi, _PAULI[p].tolist(), axis, n)
        out.append(tf.math.real(tf.reduce_sum(tf.math.conj(state) * phi, axis=1)))
    return tf.stack(out, axis=-1)


class Simulator:
    """A compiled circuit with observables; call it on symbol values.

    ``sim(values)`` -> (batch, n_observables) analytic expectations (differentiable);
    ``sim(values, repetitions=r, seed=...)`` -> sampled ones with parameter-shift gradients.
    The analytic core is compiled with XLA once per input shape.
    """

    def __init__(self, circuit: Any, symbols: Sequence[Any], observables: Sequence[Any],
                 jit_compile: bool = True):
        self.compiled = compile_circuit(circuit, symbols)
        self.observables = list(observables)
        terms = [_pauli_terms(o, self.compiled.qubits) for o in self.observables]
        self.words = sorted({w for t in terms for _, w in t})
        coeff = np.zeros((len(self.words), len(terms)), dtype=np.float32)
        for j, term in enumerate(terms):
            for c, w in term:
                coeff[self.words.index(w), j] += c
        self._coeff = tf.constant(coeff)  # (n_words, n_observables)
        self._weights = tf.constant(self.compiled.weights)
        self._offsets = tf.constant(self.compiled.offsets)
        self._words_fn = tf.function(self._word_values, jit_compile=jit_compile,
                                     reduce_retracing=True)

    def angles(self, values: tf.Tensor) -> tf.Tensor:
        values = tf.convert_to_tensor(values, tf.float32)
        if values.shape.rank != 2 or values.shape[-1] != len(self.compiled.symbols):
            raise ValueError(f"values must have shape (batch, {len(self.compiled.symbols)}) "
                             f"for symbols {list(self.compiled.symbols)}; got {values.shape}")
        return tf.matmul(values, self._weights) + self._offsets

    def _word_values(self, angles: tf.Tensor) -> tf.Tensor:
        return _pauli_expectations(simulate(self.compiled, angles), self.words)

    def word_values(self, angles: tf.Tensor) -> tf.Tensor:
        """Analytic <P> for each Pauli word, (batch, n_words), from gate angles."""
        if self.compiled.n_rotations == 0:
            angles = tf.zeros([tf.shape(angles)[0], 0])
        return self._words_fn(angles)

    def columns_for(self, symbol_indices: Sequence[int]) -> np.ndarray:
        """The rotation columns whose angle depends on any of these symbols."""
        rows = self.compiled.weights[np.asarray(list(symbol_indices), dtype=int)]
        return np.flatnonzero(np.any(rows != 0, axis=0))

    def __call__(self, values: tf.Tensor, repetitions: int | None = None,
                 seed: tf.Tensor | tuple[int, int] | None = None,
                 shift_columns: Sequence[int] | None = None) -> tf.Tensor:
        """Expectations (batch, n_observables). With ``repetitions``, sampled; the gradient
        then runs the parameter-shift rule for the rotations in ``shift_columns`` (default:
        all; the others get zero gradient, as when only some parameters are trained)."""
        angles = self.angles(values)
        if repetitions is None:
            return tf.matmul(self.word_values(angles), self._coeff)
        if repetitions < 1:
            raise ValueError(f"repetitions={repetitions}: use at least one measurement")
        seed = tf.cast(seed if seed is not None else
                       np.random.default_rng().integers(0, 2**31, 2), tf.int64)
        columns = np.arange(self.compiled.n_rotations) if shift_columns is None else \
            np.asarray(shift_columns, dtype=int)
        return tf.matmul(self._sampled_words(angles, repetitions, seed, columns), self._coeff)

    def _sample(self: Any, values: tf.Tensor, repetitions: int, seed: tf.Tensor) -> tf.Tensor:
        """Mean of ``repetitions`` +-1 outcomes with mean ``values`` (binomial shot noise)."""
        p = tf.clip_by_value((1.0 + values) / 2.0, 0.0, 1.0)
        k = tf.random.stateless_binomial(tf.shape(p), seed, float(repetitions), p,
                                         output_dtype=tf.float32)
        return 2.0 * k / repetitions - 1.0

    def _sampled_words(self, angles: tf.Tensor, repetitions: int, seed: tf.Tensor,
                       columns: np.ndarray) -> tf.Tensor:
        sim = self
        g, c = self.compiled.n_rotations, len(columns)
        unit = np.zeros((c, g), np.float32)
        unit[np.arange(c), columns] = math.pi / 2
        shifts = tf.constant(np.concatenate([unit, -unit]))  # (2c, g)

        @tf.custom_gradient
        def sampled(a: tf.Tensor) -> Any:
            value = sim._sample(sim.word_values(a), repetitions, seed)

            def grad(upstream: tf.Tensor) -> tf.Tensor:
                # parameter shift: dE/da_g = [E(a + pi/2 e_g) - E(a - pi/2 e_g)] / 2, each E
                # estimated from `repetitions` measurements, as on hardware
                batch = tf.shape(a)[0]
                if c == 0:
                    return tf.zeros_like(a)
                shifted = a[None, :, :] + shifts[:, None, :]  # (2c, batch, g)
                flat = tf.reshape(shifted, [-1, g])
                noisy = sim._sample(sim.word_values(flat), repetitions,
                                    tf.random.experimental.stateless_fold_in(seed, 1))
                noisy = tf.reshape(noisy, [2, c, batch, -1])
                derivative = (noisy[0] - noisy[1]) / 2.0  # (c, batch, words)
                per_column = tf.einsum("cbw,bw->bc", derivative, upstream)
                return tf.matmul(per_column, tf.constant(unit / (math.pi / 2)))

            return value, grad

        return sampled(angles)


def expectation(circuit: Any, symbols: Sequence[Any], values: Any, observables: Sequence[Any],
                repetitions: int | None = None, seed: Any = None) -> tf.Tensor:
    """Expectation values (batch, len(observables)) float32 of ``observables`` after
    ``circuit`` with ``symbols`` set to ``values`` (batch, len(symbols)).

    Analytic by default (differentiable with tf.GradientTape, equal to cirq's simulator);
    with ``repetitions=r`` the mean of r simulated measurements per term, whose gradient is the
    parameter-shift rule on such sampled values. For repeated calls, build a
    :class:`Simulator` once instead (compiling is the slow part).
    """
    return Simulator(circuit, symbols, observables)(values, repetitions=repetitions, seed=seed)


# -- circuits for the lesson -------------------------------------------------------------------
def rotation_types(n_qubits: int, n_layers: int, seed: int) -> np.ndarray:
    """The rotation axis of each gate, drawn from {X, Y, Z}: (n_layers, n_qubits) strings."""
    rng = np.random.default_rng(seed)
    return rng.choice(np.array(["X", "Y", "Z"]), size=(n_layers, n_qubits))


def qnn_circuit(n_data: int, n_layers: int, seed: int = 0) -> tuple[Any, list[Any], list[Any],
                                                                  Any]:
    """The lesson's QNN: ``n_data`` data qubits and one readout qubit (last).

    Data: an ``rx(pi * x_i)`` on data qubit i (x_i a binarised pixel: X when 1, identity when
    0). Readout: prepared in |+> with H. Then ``n_layers`` layers, each one rotation per qubit
    (axis drawn by ``seed``, angle a trainable symbol ``w_l_q``) and a CZ ladder between
    neighbours. Returns (circuit, data symbols, weight symbols, readout qubit).
    """
    import cirq
    import sympy

    qubits = cirq.LineQubit.range(n_data + 1)
    readout = qubits[-1]
    xs = sympy.symbols(f"x0:{n_data}")
    ws = [sympy.Symbol(f"w_{layer}_{q}") for layer in range(n_layers)
          for q in range(n_data + 1)]
    gates = {"X": cirq.rx, "Y": cirq.ry, "Z": cirq.rz}
    kinds = rotation_types(n_data + 1, n_layers, seed)
    circuit = cirq.Circuit([cirq.rx(sympy.pi * x).on(q) for x, q in zip(xs, qubits, strict=False)],
                           cirq.H(readout))
    for layer in range(n_layers):
        circuit.append(gates[kinds[layer, q]](ws[layer * (n_data + 1) + q]).on(qubits[q])
                       for q in range(n_data + 1))
        circuit.append(cirq.CZ(qubits[q], qubits[q + 1]) for q in range(n_data))
    return circuit, list(xs), ws, readout


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


# -- a Keras layer ---------------------------------------------------------------------------------
class PQC(keras.layers.Layer):
    """A parametrised circuit as a Keras layer: inputs (batch, n_data) feed the data symbols,
    the weight symbols are this layer's trainable weights (zero-initialised); outputs are the
    observables' expectations (batch, n_observables).

    ``set_trainable(indices)`` freezes every weight not listed (their gradient is zero, so no
    optimizer moves them); ``repetitions`` switches to sampled expectations.
    """

    def __init__(self, circuit: Any, data_symbols: Sequence[Any], weight_symbols: Sequence[Any],
                 observables: Sequence[Any], repetitions: int | None = None, seed: int = 0,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.n_data = len(data_symbols)
        self.n_weights = len(weight_symbols)
        self.sim = Simulator(circuit, list(data_symbols) + list(weight_symbols), observables)
        self.repetitions = repetitions
        self._rng = tf.random.Generator.from_seed(seed)

    def build(self, input_shape: Any) -> None:
        self.circuit_weights = self.add_weight(shape=(self.n_weights,), initializer="zeros",
                                               name="circuit_weights")
        self.mask = self.add_weight(shape=(self.n_weights,), initializer="ones",
                                    trainable=False, name="mask")

    def set_trainable(self, indices: Sequence[int] | None) -> None:
        """Train only the weights at ``indices`` (None: all of them)."""
        mask = np.ones(self.n_weights, np.float32) if indices is None else \
            np.isin(np.arange(self.n_weights), np.asarray(indices)).astype(np.float32)
        self.mask.assign(mask)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        w = self.mask * self.circuit_weights + (1 - self.mask) * \
            tf.stop_gradient(self.circuit_weights)
        batch = tf.shape(inputs)[0]
        values = tf.concat([tf.cast(inputs, tf.float32), tf.tile(w[None], [batch, 1])], -1)
        if not self.repetitions:
            return self.sim(values)
        columns = self.sim.columns_for(self.n_data + np.flatnonzero(self.mask.numpy()))
        return self.sim(values, repetitions=self.repetitions, seed=self._rng.make_seeds(1)[:, 0],
                        shift_columns=columns)


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


class LayeredQNN:
    """The lesson's QNN (:func:`qnn_circuit`) simulated layer by layer in a loop, so that one
    XLA compilation serves every depth (the layers differ only in their rotation axes).

    ``expect(x, w)``: x (batch, n_data) in {0, 1}, w (batch, layers, n_data + 1) angles ->
    <Z_readout> (batch,). Equal to compiling :func:`qnn_circuit` with :class:`Simulator`
    (tested), much faster to build for many depths.
    """

    def __init__(self, n_data: int, max_layers: int, seed: int = 0, jit_compile: bool = True):
        self.n_data, self.n_qubits, self.max_layers = n_data, n_data + 1, max_layers
        kinds = rotation_types(self.n_qubits, max_layers, seed)
        self._axes = tf.constant(np.stack([(kinds == a) for a in "XYZ"], -1).astype(np.float32))
        n = self.n_qubits
        idx = np.arange(2 ** n)
        bits = (idx[:, None] >> (n - 1 - np.arange(n))[None]) & 1
        ladder = np.prod(np.where(bits[:, :-1] & bits[:, 1:], -1.0, 1.0), axis=1)
        self._ladder = tf.constant(ladder.astype(np.complex64))
        readout_z = 1.0 - 2.0 * bits[:, -1]
        self._readout_z = tf.constant(readout_z.astype(np.float32))
        self._expect = tf.function(self._expect_impl, jit_compile=jit_compile,
                                   reduce_retracing=True)
        # XLA cannot differentiate through its while loop: exact gradients use plain graphs
        self._expect_differentiable = tf.function(self._expect_impl, reduce_retracing=True)

    def _expect_impl(self, x: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
        n, batch, layers = self.n_qubits, tf.shape(x)[0], tf.shape(w)[1]
        state = tf.tile(tf.one_hot(0, 2 ** n, dtype=COMPLEX)[None], [batch, 1])
        for q in range(self.n_data):  # encoding: rx(pi x) on each data qubit
            state = _apply_rotation(state, "X", math.pi * x[:, q], q, n)
        h = 1 / math.sqrt(2)
        state = _apply_matrix(state, [[h, h], [h, -h]], n - 1, n)  # readout in |+>

        def layer(i: tf.Tensor, state: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            axes = self._axes[i]  # (n, 3) one-hot X/Y/Z
            for q in range(n):
                state = _apply_axis_rotation(state, w[:, i, q], axes[q], q, n)
            return i + 1, state * self._ladder[None]

        _, state = tf.while_loop(lambda i, _: i < layers, layer, [tf.constant(0), state],
                                 maximum_iterations=self.max_layers)
        probs = tf.math.real(state * tf.math.conj(state))
        return tf.reduce_sum(probs * self._readout_z[None], axis=1)

    def expect(self, x: tf.Tensor, w: tf.Tensor, repetitions: int | None = None,
               seed: Any = None, trainable: np.ndarray | None = None) -> tf.Tensor:
        """<Z_readout> per row; sampled with ``repetitions`` (parameter-shift gradient for the
        (layer, qubit) angles where ``trainable`` (layers, n_qubits) is true)."""
        x = tf.convert_to_tensor(x, tf.float32)
        if repetitions is None:
            return self._expect_differentiable(x, w)
        seed = tf.cast(seed if seed is not None else np.random.default_rng().integers(0, 2**31, 2),
                       tf.int64)
        layers = int(w.shape[1])
        trainable = np.ones((layers, self.n_qubits), bool) if trainable is None else trainable
        cols = np.argwhere(trainable)
        unit = np.zeros((len(cols), layers, self.n_qubits), np.float32)
        unit[np.arange(len(cols)), cols[:, 0], cols[:, 1]] = math.pi / 2
        shifts = tf.constant(np.concatenate([unit, -unit]))
        sample = Simulator._sample

        @tf.custom_gradient
        def sampled(w_: tf.Tensor) -> Any:
            value = sample(None, self._expect(x, tf.stop_gradient(w_)), repetitions, seed)

            def grad(upstream: tf.Tensor) -> tf.Tensor:
                if len(cols) == 0:
                    return tf.zeros_like(w_)
                batch = tf.shape(w_)[0]
                shifted = tf.reshape(tf.stop_gradient(w_)[None] + shifts[:, None],
                                     [-1, layers, self.n_qubits])
                xs = tf.tile(x, [2 * len(cols), 1])
                noisy = sample(None, self._expect(xs, shifted), repetitions,
                               tf.random.experimental.stateless_fold_in(seed, 1))
                noisy = tf.reshape(noisy, [2, len(cols), batch])
                derivative = (noisy[0] - noisy[1]) / 2.0 * upstream[None]  # (c, batch)
                return tf.einsum("cb,clq->blq", derivative, tf.constant(unit / (math.pi / 2)))

            return value, grad

        return sampled(tf.convert_to_tensor(w))


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
        ws = tf.repeat(w, batch, axis=0)
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
        history["shots"].append(float(runs.shots.mean()))
        history["test_error"].append(runs.test_error(x_test, y_test, layers).tolist())
        history["layers"].append(layers)
    return history


def train_complete_depth(runs: Runs, data: tuple[np.ndarray, ...], *, layers: int, blocks: int,
                         epochs_per_block: int, batch_size: int, learning_rate: float,
                         progress: bool = True) -> dict[str, list]:
    """Complete-depth learning: the full circuit, every parameter at once, from zero."""
    from tqdm.auto import tqdm

    x, y, x_test, y_test = data
    history: dict[str, list] = {"shots": [], "test_error": [], "layers": []}
    for _ in tqdm(range(blocks), desc="CDL", leave=False, disable=not progress):
        runs.train(x, y, layers, range(layers), epochs_per_block, batch_size, learning_rate)
        history["shots"].append(float(runs.shots.mean()))
        history["test_error"].append(runs.test_error(x_test, y_test, layers).tolist())
        history["layers"].append(layers)
    return history


# -- barren plateaus -------------------------------------------------------------------------------
def random_layers_circuit(n_qubits: int, n_layers: int, seed: int) -> tuple[Any, list[Any]]:
    """McClean et al. (2018)'s random circuit: RY(pi/4) on every qubit, then ``n_layers`` layers
    of one rotation per qubit about a random axis (X, Y or Z; drawn by ``seed``) and a CZ
    ladder. Returns (circuit, angle symbols)."""
    import cirq
    import sympy

    qubits = cirq.LineQubit.range(n_qubits)
    thetas = sympy.symbols(f"t0:{n_layers * n_qubits}")
    kinds = rotation_types(n_qubits, n_layers, seed)
    gates = {"X": cirq.rx, "Y": cirq.ry, "Z": cirq.rz}
    circuit = cirq.Circuit(cirq.ry(math.pi / 4).on_each(*qubits))
    for layer in range(n_layers):
        circuit.append(gates[kinds[layer, i]](thetas[layer * n_qubits + i]).on(qubits[i])
                       for i in range(n_qubits))
        circuit.append(cirq.CZ(qubits[i], qubits[i + 1]) for i in range(n_qubits - 1))
    return circuit, list(thetas)


def _random_layers_z0z1(thetas: tf.Tensor, axes: tf.Tensor, n: int) -> tf.Tensor:
    """<Z_0 Z_1> after :func:`random_layers_circuit`, one circuit per row: thetas (batch,
    layers, n), axes (batch, layers, n, 3) one-hot rotation axes. A loop over layers, so that
    deep circuits need no deep graph."""
    batch = tf.shape(thetas)[0]
    c, s = math.cos(math.pi / 8), math.sin(math.pi / 8)
    single = np.array([c, s], np.complex64)  # RY(pi/4)|0>
    product = single
    for _ in range(n - 1):
        product = np.kron(product, single)
    state = tf.tile(tf.constant(product)[None], [batch, 1])
    idx = np.arange(2 ** n)
    bits = (idx[:, None] >> (n - 1 - np.arange(n))[None]) & 1
    ladder = tf.constant(np.prod(np.where(bits[:, :-1] & bits[:, 1:], -1.0, 1.0), axis=1)
                         .astype(np.complex64))
    z0z1 = tf.constant(((1 - 2 * bits[:, 0]) * (1 - 2 * bits[:, min(1, n - 1)]))
                       .astype(np.float32))

    def layer(i: tf.Tensor, state: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        for q in range(n):
            state = _apply_axis_rotation(state, thetas[:, i, q], axes[:, i, q], q, n)
        return i + 1, state * ladder[None]

    _, state = tf.while_loop(lambda i, _: i < tf.shape(thetas)[1], layer,
                             [tf.constant(0), state])
    return tf.reduce_sum(tf.math.real(state * tf.math.conj(state)) * z0z1[None], axis=1)


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
    fn = tf.function(_random_layers_z0z1, reduce_retracing=True)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(fn(thetas, axes, n_qubits))
    return float(np.var(tape.gradient(total, thetas).numpy()[:, 0, 0]))


# -- the lesson's experiment ----------------------------------------------------------------------
SAMPLING_RATE_HZ = 10_000  # measurements per second, the post's assumption for wall-clock time


def compare_ll_cdl(data: tuple[np.ndarray, ...], *, learning_rates: Sequence[float], runs: int,
                   repetitions: int, n_steps: int, epochs_per_step: int, sweeps: int,
                   batch_size: int, seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Layerwise vs complete-depth learning on the same final circuit, ``runs`` runs each.

    LL follows :func:`layerwise_phases`; CDL trains every layer of the final circuit from zero,
    epoch by epoch, until it has used as many measurements as LL did (the same wall-clock time
    at :data:`SAMPLING_RATE_HZ`). A run succeeds when its final test error is below 0.5.
    Returns the success fractions per learning rate and the test-error curves over time.
    """
    x, y, x_test, y_test = data
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
        start = cdl.test_error(x_test, y_test, layers).tolist()
        cdl_hist: dict[str, list] = {"shots": [0.0], "test_error": [start]}
        while cdl_hist["shots"][-1] < budget:
            cdl.train(x, y, layers, range(layers), 1, batch_size, lr)
            if cdl.shots.mean() > budget * 1.0001:
                break  # this epoch would exceed LL's budget: stop at the previous one
            cdl_hist["shots"].append(float(cdl.shots.mean()))
            cdl_hist["test_error"].append(cdl.test_error(x_test, y_test, layers).tolist())
        ll_final = np.array(ll_hist["test_error"][-1])
        cdl_final = np.array(cdl_hist["test_error"][-1])
        out["ll_success"].append(float(np.mean(ll_final < 0.5)))
        out["cdl_success"].append(float(np.mean(cdl_final < 0.5)))
        out["budget_seconds"].append(budget / SAMPLING_RATE_HZ)
        out["curves"].append({  # both start from the same zero-initialised circuit
            "ll_seconds": [0.0] + [s / SAMPLING_RATE_HZ for s in ll_hist["shots"]],
            "ll_error": [float(np.mean(start))] + np.mean(ll_hist["test_error"], axis=1).tolist(),
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
