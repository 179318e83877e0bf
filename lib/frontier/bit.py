"""BigTransfer (BiT): GN+WS ResNet-v2, official checkpoints, BiT-HyperRule (lesson 01).

Kolesnikov et al. 2020 (``kolesnikov2020bit``) pre-train ResNet-v2 networks with GroupNorm and
Weight Standardisation on large datasets and fine-tune them with one fixed recipe, the
BiT-HyperRule. This module has the pieces of lesson ``01_bit_transfer``:

- :func:`ResNetV2`: the official architecture (pre-activation bottlenecks, GN 32 groups,
  weight-standardised convolutions, explicit symmetric padding), any depth/width, and small
  configurations for CPU lessons built by the same code;
- :func:`load_npz` / :func:`save_npz`: the official ``BiT-{S,M}-R*.npz`` checkpoints by their
  key names (``resnet/block1/unit01/a/group_norm/gamma``, ...);
- :func:`hub_backbone`: a Keras 3 layer around a TF2 reusable SavedModel (TF Hub's BiT models,
  or one written by :func:`export_saved_model`) whose variables fine-tune;
- the HyperRule as pure functions (:func:`resolution`, :func:`schedule`, :func:`mixup_alpha`,
  :func:`hyperrule`) and its learning-rate schedule :class:`BiTSchedule`;
- the input pipeline (:func:`pipeline`: random crop, a *really* random flip, MixUp) and
  fine-tuning through :class:`frontier.train.Trainer` (:func:`fine_tune`);
- the few-shot experiment of the ``quick`` profile (:func:`digits_transfer_data`,
  :func:`pretrain_upstream`, :func:`few_shot`, the from-scratch baseline's own recipe chosen
  on a validation split (:func:`tune_scratch`, :func:`best_recipe`), :func:`fewshot_curve`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from tqdm.auto import tqdm

from frontier.profiles import register
from frontier.train import Trainer

SIZES = register(
    "bit",
    smoke=dict(checkpoint="", dataset="cluttered_digits", image_size=16, units=(1, 1),
               base_width=8, groups=4, upstream_size=256, upstream_steps=4, upstream_lr=0.03,
               batch_size=8, downstream_steps=4, downstream_lr=0.01, downstream_batch=8,
               scratch_lrs=(0.03, 0.1), scratch_budgets=(8, 16),
               shots=(1, 5), repeats=1, eval_every=2),
    # scratch_*: the from-scratch baseline's sweep (tune_scratch), on a validation split
    quick=dict(checkpoint="", dataset="cluttered_digits", image_size=32, units=(1, 1, 1),
               base_width=16, groups=8, upstream_size=20_000, upstream_steps=2500,
               upstream_lr=0.1, batch_size=64, downstream_steps=200, downstream_lr=0.03,
               downstream_batch=32, scratch_lrs=(0.03, 0.1, 0.3), scratch_budgets=(300, 1000),
               shots=(1, 5, 10, 0), repeats=3, eval_every=50),
    full=dict(checkpoint="bit_m_r50x1", dataset="tf_flowers", image_size=0, units=(3, 4, 6, 3),
              base_width=64, groups=32, upstream_size=0, upstream_steps=0, upstream_lr=0.0,
              batch_size=64, downstream_steps=0, downstream_lr=0.0, downstream_batch=64,
              scratch_lrs=(), scratch_budgets=(),
              shots=(1, 5, 10, 0), repeats=1, eval_every=20),
)

#: Units per block of the official depths.
UNITS: dict[int, tuple[int, ...]] = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}

#: The official checkpoints' names, as in ``gs://bit_models/BiT-M-R50x1.npz``.
CHECKPOINTS = tuple(f"BiT-{s}-R{m}.npz" for s in "SM" for m in
                    ("50x1", "50x3", "101x1", "101x3", "152x4"))


# -- the architecture ---------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="frontier.bit")
class StandardizedConv2D(keras.layers.Conv2D):
    """Conv2D whose kernel is standardised before use (Weight Standardisation, Qiao et al.).

    ``w_hat = (w - mean(w)) / sqrt(var(w) + 1e-10)``, moments over (H, W, in-channels) for
    each output channel, as in the reference code. No bias; 'valid' padding (BiT pads
    explicitly).
    """

    def __init__(self, filters: int, kernel_size: int, strides: int = 1, **kwargs: Any):
        kwargs.setdefault("use_bias", False)
        kwargs.setdefault("padding", "valid")
        super().__init__(filters, kernel_size, strides=strides, **kwargs)

    def convolution_op(self, inputs: Any, kernel: Any) -> Any:
        mean = ops.mean(kernel, axis=(0, 1, 2), keepdims=True)
        var = ops.var(kernel, axis=(0, 1, 2), keepdims=True)
        return super().convolution_op(inputs, (kernel - mean) / ops.sqrt(var + 1e-10))


def _gn(x: Any, name: str, groups: int) -> Any:
    """GroupNorm with ``groups`` groups (fewer when the channels are few: the gcd), eps 1e-5."""
    g = math.gcd(groups, int(x.shape[-1]))
    return keras.layers.GroupNormalization(groups=g, epsilon=1e-5, name=name)(x)


def _unit(x: Any, filters: int, stride: int, prefix: str, groups: int) -> Any:
    """One pre-activation bottleneck unit; the projection sees the pre-activated input."""
    pre = keras.layers.ReLU(name=f"{prefix}.a.relu")(_gn(x, f"{prefix}.a.group_norm", groups))
    shortcut = x
    if stride != 1 or int(x.shape[-1]) != 4 * filters:
        shortcut = StandardizedConv2D(4 * filters, 1, stride,
                                      name=f"{prefix}.a.proj.standardized_conv2d")(pre)
    y = StandardizedConv2D(filters, 1, name=f"{prefix}.a.standardized_conv2d")(pre)
    y = keras.layers.ReLU(name=f"{prefix}.b.relu")(_gn(y, f"{prefix}.b.group_norm", groups))
    y = keras.layers.ZeroPadding2D(1, name=f"{prefix}.b.pad")(y)
    y = StandardizedConv2D(filters, 3, stride, name=f"{prefix}.b.standardized_conv2d")(y)
    y = keras.layers.ReLU(name=f"{prefix}.c.relu")(_gn(y, f"{prefix}.c.group_norm", groups))
    y = StandardizedConv2D(4 * filters, 1, name=f"{prefix}.c.standardized_conv2d")(y)
    return keras.layers.Add(name=f"{prefix}.add")([y, shortcut])


def ResNetV2(depth: int = 50, width: int = 1, num_classes: int | None = None, *,  # noqa: N802
             units: Sequence[int] | None = None, base_width: int = 64, groups: int = 32,
             input_shape: tuple[int | None, int | None, int] = (None, None, 3),
             name: str | None = None) -> keras.Model:
    """The BiT ResNet-v2 (GN+WS), as a functional Keras model.

    ``images``: (batch, h, w, 3) in [0, 1]; rescaled to [-1, 1] inside (as the TF Hub BiT
    models take them). Output: logits (batch, num_classes), or the pre-logit features
    (batch, 4 * 8 * base_width * width) when ``num_classes`` is None.

    ``depth`` picks the official units per block (50, 101, 152: :data:`UNITS`); ``units``
    overrides it for small configurations (any number of blocks: block 1 has stride 1, the
    others stride 2). Block ``i`` (from 1) has ``base_width * width * 2**(i-1)`` bottleneck
    channels and four times that many outputs. GroupNorm uses ``groups`` groups, or the gcd
    with the channel count when a layer is narrower. Layer names are the checkpoint's keys with
    ``/`` written ``.`` (``block1.unit01.a.group_norm``); see :func:`checkpoint_variables`.
    """
    if units is None:
        if depth not in UNITS:
            raise ValueError(f"ResNetV2(depth={depth}): the official depths are "
                             f"{sorted(UNITS)}; pass units=(...) for another configuration")
        units = UNITS[depth]
    units = tuple(int(u) for u in units)
    if not units or min(units) < 1 or width < 1 or base_width < 1 or groups < 1:
        raise ValueError(f"ResNetV2: units={units}, width={width}, base_width={base_width}, "
                         f"groups={groups}: all must be positive (and units non-empty)")
    if name is None:
        name = (f"resnetv2_{depth}x{width}" if units == UNITS.get(depth) else
                f"resnetv2_{'-'.join(map(str, units))}x{width}_w{base_width}")
    images = keras.Input(input_shape, name="images")
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_minus1_1")(images)
    x = keras.layers.ZeroPadding2D(3, name="root_block.pad")(x)
    x = StandardizedConv2D(base_width * width, 7, 2, name="root_block.standardized_conv2d")(x)
    x = keras.layers.ZeroPadding2D(1, name="root_block.pool_pad")(x)
    x = keras.layers.MaxPooling2D(3, 2, padding="valid", name="root_block.pool")(x)
    for b, n_units in enumerate(units, start=1):
        filters = base_width * width * 2 ** (b - 1)
        for u in range(1, n_units + 1):
            stride = 2 if (b > 1 and u == 1) else 1
            x = _unit(x, filters, stride, f"block{b}.unit{u:02d}", groups)
    x = keras.layers.ReLU(name="pre_logits.relu")(_gn(x, "group_norm", groups))
    x = keras.layers.GlobalAveragePooling2D(name="pre_logits.pool")(x)
    if num_classes is not None:
        x = keras.layers.Dense(num_classes, kernel_initializer="zeros", name="head.conv2d")(x)
    return keras.Model(images, x, name=name)


# -- checkpoints --------------------------------------------------------------------------------
HEAD_KEYS = ("resnet/head/conv2d/kernel", "resnet/head/conv2d/bias")


class CheckpointError(ValueError):
    """A checkpoint does not fit the model; the message lists the offending keys."""


def checkpoint_variables(model: keras.Model) -> dict[str, Any]:
    """``{official npz key: Keras variable}`` for a :func:`ResNetV2` model.

    The head (``resnet/head/conv2d/{kernel,bias}``) is included when the model has one; its
    Dense kernel is (C, classes) where the npz holds a 1x1 conv kernel (1, 1, C, classes).
    """
    out: dict[str, Any] = {}
    for layer in model.layers:
        if not isinstance(layer, (StandardizedConv2D, keras.layers.GroupNormalization,
                                  keras.layers.Dense)):
            continue
        prefix = "resnet/" + layer.name.replace(".", "/")
        for var in layer.weights:
            out[f"{prefix}/{var.name.split('/')[-1]}"] = var
    return out


def _as_arrays(source: str | os.PathLike | Mapping[str, Any]) -> dict[str, np.ndarray]:
    if isinstance(source, Mapping):
        return {k: np.asarray(v) for k, v in source.items()}
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}; the official ones are fetched with "
                                "frontier.data.fetch('bit_m_r50x1') (full profile)")
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}


def load_npz(model: keras.Model, source: str | os.PathLike | Mapping[str, Any], *,
             head: bool | None = None) -> dict[str, list[str]]:
    """Load an official-layout BiT checkpoint (``.npz`` path or ``{key: array}``) into ``model``.

    Every backbone key must be present with the model's shape and every key must be known,
    otherwise :class:`CheckpointError` lists the missing, unexpected and mis-shaped keys (and
    nothing is assigned). The head (a 1x1 conv kernel + bias in the npz) is loaded when
    ``head`` is True, or when ``head`` is None and the model has a head of the same shape
    (e.g. not for a new 5-class head over a 21,843-class checkpoint); ``head=False`` keeps the
    model's head. Returns ``{"loaded": [...], "skipped": [...]}`` (key names).
    """
    arrays = _as_arrays(source)
    variables = checkpoint_variables(model)
    loaded, skipped, missing, wrong = [], [], [], []
    plan: list[tuple[Any, np.ndarray]] = []
    for key, var in variables.items():
        is_head = key in HEAD_KEYS
        if key not in arrays:
            if is_head and head is not True:
                skipped.append(key)
                continue
            missing.append(key)
            continue
        value = arrays[key]
        if is_head and key.endswith("kernel") and value.ndim == 4:
            value = value.reshape(value.shape[-2:])
        if tuple(value.shape) != tuple(var.shape):
            if is_head and head is None:
                skipped.append(key)
                continue
            wrong.append(f"{key}: checkpoint {tuple(arrays[key].shape)} vs model "
                         f"{tuple(var.shape)}")
            continue
        if is_head and head is False:
            skipped.append(key)
            continue
        plan.append((var, value))
        loaded.append(key)
    if any(k in HEAD_KEYS for k in skipped) and head is None:  # load both head keys or neither
        plan = [(v, a) for (v, a), k in zip(plan, loaded, strict=True) if k not in HEAD_KEYS]
        skipped += [k for k in loaded if k in HEAD_KEYS]
        loaded = [k for k in loaded if k not in HEAD_KEYS]
    skipped += [k for k in HEAD_KEYS if k in arrays and k not in variables]  # no head here
    unexpected = sorted(set(arrays) - set(variables) - set(HEAD_KEYS))
    if missing or unexpected or wrong:
        lines = ([f"missing ({len(missing)}): " + ", ".join(missing[:20])] if missing else []) \
            + ([f"unexpected ({len(unexpected)}): " + ", ".join(unexpected[:20])]
               if unexpected else []) + ([f"wrong shape: {w}" for w in wrong[:20]])
        raise CheckpointError(
            f"checkpoint does not fit model {model.name!r}:\n  " + "\n  ".join(lines)
            + "\nBuild the model with the checkpoint's depth and width (e.g. ResNetV2(50, 1) "
              "for BiT-M-R50x1.npz).")
    for var, value in plan:
        var.assign(value.astype(var.dtype))
    return {"loaded": loaded, "skipped": skipped}


def to_npz_dict(model: keras.Model) -> dict[str, np.ndarray]:
    """The model's weights by official key (head kernel as a 1x1 conv: (1, 1, C, classes))."""
    out = {}
    for key, var in checkpoint_variables(model).items():
        value = np.asarray(var.numpy())
        if key == HEAD_KEYS[0]:
            value = value.reshape((1, 1) + value.shape)
        out[key] = value
    return out


