"""TinyML: a gesture-to-emoji keyboard on a microcontroller budget (lessons 08 and 09).

The OpenMV emoji keyboard (Arm, 2022) runs a MobileNetV1 with width multiplier alpha = 0.25
(Howard et al. 2017) on 96x96 greyscale camera frames of an STM32H7 board, int8-quantised and
executed by TensorFlow Lite Micro (TFLM). This module holds every step of that pipeline:

- :func:`mobilenet_v1`, the firmware-friendly MobileNetV1 (no ZeroPadding, 'same' padding,
  AveragePooling2D instead of GlobalAveragePooling2D, Flatten instead of Reshape), and
  :data:`SMALL_BLOCKS`, a shorter configuration that fits HarvardX's 100 KB of flash;
- :func:`quantize_int8`, full-integer post-training quantisation; :func:`to_c_array`, the
  model as a ``.cc``/``.h`` pair a firmware build includes;
- :func:`litert_predict` and :func:`tflm_predict`, the same int8 model in LiteRT and TFLM;
  :func:`smallest_arena`, the least tensor-arena RAM TFLM needs (found by bisection, each try
  in a subprocess); :func:`budget`, RAM and flash against boards;
- :func:`micro_op_resolver`, the ``MicroMutableOpResolver`` a firmware needs, and
  :func:`edge_tpu_split`, which ops stay on the MCU next to an Edge TPU;
- :func:`count_macs` and :func:`estimate_latency`, an inference's cost on Cortex-M cores;
- :class:`GestureDecoder`, the app loop that turns per-frame probabilities into keystrokes;
- :func:`xnnpack_latency`, LiteRT's float latency with and without the XNNPACK delegate.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from frontier.data.synthetic.gestures import CLASSES
from frontier.profiles import register

SIZES = register(
    "tinyml",
    # quick: simulated 96x96 frames (frontier.data.synthetic.gestures); full: the Kaggle set
    smoke=dict(n_train=160, n_test=80, epochs=1, batch_size=32, learning_rate=5e-3,
               representative=16, arena_resolution=16384, timing_runs=3),
    quick=dict(n_train=4000, n_test=1000, epochs=12, batch_size=32, learning_rate=5e-3,
               representative=200, arena_resolution=1024, timing_runs=50),
    full=dict(n_train=14000, n_test=2000, epochs=50, batch_size=64, learning_rate=5e-3,
              representative=500, arena_resolution=256, timing_runs=200),
)

#: Input of the reference model: 96x96 greyscale.
INPUT_SHAPE: tuple[int, int, int] = (96, 96, 1)

#: MobileNetV1's 13 depthwise-separable blocks as (pointwise filters at alpha = 1, stride).
MOBILENET_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))

#: The small configuration: the first seven blocks, one 512-wide block; under 100 KB of flash.
SMALL_BLOCKS: tuple[tuple[int, int], ...] = MOBILENET_BLOCKS[:7]

#: Batch-norm momentum: 0.9 rather than Keras' 0.99, so the moving statistics the held-out
#: set (and the converter) use catch up within the few hundred steps of a short run.
BN_MOMENTUM = 0.9

#: The emoji each class types (none for "no gesture"), in :data:`CLASSES` order.
EMOJI: tuple[str | None, ...] = (None, "\N{RAISED HAND}", "\N{THUMBS DOWN SIGN}",
                                 "\N{THUMBS UP SIGN}", "\N{RAISED FIST}")


# -- the model -----------------------------------------------------------------------------------
def mobilenet_v1(input_shape: tuple[int, int, int] = INPUT_SHAPE, *, alpha: float = 0.25,
                 classes: int = len(CLASSES), dropout: float = 0.1,
                 blocks: Sequence[tuple[int, int]] = MOBILENET_BLOCKS,
                 name: str = "mobilenet_v1") -> keras.Model:
    """MobileNetV1 (Howard et al. 2017) with the Arm emoji keyboard's firmware adaptation.

    Keras' reference code pads with ZeroPadding2D before strided convolutions, ends in
    GlobalAveragePooling2D and a Reshape; here strided convolutions use ``padding='same'``,
    the end is an AveragePooling2D over the whole final map and a Flatten, ops TFLM's
    firmware supports. ``blocks``: (filters at alpha = 1, stride) per depthwise-separable
    block; filters scale by ``alpha``. Input: images in [0, 1], shape ``input_shape``.
    Output: class probabilities (softmax), shape (batch, classes).
    """
    if not 0 < alpha <= 1:
        raise ValueError(f"mobilenet_v1: alpha must be in (0, 1], got {alpha}")
    layers = keras.layers
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(int(32 * alpha), 3, strides=2, padding="same", use_bias=False,
                      name="conv1")(inputs)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="conv1_bn")(x)
    x = layers.ReLU(6.0, name="conv1_relu")(x)
    for i, (filters, stride) in enumerate(blocks, start=1):
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                                   name=f"conv_dw_{i}")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"conv_dw_{i}_bn")(x)
        x = layers.ReLU(6.0, name=f"conv_dw_{i}_relu")(x)
        x = layers.Conv2D(int(filters * alpha), 1, padding="same", use_bias=False,
                          name=f"conv_pw_{i}")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"conv_pw_{i}_bn")(x)
        x = layers.ReLU(6.0, name=f"conv_pw_{i}_relu")(x)
    x = layers.AveragePooling2D(pool_size=tuple(x.shape[1:3]), name="avg_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def randomize_biases(model: keras.Model, seed: int = 0, scale: float = 0.1) -> keras.Model:
    """Give an untrained model's zero biases and batch-norm offsets small random values
    (for timing and memory measurements of untrained models), in place.

    Pitfall: the converter drops an all-zero bias, and TFLM's int8 FULLY_CONNECTED without a
    bias aborts the process (tflite-micro 0.dev20261023). A trained model never has one.
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for weight in layer.weights:
            if weight.name in ("bias", "beta", "moving_mean"):
                weight.assign(scale * rng.standard_normal(weight.shape).astype(np.float32))
    return model


