"""ESRGAN super-resolution (lesson 06; Wang et al. 2018, after the TF-GAN summer-of-code post).

A x4 generator built from Residual-in-Residual Dense Blocks (:func:`rrdb`, no batch norm) is
trained in two phases: phase 1 on the pixel L1 loss alone (PSNR-oriented), phase 2 against a
relativistic average discriminator (:func:`ragan_discriminator_loss`) with a perceptual loss on
VGG-19 features. :func:`interpolate` blends the two generators' weights (network
interpolation), trading distortion (PSNR, SSIM) for perceptual quality. Metrics follow BasicSR's
conventions so numbers compare with published tables (:func:`psnr`, :func:`ssim`), and the
Frechet distance (:func:`frechet_distance`) is FID only on InceptionV3 features.

Offline (``smoke`` and ``quick``), the VGG-19 and InceptionV3 ImageNet weights are not at hand:
:func:`stand_in_extractor` is a fixed random convolutional network whose name says so, used for
the perceptual loss and a Frechet distance that is never called FID.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from frontier.profiles import register
from frontier.train import Trainer

SIZES = register(
    "esrgan",
    # quick shrinks the trunk (11 -> 2 RRDBs) and the dense-block growth (32 -> 16) to train
    # on a 2-core CPU in minutes; full is the paper's / post's generator (4,605,955 parameters)
    smoke=dict(trunk_size=1, filters=8, growth=8, d_filters=8, hr_patch=32, batch=4,
               n_patches=32, phase1_steps=4, phase2_steps=2, test_size=32, test_crops=1,
               decay_at=(0.5,), eval_every=2, alphas=(0.0, 0.5, 1.0)),
    quick=dict(trunk_size=2, filters=32, growth=16, d_filters=16, hr_patch=48, batch=16,
               n_patches=4000, phase1_steps=1500, phase2_steps=300, test_size=96,
               test_crops=6, decay_at=(0.6, 0.85), eval_every=250,
               alphas=(0.0, 0.25, 0.5, 0.75, 1.0)),
    full=dict(trunk_size=11, filters=32, growth=32, d_filters=64, hr_patch=128, batch=16,
              n_patches=32000, phase1_steps=100_000, phase2_steps=50_000, test_size=256,
              test_crops=1, decay_at=(0.5, 0.75), eval_every=5000,
              alphas=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0)),
)

SCALE = 4
#: Residual scaling inside a dense block and around an RRDB (ESRGAN, section 3.1).
RESIDUAL_SCALE = 0.2
#: Phase-2 generator loss weights (ESRGAN and the post): perceptual + 0.005 RaGAN + 0.02 L1.
PERCEPTUAL_WEIGHT, ADVERSARIAL_WEIGHT, L1_WEIGHT = 1.0, 0.005, 0.02
#: Learning rates: phase 1 (L1) and phase 2 (GAN); Adam betas (0.9, 0.99) in both.
PHASE1_LR, PHASE2_LR, BETAS = 2e-4, 5e-5, (0.9, 0.99)
#: The step decay's factor: ESRGAN halves the rate (x0.5); the post's notebook uses x0.2.
DECAY = 0.5

#: scikit-image / scikit-learn photographs for ``quick``: training and held-out images are
#: different photographs, so no test pixel is ever seen in training.
TRAIN_IMAGES = ("astronaut", "rocket", "china", "flower", "immunohistochemistry",
                "hubble_deep_field")
TEST_IMAGES = ("chelsea", "coffee")


# -- the generator ----------------------------------------------------------------------------
class LeakyReLU(layers.Layer):
    """LeakyReLU 0.2 written as max(x, 0.2 x): the same function, but Grappler's remapper
    does not try (and fail, with an error log) to fuse it into the preceding conv's gradient
    as it does for ``keras.layers.LeakyReLU`` in TensorFlow 2.21."""

    def __init__(self, negative_slope: float = 0.2, **kwargs: Any):
        super().__init__(**kwargs)
        self.negative_slope = negative_slope

    def call(self, x: Any) -> Any:
        return keras.ops.maximum(x, self.negative_slope * x)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "negative_slope": self.negative_slope}


def _conv(channels: int, name: str) -> layers.Conv2D:
    return layers.Conv2D(channels, 3, padding="same", name=name)


def _scaled_add(x: Any, residual: Any, name: str) -> Any:
    """``x + 0.2 * residual`` (residual scaling)."""
    scaled = layers.Rescaling(RESIDUAL_SCALE, name=f"{name}_scale")(residual)
    return layers.Add(name=f"{name}_add")([x, scaled])


def dense_block(x: Any, filters: int, growth: int, name: str) -> Any:
    """The paper's dense block: 5 convs, conv k sees x and every earlier conv's output.

    With ``filters`` = ``growth`` = 32 the convs see 32, 64, 96, 128, 160 channels (TF-GAN's
    block re-concatenates concatenations and gives 32, 64, 128, 256, 512). Convs 1-4 output
    ``growth`` channels with LeakyReLU 0.2; conv 5 outputs ``filters``, added back x 0.2.
    """
    seen = [x]
    for i in range(1, 6):
        inputs = seen[0] if len(seen) == 1 else layers.Concatenate(name=f"{name}_cat{i}")(seen)
        out = _conv(growth if i < 5 else filters, f"{name}_conv{i}")(inputs)
        if i < 5:
            seen.append(LeakyReLU(0.2, name=f"{name}_lrelu{i}")(out))
    return _scaled_add(x, out, name)


def rrdb(x: Any, filters: int, growth: int, name: str) -> Any:
    """Residual-in-Residual Dense Block: 3 dense blocks, then ``x + 0.2 * that``."""
    y = x
    for j in range(1, 4):
        y = dense_block(y, filters, growth, f"{name}_db{j}")
    return _scaled_add(x, y, name)


def generator(trunk_size: int = 11, filters: int = 32, growth: int = 32) -> keras.Model:
    """ESRGAN's x4 generator: images (b, h, w, 3) in [0, 1] -> (b, 4h, 4w, 3), any h, w.

    conv + LeakyReLU -> ``trunk_size`` RRDBs -> conv -> add the skip -> two x2 upsamplings
    (Conv2DTranspose stride 2 + LeakyReLU, as in the post) -> conv + LeakyReLU -> conv to 3.
    At the defaults (the paper's / post's sizes) it has 4,605,955 parameters.
    """
    for name, value in [("trunk_size", trunk_size), ("filters", filters), ("growth", growth)]:
        if int(value) < 1:
            raise ValueError(f"generator({name}={value}): must be at least 1")
    lr = keras.Input((None, None, 3), name="lr")
    x = LeakyReLU(0.2, name="head_lrelu")(_conv(filters, "head_conv")(lr))
    trunk = x
    for i in range(1, trunk_size + 1):
        trunk = rrdb(trunk, filters, growth, f"rrdb{i}")
    x = layers.Add(name="trunk_add")([x, _conv(filters, "trunk_conv")(trunk)])
    for k in (1, 2):
        x = layers.Conv2DTranspose(filters, 3, strides=2, padding="same", name=f"up{k}")(x)
        x = LeakyReLU(0.2, name=f"up{k}_lrelu")(x)
    x = LeakyReLU(0.2, name="tail_lrelu")(_conv(filters, "tail_conv")(x))
    sr = _conv(3, "sr")(x)
    return keras.Model(lr, sr, name=f"esrgan_g_t{trunk_size}_f{filters}_g{growth}")


def discriminator(hr_size: int, filters: int = 64) -> keras.Model:
    """The post's discriminator: logits (b, 1) for images (b, hr_size, hr_size, 3) in [0, 1].

    conv/BN/LeakyReLU pairs (stride 1, then 2) at ``filters`` x 1, 2, 4, 8 (64 -> 512), then
    Dense(100) + LeakyReLU and Dense(1). BatchNormalization is ``synchronized`` so a
    MirroredStrategy sees the global batch's statistics, as one device would.
    """
    if hr_size % 16:
        raise ValueError(f"discriminator(hr_size={hr_size}): the four stride-2 convs need a "
                         f"multiple of 16, e.g. {16 * max(1, round(hr_size / 16))}")
    img = keras.Input((hr_size, hr_size, 3), name="hr")
    x = img
    for i, mult in enumerate((1, 2, 4, 8), start=1):
        for stride in (1, 2):
            x = layers.Conv2D(filters * mult, 3, strides=stride, padding="same", use_bias=False,
                              name=f"d{i}_s{stride}_conv")(x)
            x = layers.BatchNormalization(synchronized=True, name=f"d{i}_s{stride}_bn")(x)
            x = LeakyReLU(0.2, name=f"d{i}_s{stride}_lrelu")(x)
    x = LeakyReLU(0.2, name="dense_lrelu")(
        layers.Dense(100, name="dense100")(layers.Flatten(name="flatten")(x)))
    return keras.Model(img, layers.Dense(1, name="logit")(x), name=f"esrgan_d{hr_size}")


def copy_generator(model: keras.Model) -> keras.Model:
    """A new generator with the same architecture and (copied) weights."""
    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    return twin


def interpolate(psnr_model: keras.Model, gan_model: keras.Model, alpha: float) -> keras.Model:
    """Network interpolation (ESRGAN, section 3.4): weights (1 - alpha) theta_PSNR + alpha
    theta_GAN, for alpha in [0, 1]. alpha = 0 is the phase-1 generator, 1 the phase-2 one."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"interpolate(alpha={alpha}): alpha must be in [0, 1]")
    a, b = psnr_model.get_weights(), gan_model.get_weights()
    shapes_a, shapes_b = [w.shape for w in a], [w.shape for w in b]
    if shapes_a != shapes_b:
        raise ValueError(f"interpolate: the generators differ in architecture ({psnr_model.name}"
                         f" vs {gan_model.name}); blend two trainings of the same generator")
    blended = copy_generator(psnr_model)
    blended.set_weights([(1 - alpha) * wa + alpha * wb for wa, wb in zip(a, b, strict=True)])
    return blended


