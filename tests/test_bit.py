"""frontier.bit: BiT-HyperRule, the schedule, the official architecture and checkpoint layout,
reusable SavedModels, the input pipeline and fine-tuning under MirroredStrategy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from frontier import bit
from frontier.train import Trainer

ROOT = Path(__file__).resolve().parents[1]


# -- BiT-HyperRule ------------------------------------------------------------------------------
@pytest.mark.parametrize("size, image, expected", [
    # small dataset (< 20k), small images (area < 96x96): CIFAR-like few-shot
    (1_000, (32, 32), dict(resize=160, crop=128, boundaries=(100, 200, 300, 400, 500),
                           mixup_alpha=0.0)),
    # small dataset, large images: tf_flowers (3,670 images of ~320x240)
    (3_670, (240, 320), dict(resize=512, crop=480, boundaries=(100, 200, 300, 400, 500),
                             mixup_alpha=0.0)),
    # medium (20k .. 500k): CIFAR-10 at 32 px
    (50_000, 32, dict(resize=160, crop=128, boundaries=(500, 3000, 6000, 9000, 10_000),
                      mixup_alpha=0.1)),
    # large (>= 500k): ILSVRC-2012
    (1_281_167, (224, 224), dict(resize=512, crop=480,
                                 boundaries=(500, 6000, 12_000, 18_000, 20_000),
                                 mixup_alpha=0.1)),
    # the edges of each rule
    (19_999, (95, 96), dict(resize=160, crop=128, boundaries=(100, 200, 300, 400, 500),
                            mixup_alpha=0.0)),
    (20_000, (96, 96), dict(resize=512, crop=480, boundaries=(500, 3000, 6000, 9000, 10_000),
                            mixup_alpha=0.1)),
    (499_999, 64, dict(resize=160, crop=128, boundaries=(500, 3000, 6000, 9000, 10_000),
                       mixup_alpha=0.1)),
    (500_000, 64, dict(resize=160, crop=128, boundaries=(500, 6000, 12_000, 18_000, 20_000),
                       mixup_alpha=0.1)),
])
def test_hyperrule_reference_cases(size, image, expected):
    rule = bit.hyperrule(size, image)
    for key, value in expected.items():
        assert getattr(rule, key) == value, (key, rule)
    assert rule.base_lr == pytest.approx(0.003) and rule.batch_size == 512


def test_hyperrule_scales_lr_with_batch_and_rejects_nonsense():
    assert bit.hyperrule(1000, 32, batch_size=64).base_lr == pytest.approx(0.003 / 8)
    assert bit.hyperrule(1000, 32, batch_size=1024).base_lr == pytest.approx(0.006)
    with pytest.raises(ValueError, match="dataset_size=0"):
        bit.hyperrule(0, 32)


def test_schedule_warmup_and_each_boundary():
    sched = bit.BiTSchedule((100, 200, 300, 400, 500), 0.003)
    lr = {s: float(sched(s)) for s in (0, 1, 50, 99, 100, 200, 201, 300, 301, 400, 401, 500)}
    assert lr[0] == 0.0
    assert lr[1] == pytest.approx(0.003 / 100) and lr[50] == pytest.approx(0.0015)
    assert lr[99] == pytest.approx(0.003 * 0.99)
    assert lr[100] == pytest.approx(0.003) and lr[200] == pytest.approx(0.003)
    assert lr[201] == pytest.approx(3e-4) and lr[300] == pytest.approx(3e-4)
    assert lr[301] == pytest.approx(3e-5) and lr[400] == pytest.approx(3e-5)
    assert lr[401] == pytest.approx(3e-6) and lr[500] == pytest.approx(3e-6)
    # the post's hand-written schedule skipped a decade (0.1 then 0.001); this one does not
    values = [lr[100], lr[201], lr[301], lr[401]]
    assert [a / b for a, b in zip(values, values[1:], strict=False)] == pytest.approx([10] * 3)
    with pytest.raises(ValueError, match="5 non-decreasing"):
        bit.BiTSchedule((200, 300, 400, 500), 0.003)  # the post's 4 boundaries


def test_scaled_boundaries_use_30_60_90_percent():
    assert bit.scaled_boundaries(1000) == (200, 300, 600, 900, 1000)


# -- the architecture ---------------------------------------------------------------------------
def official_parameter_count(units, width=1, classes=None):
    """R{50,101,152}x{w} counted from the paper's architecture: bias-free convolutions, a
    GroupNorm (gamma, beta) before every convolution of a unit and before the head."""
    count = 7 * 7 * 3 * 64 * width  # root
    channels = 64 * width
    for b, n in enumerate(units):
        f = 64 * width * 2 ** b
        for u in range(n):
            count += 2 * channels + channels * f          # a: GN, 1x1
            count += 2 * f + 3 * 3 * f * f                 # b: GN, 3x3
            count += 2 * f + f * 4 * f                     # c: GN, 1x1
            if u == 0:
                count += channels * 4 * f                  # projection
            channels = 4 * f
    count += 2 * channels                                  # pre-logits GN
    if classes:
        count += channels * classes + classes              # head
    return count


def test_r50x1_has_the_official_parameter_count():
    # 23,500,352 without a head; + the 1000-class head = 25,549,352 (timm's
    # resnetv2_50x1_bit: 25.55M)
    assert official_parameter_count((3, 4, 6, 3)) == 23_500_352
    model = bit.ResNetV2(50, 1)
    assert model.count_params() == official_parameter_count((3, 4, 6, 3))
    assert model.output_shape == (None, 2048)
    assert len(bit.checkpoint_variables(model)) == 1 + 16 * 9 + 4 + 2  # as the npz (no head)
    assert bit.ResNetV2(50, 1, num_classes=1000).count_params() == 25_549_352


def test_r101x3_parameter_count_and_width_multiplier():
    model = bit.ResNetV2(101, 3, num_classes=10)
    assert model.count_params() == official_parameter_count((3, 4, 23, 3), 3, 10)
    assert model.output_shape == (None, 10)


def small(num_classes=3, seed=0, **kw):
    keras.utils.set_random_seed(seed)
    return bit.ResNetV2(units=(1, 2), base_width=8, groups=4, num_classes=num_classes, **kw)


def randomize(model, seed):
    rng = np.random.default_rng(seed)
    for v in model.weights:
        v.assign(rng.normal(0, 0.3, v.shape).astype("float32") + (1 if "gamma" in v.path else 0))


def reference_forward(w, images, units, groups):
    """BiT's forward pass written directly from the reference code, with tf.nn ops."""
    def conv(x, key, stride=1, pad=0):
        k = w[key + "/kernel"]
        k = (k - k.mean((0, 1, 2), keepdims=True)) / np.sqrt(k.var((0, 1, 2), keepdims=True)
                                                              + 1e-10)
        x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        return tf.nn.conv2d(x, k, stride, "VALID")

    def gn_relu(x, key):
        n, h, wd, c = x.shape
        g = min(groups, c)
        xg = tf.reshape(x, (n, h, wd, g, c // g))
        mean, var = tf.nn.moments(xg, axes=(1, 2, 4), keepdims=True)
        x = tf.reshape((xg - mean) / tf.sqrt(var + 1e-5), (n, h, wd, c))
        return tf.nn.relu(x * w[key + "/gamma"] + w[key + "/beta"])

    x = conv(images * 2 - 1, "resnet/root_block/standardized_conv2d", 2, 3)
    x = tf.nn.max_pool2d(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 2, "VALID")
    for b, n in enumerate(units, start=1):
        for u in range(1, n + 1):
            p = f"resnet/block{b}/unit{u:02d}"
            stride = 2 if b > 1 and u == 1 else 1
            pre = gn_relu(x, p + "/a/group_norm")
            short = conv(pre, p + "/a/proj/standardized_conv2d", stride) if u == 1 else x
            y = conv(pre, p + "/a/standardized_conv2d")
            y = conv(gn_relu(y, p + "/b/group_norm"), p + "/b/standardized_conv2d", stride, 1)
            y = conv(gn_relu(y, p + "/c/group_norm"), p + "/c/standardized_conv2d")
            x = y + short
    x = tf.reduce_mean(gn_relu(x, "resnet/group_norm"), axis=(1, 2))
    return x @ w["resnet/head/conv2d/kernel"][0, 0] + w["resnet/head/conv2d/bias"]


def test_model_matches_reference_forward_pass_from_checkpoint_weights():
    model = small()
    randomize(model, 1)
    weights = bit.to_npz_dict(model)
    images = np.random.default_rng(2).uniform(size=(2, 37, 45, 3)).astype("float32")
    expected = reference_forward(weights, images, (1, 2), 4).numpy()
    np.testing.assert_allclose(model(images).numpy(), expected, rtol=2e-4, atol=2e-4)


def test_weight_standardisation_and_groupnorm_invariances():
    model = small()
    randomize(model, 3)
    images = np.random.default_rng(4).uniform(size=(4, 32, 32, 3)).astype("float32")
    before = model(images).numpy()
    # WS: scaling and shifting a kernel changes nothing; GN: no dependence on the batch
    conv = model.get_layer("block2.unit01.b.standardized_conv2d")
    conv.kernel.assign(conv.kernel * 5.0 + 0.7)
    np.testing.assert_allclose(model(images).numpy(), before, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(model(images[:1]).numpy(), before[:1], rtol=1e-4, atol=1e-4)


def test_zero_head_and_unit_range_input():
    model = small(num_classes=5)
    images = np.random.default_rng(0).uniform(size=(2, 16, 16, 3)).astype("float32")
    assert np.all(model(images).numpy() == 0)  # zero-initialised head: uniform predictions
    assert model.get_layer("to_minus1_1")(np.array([[0.0, 1.0]])).numpy().tolist() == \
        [[-1.0, 1.0]]


def test_small_configuration_uses_fewer_groups():
    model = bit.ResNetV2(units=(1,), base_width=4, groups=32)
    assert model.get_layer("block1.unit01.b.group_norm").groups == 4
    with pytest.raises(ValueError, match="depth=34"):
        bit.ResNetV2(34)


# -- checkpoints --------------------------------------------------------------------------------
def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    a = small(seed=0)
    randomize(a, 5)
    path = bit.save_npz(a, tmp_path / "BiT-test.npz")
    with np.load(path) as npz:
        assert npz["resnet/head/conv2d/kernel"].shape == (1, 1, 64, 3)
        assert "resnet/block2/unit01/a/proj/standardized_conv2d/kernel" in npz.files
        assert "resnet/root_block/standardized_conv2d/kernel" in npz.files
    b = small(seed=1)
    images = np.random.default_rng(6).uniform(size=(3, 24, 24, 3)).astype("float32")
    assert not np.allclose(a(images), b(images))
    report = bit.load_npz(b, path)
    assert "resnet/head/conv2d/kernel" in report["loaded"] and not report["skipped"]
    np.testing.assert_array_equal(a(images).numpy(), b(images).numpy())


def test_wrong_shape_missing_and_unexpected_keys_are_named():
    model = small()
    weights = bit.to_npz_dict(model)
    bad = dict(weights)
    key = "resnet/block2/unit02/b/standardized_conv2d/kernel"
    bad[key] = np.zeros((3, 3, 16, 17), "float32")
    with pytest.raises(bit.CheckpointError, match=key + r": checkpoint \(3, 3, 16, 17\)"):
        bit.load_npz(model, bad)
    bad = dict(weights)
    del bad["resnet/group_norm/beta"]
    bad["resnet/block9/unit01/a/group_norm/gamma"] = np.ones(4)
    with pytest.raises(bit.CheckpointError) as err:
        bit.load_npz(model, bad)
    assert "missing (1): resnet/group_norm/beta" in str(err.value)
    assert "unexpected (1): resnet/block9/unit01/a/group_norm/gamma" in str(err.value)


def test_head_loaded_only_when_its_shape_matches():
    source = small(num_classes=7)
    randomize(source, 7)
    weights = bit.to_npz_dict(source)
    target = small(num_classes=3)  # a new task: keep the zero head, load the backbone
    report = bit.load_npz(target, weights)
    assert sorted(report["skipped"]) == sorted(bit.HEAD_KEYS)
    assert np.all(target.get_layer("head.conv2d").kernel.numpy() == 0)
    np.testing.assert_array_equal(target.get_layer("group_norm").gamma.numpy(),
                                  weights["resnet/group_norm/gamma"])
    features = small(num_classes=None)  # a feature extractor ignores the checkpoint's head
    assert sorted(bit.load_npz(features, weights)["skipped"]) == sorted(bit.HEAD_KEYS)
    with pytest.raises(bit.CheckpointError, match="head/conv2d/kernel"):
        bit.load_npz(target, weights, head=True)
    same = small(num_classes=7, seed=3)
    assert bit.load_npz(same, weights, head=False)["skipped"] == list(bit.HEAD_KEYS)


# -- reusable SavedModels -----------------------------------------------------------------------
def export_reusable_by_hand(path):
    """A TF2 reusable SavedModel in the TF Hub format, written without frontier."""
    class Module(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(tf.random.stateless_normal((3, 4), (1, 2)), name="w")
            self.b = tf.Variable(tf.zeros(4), name="b")
            self.regularization_losses = []

        @tf.function(input_signature=[tf.TensorSpec((None, 5, 5, 3)), tf.TensorSpec((), tf.bool)])
        def _call(self, images, training):
            return tf.nn.relu(tf.reduce_mean(images, axis=(1, 2)) @ self.w + self.b)

        @tf.function
        def __call__(self, images, training=False):
            return self._call(images, training)

    module = Module()
    for training in (False, True):
        module.__call__.get_concrete_function(tf.TensorSpec((None, 5, 5, 3)), training)
    tf.saved_model.save(module, str(path))


def fine_tune_one_step(backbone, images, labels, classes):
    inputs = keras.Input(images.shape[1:])
    model = keras.Model(inputs, keras.layers.Dense(classes)(backbone(inputs)))
    before = [v.numpy().copy() for v in backbone.trainable_weights]
    trainer = Trainer(model, keras.optimizers.SGD(0.5), bit.softmax_xent)
    trainer.step((images, tf.one_hot(labels, classes)))
    trainer.step((images, tf.one_hot(labels, classes)))
    return before, [v.numpy() for v in backbone.trainable_weights]


def test_hub_backbone_fine_tunes_a_reusable_saved_model(tmp_path):
    export_reusable_by_hand(tmp_path / "hub")
    backbone = bit.hub_backbone(tmp_path / "hub")
    assert len(backbone.trainable_weights) == 2
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(8, 5, 5, 3)).astype("float32")
    labels = np.arange(8) % 2
    before, after = fine_tune_one_step(backbone, images, labels, 2)
    assert all(np.any(a != b) for a, b in zip(after, before, strict=True)), \
        "the SavedModel's variables did not change"
    # the wrapped function really uses the trained variables
    reloaded = tf.saved_model.load(str(tmp_path / "hub"))
    assert not np.allclose(backbone(images).numpy(), reloaded(images).numpy())


def test_export_saved_model_reloads_identically_and_fine_tunes(tmp_path):
    model = small(num_classes=None)
    randomize(model, 8)
    images = np.random.default_rng(9).uniform(size=(4, 20, 20, 3)).astype("float32")
    bit.export_saved_model(model, tmp_path / "bit")
    backbone = bit.hub_backbone(tmp_path / "bit")
    np.testing.assert_allclose(backbone(images).numpy(), model(images).numpy(), atol=1e-5)
    before, after = fine_tune_one_step(backbone, images, np.arange(4) % 2, 2)
    assert sum(np.any(a != b) for a, b in zip(after, before, strict=True)) > len(before) // 2
    with pytest.raises(FileNotFoundError, match="saved_model.pb"):
        bit.hub_backbone(tmp_path)


# -- pipeline -----------------------------------------------------------------------------------
def test_flip_is_really_random_and_can_be_switched_off():
    ramp = np.tile(np.linspace(0, 1, 8, dtype="float32")[None, :, None], (8, 1, 3))
    data = tf.data.Dataset.from_tensor_slices((np.stack([ramp] * 64), np.zeros(64, "int64")))

    def flipped_fraction(**kw):
        batch = next(iter(bit.pipeline(data, crop=8, resize=8, num_classes=2, batch_size=64,
                                       training=True, seed=1, **kw)))[0].numpy()
        return np.mean(batch[:, 0, 0, 0] > batch[:, 0, -1, 0])

    assert 0.25 < flipped_fraction() < 0.75  # the reference pipeline flipped every image
    assert flipped_fraction(flip=False) == 0.0


def test_pipeline_crops_and_mixes_up():
    images = np.random.default_rng(0).integers(0, 256, (16, 40, 30, 3)).astype("uint8")
    data = tf.data.Dataset.from_tensor_slices((images, np.arange(16) % 4))
    x, y = next(iter(bit.pipeline(data, crop=24, resize=32, num_classes=4, batch_size=8,
                                  training=True, mixup=keras.layers.MixUp(alpha=0.2, seed=0)))
                )
    assert x.shape == (8, 24, 24, 3) and float(tf.reduce_max(x)) <= 1.0
    np.testing.assert_allclose(y.numpy().sum(axis=1), 1.0, rtol=1e-5)
    assert np.any((y.numpy() > 0.01) & (y.numpy() < 0.99)), "MixUp did not soften the labels"
    x, y = next(iter(bit.pipeline(data, crop=24, num_classes=4, batch_size=16, training=False)))
    assert x.shape == (16, 24, 24, 3) and y.numpy().argmax(1).tolist() == list(np.arange(16) % 4)


def test_cluttered_digits_draw_the_digit_over_a_photo():
    from frontier.data import digits
    from frontier.data.synthetic import cluttered_digits

    images, labels = digits()
    x, y, source = cluttered_digits(images[:50], labels[:50], 64, size=24, seed=1)
    assert x.shape == (64, 24, 24, 3) and x.dtype == np.uint8
    np.testing.assert_array_equal(y, labels[source])
    assert np.all(x.std(axis=(1, 2, 3)) > 5), "a rendering is flat: no photo, no digit"
    again, _, _ = cluttered_digits(images[:50], labels[:50], 64, size=24, seed=1)
    np.testing.assert_array_equal(x, again)
    x, y, source = cluttered_digits(images[:7], labels[:7])  # n=None: each digit once
    assert source.tolist() == list(range(7))


def test_few_shot_and_digit_tasks_are_disjoint():
    data = bit.digits_transfer_data(image_size=12, upstream_size=40)
    assert data.upstream[0].shape == (40, 12, 12, 3) and data.upstream[1].max() <= 4
    assert set(data.upstream_classes).isdisjoint(data.downstream_classes)
    x, y = bit.few_shot(*data.downstream_train, 5, seed=0)
    assert np.bincount(y).tolist() == [5] * 5
    with pytest.raises(ValueError, match="overlap"):
        bit.digits_transfer_data(upstream_classes=(1, 2), downstream_classes=(2, 3))


# -- fine-tuning under a strategy ---------------------------------------------------------------
def test_fine_tuning_under_mirrored_strategy_matches_one_device():
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "_bit_strategy_check.py")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2 and result["steps"] == 10
    assert result["moved"] > 1e-3, "fine-tuning did not change the weights"
    assert result["max_weight_diff"] < 1e-5 and result["max_loss_diff"] < 1e-5


# -- the full profile's data, offline -----------------------------------------------------------
def test_registry_lists_the_official_checkpoints():
    from frontier.data import load_registry

    assets = load_registry()
    assert assets["bit_m_r50x1"].url == "https://storage.googleapis.com/bit_models/BiT-M-R50x1.npz"
    for name in ("bit_m_r50x1", "bit_m_r50x1_ilsvrc2012", "imagenet_labels"):
        assert assets[name].citation == "kolesnikov2020bit"
        assert assets[name].license == "Apache-2.0"


def test_tf_flowers_pipeline_on_mock_data(tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=12):
        train, val, rule = bit.tf_flowers(4, seed=0, data_dir=str(tmp_path))
        x, y = next(iter(train))
        vx, vy = next(iter(val))
    assert rule.resize == 512 and rule.crop == 480 and rule.mixup_alpha == 0.0
    assert rule.boundaries == (100, 200, 300, 400, 500)
    assert rule.base_lr == pytest.approx(0.003 * 4 / 512)
    assert x.shape == (4, 480, 480, 3) and y.shape == (4, 5)
    assert vx.shape[1:] == (480, 480, 3) and float(tf.reduce_max(vx)) <= 1.0


def test_hub_backbone_accepts_an_inference_only_saved_model(tmp_path):
    class Module(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(tf.ones((3, 2)))

        @tf.function(input_signature=[tf.TensorSpec((None, 4, 4, 3))])
        def __call__(self, images, training=False):
            return tf.reduce_mean(images, axis=(1, 2)) @ self.w

    tf.saved_model.save(Module(), str(tmp_path / "m"))
    backbone = bit.hub_backbone(tmp_path / "m")
    x = np.ones((2, 4, 4, 3), "float32")
    np.testing.assert_allclose(backbone(x, training=True).numpy(), np.full((2, 2), 3.0))


# -- the from-scratch baseline's own recipe -----------------------------------------------------
def test_split_validation_holds_out_a_share_of_every_class():
    x = np.arange(40, dtype="float32")[:, None]
    y = np.repeat(np.arange(4), 10)
    (x_train, y_train), (x_val, y_val) = bit.split_validation(x, y, 0.3, seed=1)
    assert np.bincount(y_val).tolist() == [3] * 4 and np.bincount(y_train).tolist() == [7] * 4
    assert set(x_train[:, 0]).isdisjoint(x_val[:, 0]) and len(x_train) + len(x_val) == 40
    np.testing.assert_array_equal(y_val, y[x_val[:, 0].astype(int)])  # images keep their labels
    with pytest.raises(ValueError, match="class 1 has 1"):
        bit.split_validation(x[:11], y[:11])
    with pytest.raises(ValueError, match="fraction"):
        bit.split_validation(x, y, 1.0)


def test_best_recipe_takes_the_best_validation_accuracy_then_the_cheaper_one():
    scores = {(0.03, 300): 0.30, (0.1, 300): 0.41, (0.1, 1000): 0.41, (0.3, 1000): 0.22}
    assert bit.best_recipe(scores) == (0.1, 300)
    assert bit.best_recipe({(0.3, 100): 0.5, (0.1, 100): 0.5}) == (0.1, 100)
    with pytest.raises(ValueError, match="no scores"):
        bit.best_recipe({})


def clean_digit_task() -> bit.TransferData:
    """Clean 8x8 digits 5-9 at 16 pixels: learnable from scratch in about a hundred steps."""
    from frontier.data import digits

    images, labels = digits()
    keep = labels >= 5
    x = np.repeat(np.repeat(images[keep] / 16.0, 2, axis=1), 2, axis=2)
    x = np.repeat(x[..., None], 3, axis=-1).astype("float32")
    y, half = labels[keep] - 5, int(keep.sum()) // 2
    return bit.TransferData((x[:0], y[:0]), (x[:half], y[:half]), (x[half:], y[half:]),
                            (0, 1, 2, 3, 4), (5, 6, 7, 8, 9))


def test_scratch_baseline_gets_its_own_recipe_and_leaves_chance():
    """The lesson's from-scratch curve sat at chance (0.2) with the pre-trained recipe. Here
    the sweep must pick the learning rate that learns, and fewshot_curve must train scratch
    with it: chance is 0.2, and the pre-trained side's 2 steps alone could not get there."""
    data, arch = clean_digit_task(), dict(units=(1,), base_width=8, groups=4)
    tuned = bit.tune_scratch(data, **arch, lrs=(0.001, 0.1), budgets=(120,), batch_size=32,
                             progress=False)
    assert (tuned["base_lr"], tuned["steps"]) == (0.1, 120), tuned["scores"]
    assert tuned["scores"][0.1, 120] > 0.5 and tuned["validation"] >= 100
    backbone = bit.to_npz_dict(bit.ResNetV2(units=(1,), base_width=8, groups=4,
                                            input_shape=(16, 16, 3)))
    curve = bit.fewshot_curve(data, backbone, **arch, steps=2, base_lr=0.001, batch_size=32,
                              shots=(0,), repeats=1, scratch_steps=tuned["steps"],
                              scratch_lr=tuned["base_lr"], progress=False)
    assert curve["scratch"][0] > 0.5, curve
    assert curve["pretrained"][0] < 0.4, curve  # 2 steps at a tiny rate: near chance