def augmentation(seed: int = 0) -> keras.Sequential:
    """The post's augmentation with Keras core layers: horizontal flip, rotation (+-18
    degrees: larger would turn thumbs up into thumbs down), zoom and contrast."""
    layers = keras.layers
    return keras.Sequential([
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomRotation(0.05, fill_mode="nearest", seed=seed + 1),
        layers.RandomZoom(0.1, fill_mode="nearest", seed=seed + 2),
        layers.RandomContrast(0.2, seed=seed + 3),
    ], name="augmentation")


def lesson_data(P: Any, seed: int = 0) -> dict[str, np.ndarray]:
    """Train and held-out frames for profile sizes ``P``: ``x_train`` (n, 96, 96, 1) in [0, 1],
    ``y_train`` (n,), ``x_test``, ``y_test``. ``smoke``/``quick``: simulated frames
    (:func:`frontier.data.synthetic.gestures`, the test set from its own seed); ``full``: the
    Kaggle gesture images relabelled by the Arm example's CSV (not available offline)."""
    _require_simulated(P)
    from frontier.data.synthetic import gestures

    train = gestures(P.n_train, seed=seed)
    return {"x_train": train["images"], "y_train": train["labels"], **held_out(P, seed)}


def _require_simulated(P: Any) -> None:
    if P.name == "full":
        raise NotImplementedError(
            "tinyml full profile: the Kaggle hand-gesture loader is not written yet; run the "
            "lesson with PROFILE = \"quick\" (simulated frames, no downloads)")


def held_out(P: Any, seed: int = 0) -> dict[str, np.ndarray]:
    """Only the held-out part of :func:`lesson_data`: ``x_test``, ``y_test``."""
    _require_simulated(P)
    from frontier.data.synthetic import gestures

    test = gestures(P.n_test, seed=seed + 10_000)
    return {"x_test": test["images"], "y_test": test["labels"]}


def train(model: keras.Model, x: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int,
          validation: tuple[np.ndarray, np.ndarray] | None = None, learning_rate: float = 2e-3,
          seed: int = 0) -> dict[str, list[float]]:
    """Train from scratch with :func:`augmentation` applied to each batch (Adam, cosine decay,
    sparse cross-entropy). Returns the Keras history: loss and accuracy per epoch, and
    val_loss/val_accuracy when ``validation`` = (images, labels) is given."""
    steps = epochs * int(np.ceil(len(x) / batch_size))
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
                      learning_rate, max(steps, 1))),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    augment = augmentation(seed)
    data = (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed)
            .batch(batch_size).map(lambda a, b: (augment(a, training=True), b),
                                   num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))
    history = model.fit(data, epochs=epochs, validation_data=validation, shuffle=False,
                        verbose=0)
    return history.history