# -- losses -----------------------------------------------------------------------------------
def l1_loss(hr: Any, sr: Any) -> tf.Tensor:
    """Pixel L1 per example: mean |hr - sr| over (h, w, c) -> (batch,)."""
    return tf.reduce_mean(tf.abs(tf.cast(hr, tf.float32) - tf.cast(sr, tf.float32)),
                          axis=[1, 2, 3])


def _bce_logits(label: float, logits: tf.Tensor) -> tf.Tensor:
    return tf.nn.sigmoid_cross_entropy_with_logits(tf.fill(tf.shape(logits), label), logits)


def _ragan_terms(d_real: Any, d_fake: Any, real_label: float, mean_real: Any = None,
                 mean_fake: Any = None) -> tf.Tensor:
    """Per-example RaGAN terms: BCE(real_label, C(x_r) - E C(x_f)) + BCE(1 - real_label,
    C(x_f) - E C(x_r)); the means default to this batch's (a strategy passes global ones)."""
    d_real, d_fake = tf.cast(d_real, tf.float32), tf.cast(d_fake, tf.float32)
    mean_real = tf.reduce_mean(d_real) if mean_real is None else mean_real
    mean_fake = tf.reduce_mean(d_fake) if mean_fake is None else mean_fake
    real_term = _bce_logits(real_label, d_real - mean_fake)
    fake_term = _bce_logits(1.0 - real_label, d_fake - mean_real)
    return tf.reshape(real_term + fake_term, [tf.shape(d_real)[0], -1])[:, 0]


