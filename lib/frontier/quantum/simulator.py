"""The course's quantum-circuit simulator: one statevector core in TensorFlow (lesson 07).

TensorFlow Quantum pins an older TensorFlow, so the course simulates circuits itself. Circuits
are written in cirq; :func:`compile_circuit` turns one into a list of tensor operations on a
batched statevector, :func:`simulate` runs them, and :class:`Simulator` evaluates Pauli
observables on the result, differentiably. With ``repetitions=r`` every expectation is the
mean of ``r`` simulated measurements (:func:`sample_mean`, binomial shot noise) and its gradient
is the parameter-shift rule (:func:`parameter_shift`) evaluated with such noisy expectations, as
a quantum computer would give it.

Layered circuits (a prefix, then layers of one rotation per qubit and a CZ ladder, built in cirq
by :func:`ladder_layers`) also run as a loop over layers (:func:`rotation_layers`,
:class:`LayeredCircuit`), so that one XLA compilation serves every depth. Both paths share the
gates, the sampling and the parameter-shift rule defined here once.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

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


def basis_bits(n: int) -> np.ndarray:
    """(2**n, n) int: bit q of every basis state; qubit 0 is the most significant (as in cirq)."""
    return (np.arange(2 ** n)[:, None] >> (n - 1 - np.arange(n))[None]) & 1


def z_signs(n: int, qubits: Sequence[int]) -> np.ndarray:
    """(2**n,) float32: the eigenvalue of the Pauli product Z_q1 Z_q2 ... on every basis state,
    so that <Z_q1 Z_q2 ...> = sum(probabilities * z_signs)."""
    bits = basis_bits(n)
    return np.prod(1 - 2 * bits[:, list(qubits)], axis=1).astype(np.float32)


def cz_ladder_signs(n: int) -> np.ndarray:
    """(2**n,) float32: the diagonal of CZ(0, 1) CZ(1, 2) ... CZ(n-2, n-1), the entangling
    ladder of every layer of :func:`ladder_layers` (-1 per neighbouring pair of ones), from
    the same sign vectors :func:`simulate` merges CZ gates into."""
    signs = np.ones(2 ** n, np.float32)
    for q in range(n - 1):
        signs = signs * _diagonal_sign(_CZ, (q, q + 1), n)
    return signs


def _diagonal_sign(op_matrix: np.ndarray, axes: tuple[int, ...], n: int) -> np.ndarray | None:
    """The +-1 diagonal of a CZ or Z gate over all 2**n basis states (None if not diagonal)."""
    diag = np.diag(op_matrix.reshape(2 ** len(axes), 2 ** len(axes)))
    if not np.allclose(op_matrix.reshape(len(diag), len(diag)), np.diag(diag)):
        return None
    bits = basis_bits(n)[:, list(axes)]
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


def gate_angles(compiled: Compiled, values: tf.Tensor) -> tf.Tensor:
    """Angles (batch, n_rotations) = values (batch, n_symbols) @ weights + offsets."""
    offsets = tf.constant(compiled.offsets)
    if not compiled.symbols:  # no matrix product over an empty axis (oneDNN rejects it)
        return tf.tile(offsets[None], [tf.shape(values)[0], 1])
    return tf.matmul(values, tf.constant(compiled.weights)) + offsets


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
            sign = z_signs(n, [axis for axis, p in enumerate(word) if p == "Z"])
            out.append(tf.reduce_sum(probs * sign[None], axis=1))
            continue
        phi = state
        for axis, p in enumerate(word):
            if p != "I":
                phi = _apply_matrix(phi, _PAULI[p].tolist(), axis, n)
        out.append(tf.math.real(tf.reduce_sum(tf.math.conj(state) * phi, axis=1)))
    return tf.stack(out, axis=-1)



# -- measurements and the parameter-shift rule ----------------------------------------------------
def _seed(seed: Any) -> tf.Tensor:
    """A stateless-random seed pair; a fresh one when ``seed`` is None."""
    return tf.cast(seed if seed is not None else np.random.default_rng().integers(0, 2**31, 2),
                   tf.int64)


def sample_mean(values: tf.Tensor, repetitions: int, seed: tf.Tensor) -> tf.Tensor:
    """Mean of ``repetitions`` +-1 outcomes with mean ``values`` (binomial shot noise): an
    estimate on the grid -1, -1 + 2/r, ..., 1, as a quantum computer gives it."""
    p = tf.clip_by_value((1.0 + values) / 2.0, 0.0, 1.0)
    k = tf.random.stateless_binomial(tf.shape(p), seed, float(repetitions), p,
                                     output_dtype=tf.float32)
    return 2.0 * k / repetitions - 1.0


def parameter_shift(expect: Callable[[tf.Tensor], tf.Tensor], params: tf.Tensor,
                    repetitions: int, seed: tf.Tensor, columns: Sequence[int]) -> tf.Tensor:
    """``expect(params)`` estimated from ``repetitions`` measurements, with the gradient a
    quantum computer gives: the parameter-shift rule on sampled expectations.

    ``params``: (batch, *shape) angles, each the angle of one gate exp(-i angle P / 2);
    ``expect`` maps such a tensor (any number of rows) to expectations (rows, ...). For each
    flat parameter index in ``columns``, dE/dp = [E(p + pi/2) - E(p - pi/2)] / 2 with each E
    sampled from ``repetitions`` measurements (all shifted copies in one call of ``expect``,
    stacked shift-major along the batch axis); parameters not in ``columns`` get zero gradient
    (frozen, and no measurements spent on them).
    """
    if repetitions < 1:
        raise ValueError(f"repetitions={repetitions}: use at least one measurement")
    params = tf.convert_to_tensor(params, tf.float32)
    shape = params.shape[1:].as_list()
    columns = np.asarray(list(columns), dtype=int)
    c, size = len(columns), int(np.prod(shape))
    unit = np.zeros((c, size), np.float32)
    unit[np.arange(c), columns] = 1.0
    shifts = tf.constant((math.pi / 2 * np.concatenate([unit, -unit])).reshape([2 * c] + shape))

    @tf.custom_gradient
    def sampled(p: tf.Tensor) -> Any:
        p = tf.stop_gradient(p)
        value = sample_mean(expect(p), repetitions, seed)

        def grad(upstream: tf.Tensor) -> tf.Tensor:
            if c == 0:
                return tf.zeros_like(p)
            batch = p.shape[0] if p.shape[0] is not None else tf.shape(p)[0]
            shifted = tf.reshape(p[None] + shifts[:, None], [-1] + shape)
            noisy = sample_mean(expect(shifted), repetitions,
                                tf.random.experimental.stateless_fold_in(seed, 1))
            noisy = tf.reshape(noisy, [2, c, batch, -1])
            derivative = (noisy[0] - noisy[1]) / 2.0  # (c, batch, outputs)
            per_column = tf.einsum("cbk,bk->bc", derivative, tf.reshape(upstream, [batch, -1]))
            return tf.reshape(tf.matmul(per_column, tf.constant(unit)), [-1] + shape)

        return value, grad

    return sampled(params)


# -- a general circuit ----------------------------------------------------------------------------
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
        self._words_fn = tf.function(self._word_values, jit_compile=jit_compile,
                                     reduce_retracing=True)

    def angles(self, values: tf.Tensor) -> tf.Tensor:
        """Gate angles (batch, n_rotations) for symbol values (batch, n_symbols)."""
        values = tf.convert_to_tensor(values, tf.float32)
        if values.shape.rank != 2 or values.shape[-1] != len(self.compiled.symbols):
            raise ValueError(f"values must have shape (batch, {len(self.compiled.symbols)}) "
                             f"for symbols {list(self.compiled.symbols)}; got {values.shape}")
        return gate_angles(self.compiled, values)

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
        columns = range(self.compiled.n_rotations) if shift_columns is None else shift_columns
        words = parameter_shift(self.word_values, angles, repetitions, _seed(seed), columns)
        return tf.matmul(words, self._coeff)


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


# -- layered circuits -----------------------------------------------------------------------------
AXES = ("X", "Y", "Z")


def rotation_types(n_qubits: int, n_layers: int, seed: int) -> np.ndarray:
    """The rotation axis of each gate, drawn from {X, Y, Z}: (n_layers, n_qubits) strings. The
    first rows do not depend on ``n_layers``, so deeper circuits extend shallower ones."""
    rng = np.random.default_rng(seed)
    return rng.choice(np.array(AXES), size=(n_layers, n_qubits))


def axes_onehot(kinds: np.ndarray) -> np.ndarray:
    """One-hot rotation axes (..., 3) float32 from strings "X", "Y", "Z" (..., )."""
    return np.stack([kinds == a for a in AXES], -1).astype(np.float32)


def ladder_layers(qubits: Sequence[Any], kinds: np.ndarray, angles: Sequence[Any]) -> Any:
    """The layers :func:`rotation_layers` simulates, as a ``cirq.Circuit``: layer l rotates
    qubit q about axis ``kinds[l, q]`` by ``angles[l * len(qubits) + q]`` (a symbol or number),
    then applies CZ between every pair of neighbours (the ladder)."""
    import cirq

    gates = {"X": cirq.rx, "Y": cirq.ry, "Z": cirq.rz}
    n = len(qubits)
    circuit = cirq.Circuit()
    for layer in range(len(kinds)):
        circuit.append(gates[kinds[layer, q]](angles[layer * n + q]).on(qubits[q])
                       for q in range(n))
        circuit.append(cirq.CZ(qubits[q], qubits[q + 1]) for q in range(n - 1))
    return circuit


def rotation_layers(state: tf.Tensor, angles: tf.Tensor, axes: tf.Tensor, n: int,
                    max_layers: int | None = None) -> tf.Tensor:
    """Apply ``angles.shape[1]`` layers of :func:`ladder_layers` to ``state`` (batch, 2**n).

    ``angles``: (batch, layers, n); ``axes``: (1 or batch, layers, n, 3) one-hot X/Y/Z, shared
    by every row or one circuit per row. A ``tf.while_loop`` over layers: the axes are data, so
    every layer runs through the same compiled body and deep circuits need no deep graph.
    """
    ladder = tf.constant(cz_ladder_signs(n).astype(np.complex64))

    def layer(i: tf.Tensor, state: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        for q in range(n):
            state = _apply_axis_rotation(state, angles[:, i, q], axes[:, i, q], q, n)
        return i + 1, state * ladder[None]

    _, state = tf.while_loop(lambda i, _: i < tf.shape(angles)[1], layer, [tf.constant(0), state],
                             maximum_iterations=max_layers)
    return state


class LayeredCircuit:
    """A prefix circuit, then up to ``max_layers`` layers of :func:`ladder_layers`, then
    <Z...Z> on ``observable_qubits``; simulated with :func:`simulate` for the prefix and
    :func:`rotation_layers` for the layers, so one XLA compilation serves every depth.

    ``expect(x, w)``: x (batch, n_symbols) values of the prefix's ``symbols``, w (batch, layers,
    n_qubits) layer angles -> (batch,) expectations. The layers' qubits are the prefix's in
    sorted order (the prefix must act on every qubit). ``axes`` (max_layers, n_qubits) strings
    fixes the rotation axes; otherwise pass one-hot ``axes`` to ``expect`` (one circuit per row).
    """

    def __init__(self, prefix: Any, symbols: Sequence[Any], observable_qubits: Sequence[Any],
                 max_layers: int, axes: np.ndarray | None = None, jit_compile: bool = True):
        self.compiled = compile_circuit(prefix, symbols)
        self.n_qubits, self.max_layers = self.compiled.n_qubits, max_layers
        index = {q: i for i, q in enumerate(self.compiled.qubits)}
        self._observable = tf.constant(z_signs(self.n_qubits,
                                               [index[q] for q in observable_qubits]))
        self._axes = None if axes is None else tf.constant(axes_onehot(axes)[None])
        # a partial, not the method: TensorFlow counts retracing per underlying function, and
        # every circuit (each depth and qubit count of a barren-plateau scan) traces its own
        run = functools.partial(self._expect_impl)
        self._expect = tf.function(run, jit_compile=jit_compile, reduce_retracing=True)
        # XLA cannot differentiate through its while loop: exact gradients use plain graphs
        self._expect_differentiable = tf.function(run, reduce_retracing=True)

    def _expect_impl(self, x: tf.Tensor, w: tf.Tensor, axes: tf.Tensor) -> tf.Tensor:
        state = simulate(self.compiled, gate_angles(self.compiled, x))
        state = rotation_layers(state, w, axes, self.n_qubits, self.max_layers)
        probs = tf.math.real(state * tf.math.conj(state))
        return tf.reduce_sum(probs * self._observable[None], axis=1)

    def expect(self, x: tf.Tensor, w: tf.Tensor, repetitions: int | None = None,
               seed: Any = None, trainable: np.ndarray | None = None,
               axes: tf.Tensor | None = None) -> tf.Tensor:
        """<Z...Z> per row; sampled with ``repetitions`` (parameter-shift gradient for the
        (layer, qubit) angles where ``trainable`` (layers, n_qubits) is true; default all)."""
        x = tf.convert_to_tensor(x, tf.float32)
        w = tf.convert_to_tensor(w, tf.float32)
        if axes is None:
            if self._axes is None:
                raise ValueError("this LayeredCircuit has no fixed axes: pass axes (batch, "
                                 "layers, n_qubits, 3) one-hot X/Y/Z to expect")
            axes = self._axes
        axes = tf.convert_to_tensor(axes, tf.float32)
        if repetitions is None:
            return self._expect_differentiable(x, w, axes)
        trainable = np.ones(w.shape[1:], bool) if trainable is None else np.asarray(trainable)

        def shifted(w_: tf.Tensor) -> tf.Tensor:  # rows of w_: copies of the batch
            copies = w_.shape[0] // x.shape[0]
            per_row = axes if axes.shape[0] == 1 else tf.tile(axes, [copies, 1, 1, 1])
            return self._expect(tf.tile(x, [copies, 1]), w_, per_row)

        return parameter_shift(shifted, w, repetitions, _seed(seed), np.flatnonzero(trainable))