def lesson_model(P: Any, data: dict[str, np.ndarray], seed: int = 0,
                 blocks: Sequence[tuple[int, int]] = MOBILENET_BLOCKS
                 ) -> tuple[keras.Model, dict[str, list[float]]]:
    """Build and :func:`train` the lesson's model (``blocks``: the reference or
    :data:`SMALL_BLOCKS`) on :func:`lesson_data` with profile sizes ``P``, the held-out frames
    as validation. Returns (model, history)."""
    keras.utils.set_random_seed(seed)
    name = "mobilenet_v1" if tuple(blocks) == MOBILENET_BLOCKS else "mobilenet_v1_small"
    model = mobilenet_v1(blocks=blocks, name=name)
    history = train(model, data["x_train"], data["y_train"], epochs=P.epochs,
                    batch_size=P.batch_size, learning_rate=P.learning_rate,
                    validation=(data["x_test"], data["y_test"]), seed=seed)
    return model, history


def _saved_path(P: Any, seed: int) -> Path:
    from frontier.data import cache_dir

    return cache_dir() / "tinyml" / f"{P.name}-seed{seed}"


def save_lesson_model(model: keras.Model, int8: bytes, P: Any, seed: int = 0) -> Path:
    """Keep lesson 08's trained model and its int8 flatbuffer in the data cache for lesson 09
    (``$FRONTIER_DATA/tinyml/<profile>-seed<seed>/``). Returns the directory."""
    directory = _saved_path(P, seed)
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory / "gesture.keras")
    (directory / "gesture_int8.tflite").write_bytes(int8)
    return directory


def saved_lesson_model(P: Any, seed: int = 0) -> tuple[keras.Model, bytes]:
    """Lesson 08's (model, int8 flatbuffer) for profile ``P`` and ``seed``: read from the
    cache when lesson 08 ran, else trained and converted now (and saved)."""
    directory = _saved_path(P, seed)
    if (directory / "gesture_int8.tflite").exists() and (directory / "gesture.keras").exists():
        return (keras.saving.load_model(directory / "gesture.keras"),
                (directory / "gesture_int8.tflite").read_bytes())
    data = lesson_data(P, seed)
    model, _ = lesson_model(P, data, seed)
    int8 = quantize_int8(model, data["x_train"][:P.representative])
    save_lesson_model(model, int8, P, seed)
    return model, int8


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Share of frames whose most probable class is the label."""
    return float(np.mean(np.argmax(probabilities, axis=-1) == np.asarray(labels)))


def confusion(probabilities: np.ndarray, labels: np.ndarray, classes: int = len(CLASSES)
              ) -> np.ndarray:
    """Confusion matrix (classes, classes): row = true class, column = predicted class."""
    predicted = np.argmax(probabilities, axis=-1)
    return np.bincount(classes * np.asarray(labels) + predicted,
                       minlength=classes * classes).reshape(classes, classes)


# -- conversion ----------------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the converter's and the interpreters' C++ and Python chatter (fd 1 and 2)."""
    sys.stdout.flush()
    sys.stderr.flush()
    logger = tf.get_logger()  # "Assets written to ...": its handler holds the old stdout
    level = logger.level
    logger.setLevel("ERROR")
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        with contextlib.redirect_stdout(open(os.devnull, "w")) as out, \
                contextlib.redirect_stderr(out):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield
    finally:
        logger.setLevel(level)
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def _converter(model: keras.Model) -> tf.lite.TFLiteConverter:
    """A converter for one frame at a time (batch 1, as on the device): with a fixed batch,
    Flatten becomes one RESHAPE instead of SHAPE, STRIDED_SLICE, PACK and RESHAPE."""
    frame = keras.Input(model.input_shape[1:], batch_size=1)
    return tf.lite.TFLiteConverter.from_keras_model(keras.Model(frame, model(frame)))


def float_tflite(model: keras.Model) -> bytes:
    """The model as a float32 TFLite flatbuffer (the XNNPACK comparison runs float models)."""
    with _quiet():
        return _converter(model).convert()