def ragan_discriminator_loss(d_real: Any, d_fake: Any) -> tf.Tensor:
    """Relativistic average discriminator loss on logits C (shapes (batch,) or (batch, 1)):
    -E log D_Ra(x_r, x_f) - E log(1 - D_Ra(x_f, x_r)), D_Ra(a, b) = sigmoid(C(a) - E C(b))."""
    return tf.reduce_mean(_ragan_terms(d_real, d_fake, 1.0))


def ragan_generator_loss(d_real: Any, d_fake: Any) -> tf.Tensor:
    """Relativistic average generator loss (the symmetric form):
    -E log(1 - D_Ra(x_r, x_f)) - E log D_Ra(x_f, x_r)."""
    return tf.reduce_mean(_ragan_terms(d_real, d_fake, 0.0))


def perceptual_loss(features: Extractor, hr: Any, sr: Any) -> tf.Tensor:
    """Per-example L1 distance between feature maps of ``hr`` and ``sr`` -> (batch,)."""
    return tf.reduce_mean(tf.abs(features(hr) - features(sr)), axis=[1, 2, 3])


# -- feature extractors -------------------------------------------------------------------------
@dataclass(frozen=True)
class Extractor:
    """A frozen feature network on images (b, h, w, 3) in [0, 1].

    ``name`` is the key results are recorded under; ``label`` is what outputs and figures say;
    ``stand_in`` is True for the offline random network (never reported as VGG or FID).
    """

    name: str
    label: str
    model: keras.Model
    stand_in: bool
    input_size: int | None = None  # InceptionV3 resizes its inputs to this

    def __call__(self, images: Any) -> tf.Tensor:
        images = tf.cast(images, tf.float32)
        if self.input_size:
            images = tf.image.resize(images, (self.input_size, self.input_size), "bilinear")
        out = self.model(images, training=False)
        return out[0] if isinstance(out, (list, tuple)) else out

    def vectors(self, images: Any, batch_size: int = 32, spatial: bool = False) -> np.ndarray:
        """Features as float64 rows for the Frechet distance: one globally average-pooled
        vector per image (n, d), or with ``spatial`` one per feature-map position
        (n * h' * w', d), which gives enough samples from a few held-out crops."""
        parts = []
        for i in range(0, len(images), batch_size):
            f = self(images[i:i + batch_size])
            if f.shape.rank == 4:
                f = tf.reshape(f, [-1, f.shape[-1]]) if spatial else tf.reduce_mean(f, [1, 2])
            parts.append(np.asarray(f, np.float64))
        return np.concatenate(parts)


STAND_IN_LABEL = "stand-in features (random conv net, not VGG-19)"


