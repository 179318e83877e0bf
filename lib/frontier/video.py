"""Video classification: frame loading, (2+1)D ResNets and streaming (lessons 04 and 05).

After the TensorFlow tutorials "Load video data" and "Video classification with a 3D
convolutional neural network" (Tran et al. 2018, "A closer look at spatiotemporal
convolutions"), with their bugs fixed, and MoViNet's stream mode (Kondratyuk et al. 2021).

A video is a tensor (frames, height, width, channels). :func:`frames_from_video_file` decodes
``n_frames`` frames ``frame_step`` apart from a random start with OpenCV; :class:`FrameGenerator`
yields (clip, label) pairs from a UCF101-style folder; :func:`dataset` turns that into a
``tf.data`` pipeline, either the tutorial's ``from_generator`` one or a parallel one that decodes
several clips at once and yields the very same clips.

The model factorises each 3D convolution (t x k x k) into a spatial (1 x k x k) and a temporal
(t x 1 x 1) one (:class:`Conv2Plus1D`). Its causal variant pads time on the past side only, so
:func:`stream` can classify a clip one frame at a time, carrying the last ``t - 1`` frames of
every temporal convolution as state (MoViNet's stream buffer).
"""

from __future__ import annotations

import os
import threading
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import einops
import keras
import numpy as np
import tensorflow as tf
from keras import layers

from frontier.profiles import register

SIZES = register(
    "video",
    # quick: 6 simulated motion classes (chance 1/6) at 32 px; full: the tutorial's UCF101 subset
    # and network (10 frames, 224 px input, widths 16-128, 50 epochs)
    smoke=dict(classes=3, clips_per_class=(4, 2, 2), video_size=32, n_frames=6, frame_step=2,
               image_size=16, widths=(4, 8), batch_size=4, epochs=1, bench_clips=8),
    quick=dict(classes=6, clips_per_class=(40, 10, 20), video_size=64, n_frames=8,
               frame_step=2, image_size=32, widths=(8, 16, 32), batch_size=8, epochs=60,
               bench_clips=48),
    full=dict(classes=10, clips_per_class=(30, 10, 10), video_size=0, n_frames=10,
              frame_step=15, image_size=224, widths=(16, 32, 64, 128), batch_size=8, epochs=50,
              bench_clips=80),
)


class VideoDecodeError(RuntimeError):
    """A video file could not be opened or one of its frames could not be decoded."""

    def __init__(self, path: str | os.PathLike[str], frame: int, why: str):
        super().__init__(f"could not read frame {frame} of {path} ({why})")
        self.path = str(path)
        self.frame = frame


# -- frames ----------------------------------------------------------------------------------------
def clip_start(n_available: int, n_frames: int, frame_step: int,
               rng: np.random.Generator) -> int:
    """The first frame of a sample of ``n_frames`` frames ``frame_step`` apart.

    Uniform over every start whose last frame is still in the clip: 0 ... ``n_available -
    need`` inclusive, with ``need = 1 + (n_frames - 1) * frame_step``. A clip shorter than
    ``need`` starts at 0 (the missing frames become zeros). (The tutorial's
    ``random.randint(0, max_start + 1)`` includes ``max_start + 1``, one frame too late.)
    """
    need = 1 + (n_frames - 1) * frame_step
    if need > n_available:
        return 0
    return int(rng.integers(0, n_available - need + 1))