def quantize_int8(model: keras.Model, representative: np.ndarray) -> bytes:
    """Full-integer int8 post-training quantisation with int8 input and output.

    ``representative``: (n, 96, 96, 1) frames in [0, 1] the converter runs through the
    model to choose each tensor's scale and zero point (a few hundred suffice). Returns the
    TFLite flatbuffer: the bytes that go to flash.
    """
    representative = np.asarray(representative, np.float32)
    if representative.ndim != 4 or len(representative) == 0:
        raise ValueError("quantize_int8: representative must be a non-empty batch of images "
                         f"(n, h, w, c), got shape {representative.shape}")
    converter = _converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([frame[None]] for frame in representative)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with _quiet():
        return converter.convert()


def quantize(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """The int8 affine mapping q = clip(round(x / scale) + zero_point, -128, 127)."""
    q = np.round(np.asarray(values, np.float64) / scale) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """x = scale * (q - zero_point), float32."""
    return (scale * (np.asarray(q, np.float32) - zero_point)).astype(np.float32)


def to_c_array(model_bytes: bytes, name: str, directory: str | os.PathLike[str]
               ) -> tuple[Path, Path]:
    """Write ``<name>.cc`` and ``<name>.h`` for a firmware build (as ``xxd -i`` does, aligned).

    The header declares ``extern const unsigned char <name>[];`` and ``<name>_len``; the
    source defines them, 16-byte aligned (``alignas(16)``: TFLM reads the flatbuffer in place
    and needs its tables aligned). Returns the two paths.
    """
    if not name.isidentifier():
        raise ValueError(f"to_c_array: name {name!r} must be a C identifier, like 'gesture_model'")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    guard = f"{name.upper()}_H_"
    header = (f"#ifndef {guard}\n#define {guard}\n\n"
              f"extern const unsigned char {name}[];\nextern const unsigned int {name}_len;\n\n"
              f"#endif  // {guard}\n")
    rows = [", ".join(f"0x{b:02x}" for b in model_bytes[i:i + 12])
            for i in range(0, len(model_bytes), 12)]
    source = (f'#include "{name}.h"\n\n'
              f"alignas(16) const unsigned char {name}[] = {{\n  "
              + ",\n  ".join(rows)
              + f"\n}};\nconst unsigned int {name}_len = {len(model_bytes)};\n")
    cc, h = directory / f"{name}.cc", directory / f"{name}.h"
    cc.write_text(source)
    h.write_text(header)
    return cc, h


def read_c_array(path: str | os.PathLike[str]) -> bytes:
    """The bytes of the array in a ``.cc`` file written by :func:`to_c_array`, checked
    against its ``_len``."""
    text = Path(path).read_text()
    body = text[text.index("{") + 1:text.index("};")]
    data = bytes(int(token, 16) for token in body.replace("\n", " ").split(",") if token.strip())
    length = int(text.rsplit("_len = ", 1)[1].split(";")[0])
    if length != len(data):
        raise ValueError(f"{path}: the array has {len(data)} bytes but _len says {length}")
    return data


# -- runtimes ------------------------------------------------------------------------------------
def _to_input(images: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Images in [0, 1] as the model's input dtype (int8 through its scale and zero point)."""
    images = np.asarray(images, np.float32)
    if np.dtype(detail["dtype"]) == np.int8:
        scale, zero_point = _quantization(detail)
        return quantize(images, scale, zero_point)
    return images


def _quantization(detail: dict[str, Any]) -> tuple[float, int]:
    params = detail.get("quantization_parameters", {})
    if len(params.get("scales", [])):
        return float(params["scales"][0]), int(params["zero_points"][0])
    return tuple(detail["quantization"])  # type: ignore[return-value]


def _from_output(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    if np.dtype(detail["dtype"]) == np.int8:
        return dequantize(values, *_quantization(detail))
    return np.asarray(values, np.float32)


def litert_interpreter(model_bytes: bytes, *, num_threads: int = 1, xnnpack: bool = True
                       ) -> Any:
    """A LiteRT interpreter, tensors allocated. ``xnnpack=False`` builds it with
    ``OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES`` (no XNNPACK delegate)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    with _quiet():
        interpreter = Interpreter(model_content=model_bytes, num_threads=num_threads,
                                  experimental_op_resolver_type=resolver)
        interpreter.allocate_tensors()
    return interpreter


def litert_predict(model_bytes: bytes, images: np.ndarray, **kwargs: Any) -> np.ndarray:
    """Class probabilities (n, classes) from LiteRT, one frame at a time as on the device.
    ``images``: (n, 96, 96, 1) in [0, 1]; int8 models get them quantised, and their int8
    outputs are dequantised. ``kwargs`` go to :func:`litert_interpreter`."""
    interpreter = litert_interpreter(model_bytes, **kwargs)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    frames = _to_input(images, inp)
    result = []
    for frame in frames:
        interpreter.set_tensor(inp["index"], frame[None])
        interpreter.invoke()
        result.append(interpreter.get_tensor(out["index"])[0])
    return _from_output(np.array(result), out)


def tflm_predict(model_bytes: bytes, images: np.ndarray, *, arena_size: int | None = None
                 ) -> np.ndarray:
    """Class probabilities (n, classes) from TensorFlow Lite Micro's Python interpreter (the
    firmware's kernels, compiled for this machine). ``arena_size``: the tensor arena in bytes
    (default: TFLM's, ten times the model). A too-small arena can crash the process: find
    the size with :func:`smallest_arena` first."""
    from tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model_bytes, arena_size=arena_size)
    inp, out = interpreter.get_input_details(0), interpreter.get_output_details(0)
    result = []
    for frame in _to_input(images, inp):
        interpreter.set_input(frame[None], 0)
        interpreter.invoke()
        result.append(np.array(interpreter.get_output(0))[0])
    return _from_output(np.array(result), out)


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of frames where two models' most probable classes agree."""
    return float(np.mean(np.argmax(a, -1) == np.argmax(b, -1)))


_ARENA_TRY = """
import sys
import numpy as np
from tflite_micro import runtime
model = open(sys.argv[1], "rb").read()
interpreter = runtime.Interpreter.from_bytes(model, arena_size=int(sys.argv[2]))
detail = interpreter.get_input_details(0)
interpreter.set_input(np.zeros(detail["shape"], detail["dtype"]), 0)
interpreter.invoke()
interpreter.get_output(0)
"""


def arena_works(model_bytes: bytes | os.PathLike[str], arena_size: int, *,
                timeout: float = 120.0) -> bool:
    """True when TFLM allocates and runs the model (one inference) in ``arena_size`` bytes.

    The try runs in a child Python process: TFLM may abort or crash the whole process on a
    too-small arena, and only the child dies. ``model_bytes`` may be a path to a .tflite.
    """
    with contextlib.ExitStack() as stack:
        if isinstance(model_bytes, (bytes, bytearray)):
            handle = stack.enter_context(tempfile.NamedTemporaryFile(suffix=".tflite"))
            handle.write(model_bytes)
            handle.flush()
            path = handle.name
        else:
            path = os.fspath(model_bytes)
        child = subprocess.run([sys.executable, "-c", _ARENA_TRY, path, str(int(arena_size))],
                               capture_output=True, timeout=timeout,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return child.returncode == 0


def smallest_arena(model_bytes: bytes, *, low: int = 0, high: int | None = None,
                   resolution: int = 1024) -> dict[str, int]:
    """The smallest tensor arena (bytes) in which TFLM runs the model, by bisection.

    Each try is :func:`arena_works` (a subprocess). ``high`` (default ten times the model,
    TFLM's own default) must work; the search stops when the bracket is ``resolution``
    bytes wide. Returns ``arena_bytes`` (the smallest size found to work), ``failed_bytes``
    (the largest found to fail), ``flash_bytes`` (the model) and ``tries``.
    """
    high = 10 * len(model_bytes) if high is None else high
    with tempfile.NamedTemporaryFile(suffix=".tflite") as handle:
        handle.write(model_bytes)
        handle.flush()
        tries = 1
        if not arena_works(handle.name, high):
            raise ValueError(f"smallest_arena: the model does not run even in high={high} "
                             "bytes; pass a larger high")
        while high - low > resolution:
            middle = (low + high) // 2
            tries += 1
            if arena_works(handle.name, middle):
                high = middle
            else:
                low = middle
    return {"arena_bytes": high, "failed_bytes": low, "flash_bytes": len(model_bytes),
            "tries": tries}


#: Board budgets in bytes: (RAM, flash).
BOARDS: dict[str, tuple[int, int]] = {
    "OpenMV H7 (Cortex-M7, 480 MHz)": (1 << 20, 2 << 20),
    "Cortex-M4 board (80 MHz)": (256 << 10, 1 << 20),
}

#: HarvardX TinyML's budget: models for devices with "less than 100 KB of storage".
HARVARDX_FLASH = 100_000


def budget(arena_bytes: int, flash_bytes: int,
           boards: dict[str, tuple[int, int]] = BOARDS) -> list[dict[str, Any]]:
    """RAM (the tensor arena) and flash (the model) as shares of each board's budget; a model
    fits when both are at most 1. (The firmware, camera buffers and stack need the rest.)"""
    return [{"board": name, "ram_share": arena_bytes / ram, "flash_share": flash_bytes / flash,
             "fits": arena_bytes <= ram and flash_bytes <= flash}
            for name, (ram, flash) in boards.items()]


# -- the op resolver -----------------------------------------------------------------------------
def model_ops(model_bytes: bytes) -> list[str]:
    """The builtin (or custom) ops of the flatbuffer's operators, in execution order."""
    from tflite_micro import runtime

    names = {v: k for k, v in vars(runtime.schema_fb.BuiltinOperator).items() if k.isupper()}
    model = runtime.convert_bytearray_to_object(bytearray(model_bytes))
    codes = [names[runtime.get_builtin_code_from_operator_code(code)]
             if code.customCode is None else code.customCode.decode()
             for code in model.operatorCodes]
    return [codes[op.opcodeIndex] for graph in model.subgraphs for op in graph.operators]


_RESOLVER_NAMES = {"TFLITE_DETECTION_POSTPROCESS": "DetectionPostprocess",
                   "BATCH_MATMUL": "BatchMatMul"}


def resolver_method(op: str) -> str:
    """TFLM's ``MicroMutableOpResolver`` method for a builtin op: CONV_2D -> AddConv2D."""
    if op in _RESOLVER_NAMES:
        return "Add" + _RESOLVER_NAMES[op]
    parts = op.split("_")
    return "Add" + "".join(p if p[:1].isdigit() else p.capitalize() for p in parts)


def micro_op_resolver(model_bytes: bytes, variable: str = "resolver") -> dict[str, Any]:
    """The ops a firmware must register for this model: ``ops`` (sorted, each once) and
    ``snippet``, the C++ ``tflite::MicroMutableOpResolver<N>`` with N = the number of ops
    (N is a capacity: fewer slots fail at AddXxx, more waste RAM). Custom ops (an Edge TPU's
    ``edgetpu-custom-op``) are registered with ``AddCustom``."""
    ops = sorted(set(model_ops(model_bytes)))
    lines = [f"tflite::MicroMutableOpResolver<{len(ops)}> {variable};"]
    for op in ops:
        if op.replace("_", "").isalnum() and op.upper() == op:  # a builtin: CONV_2D
            lines.append(f"{variable}.{resolver_method(op)}();")
        else:  # a custom op: edgetpu-custom-op -> Register_EDGETPU_CUSTOM_OP()
            register = "Register_" + op.replace("-", "_").upper()
            lines.append(f'{variable}.AddCustom("{op}", {register}());')
    return {"ops": ops, "snippet": "\n".join(lines)}


#: Ops the Edge TPU compiler can map (Coral's "supported operations" table, int8 only).
EDGE_TPU_OPS = frozenset({
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "EXP",
    "FULLY_CONNECTED", "L2_NORMALIZATION", "LOGISTIC", "LSTM", "MAX_POOL_2D", "MEAN", "MINIMUM",
    "MAXIMUM", "MUL", "PACK", "PAD", "PRELU", "QUANTIZE", "REDUCE_MAX", "REDUCE_MIN", "RELU",
    "RELU6", "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR",
    "SLICE", "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT", "SQUEEZE", "STRIDED_SLICE", "SUB", "SUM",
    "SQUARED_DIFFERENCE", "TANH", "TRANSPOSE", "TRANSPOSE_CONV"})


def edge_tpu_split(ops: Sequence[str]) -> dict[str, list[str]]:
    """Which ops of an int8 model (in execution order) an Edge TPU would run, and which stay
    on the MCU: the documented rule, not a compiler run.

    The Edge TPU compiler maps the graph from its input up to the first op it does not
    support (:data:`EDGE_TPU_OPS`); that op and everything after it run on the MCU, and the
    mapped part becomes one ``edgetpu-custom-op``. For a detector that is a DEQUANTIZE of the
    outputs and the TFLITE_DETECTION_POSTPROCESS op, as the Coral Dev Board Micro post says.
    """
    ops = list(ops)
    cut = next((i for i, op in enumerate(ops) if op not in EDGE_TPU_OPS), len(ops))
    return {"edge_tpu": ops[:cut], "mcu": ["edgetpu-custom-op", *ops[cut:]] if cut
            else ops[cut:]}


# -- cost ----------------------------------------------------------------------------------------
def count_macs(model: keras.Model) -> int:
    """Multiply-accumulates of one inference, counted layer by layer from the Keras model:
    Conv2D h_out w_out k_h k_w c_in c_out, DepthwiseConv2D h_out w_out k_h k_w c, Dense
    in x out. Pooling, activations and normalisation (folded into the convolutions by the
    converter) are not counted, as in MLPerf Tiny's figures."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            _, h, w, c = layer.output.shape
            total += h * w * int(np.prod(layer.kernel_size)) * c
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            c_in = layer.input.shape[-1]
            total += h * w * int(np.prod(layer.kernel_size)) * c_in * c_out
        elif isinstance(layer, keras.layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return int(total)


#: MLPerf Tiny visual wake words, MobileNetV1-0.25 on 96x96x3 int8: 7.49 M MACs.
VWW_MACS = 7.49e6

#: Cycles per MAC derived from published measurements of that model (estimates, not
#: measurements of ours): ~600 ms with TFLM's reference kernels on a Cortex-M4 at 120 MHz
#: (0.6 s x 120e6 / 7.49e6 = 9.6 cycles per MAC), ~50 ms with an optimised kernel library
#: (CMSIS-NN) on a Cortex-M7 at 280 MHz (0.05 s x 280e6 / 7.49e6 = 1.9 cycles per MAC).
CYCLES_PER_MAC: dict[str, float] = {
    "reference kernels (Cortex-M4)": 0.600 * 120e6 / VWW_MACS,
    "optimised kernels (Cortex-M7)": 0.050 * 280e6 / VWW_MACS,
}


def estimate_latency(macs: int, clock_hz: float, cycles_per_mac: float) -> dict[str, float]:
    """An estimated latency (seconds) and frame rate for ``macs`` at ``clock_hz``: macs x
    cycles_per_mac / clock_hz. An estimate: it ignores memory stalls, the camera and the
    rest of the app loop."""
    seconds = macs * cycles_per_mac / clock_hz
    return {"seconds": seconds, "fps": 1.0 / seconds}


# -- the app loop --------------------------------------------------------------------------------
@dataclass
class GestureDecoder:
    """Per-frame class probabilities -> at most one keystroke per gesture (the app loop).

    Each ``update(probs)`` (probabilities over :data:`CLASSES`, class 0 = no gesture):

    1. low-activation filter: a frame whose top probability is below ``min_activation`` is
       treated as "no gesture" (the model is not sure anything is there);
    2. margin-of-confidence filter: a frame whose top two probabilities differ by less than
       ``min_margin`` is treated as "no gesture" too (a two-way tie is not a decision);
    3. exponential smoothing: ``smoothed = alpha * frame + (1 - alpha) * smoothed`` (the
       reference alpha = 0.2: a gesture needs a few frames to build up, a one-frame flicker
       does not);
    4. a gesture class whose smoothed probability reaches ``threshold`` (reference 0.8) types
       its emoji once, then the decoder is disarmed: holding the gesture types nothing more,
       and neither does another gesture. It is re-armed when the smoothed "no gesture"
       probability reaches ``threshold``: hand away, then the next gesture.

    ``update`` returns the emoji typed on this frame, or None. :meth:`keystrokes` turns an
    emoji into the Unicode code points a USB HID keyboard would send.
    """

    alpha: float = 0.2
    threshold: float = 0.8
    min_activation: float = 0.5
    min_margin: float = 0.2
    emoji: Sequence[str | None] = EMOJI

    def __post_init__(self) -> None:
        if not 0 < self.alpha <= 1:
            raise ValueError(f"GestureDecoder: alpha must be in (0, 1], got {self.alpha}")
        if not 0 < self.threshold <= 1:
            raise ValueError(f"GestureDecoder: threshold must be in (0, 1], got {self.threshold}")
        self.reset()

    def reset(self) -> None:
        """Back to the start: smoothed = "no gesture" for sure, armed."""
        self.smoothed = np.zeros(len(self.emoji))
        self.smoothed[0] = 1.0
        self.armed = True

    def filtered(self, probs: np.ndarray) -> np.ndarray:
        """The frame after the low-activation and margin filters (one-hot "no gesture" when
        either rejects it, else the probabilities unchanged)."""
        probs = np.asarray(probs, np.float64)
        if probs.shape != self.smoothed.shape:
            raise ValueError(f"GestureDecoder.update: expected {len(self.smoothed)} class "
                             f"probabilities, got shape {probs.shape}")
        top2 = np.sort(probs)[-2:]
        if top2[1] < self.min_activation or top2[1] - top2[0] < self.min_margin:
            probs = np.zeros_like(probs)
            probs[0] = 1.0
        return probs

    def update(self, probs: np.ndarray) -> str | None:
        """Feed one frame's probabilities; returns the emoji typed now, or None."""
        self.smoothed = self.alpha * self.filtered(probs) + (1 - self.alpha) * self.smoothed
        if self.smoothed[0] >= self.threshold:
            self.armed = True
            return None
        best = int(np.argmax(self.smoothed))
        if self.armed and best != 0 and self.smoothed[best] >= self.threshold:
            self.armed = False
            return self.emoji[best]
        return None

    def run(self, stream: np.ndarray) -> list[str | None]:
        """:meth:`update` over (frames, classes) probabilities; the emoji typed per frame."""
        return [self.update(p) for p in stream]

    @staticmethod
    def keystrokes(emoji: str) -> list[str]:
        """The code points a USB HID keyboard types for ``emoji``, as ``U+1F44D`` strings (a
        host's Unicode input method turns them into the character)."""
        return [f"U+{ord(ch):04X}" for ch in emoji]


def gesture_stream(classes: Sequence[int], frames_per_class: Sequence[int], seed: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """A simulated camera stream: ``frames_per_class[i]`` frames of class ``classes[i]``, in
    order. Returns (images (n, 96, 96, 1), labels (n,))."""
    from frontier.data.synthetic import gestures

    labels = np.repeat(np.asarray(classes), np.asarray(frames_per_class))
    data = gestures(len(labels), seed=seed, classes=labels)
    return data["images"], labels


# -- XNNPACK -------------------------------------------------------------------------------------
def time_inference(run: Callable[[], Any], runs: int, warmup: int = 3) -> float:
    """Median seconds of ``run()`` over ``runs`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def interpreter_latency(interpreter: Any, runs: int, seed: int = 0) -> float:
    """Median seconds per inference (set the input, invoke) of a LiteRT or TFLM interpreter
    on a random frame. The input is set on every run: LiteRT may skip work for an unchanged
    input, which once made an inference look 40x faster than it is."""
    rng = np.random.default_rng(seed)
    if hasattr(interpreter, "allocate_tensors"):  # LiteRT
        detail = interpreter.get_input_details()[0]
        frame = _random_input(detail, rng)

        def run() -> None:
            interpreter.set_tensor(detail["index"], frame)
            interpreter.invoke()
    else:  # TFLM
        detail = interpreter.get_input_details(0)
        frame = _random_input(detail, rng)

        def run() -> None:
            interpreter.set_input(frame, 0)
            interpreter.invoke()
    return time_inference(run, runs)


def _random_input(detail: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    return _to_input(rng.random(detail["shape"], np.float32), detail)


def xnnpack_latency(float_model: bytes, runs: int = 50, threads: Sequence[int] = (1, 2)
                    ) -> list[dict[str, Any]]:
    """LiteRT float latency (median seconds per inference) with the default XNNPACK delegate
    and without it (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``), for each thread count, and the
    speedup. XNNPACK accelerates float models; the post reports 2.3x on average."""
    rows = []
    for n in threads:
        seconds = {flag: interpreter_latency(
            litert_interpreter(float_model, num_threads=n, xnnpack=flag), runs)
            for flag in (True, False)}
        rows.append({"threads": n, "xnnpack_s": seconds[True], "builtin_s": seconds[False],
                     "speedup": seconds[False] / seconds[True]})
    return rows