def stand_in_extractor(seed: int = 0, width: int = 64) -> Extractor:
    """The offline stand-in: 4 fixed 3x3 convs (He-normal weights from ``seed``; ReLU between,
    strides 1, 2, 2, 2), the last read before its activation like VGG's ``block5_conv4``.
    Random convolutional features respond to edges and textures, which is what a perceptual
    loss needs; they are no ImageNet features, and every result made with them says so."""
    init = keras.initializers.HeNormal(seed=seed)
    img = keras.Input((None, None, 3))
    x = layers.Rescaling(4.0, offset=-2.0)(img)  # [0, 1] -> [-2, 2]
    for i, (channels, stride) in enumerate([(width // 2, 1), (width, 2), (width, 2),
                                            (2 * width, 2)]):
        if i:
            x = layers.ReLU()(x)
        x = layers.Conv2D(channels, 3, strides=stride, padding="same", kernel_initializer=init,
                          bias_initializer="zeros")(x)
    model = keras.Model(img, x, name=f"stand_in_seed{seed}")
    model.trainable = False
    return Extractor("stand_in", STAND_IN_LABEL, model, stand_in=True)


#: Keras' published md5 digests of its ImageNet weight files (keras.applications), checked after
#: the registry's sha256 (recorded on first use).
KERAS_MD5 = {"keras_vgg19_notop": "253f8cb515780f3b799900260a226db6",
             "keras_inception_v3": "9a0d58056eeedaa3f26cb7ebd46da564"}


def keras_weights(asset: str, **fetch_kwargs: Any) -> Path:
    """Fetch Keras ImageNet weights through the registry and check Keras' own md5."""
    from frontier.data import FetchError, fetch

    path = fetch(asset, **fetch_kwargs)
    digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    if digest != KERAS_MD5[asset]:
        path.unlink()
        raise FetchError(f"asset {asset!r}: md5 {digest} differs from Keras' published "
                         f"{KERAS_MD5[asset]}; the file was deleted: fetch it again, and if it "
                         "persists, report it", asset=asset, url="")
    return path


class CaffePreprocess(layers.Layer):
    """[0, 1] RGB -> VGG's input: 0-255 BGR minus the ImageNet mean."""

    def call(self, x: Any) -> Any:
        return keras.ops.flip(x * 255.0, axis=-1) - keras.ops.convert_to_tensor(
            [103.939, 116.779, 123.68])


def vgg19_extractor(weights: str | os.PathLike | None = "registry") -> Extractor:
    """VGG-19 ``block5_conv4`` features before the ReLU (ESRGAN's perceptual features).

    ``weights="registry"`` fetches Keras' ImageNet weights (``keras_vgg19_notop``, about
    80 MB, ``full`` profile); a path loads that file; None leaves random weights (and says so).
    """
    path = keras_weights("keras_vgg19_notop") if weights == "registry" else weights
    base = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    if path is not None:
        base.load_weights(str(path))
    conv4 = base.get_layer("block5_conv4")
    linear = layers.Conv2D(512, 3, padding="same", name="block5_conv4_linear")
    inner = keras.Model(base.input, linear(base.get_layer("block5_conv3").output))
    linear.set_weights(conv4.get_weights())
    img = keras.Input((None, None, 3))
    model = keras.Model(img, inner(CaffePreprocess()(img)), name="vgg19_block5_conv4")
    model.trainable = False
    if path is None:
        return Extractor("vgg19_random", "VGG-19 block5_conv4 (random weights, not ImageNet)",
                         model, stand_in=True)
    return Extractor("vgg19", "VGG-19 block5_conv4 (ImageNet), before ReLU", model,
                     stand_in=False)


def inception_extractor(weights: str | os.PathLike | None = "registry") -> Extractor:
    """InceptionV3 (ImageNet, Keras' weights via the registry, not TF Hub): pool features
    (2048) for FID and class probabilities for the Inception Score; inputs resized to 299."""
    path = keras_weights("keras_inception_v3") if weights == "registry" else weights
    base = keras.applications.InceptionV3(include_top=True, weights=None)
    if path is not None:
        base.load_weights(str(path))
    img = keras.Input((299, 299, 3))
    x = layers.Rescaling(2.0, offset=-1.0)(img)
    model = keras.Model(base.input, [base.get_layer("avg_pool").output, base.output])
    model = keras.Model(img, model(x), name="inception_v3")
    model.trainable = False
    label = "InceptionV3 pool (ImageNet)" if path is not None else \
        "InceptionV3 pool (random weights, not ImageNet)"
    return Extractor("inception_v3" if path is not None else "inception_v3_random", label,
                     model, stand_in=path is None, input_size=299)


# -- metrics ----------------------------------------------------------------------------------
def data_range(a: np.ndarray, b: np.ndarray | None = None) -> float:
    """255 for uint8 images, 1.0 for float images in [0, 1]; anything else is refused."""
    arrays = [np.asarray(a)] + ([np.asarray(b)] if b is not None else [])
    if arrays[0].dtype == np.uint8 and all(x.dtype == np.uint8 for x in arrays):
        return 255.0
    if all(np.issubdtype(x.dtype, np.floating) for x in arrays):
        hi = max(float(np.max(x)) for x in arrays)
        lo = min(float(np.min(x)) for x in arrays)
        if hi > 1.0 + 1e-3 or lo < -1e-3:
            raise ValueError(f"float images span [{lo:.3g}, {hi:.3g}], not [0, 1]: pass "
                             "max_val=255 for 0-255 floats (or scale them to [0, 1])")
        return 1.0
    kinds = ", ".join(str(x.dtype) for x in arrays)
    raise ValueError(f"images of dtype {kinds}: use uint8 (0-255) or float in [0, 1] for both, "
                     "or pass max_val")


def rgb_to_y(images: np.ndarray) -> np.ndarray:
    """MATLAB's BT.601 luma of RGB in [0, 1]: Y = 16 + 65.481 R + 128.553 G + 24.966 B, on the
    0-255 scale (16-235), unrounded, shape (..., h, w, 1); BasicSR's ``rgb2ycbcr(y_only=True)``."""
    return 16.0 + images @ np.array([65.481, 128.553, 24.966])[:, None]


def _prepare(a: Any, b: Any, max_val: float | None, crop_border: int,
             y_channel: bool) -> tuple[np.ndarray, np.ndarray, float]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.ndim not in (3, 4) or a.shape[-1] not in (1, 3):
        raise ValueError(f"images must be (h, w, c) or (n, h, w, c) with c = 1 or 3, not "
                         f"{a.shape}")
    max_val = data_range(a, b) if max_val is None else float(max_val)
    a, b = a.astype(np.float64), b.astype(np.float64)
    if crop_border:
        a = a[..., crop_border:-crop_border, crop_border:-crop_border, :]
        b = b[..., crop_border:-crop_border, crop_border:-crop_border, :]
    if y_channel:
        if a.shape[-1] != 3:
            raise ValueError("y_channel=True needs RGB images (3 channels)")
        a, b, max_val = rgb_to_y(a / max_val), rgb_to_y(b / max_val), 255.0
    return a, b, max_val


def psnr(a: Any, b: Any, max_val: float | None = None, *, crop_border: int = 0,
         y_channel: bool = False) -> float | np.ndarray:
    """Peak signal-to-noise ratio in dB of (h, w, c) images (a float) or (n, h, w, c) batches
    (one value per image). ``max_val``: 255 for uint8, 1.0 for floats in [0, 1] (inferred;
    the post's 256 is wrong). BasicSR's convention: ``crop_border=scale`` and, for the Y
    column of published tables, ``y_channel=True``."""
    a, b, max_val = _prepare(a, b, max_val, crop_border, y_channel)
    mse = np.mean((a - b) ** 2, axis=(-3, -2, -1))
    with np.errstate(divide="ignore"):
        out = 10.0 * np.log10(max_val ** 2 / mse)
    return float(out) if np.ndim(out) == 0 else out


def ssim(a: Any, b: Any, max_val: float | None = None, *, crop_border: int = 0,
         y_channel: bool = False) -> float | np.ndarray:
    """Structural similarity (Wang et al. 2004): 11x11 Gaussian window (sigma 1.5), K1 = 0.01,
    K2 = 0.03, averaged over the valid area and channels, as BasicSR and scikit-image's
    ``structural_similarity(gaussian_weights=True, use_sample_covariance=False)``. Shapes and
    ``max_val`` as :func:`psnr`."""
    from scipy.ndimage import gaussian_filter

    a, b, max_val = _prepare(a, b, max_val, crop_border, y_channel)
    sigma = [0.0] * (a.ndim - 3) + [1.5, 1.5, 0.0]

    def blur(x: np.ndarray) -> np.ndarray:
        return gaussian_filter(x, sigma=sigma, truncate=3.5, mode="reflect")

    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a ** 2, blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) *
                                                     (var_a + var_b + c2))
    out = s[..., 5:-5, 5:-5, :].mean(axis=(-3, -2, -1))
    return float(out) if np.ndim(out) == 0 else out


