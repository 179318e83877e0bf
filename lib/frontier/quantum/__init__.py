"""Quantum neural networks, simulated in TensorFlow (lesson 07: layerwise learning).

Two modules: :mod:`frontier.quantum.simulator`, the statevector simulator (compile a cirq
circuit, apply gates, sample measurements, the parameter-shift rule; the general
:class:`Simulator` and the layer-loop :class:`LayeredCircuit`), and
:mod:`frontier.quantum.lesson`, the lesson's circuits, data, layerwise recipe and experiments
(importing it registers the lesson's profile sizes). Every public name of both is available
here, as ``from frontier import quantum as q; q.Simulator, q.layerwise_phases``.
"""

from frontier.quantum.lesson import (
    SAMPLING_RATE_HZ,
    SIZES,
    LayeredQNN,
    Runs,
    binary_digits,
    compare_ll_cdl,
    gradient_variance,
    layerwise_phases,
    lesson_data,
    plateau_circuit,
    qnn_circuit,
    random_layers_circuit,
    split,
    squared_hinge,
    train_complete_depth,
    train_layerwise,
)
from frontier.quantum.simulator import (
    Compiled,
    LayeredCircuit,
    Op,
    Simulator,
    axes_onehot,
    compile_circuit,
    cz_ladder_signs,
    expectation,
    ladder_layers,
    parameter_shift,
    rotation_layers,
    rotation_types,
    sample_mean,
    simulate,
    z_signs,
)

__all__ = [
    "SAMPLING_RATE_HZ", "SIZES", "Compiled", "LayeredCircuit", "LayeredQNN", "Op", "Runs",
    "Simulator", "axes_onehot", "binary_digits", "compare_ll_cdl", "compile_circuit",
    "cz_ladder_signs", "expectation", "gradient_variance", "ladder_layers", "layerwise_phases",
    "lesson_data", "parameter_shift", "plateau_circuit", "qnn_circuit", "random_layers_circuit",
    "rotation_layers", "rotation_types", "sample_mean", "simulate", "split", "squared_hinge",
    "train_complete_depth", "train_layerwise", "z_signs",
]