def resize_with_pad(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """``tf.image.resize_with_pad`` in OpenCV: scale to fit (aspect kept, bilinear), centre,
    pad with zeros. ``frame``: (h, w, c), any dtype; returns the same dtype."""
    import cv2

    h, w = frame.shape[:2]
    ratio = max(w / width, h / height)
    new_h, new_w = max(1, int(h / ratio)), max(1, int(w / ratio))
    resized = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, left = int(max(0, (height - h / ratio) // 2)), int(max(0, (width - w / ratio) // 2))
    out = np.zeros((height, width) + frame.shape[2:], frame.dtype)
    out[top:top + new_h, left:left + new_w] = resized.reshape((new_h, new_w) + frame.shape[2:])
    return out


def format_frame(frame: np.ndarray, output_size: tuple[int, int]) -> np.ndarray:
    """An OpenCV frame (h, w, 3) uint8 BGR -> (height, width, 3) float32 RGB in [0, 1]."""
    rgb = resize_with_pad(frame, *output_size)[..., ::-1]
    return rgb.astype(np.float32) / 255.0


def frames_from_video_file(path: str | os.PathLike[str], n_frames: int,
                           output_size: tuple[int, int] = (224, 224), frame_step: int = 15,
                           rng: np.random.Generator | int | None = None) -> np.ndarray:
    """``n_frames`` frames, ``frame_step`` apart, from a random start: (n_frames, height,
    width, 3) float32 RGB in [0, 1], each resized with padding to ``output_size``.

    ``rng``: a numpy Generator or a seed (None: unseeded). Frames past the end of a short clip
    are zeros; a start is never so late that the clip runs out (:func:`clip_start`). A missing,
    empty, truncated or corrupt file raises :class:`VideoDecodeError` naming it and the frame.
    """
    import cv2

    path = Path(path)
    if not path.is_file():
        raise VideoDecodeError(path, 0, "no such file")
    if path.stat().st_size == 0:
        raise VideoDecodeError(path, 0, "the file is empty")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise VideoDecodeError(path, 0, "OpenCV cannot open it: file truncated or corrupt?")
        n_available = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))  # a float in OpenCV
        if n_available <= 0:
            raise VideoDecodeError(path, 0, "it reports no frames: file truncated or corrupt?")
        rng = np.random.default_rng(rng)
        start = clip_start(n_available, n_frames, frame_step, rng)
        if start:
            capture.set(cv2.CAP_PROP_POS_FRAMES, start)
        out = np.zeros((n_frames, *output_size, 3), np.float32)
        index = start
        for i in range(n_frames):
            if i:
                for _ in range(frame_step - 1):  # decode and drop the frames in between
                    _read(capture, path, index, n_available)
                    index += 1
            frame = _read(capture, path, index, n_available)
            index += 1
            if frame is None:
                break  # past the end of a short clip: the rest stay zero
            out[i] = format_frame(frame, output_size)
        return out
    finally:
        capture.release()


def _read(capture: Any, path: Path, index: int, n_available: int) -> np.ndarray | None:
    """Frame ``index`` (the next one), None past the clip's end; a failed read inside the clip
    raises (the tutorial handed ``None`` on to a tensor conversion)."""
    if index >= n_available:
        return None
    ok, frame = capture.read()
    if not ok or frame is None:
        raise VideoDecodeError(path, index, f"the clip has {n_available} frames: file "
                               "truncated or corrupt?")
    return frame


class FrameGenerator:
    """(clip, label) pairs from a UCF101-style folder ``path/<class>/*.avi``.

    As the tutorial's: class names are the sorted sub-folder names, label = index in that list,
    pairs shuffled when ``training``. Seeded: each call (an epoch) has its own shuffle and its
    own random starts, derived from ``seed`` and the epoch number (evaluation, ``training=False``,
    always uses epoch 0, so it sees the same clips every time).
    """

    def __init__(self, path: str | os.PathLike[str], n_frames: int, training: bool = False, *,
                 seed: int = 0, output_size: tuple[int, int] = (224, 224),
                 frame_step: int = 15):
        self.path = Path(path)
        self.n_frames, self.training, self.seed = n_frames, training, seed
        self.output_size, self.frame_step = tuple(output_size), frame_step
        self.class_names = sorted(p.name for p in self.path.iterdir() if p.is_dir()) \
            if self.path.is_dir() else []
        self.class_ids_for_name = {name: i for i, name in enumerate(self.class_names)}
        self.files = sorted(self.path.glob("*/*.avi"))
        if not self.files:
            raise FileNotFoundError(f"no clips in {self.path}: expected "
                                    f"{self.path}/<class name>/<clip>.avi")
        self.epoch = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.files)

    def plan(self) -> list[tuple[Path, int, list[int]]]:
        """The next epoch: [(file, label, seed for its frame sampler)], in yield order."""
        with self._lock:
            epoch = self.epoch if self.training else 0
            self.epoch += 1
        items = [(f, self.class_ids_for_name[f.parent.name], [self.seed, epoch, i])
                 for i, f in enumerate(self.files)]
        if self.training:
            order = np.random.default_rng([self.seed, epoch]).permutation(len(items))
            items = [items[i] for i in order]
        return items

    def load(self, item: tuple[Path, int, list[int]]) -> np.ndarray:
        """The clip of one :meth:`plan` item."""
        path, _, seed = item
        return frames_from_video_file(path, self.n_frames, self.output_size, self.frame_step,
                                      np.random.default_rng(seed))

    def __call__(self) -> Iterator[tuple[np.ndarray, int]]:
        for item in self.plan():
            yield self.load(item), item[1]