def frechet_distance_gaussians(mu_a: Any, cov_a: Any, mu_b: Any, cov_b: Any) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)).

    The trace of the matrix square root is computed as that of the symmetric positive
    semi-definite sqrt(S_a) S_b sqrt(S_a) (same eigenvalues as S_a S_b), by eigenvalues: no
    complex parts to discard, exact for singular covariances."""
    mu_a, mu_b = np.atleast_1d(np.asarray(mu_a, np.float64)), np.atleast_1d(
        np.asarray(mu_b, np.float64))
    cov_a, cov_b = np.atleast_2d(np.asarray(cov_a, np.float64)), np.atleast_2d(
        np.asarray(cov_b, np.float64))
    w, v = np.linalg.eigh((cov_a + cov_a.T) / 2)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = root_a @ cov_b @ root_a
    eig = np.linalg.eigvalsh((inner + inner.T) / 2)
    trace_sqrt = float(np.sum(np.sqrt(np.clip(eig, 0, None))))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
                 - 2 * trace_sqrt)


def frechet_distance(features_a: Any, features_b: Any) -> float:
    """The Frechet distance between Gaussians fitted to two feature sets (n_a, d), (n_b, d)."""
    fa, fb = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if fa.ndim != 2 or fb.ndim != 2 or fa.shape[1] != fb.shape[1] or min(len(fa), len(fb)) < 2:
        raise ValueError(f"features must be (n, d) with the same d and n >= 2, not {fa.shape} "
                         f"and {fb.shape}")
    return frechet_distance_gaussians(fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0),
                                      np.cov(fb, rowvar=False))


def frechet_name(extractor: Extractor) -> str:
    """What a Frechet distance on ``extractor``'s features is called: ``fid`` on ImageNet
    InceptionV3 only, ``fd_<extractor>`` otherwise."""
    return "fid" if extractor.name == "inception_v3" else f"fd_{extractor.name}"


def image_frechet_distance(images_a: Any, images_b: Any, extractor: Extractor,
                           batch_size: int = 32, spatial: bool = False) -> tuple[str, float]:
    """``(name, distance)`` between two image sets (n, h, w, 3) in [0, 1] on the features of
    ``extractor`` (pooled per image; ``spatial``: per position, see :meth:`Extractor.vectors`).
    The name comes from :func:`frechet_name`, with ``_spatial`` appended for spatial ones."""
    name = frechet_name(extractor) if not spatial else f"fd_{extractor.name}_spatial"
    return name, frechet_distance(extractor.vectors(images_a, batch_size, spatial),
                                  extractor.vectors(images_b, batch_size, spatial))


def fid(images_a: Any, images_b: Any, extractor: Extractor | None = None) -> float:
    """Frechet Inception Distance (Heusel et al. 2017) on Keras' ImageNet InceptionV3 pool
    features (fetched through the registry when ``extractor`` is None). Any other extractor is
    refused: its distance is not FID (use :func:`image_frechet_distance`)."""
    extractor = extractor or inception_extractor()
    if frechet_name(extractor) != "fid":
        raise ValueError(f"fid() needs ImageNet InceptionV3 features, not {extractor.label}: "
                         "use image_frechet_distance(), which names the distance after them")
    return image_frechet_distance(images_a, images_b, extractor)[1]


def inception_score(images: Any, extractor: Extractor | None = None, splits: int = 10,
                    batch_size: int = 32) -> tuple[float, float]:
    """Inception Score (Salimans et al. 2016): exp E_x KL(p(y|x) || p(y)) over ``splits``
    groups; returns (mean, std). Needs ImageNet InceptionV3 (the ``full`` profile)."""
    extractor = extractor or inception_extractor()
    if extractor.name != "inception_v3":
        raise ValueError(f"the Inception Score needs ImageNet InceptionV3, not {extractor.label}")
    probs = []
    for i in range(0, len(images), batch_size):
        batch = tf.image.resize(tf.cast(images[i:i + batch_size], tf.float32), (299, 299))
        probs.append(np.asarray(extractor.model(batch, training=False)[1], np.float64))
    return inception_score_from_probs(np.concatenate(probs), splits)


def inception_score_from_probs(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """The Inception Score of class probabilities (n, classes): mean and std over splits."""
    scores = []
    for part in np.array_split(np.asarray(probs, np.float64), splits):
        p_y = part.mean(0, keepdims=True)
        kl = np.sum(part * (np.log(part + 1e-12) - np.log(p_y + 1e-12)), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


# -- data -------------------------------------------------------------------------------------
def downscale(hr: Any, scale: int = SCALE) -> tf.Tensor:
    """Bicubic, anti-aliased x``scale`` downsampling of (n, h, w, 3) in [0, 1] (h, w divisible
    by ``scale``), clipped to [0, 1]: how the LR inputs are made."""
    hr = tf.convert_to_tensor(hr, tf.float32)
    h, w = hr.shape[-3], hr.shape[-2]
    if h % scale or w % scale:
        raise ValueError(f"HR size {h}x{w} is not divisible by the scale {scale}: crop it first")
    lr = tf.image.resize(hr, (h // scale, w // scale), method="bicubic", antialias=True)
    return tf.clip_by_value(lr, 0.0, 1.0)


def bicubic(lr: Any, scale: int = SCALE) -> tf.Tensor:
    """The baseline: bicubic x``scale`` upsampling of (n, h, w, 3) in [0, 1], clipped."""
    lr = tf.convert_to_tensor(lr, tf.float32)
    up = tf.image.resize(lr, (lr.shape[-3] * scale, lr.shape[-2] * scale), method="bicubic")
    return tf.clip_by_value(up, 0.0, 1.0)


def random_patches(images: Sequence[np.ndarray], n: int, size: int, seed: int = 0) -> np.ndarray:
    """``n`` random (size, size, 3) crops in [0, 1] float32, drawn evenly from ``images``."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 3), np.float32)
    for k in range(n):
        img = images[k % len(images)]
        y, x = rng.integers(0, img.shape[0] - size + 1), rng.integers(0, img.shape[1] - size + 1)
        out[k] = img[y:y + size, x:x + size, :3] / 255.0
    return out


