"""frontier.video (lessons 04-05): frame sampling, decode errors, pipelines, layers, streaming."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from frontier import video
from frontier.data.synthetic.videos import MOTIONS, render_clip, videos, write_avi

SIZE = 32  # pixels of the test clips


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """A small UCF101-style tree: 3 classes x (3, 1, 1) clips of 12-16 frames."""
    root = tmp_path_factory.mktemp("videos")
    return videos(root, classes=("right", "clockwise", "left"), clips_per_class=(3, 1, 1),
                  size=SIZE, frames=(12, 16), seed=1)


def _clip_file(tmp_path, n_frames, name="clip.avi"):
    frames = render_clip("up", np.random.default_rng(3), size=SIZE, n_frames=n_frames)
    return write_avi(tmp_path / name, frames), frames


def test_frames_shape_dtype_range(clips):
    path = sorted(clips["train"].glob("*/*.avi"))[0]
    out = video.frames_from_video_file(path, 4, output_size=(24, 20), frame_step=2, rng=0)
    assert out.shape == (4, 24, 20, 3) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1 and out.max() > 0.2


def test_frames_are_rgb_and_seeded(tmp_path):
    path, frames = _clip_file(tmp_path, 10)
    out = video.frames_from_video_file(path, 10, output_size=(SIZE, SIZE), frame_step=1, rng=0)
    bgr = frames.astype(np.float32) / 255
    assert np.abs(out - bgr[..., ::-1]).mean() < 0.03  # MJPG is lossy; channels reversed
    assert np.abs(out - bgr).mean() > np.abs(out - bgr[..., ::-1]).mean() + 0.01
    a = video.frames_from_video_file(path, 3, output_size=(16, 16), frame_step=2, rng=5)
    b = video.frames_from_video_file(path, 3, output_size=(16, 16), frame_step=2, rng=5)
    np.testing.assert_array_equal(a, b)


def test_clip_start_never_runs_past_the_clip():
    rng = np.random.default_rng(0)
    for n_available in range(1, 40):
        need = 1 + 3 * 4
        starts = {video.clip_start(n_available, 4, 4, rng) for _ in range(200)}
        if need > n_available:
            assert starts == {0}
        else:
            assert max(starts) == n_available - need  # the latest start that still fits
            assert min(starts) == 0


def test_a_clip_of_exactly_the_needed_length_never_gives_a_zero_frame(tmp_path):
    path, _ = _clip_file(tmp_path, 1 + 3 * 3)  # 4 frames, step 3: exactly 10 frames
    for seed in range(20):
        out = video.frames_from_video_file(path, 4, (16, 16), frame_step=3, rng=seed)
        assert (out.reshape(4, -1).max(1) > 0).all(), f"an all-zero frame with seed {seed}"


def test_short_clips_are_padded_with_zero_frames(tmp_path):
    path, _ = _clip_file(tmp_path, 5)
    out = video.frames_from_video_file(path, 4, (16, 16), frame_step=2, rng=0)
    peaks = out.reshape(4, -1).max(1)
    assert (peaks[:3] > 0).all() and peaks[3] == 0  # frames 0, 2, 4, then past the end


def test_resize_with_pad_matches_tensorflow():
    frame = np.random.default_rng(0).uniform(0, 1, (30, 48, 3)).astype(np.float32)
    ours = video.resize_with_pad(frame, 20, 20)
    theirs = tf.image.resize_with_pad(frame, 20, 20).numpy()
    assert ours.shape == theirs.shape == (20, 20, 3)
    np.testing.assert_array_equal(ours == 0, theirs == 0)  # the same padding rows
    assert np.abs(ours - theirs).max() < 0.15 and np.abs(ours - theirs).mean() < 0.02


@pytest.mark.parametrize("damage", ["missing", "empty", "truncated", "header", "frames"])
def test_damaged_files_raise_video_decode_error_naming_them(tmp_path, damage):
    path, _ = _clip_file(tmp_path, 12, name=f"{damage}_clip.avi")
    data = path.read_bytes()
    if damage == "missing":
        path.unlink()
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "header":  # the AVI header's bytes overwritten
        path.write_bytes(bytes(b ^ 0xA5 for b in data[:256]) + data[256:])
    else:  # the middle third of the frame data overwritten
        third = len(data) // 3
        path.write_bytes(data[:third] + bytes(third) + data[2 * third:])
    with pytest.raises(video.VideoDecodeError, match=f"{damage}_clip.avi") as err:
        video.frames_from_video_file(path, 12, (16, 16), frame_step=1, rng=0)
    assert f"frame {err.value.frame} of" in str(err.value)


def test_frame_generator_labels_from_sorted_folders(clips):
    gen = video.FrameGenerator(clips["train"], 4, output_size=(16, 16), frame_step=2)
    assert gen.class_names == ["clockwise", "left", "right"]
    pairs = list(gen())
    assert len(pairs) == 9
    for (clip, label), path in zip(pairs, gen.files, strict=True):
        assert clip.shape == (4, 16, 16, 3)
        assert gen.class_names[label] == path.parent.name


def test_frame_generator_shuffles_only_when_training(clips):
    evaluation = video.FrameGenerator(clips["train"], 2, output_size=(8, 8))
    assert [p for p, *_ in evaluation.plan()] == [p for p, *_ in evaluation.plan()]
    training = video.FrameGenerator(clips["train"], 2, True, output_size=(8, 8))
    orders = [[p for p, *_ in training.plan()] for _ in range(4)]
    assert any(order != evaluation.files for order in orders)
    assert all(sorted(order) == evaluation.files for order in orders)


def test_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no clips in"):
        video.FrameGenerator(tmp_path, 4)


@pytest.mark.parametrize("training", [False, True])
def test_generator_and_parallel_pipelines_yield_the_same_clips(clips, training):
    kwargs = dict(batch_size=4, training=training, seed=7, output_size=(16, 16), frame_step=2)
    slow = video.dataset(clips["train"], 5, parallel=False, **kwargs)
    fast = video.dataset(clips["train"], 5, parallel=True, workers=3, **kwargs)
    for _ in range(2):  # two epochs: each has its own shuffle and starts
        a, b = list(slow.as_numpy_iterator()), list(fast.as_numpy_iterator())
        assert [len(x) for x, _ in a] == [len(x) for x, _ in b] == [4, 4, 1]
        for (xa, ya), (xb, yb) in zip(a, b, strict=True):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)
            assert xa.dtype == np.float32 and ya.dtype == np.int16


def test_resize_video_equals_per_frame_resize():
    clip = tf.random.uniform((2, 3, 12, 10, 4), seed=0)
    out = video.ResizeVideo(6, 5)(clip)
    expected = tf.stack([tf.image.resize(clip[:, t], (6, 5)) for t in range(3)], 1)
    assert out.shape == (2, 3, 6, 5, 4)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-6)


def test_resize_video_in_a_functional_model_with_symbolic_shapes():
    import keras

    inputs = keras.Input((None, 12, 10, 3))  # unknown batch and number of frames
    model = keras.Model(inputs, video.ResizeVideo(6, 5)(inputs))
    assert model.output_shape == (None, None, 6, 5, 3)
    assert model(np.zeros((2, 7, 12, 10, 3), np.float32)).shape == (2, 7, 6, 5, 3)


def test_parameter_counts():
    tutorial = video.resnet_2plus1d(10, 224, 10)
    assert tutorial.count_params() == 443_322  # the tutorial's network (~443 k)
    conv = tutorial.layers[0]
    assert conv.count_params() == video.conv_params(3, 16, (3, 7, 7))
    full = video.resnet_2plus1d(10, 224, 10, conv="3d")
    assert full.layers[0].count_params() == video.conv_params(3, 16, (3, 7, 7), "3d")
    assert full.count_params() > 2 * tutorial.count_params()
    with pytest.raises(ValueError, match="unknown conv"):
        video.conv_params(3, 16, (3, 3, 3), "4d")


def test_single_frame_baseline_has_no_temporal_mixing():
    model = video.resnet_2plus1d(4, 16, 3, (4, 8), kernel_time=1)
    clip = np.random.default_rng(0).uniform(size=(1, 4, 16, 16, 3)).astype(np.float32)
    shuffled = clip[:, [2, 0, 3, 1]]
    np.testing.assert_allclose(model(clip, training=False), model(shuffled, training=False),
                               atol=1e-5)


def test_streaming_equals_clip_mode_of_the_causal_model():
    model = video.resnet_2plus1d(6, 16, 3, (4, 8), causal=True)
    clip = np.random.default_rng(0).uniform(size=(2, 6, 16, 16, 3)).astype(np.float32)
    streamed = video.stream(model, clip)
    assert streamed.shape == (2, 6, 3)
    np.testing.assert_allclose(streamed, video.prefix_logits(model, clip), atol=1e-4)
    np.testing.assert_allclose(streamed[:, -1], model(clip, training=False), atol=1e-4)
    # causal: a change in the last frame leaves every earlier output alone
    changed = clip.copy()
    changed[:, -1] = 0
    np.testing.assert_allclose(video.stream(model, changed)[:, :-1], streamed[:, :-1], atol=1e-5)


def test_stream_refuses_a_non_causal_model():
    with pytest.raises(ValueError, match="not causal"):
        video.stream(video.resnet_2plus1d(4, 16, 3, (4,)), np.zeros((1, 4, 16, 16, 3)))


def test_simulated_videos_layout_and_cache(clips):
    for split, n in [("train", 3), ("val", 1), ("test", 1)]:
        folders = sorted(p.name for p in clips[split].iterdir())
        assert folders == ["clockwise", "left", "right"]
        assert all(len(list((clips[split] / f).glob("*.avi"))) == n for f in folders)
    stamp = clips["train"] / "right" / "right_000.avi"
    before = stamp.stat().st_mtime_ns
    videos(clips["train"].parent, classes=("right", "clockwise", "left"),
           clips_per_class=(3, 1, 1), size=SIZE, frames=(12, 16), seed=1)
    assert stamp.stat().st_mtime_ns == before  # kept, not rewritten
    with pytest.raises(ValueError, match="unknown motion"):
        videos(clips["train"].parent, classes=("sideways",))


def test_a_simulated_clip_played_backwards_is_the_opposite_motion():
    # with the same random draws, "left" played backwards is exactly "right" (and clockwise is
    # anticlockwise): every frame of one class is a frame of the other, so no frame tells them
    assert set(MOTIONS) >= {"left", "right", "clockwise", "anticlockwise"}
    for a, b in [("left", "right"), ("clockwise", "anticlockwise"), ("up", "down")]:
        one = render_clip(a, np.random.default_rng(5), n_frames=9, noisy=False)
        other = render_clip(b, np.random.default_rng(5), n_frames=9, noisy=False)
        np.testing.assert_array_equal(one, other[::-1])
        assert np.abs(one[0].astype(int) - one[-1]).mean() > 1  # and it does move