def output_signature() -> tuple[tf.TensorSpec, tf.TensorSpec]:
    """The tutorial's: clips float32 (None, None, None, 3), labels int16."""
    return (tf.TensorSpec(shape=(None, None, None, 3), dtype=tf.float32),
            tf.TensorSpec(shape=(), dtype=tf.int16))


def dataset(path: str | os.PathLike[str], n_frames: int, *, batch_size: int,
            training: bool = False, parallel: bool = False, seed: int = 0,
            output_size: tuple[int, int] = (224, 224), frame_step: int = 15,
            workers: int | None = None) -> tf.data.Dataset:
    """Batches of (clips (batch, n_frames, h, w, 3) float32, labels (batch,) int16).

    ``parallel=False``: the tutorial's pipeline, ``from_generator(FrameGenerator(...))``, one
    clip at a time in Python, then ``batch``. ``parallel=True``: ``workers`` threads (default:
    CPU count) decode the clips of a batch at once (OpenCV releases the GIL), the next batch is
    decoded while the current one is used, and at most two batches are in memory. Both yield
    the same clips in the same order for the same ``seed``.
    """
    gen = FrameGenerator(path, n_frames, training, seed=seed, output_size=output_size,
                         frame_step=frame_step)
    n_batches = -(-len(gen) // batch_size)
    if not parallel:
        return tf.data.Dataset.from_generator(gen, output_signature=output_signature()) \
            .batch(batch_size).apply(tf.data.experimental.assert_cardinality(n_batches))
    workers = workers or os.cpu_count() or 1
    spec = output_signature()
    signature = (tf.TensorSpec((None, n_frames, *output_size, 3), tf.float32),
                 tf.TensorSpec((None,), spec[1].dtype))

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        plan = gen.plan()
        chunks = [plan[i:i + batch_size] for i in range(0, len(plan), batch_size)]
        with ThreadPoolExecutor(workers) as pool:
            pending = [pool.submit(gen.load, item) for item in chunks[0]] if chunks else []
            for k, chunk in enumerate(chunks):
                clips = np.stack([f.result() for f in pending])
                pending = [pool.submit(gen.load, item) for item in chunks[k + 1]] \
                    if k + 1 < len(chunks) else []
                yield clips, np.array([label for _, label, _ in chunk], np.int16)

    return tf.data.Dataset.from_generator(batches, output_signature=signature) \
        .apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(1)


def clips_per_second(data: tf.data.Dataset) -> tuple[float, int]:
    """(clips per second, clips) over one pass of ``data`` (batches of (clips, labels)),
    after the first batch (building the pipeline and warming up are not counted)."""
    import time

    iterator = iter(data)
    clips = 0
    try:
        next(iterator)
    except StopIteration:
        return 0.0, 0
    start = time.perf_counter()
    for batch, _ in iterator:
        clips += int(batch.shape[0])
    return clips / max(time.perf_counter() - start, 1e-9), clips


def peak_memory_mb(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """(peak Python/numpy memory in MB while ``fn(*args, **kwargs)`` ran, its result), with
    ``tracemalloc`` (it sees numpy arrays, not TensorFlow's own buffers)."""
    import tracemalloc

    tracemalloc.start()
    try:
        result = fn(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1] / 2**20, result
    finally:
        tracemalloc.stop()


# -- the model -------------------------------------------------------------------------------------
class ResizeVideo(layers.Layer):
    """Resize every frame of a video batch (b, t, h, w, c) to (b, t, height, width, c).

    einops, as in the tutorial: fold time into the batch, resize the images, unfold.
    """

    def __init__(self, height: int, width: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.height, self.width = height, width
        self.resizing_layer = layers.Resizing(height, width)

    def call(self, video: Any) -> Any:
        old_shape = einops.parse_shape(video, "b t h w c")
        images = einops.rearrange(video, "b t h w c -> (b t) h w c")
        images = self.resizing_layer(images)
        return einops.rearrange(images, "(b t) h w c -> b t h w c", t=old_shape["t"])

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:2], self.height, self.width, input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "height": self.height, "width": self.width}


def causal_pad(kernel_time: int) -> tuple[int, int]:
    """Frames of zeros before and after a clip for a causal temporal convolution: (k - 1, 0),
    so output frame t sees input frames t - k + 1 ... t and never a future one."""
    return kernel_time - 1, 0


class Conv2Plus1D(layers.Layer):
    """A (t, k, k) 3D convolution factorised: spatial (1, k, k), then temporal (t, 1, 1).

    ``causal=True`` pads time on the past side only (:func:`causal_pad`); :meth:`step` then
    runs one frame at a time with a buffer of the last ``t - 1`` spatial outputs as state.
    """

    def __init__(self, filters: int, kernel_size: tuple[int, int, int],
                 padding: str = "same", causal: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = filters, tuple(kernel_size)
        self.padding, self.causal = padding, causal
        kt, kh, kw = self.kernel_size
        self.spatial = layers.Conv3D(filters, (1, kh, kw), padding=padding)
        self.temporal = layers.Conv3D(filters, (kt, 1, 1),
                                      padding="valid" if causal else padding)

    def call(self, x: Any) -> Any:
        x = self.spatial(x)
        if not self.causal:
            return self.temporal(x)
        return self._buffered(x, self.zero_state(x))[0]

    def zero_state(self, x: Any) -> Any:
        """The empty buffer for ``x`` (b, t, h, w, c): (b, kt - 1, h, w, filters) zeros."""
        zero = keras.ops.zeros_like(x[:, :1, :, :, :1])
        return keras.ops.repeat(keras.ops.repeat(zero, causal_pad(self.kernel_size[0])[0], 1),
                                self.filters, 4)

    def _buffered(self, x: Any, buffer: Any) -> tuple[Any, Any]:
        """Temporal conv of spatial outputs ``x`` after ``buffer`` (earlier frames); returns
        (output, the new buffer: the last kt - 1 frames seen). Clip and stream mode both."""
        joined = keras.ops.concatenate([buffer, x], axis=1)
        keep = causal_pad(self.kernel_size[0])[0]
        return self.temporal(joined), joined[:, joined.shape[1] - keep:]

    def step(self, frame: Any, state: Any | None) -> tuple[Any, Any]:
        """Stream mode: ``frame`` (b, 1, h, w, c) -> (output (b, 1, h', w', filters), state)."""
        x = self.spatial(frame)
        return self._buffered(x, self.zero_state(x) if state is None else state)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "padding": self.padding, "causal": self.causal}


class Project(layers.Layer):
    """The residual shortcut when the width changes: Dense to ``units``, then LayerNorm."""

    def __init__(self, units: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.units = units
        self.dense = layers.Dense(units)
        self.norm = layers.LayerNormalization()

    def call(self, x: Any) -> Any:
        return self.norm(self.dense(x))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


class ResidualBlock(layers.Layer):
    """The tutorial's residual block: x + [conv, LayerNorm, ReLU, conv, LayerNorm](x), with a
    :class:`Project` shortcut when the width changes. ``conv``: "2plus1d" (two
    :class:`Conv2Plus1D`) or "3d" (two full (t, k, k) Conv3D)."""

    def __init__(self, filters: int, kernel_size: tuple[int, int, int] = (3, 3, 3),
                 conv: str = "2plus1d", causal: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.conv, self.causal = \
            filters, tuple(kernel_size), conv, causal
        self.conv1, self.conv2 = (_conv(filters, kernel_size, conv, causal) for _ in range(2))
        self.norm1, self.norm2 = layers.LayerNormalization(), layers.LayerNormalization()
        self.project: Project | None = None

    def build(self, input_shape: tuple) -> None:
        if input_shape[-1] != self.filters:
            self.project = Project(self.filters)

    def _shortcut(self, x: Any) -> Any:
        return x if self.project is None else self.project(x)

    def call(self, x: Any) -> Any:
        y = keras.ops.relu(self.norm1(self.conv1(x)))
        return self._shortcut(x) + self.norm2(self.conv2(y))

    def step(self, frame: Any, state: tuple | None) -> tuple[Any, tuple]:
        """Stream mode (causal 2plus1d blocks): one frame in, one out, state = both buffers."""
        s1, s2 = state or (None, None)
        y, s1 = self.conv1.step(frame, s1)
        y, s2 = self.conv2.step(keras.ops.relu(self.norm1(y)), s2)
        return self._shortcut(frame) + self.norm2(y), (s1, s2)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "conv": self.conv, "causal": self.causal}


def _conv(filters: int, kernel_size: tuple[int, int, int], conv: str,
          causal: bool) -> layers.Layer:
    if conv == "2plus1d":
        return Conv2Plus1D(filters, kernel_size, padding="same", causal=causal)
    if conv == "3d":
        if causal:
            raise ValueError("the causal (streaming) variant is (2+1)D only: use conv='2plus1d'")
        return layers.Conv3D(filters, kernel_size, padding="same")
    raise ValueError(f"unknown conv {conv!r}: use '2plus1d' or '3d'")


def resnet_2plus1d(n_frames: int, image_size: int, n_classes: int,
                   widths: tuple[int, ...] = (16, 32, 64, 128), *, conv: str = "2plus1d",
                   causal: bool = False, kernel_time: int = 3,
                   stem_kernel: tuple[int, int, int] = (3, 7, 7)) -> keras.Sequential:
    """The tutorial's (2+1)D ResNet on clips (batch, n_frames, image_size, image_size, 3).

    Stem: conv ``stem_kernel`` at ``widths[0]``, BatchNorm, ReLU, resize to 1/2; then one
    residual block per width, each followed by a resize to half the size (not after the last);
    global average pooling over time and space; Dense logits. The tutorial: 224 px, widths
    (16, 32, 64, 128). ``conv="3d"``: the same network with full 3D convolutions.
    ``causal=True``: temporal convolutions see only the past (for :func:`stream`).
    ``kernel_time=1``: no temporal convolution at all, each frame is seen on its own (the
    single-frame baseline: a 2D CNN whose per-frame features are averaged over time).
    """
    kernel = (kernel_time, 3, 3)
    stem = (kernel_time, *stem_kernel[1:])
    model = keras.Sequential(name=f"resnet_{conv}{'_causal' if causal else ''}")
    model.add(keras.Input((n_frames, image_size, image_size, 3)))
    model.add(_conv(widths[0], stem, conv, causal))
    model.add(layers.BatchNormalization())
    model.add(layers.ReLU())
    size = image_size // 2
    model.add(ResizeVideo(size, size))
    for i, width in enumerate(widths):
        model.add(ResidualBlock(width, kernel, conv=conv, causal=causal))
        if i < len(widths) - 1:
            size //= 2
            model.add(ResizeVideo(size, size))
    model.add(layers.GlobalAveragePooling3D())
    model.add(layers.Dense(n_classes))
    return model


def conv_params(c_in: int, filters: int, kernel_size: tuple[int, int, int],
                conv: str = "2plus1d") -> int:
    """Weights + biases of one convolution from ``c_in`` to ``filters`` channels.

    Full 3D: t k k c_in f + f. (2+1)D: (k k c_in f + f) + (t f f + f).
    """
    t, kh, kw = kernel_size
    if conv == "3d":
        return t * kh * kw * c_in * filters + filters
    if conv == "2plus1d":
        return (kh * kw * c_in * filters + filters) + (t * filters * filters + filters)
    raise ValueError(f"unknown conv {conv!r}: use '2plus1d' or '3d'")


def stream(model: keras.Sequential, clip: Any) -> np.ndarray:
    """Run a causal :func:`resnet_2plus1d` one frame at a time (MoViNet's stream mode).

    ``clip``: (batch, t, h, w, 3). Returns logits (batch, t, classes): entry ``[:, i]`` uses
    frames 0..i only and equals the model's clip-mode output on ``clip[:, :i + 1]``. State:
    each temporal convolution's last ``kt - 1`` inputs and the running sum of the pooled
    features.
    """
    if any(isinstance(layer, Conv2Plus1D | ResidualBlock) and not layer.causal
           for layer in model.layers):
        raise ValueError(f"model {model.name!r} is not causal: build it with "
                         "resnet_2plus1d(..., causal=True) to stream it")
    clip = tf.convert_to_tensor(clip, tf.float32)
    states: dict[str, Any] = {}
    pooled_sum = None
    outputs = []
    for i in range(clip.shape[1]):
        x = clip[:, i:i + 1]
        for layer in model.layers:
            if isinstance(layer, Conv2Plus1D | ResidualBlock):
                x, states[layer.name] = layer.step(x, states.get(layer.name))
            elif isinstance(layer, layers.GlobalAveragePooling3D):
                frame_mean = keras.ops.mean(x, axis=(1, 2, 3))
                pooled_sum = frame_mean if pooled_sum is None else pooled_sum + frame_mean
                x = pooled_sum / (i + 1)
            else:
                x = layer(x, training=False)
        outputs.append(keras.ops.convert_to_numpy(x))
    return np.stack(outputs, 1)


def prefix_logits(model: keras.Sequential, clip: Any) -> np.ndarray:
    """Clip mode on every prefix: (batch, t, classes), entry ``[:, i]`` = the model's output on
    ``clip[:, :i + 1]`` (what :func:`stream` must reproduce one frame at a time)."""
    outputs = []
    for i in range(clip.shape[1]):
        x = clip[:, :i + 1]
        for layer in model.layers:  # layer by layer: the Input is fixed to the full length
            x = layer(x, training=False)
        outputs.append(keras.ops.convert_to_numpy(x))
    return np.stack(outputs, 1)


# -- the lessons' data and training -----------------------------------------------------------
def lesson_data(P: Any, root: str | os.PathLike[str] | None = None,
                seed: int = 0) -> dict[str, Path]:
    """The split folders (``train``, ``val``, ``test``) for profile sizes ``P``.

    ``smoke`` and ``quick``: simulated motion clips (:func:`frontier.data.synthetic.videos`,
    the first ``P.classes`` motions), written once under ``root`` (default: the data cache).
    ``full``: the tutorial's 10-class UCF101 subset (:func:`ucf101_subset`, downloads).
    """
    if P.name == "full":
        return ucf101_subset(root, clips_per_class=P.clips_per_class, n_classes=P.classes)
    from frontier.data import cache_dir
    from frontier.data.synthetic.videos import MOTIONS, videos

    need = 1 + (P.n_frames - 1) * P.frame_step
    root = Path(root) if root is not None else cache_dir() / "synthetic_videos" / P.name
    return videos(root, classes=MOTIONS[: P.classes], clips_per_class=P.clips_per_class,
                  size=P.video_size, frames=(need, need + need // 2), seed=seed)


def lesson_datasets(P: Any, splits: dict[str, Path], *, seed: int = 0,
                    parallel: bool = True) -> dict[str, tf.data.Dataset]:
    """``tf.data`` pipelines for each split at the profile's sizes (train shuffled)."""
    return {name: dataset(folder, P.n_frames, batch_size=P.batch_size,
                          training=name == "train", parallel=parallel, seed=seed,
                          output_size=(P.image_size, P.image_size), frame_step=P.frame_step)
            for name, folder in splits.items()}


def compile_classifier(model: keras.Model, learning_rate: float = 1e-3) -> keras.Model:
    """Adam, cross-entropy on logits and integer labels, accuracy (the tutorial's, with a
    learning rate for short runs; the tutorial uses 1e-4 for 50 epochs)."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def train_classifier(model: keras.Model, data: dict[str, tf.data.Dataset], epochs: int,
                     learning_rate: float = 1e-3) -> dict[str, list[float]]:
    """Compile (:func:`compile_classifier`) and fit on ``data["train"]``, validating on
    ``data["val"]``; returns the history (loss, accuracy, val_loss, val_accuracy per epoch).

    Quiet: no progress bar, and not TensorFlow's retracing notice for the smaller last batch.
    """
    compile_classifier(model, learning_rate)
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        history = model.fit(data["train"], validation_data=data["val"], epochs=epochs,
                            shuffle=False, verbose=0)
    finally:
        logger.setLevel(level)
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}


def predict_labels(model: keras.Model, data: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(true labels, predicted labels) over a whole dataset, in its order."""
    true, pred = [], []
    for clips, labels in data:
        true.append(labels.numpy())
        pred.append(np.argmax(model(clips, training=False), -1))
    return np.concatenate(true).astype(int), np.concatenate(pred).astype(int)


# -- the full profile: the tutorial's UCF101 subset ----------------------------------------------
def ucf101_class(member: str) -> str:
    """The class of a UCF101 clip from its name: ``UCF101/v_ApplyEyeMakeup_g08_c01.avi`` ->
    ``ApplyEyeMakeup`` (the tutorial's ``split('_')[-3]``)."""
    return Path(member).name.split("_")[-3]


def ucf101_group(member: str) -> str:
    """The group of a UCF101 clip (``g08``): clips of one group share actors and scene."""
    return Path(member).name.split("_")[-2]


def split_ucf101(members: list[str], n_classes: int = 10,
                 clips_per_class: tuple[int, int, int] = (30, 10, 10),
                 seed: int = 0) -> dict[str, list[str]]:
    """The tutorial's subset: the first ``n_classes`` classes in archive order, and
    ``clips_per_class`` = (train, val, test) clips of each, as {split: [member]}.

    Seeded, and split by group: UCF101's clips come in groups cut from one long video (same
    actor, same scene), and the tutorial's random split puts clips of one group into train and
    test. Here each group goes to one split only (groups are shuffled with ``seed`` and dealt
    out in order; the clips of a group that would overfill a split are left out).
    """
    by_class: dict[str, dict[str, list[str]]] = {}
    for member in members:
        if member.endswith(".avi") and len(Path(member).name.split("_")) >= 4:
            by_class.setdefault(ucf101_class(member), {}) \
                .setdefault(ucf101_group(member), []).append(member)
    classes = list(by_class)[:n_classes]
    if len(classes) < n_classes:
        raise ValueError(f"the archive has {len(classes)} classes of clips, not {n_classes}")
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for cls in classes:
        groups = sorted(by_class[cls])
        order = np.random.default_rng([seed, zlib.crc32(cls.encode())]).permutation(len(groups))
        queue = [sorted(by_class[cls][groups[i]]) for i in order]
        for name, count in zip(splits, clips_per_class, strict=True):
            taken: list[str] = []
            while queue and len(taken) < count:
                taken += queue.pop(0)[: count - len(taken)]
            if len(taken) < count:
                raise ValueError(f"class {cls!r} has too few clips for {clips_per_class}")
            splits[name] += taken
    return splits


def ucf101_subset(root: str | os.PathLike[str] | None = None, *,
                  clips_per_class: tuple[int, int, int] = (30, 10, 10), n_classes: int = 10,
                  seed: int = 0, url: str | None = None, progress: bool = True) -> dict[str, Path]:
    """Fetch the tutorial's UCF101 subset into ``root/{train,val,test}/<class>/<clip>.avi``.

    Only the chosen clips are downloaded, member by member, from the UCF101 zip in the asset
    registry (``ucf101_videos``; ~500 clips, not 6.5 GB), each checked against the zip's CRC and
    written atomically; clips already there are kept. ``url`` overrides the registry's (tests).
    Offline, raises :class:`~frontier.data.FetchError` within seconds.
    """
    from frontier.data import cache_dir, load_registry
    from frontier.data.remotezip import fetch_members, list_members

    if url is None:
        url = load_registry()["ucf101_videos"].url
    root = Path(root) if root is not None else cache_dir() / "ucf101_subset"
    names = [info.filename for info in list_members(url)]
    splits = split_ucf101(names, n_classes, clips_per_class, seed)
    rename = {m: f"{name}/{ucf101_class(m)}/{Path(m).name}"
              for name, members in splits.items() for m in members}
    fetch_members(url, list(rename), root, rename=rename, progress=progress,
                  asset="ucf101_videos")
    return {name: root / name for name in splits}