def grid_crops(images: Sequence[np.ndarray], size: int, per_image: int) -> np.ndarray:
    """``per_image`` non-overlapping (size, size) crops per image in [0, 1], spread evenly
    over the image's grid of such cells (so not all from the sky of one photo)."""
    out = []
    for img in images:
        rows, cols = img.shape[0] // size, img.shape[1] // size
        y0, x0 = (img.shape[0] - rows * size) // 2, (img.shape[1] - cols * size) // 2
        cells = np.unique(np.linspace(0, rows * cols - 1, min(per_image, rows * cols)).round())
        for cell in cells.astype(int):
            r, c = divmod(cell, cols)
            out.append(img[y0 + r * size:y0 + (r + 1) * size,
                           x0 + c * size:x0 + (c + 1) * size, :3])
    return np.stack(out).astype(np.float32) / 255.0


def lesson_data(P: Any, seed: int = 0) -> dict[str, np.ndarray]:
    """Training HR patches and held-out HR crops (float32 in [0, 1]) with their bicubic x4 LR.

    ``smoke`` / ``quick``: photographs shipped with scikit-image and scikit-learn, training
    patches from :data:`TRAIN_IMAGES` and test crops from :data:`TEST_IMAGES` (other photos).
    ``full``: DIV2K (``div2k/bicubic_x4`` from tensorflow-datasets; its own LR images) train
    patches, tested on crops of its 100 validation images. Returns ``train_hr``, ``train_lr``,
    ``test_hr``, ``test_lr``, and ``source``.
    """
    if P.name == "full":
        return _div2k_data(P, seed)
    from frontier.data import sample_image

    train = [sample_image(name) for name in TRAIN_IMAGES]
    test = [sample_image(name) for name in TEST_IMAGES]
    train_hr = random_patches(train, P.n_patches, P.hr_patch, seed)
    test_hr = grid_crops(test, P.test_size, P.test_crops)
    return {"train_hr": train_hr, "train_lr": downscale(train_hr).numpy(), "test_hr": test_hr,
            "test_lr": downscale(test_hr).numpy(),
            "source": "scikit-image/scikit-learn photos, bicubic x4 (anti-aliased)"}