def save_npz(model: keras.Model, path: str | os.PathLike) -> Path:
    """Write ``model``'s weights in the official ``BiT-*.npz`` layout; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **to_npz_dict(model))
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


# -- SavedModels: export and a fine-tunable Keras 3 layer ---------------------------------------
def export_saved_model(model: keras.Model, path: str | os.PathLike,
                       image_shape: tuple[int | None, int | None, int] = (None, None, 3)) -> Path:
    """Export ``model`` as a TF2 *reusable* SavedModel (the TF Hub format).

    The saved object has ``__call__(images, training=False)`` (traced for both values of
    ``training``), ``variables``, ``trainable_variables`` and ``regularization_losses``, so
    :func:`hub_backbone` (or ``tf.saved_model.load``) can reload and fine-tune it.
    """
    root = tf.__internal__.tracking.AutoTrackable()
    root.variables = [v.value for v in model.variables]
    root.trainable_variables = [v.value for v in model.trainable_variables]
    root.regularization_losses = []

    @tf.function
    def call(images: tf.Tensor, training: bool = False) -> tf.Tensor:
        return model(images, training=training)

    spec = tf.TensorSpec((None, *image_shape), tf.float32)
    for training in (False, True):
        call.get_concrete_function(spec, training=training)
    root.__call__ = call
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # not "INFO: Assets written to ..." in every notebook
    try:
        tf.saved_model.save(root, str(path))
    finally:
        logger.setLevel(level)
    return Path(path)


@keras.saving.register_keras_serializable(package="frontier.bit")
class HubBackbone(keras.layers.TFSMLayer):
    """A reusable SavedModel as a Keras 3 layer; its variables are the layer's (they train).

    ``hub.KerasLayer`` only works with tf_keras (Keras 2). ``keras.layers.TFSMLayer`` wraps the
    SavedModel's own variables but never passes ``training``; this subclass calls the model's
    ``__call__(images, training=...)`` as TF Hub's reusable SavedModel API defines it.
    """

    def __init__(self, filepath: str, trainable: bool = True, name: str | None = None,
                 **kwargs: Any):
        kwargs.pop("call_endpoint", None)
        super().__init__(filepath, call_endpoint="__call__", trainable=trainable, name=name,
                         **kwargs)

    def call(self, inputs: Any, training: bool = False) -> Any:
        try:
            return self.call_endpoint_fn(inputs, training=bool(training))
        except (TypeError, ValueError):  # saved without a training=True trace: inference only
            if not training:
                raise
        return self.call_endpoint_fn(inputs, training=False)


def hub_backbone(handle: str | os.PathLike, *, trainable: bool = True,
                 name: str = "bit_backbone") -> HubBackbone:
    """A fine-tunable Keras 3 layer around a TF2 reusable SavedModel.

    ``handle``: a TF Hub / Kaggle URL (``https://tfhub.dev/google/bit/m-r50x1/1``), resolved
    and cached by ``tensorflow_hub.resolve`` (needs the network the first time), or a local
    directory such as one written by :func:`export_saved_model`. Input images (batch, h, w, 3)
    in [0, 1].
    """
    handle = str(handle)
    if "://" in handle:
        import tensorflow_hub as hub

        from frontier.data import FetchError

        try:
            path = hub.resolve(handle)
        except Exception as err:  # urllib, HTTP and archive errors alike
            raise FetchError(
                f"could not download the SavedModel {handle} ({type(err).__name__}: {err}); "
                "offline? Run the lesson with PROFILE = \"quick\", or give a local SavedModel "
                "directory (TFHUB_CACHE_DIR holds downloaded ones)", asset=handle, url=handle
            ) from None
    else:
        path = handle
        if not (Path(path) / "saved_model.pb").exists():
            raise FileNotFoundError(f"hub_backbone({handle!r}): no saved_model.pb in that "
                                    "directory; give a SavedModel directory or a TF Hub URL")
    return HubBackbone(path, trainable=trainable, name=name)


# -- BiT-HyperRule ------------------------------------------------------------------------------
def resolution(image_size: int | tuple[int, int]) -> tuple[int, int]:
    """(resize, crop) for images of ``image_size`` (h, w) pixels: small ones (area < 96x96)
    -> (160, 128), others -> (512, 480). At test time images are resized to ``crop``."""
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    return (160, 128) if h * w < 96 * 96 else (512, 480)


def schedule(dataset_size: int) -> tuple[int, int, int, int, int]:
    """Step counts (warmup, decay 1, decay 2, decay 3, total) at batch 512, by dataset size."""
    if dataset_size < 20_000:
        return (100, 200, 300, 400, 500)
    if dataset_size < 500_000:
        return (500, 3000, 6000, 9000, 10_000)
    return (500, 6000, 12_000, 18_000, 20_000)


def mixup_alpha(dataset_size: int) -> float:
    """MixUp's alpha: 0 (off) below 20k examples, else 0.1."""
    return 0.0 if dataset_size < 20_000 else 0.1


class HyperRule(NamedTuple):
    """BiT-HyperRule's choice for one dataset (see :func:`hyperrule`)."""

    resize: int
    crop: int
    boundaries: tuple[int, int, int, int, int]
    mixup_alpha: float
    base_lr: float
    batch_size: int


def hyperrule(dataset_size: int, image_size: int | tuple[int, int],
              batch_size: int = 512) -> HyperRule:
    """BiT-HyperRule (the reference ``bit_hyperrule.py``) for a downstream dataset.

    ``dataset_size``: training examples; ``image_size``: their size in pixels (int or (h, w)).
    Returns resize/crop (pixels), the step boundaries (warmup, three decays, total; as in the
    reference, counted in steps whatever the batch), MixUp alpha and the base learning rate
    0.003 x batch_size / 512 (SGD, momentum 0.9).
    """
    if dataset_size < 1 or batch_size < 1:
        raise ValueError(f"hyperrule(dataset_size={dataset_size}, batch_size={batch_size}): "
                         "both must be positive")
    resize, crop = resolution(image_size)
    return HyperRule(resize, crop, schedule(dataset_size), mixup_alpha(dataset_size),
                     0.003 * batch_size / 512, batch_size)


@keras.saving.register_keras_serializable(package="frontier.bit")
class BiTSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """BiT's learning rate: linear warmup from 0 over ``boundaries[0]`` steps, then
    ``base_lr``, divided by 10 after each of ``boundaries[1:4]`` (as the reference ``get_lr``:
    the decay applies once ``step > boundary``); constant after ``boundaries[4]`` (the end).
    """

    def __init__(self, boundaries: Sequence[int], base_lr: float):
        boundaries = tuple(int(b) for b in boundaries)
        if len(boundaries) != 5 or list(boundaries[1:]) != sorted(boundaries[1:]) \
                or boundaries[0] > boundaries[1] or boundaries[0] < 0:
            raise ValueError(f"BiTSchedule(boundaries={boundaries}): give 5 non-decreasing "
                             "step counts (warmup, decay 1, decay 2, decay 3, total)")
        self.boundaries = boundaries
        self.base_lr = float(base_lr)

    def __call__(self, step: Any) -> Any:
        step = ops.cast(step, "float32")
        warmup = float(max(self.boundaries[0], 1))
        decays = sum(ops.cast(step > b, "float32") for b in self.boundaries[1:4])
        after = self.base_lr * ops.power(0.1, decays)
        if self.boundaries[0] == 0:
            return after
        return ops.where(step < warmup, self.base_lr * step / warmup, after)

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": list(self.boundaries), "base_lr": self.base_lr}


# -- input pipeline -----------------------------------------------------------------------------
def pipeline(dataset: tf.data.Dataset, *, crop: int, num_classes: int, batch_size: int,
             training: bool, resize: int | None = None, flip: bool = True,
             random_crop: bool = True, mixup: keras.layers.MixUp | None = None,
             seed: int = 0, shuffle: int = 1024) -> tf.data.Dataset:
    """Batches ``(images, one_hot_labels)`` from a dataset of ``(image, label)``.

    ``image``: (h, w, c) uint8 in [0, 255] or float in [0, 1]; output images (batch, crop,
    crop, c) float32 in [0, 1]. Training: shuffle (seeded), repeat, resize to ``resize``,
    random ``crop`` (``random_crop=False`` resizes straight to ``crop``: counting tasks), a
    random horizontal flip of half the images (``flip=False`` for orientation labels), whole
    batches, then ``mixup`` (a ``keras.layers.MixUp`` made outside, or None). Evaluation:
    resize to ``crop``, in order, last batch kept. Crops and flips are stateless functions of
    ``seed`` and the example's index; the shuffle order is tf.data's, from ``seed`` and
    TensorFlow's global seed (set both, e.g. ``keras.utils.set_random_seed``, to repeat a run).
    """
    resize = resize or crop

    def to_float(image: tf.Tensor) -> tf.Tensor:
        if image.dtype == tf.uint8:
            return tf.cast(image, tf.float32) / 255.0
        return tf.cast(image, tf.float32)

    def evaluate(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image = tf.image.resize(to_float(image), (crop, crop))
        return image, tf.one_hot(label, num_classes)

    if not training:
        return dataset.map(evaluate, num_parallel_calls=tf.data.AUTOTUNE) \
            .batch(batch_size).prefetch(tf.data.AUTOTUNE)

    def augment(index: tf.Tensor, example: tuple[tf.Tensor, tf.Tensor]
                ) -> tuple[tf.Tensor, tf.Tensor]:
        image, label = example
        key = tf.stack([tf.cast(seed, tf.int64), index])
        image = to_float(image)
        if random_crop:
            image = tf.image.resize(image, (resize, resize))
            channels = tf.shape(image)[-1]
            image = tf.image.stateless_random_crop(image, tf.stack([crop, crop, channels]), key)
        else:
            image = tf.image.resize(image, (crop, crop))
        if flip:
            image = tf.image.stateless_random_flip_left_right(image, key[::-1])
        return image, tf.one_hot(label, num_classes)

    data = dataset.shuffle(shuffle, seed=seed, reshuffle_each_iteration=True).repeat()
    data = data.enumerate().map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    data = data.batch(batch_size, drop_remainder=True)
    if mixup is not None:
        def mix(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            out = mixup({"images": images, "labels": labels})
            return out["images"], out["labels"]

        data = data.map(mix)
    return data.prefetch(tf.data.AUTOTUNE)


# -- fine-tuning --------------------------------------------------------------------------------
def softmax_xent(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Per-example cross-entropy for (possibly MixUp-softened) one-hot labels: (batch,)."""
    return keras.losses.categorical_crossentropy(labels, logits, from_logits=True)


def accuracy(model: Callable[..., Any], dataset: tf.data.Dataset) -> float:
    """Top-1 accuracy of ``model`` on batches ``(images, one_hot_labels)``."""
    correct = total = 0
    for images, labels in dataset:
        pred = np.argmax(np.asarray(model(images, training=False)), axis=-1)
        correct += int(np.sum(pred == np.argmax(labels.numpy(), axis=-1)))
        total += len(pred)
    if total == 0:
        raise ValueError("accuracy(): the dataset is empty")
    return correct / total


def fine_tune(model: keras.Model, dataset: tf.data.Dataset, *, boundaries: Sequence[int],
              base_lr: float, strategy: tf.distribute.Strategy | None = None,
              eval_data: tf.data.Dataset | None = None, eval_every: Any = None,
              checkpoint_dir: str | os.PathLike | None = None, jit_compile: bool = False,
              progress: bool = True) -> dict[str, list]:
    """Fine-tune with BiT's recipe: SGD (momentum 0.9) on :class:`BiTSchedule`, soft-label
    cross-entropy, ``boundaries[-1]`` steps, through :class:`frontier.train.Trainer`.

    ``model`` must have been built under ``strategy.scope()`` when a strategy is given; the
    optimizer is made here under the same scope. ``eval_data`` (batches of (images,
    one-hot labels)) adds ``accuracy`` to the history at the steps in ``eval_every``.
    """
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        optimizer = keras.optimizers.SGD(BiTSchedule(boundaries, base_lr), momentum=0.9)
    trainer = Trainer(model, optimizer, softmax_xent, strategy=strategy, jit_compile=jit_compile)
    eval_fn = None
    if eval_data is not None:
        def eval_fn(m: keras.Model) -> dict[str, float]:
            return {"accuracy": accuracy(m, eval_data)}
    return trainer.fit(dataset, int(boundaries[-1]), checkpoint_dir=checkpoint_dir,
                       eval_fn=eval_fn, eval_every=eval_every, progress=progress)


def scaled_boundaries(steps: int, warmup_fraction: float = 0.2) -> tuple[int, ...]:
    """The HyperRule's schedule shape for another length: warmup, then decays at 30/60/90%.

    ``schedule(n)`` for small datasets is (100, 200, 300, 400, 500): warmup 20%, decays at
    40/60/80%; the post's text says 30/60/90%. This helper uses the text's fractions.
    """
    if steps < 1:
        raise ValueError(f"scaled_boundaries(steps={steps}): steps must be at least 1")
    return (max(int(round(warmup_fraction * steps)), 0), int(round(0.3 * steps)),
            int(round(0.6 * steps)), int(round(0.9 * steps)), int(steps))


# -- the full profile: tf_flowers --------------------------------------------------------------
#: tf_flowers' labels, in the dataset's order.
FLOWER_CLASSES = ("dandelion", "daisy", "tulips", "sunflowers", "roses")
#: tf_flowers' size: one split, ``train``, of 3,670 photos.
TF_FLOWERS_EXAMPLES = 3670


def tf_flowers(batch_size: int, *, holdout_percent: int = 10, seed: int = 0,
               data_dir: str | None = None) -> tuple[tf.data.Dataset, tf.data.Dataset, HyperRule]:
    """tf_flowers (3,670 photos, 5 classes; one TFDS split) for fine-tuning with the rule.

    The last ``holdout_percent`` % is held out for validation. The rule is computed for the
    training part's size and the photos' typical 320x240 pixels (-> resize 512, crop 480,
    500 steps, no MixUp). Returns (training batches, validation batches, rule); batches are
    (images in [0, 1], one-hot labels). Offline and not yet downloaded: FetchError.
    """
    from frontier.data import tfds_load

    kwargs = {"data_dir": data_dir} if data_dir else {}
    train, test = tfds_load(
        "tf_flowers", split=[f"train[:{100 - holdout_percent}%]",
                             f"train[{100 - holdout_percent}%:]"],
        as_supervised=True, **kwargs)
    n_train = TF_FLOWERS_EXAMPLES * (100 - holdout_percent) // 100
    rule = hyperrule(n_train, (240, 320), batch_size)
    mixup = keras.layers.MixUp(alpha=rule.mixup_alpha, seed=seed) if rule.mixup_alpha else None
    classes = len(FLOWER_CLASSES)
    train_batches = pipeline(train, resize=rule.resize, crop=rule.crop, num_classes=classes,
                             batch_size=batch_size, training=True, mixup=mixup, seed=seed)
    test_batches = pipeline(test, crop=rule.crop, num_classes=classes, batch_size=batch_size,
                            training=False)
    return train_batches, test_batches, rule


# -- the quick profile: few-shot transfer on digits ---------------------------------------------
class TransferData(NamedTuple):
    """Upstream and downstream tasks: images (n, s, s, 3) float32 in [0, 1], labels 0..k-1."""

    upstream: tuple[np.ndarray, np.ndarray]
    downstream_train: tuple[np.ndarray, np.ndarray]
    downstream_test: tuple[np.ndarray, np.ndarray]
    upstream_classes: tuple[int, ...]
    downstream_classes: tuple[int, ...]


def digits_transfer_data(image_size: int = 32, upstream_size: int = 20_000,
                         upstream_classes: Sequence[int] = (0, 1, 2, 3, 4),
                         downstream_classes: Sequence[int] = (5, 6, 7, 8, 9),
                         test_fraction: float = 0.5, seed: int = 0) -> TransferData:
    """Two disjoint tasks drawn from scikit-learn's handwritten digits over photo clutter
    (:func:`frontier.data.synthetic.cluttered_digits`).

    Upstream (pre-training): ``upstream_size`` renderings of the ``upstream_classes`` digits,
    a large dataset. Downstream: the other classes (relabelled 0..k-1); their source digits
    are split into a training pool and a held-out test set (``test_fraction``), each digit
    rendered once, so test digits are handwriting the downstream model never saw.
    Images (n, image_size, image_size, 3) float32 in [0, 1].
    """
    from frontier.data import digits
    from frontier.data.synthetic.cluttered_digits import cluttered_digits

    overlap = set(upstream_classes) & set(downstream_classes)
    if overlap:
        raise ValueError(f"upstream and downstream classes overlap: {sorted(overlap)}")
    images, labels = digits()
    rng = np.random.default_rng(seed)
    digit_size = (int(image_size * 0.5), int(image_size * 0.75))

    def render(keep: np.ndarray, classes: Sequence[int], n: int | None, render_seed: int
               ) -> tuple[np.ndarray, np.ndarray]:
        relabel = np.full(10, -1)
        relabel[list(classes)] = np.arange(len(classes))
        x, y, _ = cluttered_digits(images[keep], relabel[labels[keep]], n, size=image_size,
                                   digit_size=digit_size, seed=render_seed)
        return x.astype(np.float32) / 255.0, y.astype(np.int64)

    up = render(np.isin(labels, upstream_classes), upstream_classes, upstream_size, seed)
    down = np.flatnonzero(np.isin(labels, downstream_classes))
    down = down[rng.permutation(len(down))]
    n_test = int(round(test_fraction * len(down)))
    test_mask = np.zeros(len(labels), bool)
    test_mask[down[:n_test]] = True
    train_mask = np.zeros(len(labels), bool)
    train_mask[down[n_test:]] = True
    return TransferData(up, render(train_mask, downstream_classes, None, seed + 1),
                        render(test_mask, downstream_classes, None, seed + 2),
                        tuple(upstream_classes), tuple(downstream_classes))


def few_shot(x: np.ndarray, y: np.ndarray, k: int, seed: int = 0
             ) -> tuple[np.ndarray, np.ndarray]:
    """``k`` examples of every class (all of them when ``k`` is 0), chosen with ``seed``."""
    if k == 0:
        return x, y
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(y):
        where = np.flatnonzero(y == c)
        if len(where) < k:
            raise ValueError(f"few_shot(k={k}): class {c} has only {len(where)} examples")
        picks.append(rng.choice(where, k, replace=False))
    idx = np.concatenate(picks)
    return x[idx], y[idx]


def train_arrays(model: keras.Model, x: np.ndarray, y: np.ndarray, *, steps: int,
                 base_lr: float, batch_size: int, num_classes: int, pad: int = 4,
                 flip: bool = False, seed: int = 0, progress: bool = False) -> dict[str, list]:
    """Train ``model`` on arrays with BiT's recipe (random crop after a ``pad``-pixel upsize,
    no flip by default: digits have an orientation) for ``steps`` steps."""
    size = x.shape[1]
    data = pipeline(tf.data.Dataset.from_tensor_slices((x, y)), crop=size, resize=size + pad,
                    num_classes=num_classes, batch_size=batch_size, training=True, flip=flip,
                    seed=seed, shuffle=len(y))
    return fine_tune(model, data, boundaries=scaled_boundaries(steps), base_lr=base_lr,
                     progress=progress)


def _small(data_size: int, num_classes: int | None, units: Sequence[int], base_width: int,
           groups: int, model_seed: int) -> keras.Model:
    keras.utils.set_random_seed(model_seed)
    return ResNetV2(units=units, base_width=base_width, groups=groups, num_classes=num_classes,
                    input_shape=(data_size, data_size, 3))


def pretrain_upstream(data: TransferData, *, units: Sequence[int], base_width: int,
                      groups: int, steps: int, base_lr: float, batch_size: int, seed: int = 0,
                      progress: bool = True) -> keras.Model:
    """Pre-train a small BiT on ``data.upstream`` (the lesson's BiT-S/M/L stand-in)."""
    size = data.upstream[0].shape[1]
    model = _small(size, len(data.upstream_classes), units, base_width, groups, seed)
    train_arrays(model, *data.upstream, steps=steps, base_lr=base_lr, batch_size=batch_size,
                 num_classes=len(data.upstream_classes), seed=seed, progress=progress)
    return model


def split_validation(x: np.ndarray, y: np.ndarray, fraction: float = 0.25, seed: int = 0
                     ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Hold out ``fraction`` of every class (at least one example) for validation.

    Returns ``((x_train, y_train), (x_val, y_val))``; the split is stratified and drawn with
    ``seed``, so each class keeps the same share on both sides.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"split_validation(fraction={fraction}): give a fraction in (0, 1)")
    rng = np.random.default_rng(seed)
    held = []
    for c in np.unique(y):
        where = np.flatnonzero(y == c)
        if len(where) < 2:
            raise ValueError(f"split_validation(): class {c} has {len(where)} example(s); "
                             "at least 2 are needed to keep one on each side")
        n_val = min(max(int(round(fraction * len(where))), 1), len(where) - 1)
        held.append(rng.choice(where, n_val, replace=False))
    val = np.zeros(len(y), bool)
    val[np.concatenate(held)] = True
    return (x[~val], y[~val]), (x[val], y[val])


def best_recipe(scores: Mapping[tuple[float, int], float]) -> tuple[float, int]:
    """The ``(base_lr, steps)`` with the highest validation accuracy in ``scores``.

    Ties go to the shorter budget, then to the smaller learning rate.
    """
    if not scores:
        raise ValueError("best_recipe(): no scores; give at least one (base_lr, steps)")
    return max(scores, key=lambda recipe: (scores[recipe], -recipe[1], -recipe[0]))


def _train_and_score(x: np.ndarray, y: np.ndarray, evaluate: tf.data.Dataset, *,
                     num_classes: int, units: Sequence[int], base_width: int, groups: int,
                     steps: int, base_lr: float, batch_size: int, seed: int, model_seed: int,
                     weights: Mapping[str, np.ndarray] | None = None) -> float:
    """Accuracy on ``evaluate`` of a small BiT trained on (x, y): from scratch, or from the
    backbone ``weights`` (official npz keys) with a new zero head."""
    model = _small(x.shape[1], num_classes, units, base_width, groups, model_seed)
    if weights is not None:
        load_npz(model, weights, head=False)  # a new zero head, as BiT does
    train_arrays(model, x, y, steps=steps, base_lr=base_lr,
                 batch_size=min(batch_size, len(y)), num_classes=num_classes, seed=seed)
    return accuracy(model, evaluate)


def _eval_batches(images: np.ndarray, labels: np.ndarray, num_classes: int) -> tf.data.Dataset:
    return pipeline(tf.data.Dataset.from_tensor_slices((images, labels)), crop=images.shape[1],
                    num_classes=num_classes, batch_size=256, training=False)


def tune_scratch(data: TransferData, *, units: Sequence[int], base_width: int, groups: int,
                 lrs: Sequence[float], budgets: Sequence[int], batch_size: int,
                 val_fraction: float = 0.25, seed: int = 0, progress: bool = True
                 ) -> dict[str, Any]:
    """Choose the from-scratch baseline's learning rate and step budget on a validation split.

    A network trained from random weights needs another recipe than one that starts from a
    pre-trained backbone (a higher learning rate, many more steps). This sweep gives the
    baseline of :func:`fewshot_curve` that chance: ``val_fraction`` of every class of
    ``data.downstream_train`` (all examples, the curve's largest k) is held out, the same
    small BiT is trained from scratch on the rest for every ``base_lr`` in ``lrs`` and every
    step count in ``budgets`` (:func:`train_arrays`, the schedule scaled to the budget), and
    :func:`best_recipe` picks the best validation accuracy. The test set is never seen.

    Returns ``{"base_lr": float, "steps": int, "scores": {(lr, steps): validation accuracy},
    "train": n, "validation": n}``.
    """
    n_classes = len(data.downstream_classes)
    (x, y), val = split_validation(*data.downstream_train, val_fraction, seed=seed)
    evaluate = _eval_batches(*val, n_classes)
    grid = [(float(lr), int(n)) for lr in lrs for n in budgets]
    scores = {}
    for lr, n in tqdm(grid, disable=not progress, desc="scratch sweep", leave=False):
        scores[lr, n] = _train_and_score(
            x, y, evaluate, num_classes=n_classes, units=units, base_width=base_width,
            groups=groups, steps=n, base_lr=lr, batch_size=batch_size, seed=seed,
            model_seed=seed + 1)
    base_lr, steps = best_recipe(scores)
    return {"base_lr": base_lr, "steps": steps, "scores": scores, "train": len(y),
            "validation": len(val[1])}


def fewshot_curve(data: TransferData, upstream: str | os.PathLike | Mapping[str, Any], *,
                  units: Sequence[int], base_width: int, groups: int, steps: int,
                  base_lr: float, batch_size: int, shots: Sequence[int] = (1, 5, 10, 0),
                  repeats: int = 3, scratch_steps: int | None = None,
                  scratch_lr: float | None = None, seed: int = 0,
                  progress: bool = True) -> dict[str, Any]:
    """The post's Figure 1 in miniature: downstream test accuracy vs examples per class, for
    the network initialised from the ``upstream`` checkpoint (official npz layout, path or
    dict; a new zero head) and for the same network trained from scratch.

    Both train with :func:`train_arrays` (random crops, the BiT schedule, batches of
    ``min(batch_size, examples)``): the pre-trained one for ``steps`` steps at ``base_lr``,
    the scratch one for ``scratch_steps`` at ``scratch_lr`` (its own recipe, e.g. from
    :func:`tune_scratch`; by default the pre-trained one's).

    Returns ``{"k": [...], "pretrained": [...], "scratch": [...], "all_k": int}`` (``k`` = 0
    in ``shots`` means all examples, reported as the smallest per-class count). Accuracies
    are on ``data.downstream_test``, means over ``repeats`` draws of the few-shot examples
    (one run for all examples).
    """
    n_down = len(data.downstream_classes)
    test = _eval_batches(*data.downstream_test, n_down)
    recipes = {"pretrained": (steps, base_lr, _as_arrays(upstream)),
               "scratch": (steps if scratch_steps is None else scratch_steps,
                           base_lr if scratch_lr is None else scratch_lr, None)}
    per_class = int(np.bincount(data.downstream_train[1]).min())
    runs = [(k, r) for k in shots for r in range(repeats if k else 1)]
    scores: dict[tuple[int, str], list[float]] = {}
    bar = tqdm(total=2 * len(runs), disable=not progress, desc="few-shot", leave=False)
    for k, r in runs:
        x, y = few_shot(*data.downstream_train, k, seed=seed + 1000 * r + k)
        for kind, (n_steps, lr, weights) in recipes.items():
            scores.setdefault((k, kind), []).append(_train_and_score(
                x, y, test, num_classes=n_down, units=units, base_width=base_width,
                groups=groups, steps=n_steps, base_lr=lr, batch_size=batch_size,
                seed=seed + r, model_seed=seed + 1 + r, weights=weights))
            bar.update(1)
    bar.close()
    return {"k": [int(k) if k else per_class for k in shots],
            "pretrained": [float(np.mean(scores[k, "pretrained"])) for k in shots],
            "scratch": [float(np.mean(scores[k, "scratch"])) for k in shots],
            "all_k": per_class}
