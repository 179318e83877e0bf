"""Lesson 06, ESRGAN: generator, RaGAN losses, metrics, two resumable phases, downloads."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from frontier import data, esrgan, profiles
from frontier.data import FetchError

ROOT = Path(__file__).resolve().parents[1]


def _images(dtype, shape=(2, 40, 36, 3), seed=0):
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 1, shape)
    noisy = np.clip(base + rng.normal(0, 0.05, shape), 0, 1)
    if dtype == np.uint8:
        return (base * 255).round().astype(np.uint8), (noisy * 255).round().astype(np.uint8)
    return base.astype(dtype), noisy.astype(dtype)


# -- the generator ----------------------------------------------------------------------------
def test_generator_has_the_papers_parameter_count():
    g = esrgan.generator(trunk_size=11, filters=32, growth=32)
    assert g.count_params() == 4_605_955
    # the paper's dense block: conv k sees x plus the k - 1 earlier outputs
    ins = [g.get_layer(f"rrdb1_db1_conv{i}").kernel.shape[2] for i in range(1, 6)]
    assert ins == [32, 64, 96, 128, 160]


@pytest.mark.parametrize("h, w", [(1, 1), (5, 7), (8, 8), (13, 6)])
def test_generator_upscales_by_four_any_size(h, w):
    g = esrgan.generator(trunk_size=1, filters=4, growth=4)
    out = g(np.zeros((2, h, w, 3), np.float32))
    assert tuple(out.shape) == (2, 4 * h, 4 * w, 3)


def test_discriminator_gives_one_logit_and_checks_its_size():
    d = esrgan.discriminator(32, filters=4)
    assert tuple(d(np.zeros((3, 32, 32, 3), np.float32)).shape) == (3, 1)
    with pytest.raises(ValueError, match="multiple of 16"):
        esrgan.discriminator(40)


def test_interpolation_blends_weights():
    keras.utils.set_random_seed(0)
    a, b = esrgan.generator(1, 4, 4), esrgan.generator(1, 4, 4)
    for alpha in (0.0, 0.3, 1.0):
        mixed = esrgan.interpolate(a, b, alpha).get_weights()
        for wa, wb, wm in zip(a.get_weights(), b.get_weights(), mixed, strict=True):
            np.testing.assert_allclose(wm, (1 - alpha) * wa + alpha * wb, atol=1e-7)
    with pytest.raises(ValueError, match="architecture"):
        esrgan.interpolate(a, esrgan.generator(1, 8, 4), 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        esrgan.interpolate(a, b, 1.5)


# -- losses -----------------------------------------------------------------------------------
def test_ragan_losses_equal_their_formulas():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(1, 2, (16, 1)), rng.normal(-1, 2, (16, 1))

    def log_sigmoid(z):
        return -np.log1p(np.exp(-z))

    d_ra_real = real - fake.mean()  # logit of D_Ra(x_r, x_f)
    d_ra_fake = fake - real.mean()  # logit of D_Ra(x_f, x_r)
    want_d = -np.mean(log_sigmoid(d_ra_real)) - np.mean(log_sigmoid(-d_ra_fake))
    want_g = -np.mean(log_sigmoid(-d_ra_real)) - np.mean(log_sigmoid(d_ra_fake))
    np.testing.assert_allclose(float(esrgan.ragan_discriminator_loss(real, fake)), want_d,
                               rtol=1e-5)
    np.testing.assert_allclose(float(esrgan.ragan_generator_loss(real, fake)), want_g, rtol=1e-5)
    # shapes (batch,) and (batch, 1) agree
    np.testing.assert_allclose(float(esrgan.ragan_generator_loss(real[:, 0], fake[:, 0])),
                               want_g, rtol=1e-5)


def test_l1_and_perceptual_losses_are_per_example():
    hr, sr = _images(np.float32, (3, 16, 16, 3))
    np.testing.assert_allclose(esrgan.l1_loss(hr, sr), np.abs(hr - sr).mean(axis=(1, 2, 3)),
                               rtol=1e-5)
    features = esrgan.stand_in_extractor(width=8)
    loss = esrgan.perceptual_loss(features, hr, sr)
    assert loss.shape == (3,) and np.all(loss.numpy() > 0)
    assert np.allclose(esrgan.perceptual_loss(features, hr, hr), 0)


def test_vgg19_features_are_read_before_the_relu():
    vgg = esrgan.vgg19_extractor(weights=None)
    assert vgg.stand_in and "random weights" in vgg.label  # never passed off as ImageNet
    out = vgg(np.random.default_rng(0).uniform(0, 1, (1, 32, 32, 3)).astype(np.float32))
    assert out.shape == (1, 2, 2, 512) and float(tf.reduce_min(out)) < 0  # no ReLU


# -- metrics ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_psnr_and_ssim_match_scikit_image(dtype):
    a, b = _images(dtype)
    rng = 255 if dtype == np.uint8 else 1.0
    for i in range(len(a)):
        want = peak_signal_noise_ratio(a[i], b[i], data_range=rng)
        np.testing.assert_allclose(esrgan.psnr(a[i], b[i]), want, rtol=1e-7)
        want = structural_similarity(a[i], b[i], data_range=rng, channel_axis=-1,
                                     gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
        np.testing.assert_allclose(esrgan.ssim(a[i], b[i]), want, rtol=1e-6)
    batch = esrgan.psnr(a, b)
    assert batch.shape == (2,) and np.isclose(batch[1], esrgan.psnr(a[1], b[1]))


def test_psnr_basicsr_convention_crops_and_uses_matlab_y():
    a, b = _images(np.uint8, (24, 20, 3))
    cropped = esrgan.psnr(a, b, crop_border=4)
    assert np.isclose(cropped, peak_signal_noise_ratio(a[4:-4, 4:-4], b[4:-4, 4:-4]))
    y = [16 + (x[4:-4, 4:-4].astype(float) @ [65.481, 128.553, 24.966]) / 255 for x in (a, b)]
    want = 10 * np.log10(255 ** 2 / np.mean((y[0] - y[1]) ** 2))
    np.testing.assert_allclose(esrgan.psnr(a, b, crop_border=4, y_channel=True), want)
    # the same on [0, 1] floats
    np.testing.assert_allclose(esrgan.psnr(a / 255.0, b / 255.0, crop_border=4,
                                           y_channel=True), want)


def test_psnr_refuses_an_ambiguous_range():
    a, b = _images(np.float32)
    with pytest.raises(ValueError, match="max_val=255"):
        esrgan.psnr(a * 255, b * 255)
    np.testing.assert_allclose(esrgan.psnr(a * 255, b * 255, max_val=255), esrgan.psnr(a, b),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="dtype"):
        esrgan.psnr(a, (b * 255).astype(np.uint8))
    # the post's max_val=256 overstates PSNR by 20 log10(256/255) dB
    ua, ub = _images(np.uint8)
    np.testing.assert_allclose(esrgan.psnr(ua, ub, 256) - esrgan.psnr(ua, ub),
                               20 * np.log10(256 / 255))


def test_frechet_distance_of_known_gaussians_equals_closed_form():
    # 2x2, non-commuting covariances: Tr sqrt(M) = sqrt(Tr M + 2 sqrt(det M)) for M = S_a S_b
    mu_a, mu_b = np.array([0.0, 1.0]), np.array([2.0, -1.0])
    s_a, s_b = np.array([[2.0, 0.5], [0.5, 1.0]]), np.array([[1.0, -0.3], [-0.3, 0.5]])
    m = s_a @ s_b
    closed = (np.sum((mu_a - mu_b) ** 2) + np.trace(s_a) + np.trace(s_b)
              - 2 * np.sqrt(np.trace(m) + 2 * np.sqrt(np.linalg.det(m))))
    np.testing.assert_allclose(esrgan.frechet_distance_gaussians(mu_a, s_a, mu_b, s_b), closed,
                               rtol=1e-10)
    # from features whose sample mean and covariance are exactly those Gaussians'
    rng = np.random.default_rng(0)

    def exact_samples(mu, cov, n=50):
        z = rng.normal(size=(n, 2))
        z = (z - z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
        return z @ np.linalg.cholesky(cov).T + mu

    fa, fb = exact_samples(mu_a, s_a), exact_samples(mu_b, s_b)
    np.testing.assert_allclose(esrgan.frechet_distance(fa, fb), closed, rtol=1e-8)
    # 1-d: (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2; identical sets: 0, even when singular
    assert np.isclose(esrgan.frechet_distance_gaussians(1.0, 4.0, -1.0, 9.0), 4 + 1)
    same = rng.normal(size=(5, 10))  # 5 samples in 10 dimensions: singular covariance
    assert abs(esrgan.frechet_distance(same, same)) < 1e-6  # sqrt of round-off eigenvalues


def test_frechet_distance_is_named_after_its_features():
    stand_in = esrgan.stand_in_extractor(width=8)
    assert esrgan.frechet_name(stand_in) == "fd_stand_in" and "not VGG" in stand_in.label
    a, b = _images(np.float32, (6, 32, 32, 3))
    name, value = esrgan.image_frechet_distance(a, b, stand_in)
    assert name == "fd_stand_in" and value > 0
    name, value = esrgan.image_frechet_distance(a, b, stand_in, spatial=True)
    assert name == "fd_stand_in_spatial" and value > 0
    assert stand_in.vectors(a, spatial=True).shape == (6 * 4 * 4, 16)
    with pytest.raises(ValueError, match="not FID|InceptionV3"):
        esrgan.fid(a, b, stand_in)
    with pytest.raises(ValueError, match="InceptionV3"):
        esrgan.inception_score(a, stand_in)


def test_inception_score_of_known_probabilities():
    uniform = np.full((20, 10), 0.1)
    assert np.isclose(esrgan.inception_score_from_probs(uniform, splits=2)[0], 1.0)
    one_hot = np.eye(10)[np.arange(20) % 10]
    assert np.isclose(esrgan.inception_score_from_probs(one_hot, splits=2)[0], 10.0)


# -- data and schedules -----------------------------------------------------------------------
def test_lesson_data_splits_by_photograph():
    assert not set(esrgan.TRAIN_IMAGES) & set(esrgan.TEST_IMAGES)
    P = profiles.profile("smoke", "esrgan")
    d = esrgan.lesson_data(P)
    assert d["train_hr"].shape == (P.n_patches, P.hr_patch, P.hr_patch, 3)
    assert d["train_lr"].shape == (P.n_patches, P.hr_patch // 4, P.hr_patch // 4, 3)
    assert d["test_hr"].shape[1:] == (P.test_size, P.test_size, 3)
    np.testing.assert_allclose(d["test_lr"], esrgan.downscale(d["test_hr"]), atol=1e-6)
    assert 0 <= d["train_hr"].min() and d["train_hr"].max() <= 1
    assert set(profiles.profile("full", "esrgan")) == set(P)


def test_step_decay():
    assert esrgan.lr_at(0, 2e-4, [100, 200]) == 2e-4
    assert np.isclose(esrgan.lr_at(150, 2e-4, [100, 200]), 1e-4)
    assert esrgan.lr_at(200, 2e-4, [100, 200], factor=0.2) == pytest.approx(2e-4 * 0.2)
    assert esrgan.lr_at(201, 2e-4, [100, 200], factor=0.2) == pytest.approx(2e-4 * 0.04)
    sched = esrgan.schedule(2e-4, 1000, (0.5, 0.75))
    assert [float(sched(s)) for s in (0, 500, 501, 751)] == pytest.approx(
        [2e-4, 2e-4, 1e-4, 5e-5], rel=1e-6)


# -- training: resume, mismatched checkpoints, strategies ---------------------------------------
def _toy_data(n=8, size=16):
    hr = np.random.default_rng(3).uniform(0, 1, (n, size, size, 3)).astype(np.float32)
    return esrgan.dataset(esrgan.downscale(hr).numpy(), hr, batch=4, seed=0)


def _phase2(seed, steps, trunk=1):
    keras.utils.set_random_seed(seed)
    g, d = esrgan.generator(trunk, 4, 4), esrgan.discriminator(16, 4)
    return esrgan.phase2(g, d, esrgan.stand_in_extractor(width=8), steps=steps,
                         decay_at=(0.5,))


def _state(trainer):
    return [np.array(v) for v in trainer.model.weights + trainer.discriminator.weights
            + trainer.optimizer.variables + trainer.d_optimizer.variables]


def test_stopped_training_resumes_with_the_same_weights_and_optimizer(tmp_path):
    straight = _phase2(0, 6)
    full = straight.fit(_toy_data(), 6, progress=False)
    reference = _state(straight)

    first = _phase2(0, 6)
    first.fit(_toy_data(), 3, checkpoint_dir=tmp_path, checkpoint_every=3, progress=False)
    stopped = _state(first)
    again = _phase2(7, 6)  # a fresh process: other random weights, restored from step 3
    again.fit(_toy_data(), 3, checkpoint_dir=tmp_path, progress=False)  # nothing left to do
    assert int(again.step_counter.numpy()) == 3
    for a, b in zip(stopped, _state(again), strict=True):
        np.testing.assert_array_equal(a, b)
    history = again.fit(_toy_data(), 6, checkpoint_dir=tmp_path, checkpoint_every=3,
                        progress=False)
    assert history["step"] == list(range(1, 7))
    for name in ("loss", "d_loss", "perceptual", "adversarial", "l1"):
        np.testing.assert_allclose(history[name], full[name], rtol=1e-5, atol=1e-6)
    for a, b in zip(reference, _state(again), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_checkpoint_of_another_architecture_is_named(tmp_path):
    _phase2(0, 2).fit(_toy_data(), 2, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"another architecture: model weight 0 "
                       r"\(head_conv/kernel\) has shape \(3, 3, 3, 4\) there "
                       r"but \(3, 3, 3, 8\) here"):
        keras.utils.set_random_seed(0)
        g = esrgan.generator(1, 8, 4)  # other filters
        esrgan.phase1(g, steps=4).fit(_toy_data(), 4, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"another architecture: model weight \d+ \(") as err:
        _phase2(0, 4, trunk=2).fit(_toy_data(), 4, checkpoint_dir=tmp_path, progress=False)
    assert "new checkpoint_dir" in str(err.value)


def test_phase1_improves_on_its_start():
    keras.utils.set_random_seed(0)
    trainer = esrgan.phase1(esrgan.generator(1, 8, 8), steps=30)
    history = trainer.fit(_toy_data(16), 30, progress=False)
    assert np.mean(history["loss"][-5:]) < np.mean(history["loss"][:5])


@pytest.mark.timeout(600)
def test_phases_under_mirrored_strategy_match_one_device():
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "_esrgan_strategy_check.py")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["weights_moved"] > 0
    assert result["max_weight_diff"] < 1e-4 and result["max_loss_diff"] < 1e-4


# -- the full profile's downloads -------------------------------------------------------------
def _registry(tmp_path, url):
    path = tmp_path / "registry.toml"
    path.write_text(f'[assets.keras_vgg19_notop]\nurl = "{url}"\nsha256 = ""\nsize = 0\n'
                    'license = "MIT"\ncitation = "simonyan2015vgg"\ndescription = "test"\n')
    return path


def test_keras_weights_are_fetched_and_md5_checked(http_server, monkeypatch, tmp_path):
    base, handler = http_server
    body = b"pretend weights" * 100
    handler.files["w.h5"] = body
    monkeypatch.setenv("FRONTIER_REGISTRY", str(_registry(tmp_path, f"{base}/files/w.h5")))
    monkeypatch.setitem(esrgan.KERAS_MD5, "keras_vgg19_notop",
                        hashlib.md5(body, usedforsecurity=False).hexdigest())
    path = esrgan.keras_weights("keras_vgg19_notop", progress=False)
    assert path.read_bytes() == body
    monkeypatch.setitem(esrgan.KERAS_MD5, "keras_vgg19_notop", "0" * 32)
    with pytest.raises(FetchError, match="md5") as err:
        esrgan.keras_weights("keras_vgg19_notop", progress=False)
    assert "keras_vgg19_notop" in str(err.value) and not path.exists()


def test_full_profile_fails_fast_offline(monkeypatch, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("FRONTIER_REGISTRY",
                       str(_registry(tmp_path, f"http://127.0.0.1:{port}/vgg.h5")))
    start = time.monotonic()
    with pytest.raises(FetchError, match='PROFILE = "quick"'):
        esrgan.vgg19_extractor()
    monkeypatch.setattr(data, "network_available", lambda *a, **k: False)
    with pytest.raises(FetchError, match="div2k"):
        esrgan.lesson_data(profiles.profile("full", "esrgan"))
    assert time.monotonic() - start < 20


def test_registry_lists_the_lessons_weights():
    assets = data.load_registry(ROOT / "data" / "registry.toml")
    for name in esrgan.KERAS_MD5:
        assert name in assets and assets[name].url.startswith("https://storage.googleapis.com/")