def _div2k_data(P: Any, seed: int) -> dict[str, np.ndarray]:
    from frontier.data import tfds_load

    def pairs(split: str, n: int, size: int, random: bool) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        his, los = [], []
        examples = list(tfds_load("div2k/bicubic_x4", split=split).as_numpy_iterator())
        for k in range(n):
            ex = examples[k % len(examples)]
            hr, lr = ex["hr"], ex["lr"]
            lh, lw = size // SCALE, size // SCALE
            if random:
                y, x = rng.integers(0, lr.shape[0] - lh + 1), rng.integers(0, lr.shape[1] - lw + 1)
            else:
                y, x = (lr.shape[0] - lh) // 2, (lr.shape[1] - lw) // 2
            los.append(lr[y:y + lh, x:x + lw])
            his.append(hr[SCALE * y:SCALE * (y + lh), SCALE * x:SCALE * (x + lw)])
        return np.stack(his) / np.float32(255), np.stack(los) / np.float32(255)

    train_hr, train_lr = pairs("train", P.n_patches, P.hr_patch, True)
    test_hr, test_lr = pairs("validation", 100, P.test_size, False)
    return {"train_hr": train_hr, "train_lr": train_lr, "test_hr": test_hr, "test_lr": test_lr,
            "source": "DIV2K (div2k/bicubic_x4), validation centre crops"}


def dataset(lr: np.ndarray, hr: np.ndarray, batch: int, seed: int = 0) -> tf.data.Dataset:
    """Endless (lr, hr) batches, each epoch in its own order drawn from (``seed``, epoch) by a
    stateless shuffle: the same batches in every process, whatever TensorFlow's global seed,
    so a resumed run replays exactly the batches of an uninterrupted one."""
    if len(lr) != len(hr) or len(lr) < batch:
        raise ValueError(f"dataset: {len(lr)} LR and {len(hr)} HR images for batches of {batch}")
    lr_t, hr_t = tf.constant(lr, tf.float32), tf.constant(hr, tf.float32)

    def epoch(e: tf.Tensor) -> tf.data.Dataset:
        order = tf.random.experimental.stateless_shuffle(
            tf.range(len(lr), dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), e]))
        return tf.data.Dataset.from_tensor_slices(order)

    return (tf.data.Dataset.counter().flat_map(epoch)
            .map(lambda i: (tf.gather(lr_t, i), tf.gather(hr_t, i)))
            .batch(batch, drop_remainder=True))


def super_resolve(model: keras.Model, lr: Any, batch_size: int = 8) -> np.ndarray:
    """The generator's output for (n, h, w, 3) LR images, clipped to [0, 1]."""
    out = [np.clip(model(lr[i:i + batch_size], training=False), 0, 1)
           for i in range(0, len(lr), batch_size)]
    return np.concatenate(out).astype(np.float32)


# -- training ---------------------------------------------------------------------------------
def lr_at(step: int, lr: float, boundaries: Sequence[int], factor: float = DECAY) -> float:
    """Step decay: ``lr * factor ** (number of boundaries < step)``; as Keras'
    PiecewiseConstantDecay, the rate drops on the step after a boundary."""
    return lr * factor ** sum(step > b for b in boundaries)


def schedule(lr: float, steps: int, decay_at: Sequence[float],
             factor: float = DECAY) -> keras.optimizers.schedules.LearningRateSchedule | float:
    """:func:`lr_at` as a Keras schedule, with boundaries at fractions ``decay_at`` of
    ``steps`` (ESRGAN: x0.5 at fixed iterations)."""
    boundaries = sorted({int(f * steps) for f in decay_at if 0 < int(f * steps) < steps})
    if not boundaries:
        return lr
    values = [lr_at(b + 1, lr, boundaries, factor) for b in [-1, *boundaries]]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


def adam(lr: Any) -> keras.optimizers.Adam:
    """ESRGAN's Adam: beta_1 = 0.9, beta_2 = 0.99."""
    return keras.optimizers.Adam(lr, beta_1=BETAS[0], beta_2=BETAS[1])


def phase1(model: keras.Model, *, steps: int, decay_at: Sequence[float] = (),
           strategy: tf.distribute.Strategy | None = None, lr: float = PHASE1_LR,
           jit_compile: bool = False) -> Trainer:
    """Phase 1: the generator alone on the pixel L1 loss (PSNR-oriented), Adam lr 2e-4.

    ``model`` must have been built under ``strategy.scope()``; the optimizer is made there.
    ``trainer.fit(dataset(lr, hr, batch), steps, checkpoint_dir=...)`` then resumes."""
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        optimizer = adam(schedule(lr, steps, decay_at))
    return Trainer(model, optimizer, l1_loss, strategy=strategy, jit_compile=jit_compile)


class GANTrainer(Trainer):
    """Phase 2: the generator with the relativistic discriminator and the perceptual loss.

    Generator loss = perceptual + 0.005 RaGAN + 0.02 L1 (ESRGAN); discriminator loss = RaGAN.
    Each step updates D and G on the same batch; RaGAN's batch means are all-reduced, so under
    a MirroredStrategy they are the global batch's, as on one device. Checkpoints hold both
    networks, both optimizers and the step (see :class:`frontier.train.Trainer`).
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model,
                 features: Extractor, g_optimizer: Any, d_optimizer: Any, *,
                 strategy: tf.distribute.Strategy | None = None, jit_compile: bool = False):
        super().__init__(generator, g_optimizer, l1_loss, strategy=strategy,
                         jit_compile=jit_compile)
        self.discriminator, self.d_optimizer, self.features = discriminator, d_optimizer, features
        with self.strategy.scope():
            self.d_optimizer.build(discriminator.trainable_variables)

    def checkpoint_objects(self) -> dict[str, Any]:
        return {**super().checkpoint_objects(), "discriminator": self.discriminator,
                "d_optimizer": self.d_optimizer}

    def _replica_step(self, x: Any, y: Any) -> dict[str, tf.Tensor]:
        ctx = tf.distribute.get_replica_context()
        local = tf.shape(x)[0]
        global_batch = ctx.all_reduce(tf.distribute.ReduceOp.SUM, local)
        n = tf.cast(global_batch, tf.float32)

        def average(per_example: tf.Tensor) -> tf.Tensor:
            return tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)

        g_vars = self.model.trainable_variables
        d_vars = self.discriminator.trainable_variables
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            sr = self.model(x, training=True)
            d_real = tf.reshape(self.discriminator(y, training=True), [-1])
            d_fake = tf.reshape(self.discriminator(sr, training=True), [-1])
            mean_real = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(d_real)) / n
            mean_fake = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(d_fake)) / n
            d_loss = average(_ragan_terms(d_real, d_fake, 1.0, mean_real, mean_fake))
            adversarial = average(_ragan_terms(d_real, d_fake, 0.0, mean_real, mean_fake))
            perceptual = average(perceptual_loss(self.features, y, sr))
            pixel = average(l1_loss(y, sr))
            g_loss = (PERCEPTUAL_WEIGHT * perceptual + ADVERSARIAL_WEIGHT * adversarial
                      + L1_WEIGHT * pixel)
        g_grads = g_tape.gradient(g_loss, g_vars)
        d_grads = d_tape.gradient(d_loss, d_vars)
        self.optimizer.apply_gradients(zip(g_grads, g_vars, strict=True))
        self.d_optimizer.apply_gradients(zip(d_grads, d_vars, strict=True))
        return {"loss": g_loss, "d_loss": d_loss, "perceptual": perceptual,
                "adversarial": adversarial, "l1": pixel}


def phase2(generator: keras.Model, discriminator: keras.Model, features: Extractor, *,
           steps: int, decay_at: Sequence[float] = (),
           strategy: tf.distribute.Strategy | None = None, lr: float = PHASE2_LR,
           jit_compile: bool = False) -> GANTrainer:
    """Phase 2's trainer (Adam (0.9, 0.99), lr 5e-5 for G and D, step decay at ``decay_at``).

    Start ``generator`` from the phase-1 weights (:func:`copy_generator`); all three networks
    must have been built under ``strategy.scope()``."""
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        g_opt, d_opt = adam(schedule(lr, steps, decay_at)), adam(schedule(lr, steps, decay_at))
    return GANTrainer(generator, discriminator, features, g_opt, d_opt, strategy=strategy,
                      jit_compile=jit_compile)


def evaluate(model: keras.Model | None, data: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean PSNR (RGB, BasicSR: border of 4 cropped) and SSIM on the held-out crops;
    ``model=None`` scores bicubic upsampling."""
    sr = bicubic(data["test_lr"]).numpy() if model is None else super_resolve(
        model, data["test_lr"])
    return {"psnr": float(np.mean(psnr(data["test_hr"], sr, 1.0, crop_border=SCALE))),
            "ssim": float(np.mean(ssim(data["test_hr"], sr, 1.0, crop_border=SCALE)))}
