"""frontier.tinyml and the gesture simulator (lessons 08-09)."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from frontier import tinyml
from frontier.data.synthetic import gestures

# a 32x32 MobileNetV1 with the first four blocks trains in seconds and exercises every op
SIZE, BLOCKS = 48, tinyml.MOBILENET_BLOCKS[:4]
# (Flatten of the pooled 1x1 map disappears: FULLY_CONNECTED takes it as it is, batch 1)
EXPECTED_OPS = ["AVERAGE_POOL_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"]


@pytest.fixture(scope="module")
def trained() -> dict:
    """A small gesture model trained on simulated frames, its int8 flatbuffer, held-out data."""
    import keras

    keras.utils.set_random_seed(0)
    train = gestures(1200, seed=0, size=SIZE)
    test = gestures(400, seed=1, size=SIZE)
    model = tinyml.mobilenet_v1((SIZE, SIZE, 1), blocks=BLOCKS)
    tinyml.train(model, train["images"], train["labels"], epochs=6, batch_size=64,
                 learning_rate=5e-3)
    return {"model": model, "int8": tinyml.quantize_int8(model, train["images"][:100]),
            "x": test["images"], "y": test["labels"]}


# -- the simulator -------------------------------------------------------------------------------
def test_gestures_shapes_ranges_and_seed():
    a = gestures(50, seed=3)
    assert a["images"].shape == (50, 96, 96, 1) and a["images"].dtype == np.float32
    assert 0 <= a["images"].min() and a["images"].max() <= 1
    assert set(a["labels"]) <= set(range(5)) and len(set(a["labels"])) == 5
    assert not a["partial"][a["labels"] != 0].any()
    b = gestures(50, seed=3)
    np.testing.assert_array_equal(a["images"], b["images"])
    assert not np.array_equal(a["images"], gestures(50, seed=4)["images"])
    forced = gestures(6, seed=0, classes=[4, 4, 3, 0, 1, 2])
    np.testing.assert_array_equal(forced["labels"], [4, 4, 3, 0, 1, 2])
    with pytest.raises(ValueError, match="classes"):
        gestures(2, seed=0, classes=[0, 7])


def test_a_hand_changes_the_frame_and_an_empty_frame_has_none():
    # the same seed draws the same background; a hand frame differs from it where the hand is
    data = gestures(200, seed=5)
    empty = data["labels"] == 0
    hand = ~empty | data["partial"]
    # frames with a hand have bright, compact structure: more pixels far from the frame median
    spread = np.mean(np.abs(data["images"] - np.median(data["images"], axis=(1, 2),
                                                       keepdims=True)) > 0.2, axis=(1, 2, 3))
    assert spread[~hand].mean() < spread[hand].mean()


# -- the model and its cost ----------------------------------------------------------------------
def test_mobilenet_is_firmware_friendly_and_macs_match_mlperf_tiny():
    import keras

    model = tinyml.mobilenet_v1()
    kinds = {type(layer).__name__ for layer in model.layers}
    assert "ZeroPadding2D" not in kinds and "GlobalAveragePooling2D" not in kinds
    assert {"AveragePooling2D", "Flatten", "Dropout"} <= kinds
    assert all(layer.padding == "same" for layer in model.layers
               if isinstance(layer, keras.layers.Conv2D))
    assert model.output_shape == (None, 5)
    # MLPerf Tiny's visual wake words model (96x96x3, 2 classes): 7.49 M MACs
    vww = tinyml.mobilenet_v1((96, 96, 3), classes=2)
    assert tinyml.count_macs(vww) == pytest.approx(7.49e6, rel=1e-3)
    # greyscale input: only the first convolution changes, by 2/3 of its 497,664 MACs
    assert tinyml.count_macs(vww) - tinyml.count_macs(tinyml.mobilenet_v1(classes=2)) == 331_776
    with pytest.raises(ValueError, match="alpha"):
        tinyml.mobilenet_v1(alpha=0)


def test_latency_estimate_reproduces_its_anchors():
    # the cycles-per-MAC figures are derived from the published times: they must give them back
    ref = tinyml.CYCLES_PER_MAC["reference kernels (Cortex-M4)"]
    opt = tinyml.CYCLES_PER_MAC["optimised kernels (Cortex-M7)"]
    assert tinyml.estimate_latency(7.49e6, 120e6, ref)["seconds"] == pytest.approx(0.6)
    assert tinyml.estimate_latency(7.49e6, 280e6, opt)["fps"] == pytest.approx(20.0)
    assert 1.5 < opt < 2.5 and 9 < ref < 10


def test_budget_against_boards():
    rows = tinyml.budget(arena_bytes=300 << 10, flash_bytes=312_096)
    fits = {r["board"]: r["fits"] for r in rows}
    assert fits["OpenMV H7 (Cortex-M7, 480 MHz)"] and not fits["Cortex-M4 board (80 MHz)"]


# -- conversion, runtimes ------------------------------------------------------------------------
def test_int8_affine_mapping():
    x = np.linspace(0, 1, 256)
    q = tinyml.quantize(x, 1 / 255, -128)
    assert q.dtype == np.int8 and q.min() == -128 and q.max() == 127
    assert np.abs(tinyml.dequantize(q, 1 / 255, -128) - x).max() <= 0.5 / 255 + 1e-7
    assert tinyml.quantize([5.0], 1 / 255, -128)[0] == 127  # clipped


def test_int8_keeps_accuracy_and_tflm_agrees_with_litert(trained):
    x, y = trained["x"], trained["y"]
    acc_float = tinyml.accuracy(trained["model"].predict(x, verbose=0), y)
    litert = tinyml.litert_predict(trained["int8"], x)
    tflm = tinyml.tflm_predict(trained["int8"], x)
    assert acc_float > 0.35, "the fixture model did not learn: the comparison would be empty"
    print(f"fixture model: float {acc_float:.3f}, int8 {tinyml.accuracy(litert, y):.3f}, "
          f"TFLM-LiteRT agreement {tinyml.agreement(litert, tflm):.3f}")
    assert abs(tinyml.accuracy(litert, y) - acc_float) <= 0.02
    assert tinyml.agreement(litert, tflm) >= 0.98
    assert np.allclose(litert.sum(1), 1, atol=0.05)  # dequantised softmax


def test_op_resolver_lists_exactly_the_models_ops(trained):
    resolver = tinyml.micro_op_resolver(trained["int8"])
    # LiteRT's own reading of the graph (without XNNPACK, which would fold ops into DELEGATE)
    interpreter = tinyml.litert_interpreter(trained["int8"], xnnpack=False)
    from_litert = sorted({op["op_name"] for op in interpreter._get_ops_details()})
    assert resolver["ops"] == from_litert == EXPECTED_OPS
    lines = resolver["snippet"].splitlines()
    assert lines[0] == f"tflite::MicroMutableOpResolver<{len(EXPECTED_OPS)}> resolver;"
    assert lines[1:] == [f"resolver.{m}();" for m in
                         ["AddAveragePool2D", "AddConv2D", "AddDepthwiseConv2D",
                          "AddFullyConnected", "AddSoftmax"]]


def test_edge_tpu_split_keeps_dequantize_and_postprocessing_on_the_mcu():
    detector = ["QUANTIZE", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "RESHAPE",
                "CONCATENATION", "LOGISTIC", "DEQUANTIZE", "TFLITE_DETECTION_POSTPROCESS"]
    split = tinyml.edge_tpu_split(detector)
    assert split["edge_tpu"] == detector[:7]
    assert split["mcu"] == ["edgetpu-custom-op", "DEQUANTIZE", "TFLITE_DETECTION_POSTPROCESS"]
    assert tinyml.edge_tpu_split(["CONV_2D", "SOFTMAX"])["mcu"] == ["edgetpu-custom-op"]
    assert tinyml.resolver_method("TFLITE_DETECTION_POSTPROCESS") == "AddDetectionPostprocess"
    assert tinyml.resolver_method("L2_NORMALIZATION") == "AddL2Normalization"


def test_arena_search_finds_the_boundary_in_subprocesses(trained):
    model = trained["int8"]
    found = tinyml.smallest_arena(model, resolution=4096)
    assert found["flash_bytes"] == len(model)
    assert 0 < found["arena_bytes"] - found["failed_bytes"] <= 4096
    assert tinyml.arena_works(model, found["arena_bytes"])
    assert not tinyml.arena_works(model, found["failed_bytes"])
    assert not tinyml.arena_works(model, 64)  # far too small: the child fails, we do not
    # the arena found runs real frames and gives the default arena's answers
    small = tinyml.tflm_predict(model, trained["x"][:20], arena_size=found["arena_bytes"])
    np.testing.assert_array_equal(small, tinyml.tflm_predict(model, trained["x"][:20]))


def test_c_array_round_trips(tmp_path, trained):
    model = trained["int8"]
    cc, h = tinyml.to_c_array(model, "gesture_model", tmp_path)
    assert tinyml.read_c_array(cc) == model
    assert "extern const unsigned char gesture_model[];" in h.read_text()
    assert "alignas(16)" in cc.read_text()
    with pytest.raises(ValueError, match="C identifier"):
        tinyml.to_c_array(model, "gesture-model", tmp_path)
    if shutil.which("g++") is None:
        pytest.skip("no g++ to compile the array")
    main = tmp_path / "main.cc"
    main.write_text('#include <cstdio>\n#include <cstdint>\n#include "gesture_model.h"\n'
                    "int main() {\n  if (reinterpret_cast<std::uintptr_t>(gesture_model) % 16)"
                    " return 2;\n  fwrite(gesture_model, 1, gesture_model_len, stdout);\n}\n")
    subprocess.run(["g++", "-std=c++17", "-o", tmp_path / "dump", main, cc, "-I", tmp_path],
                   check=True)
    assert subprocess.run([tmp_path / "dump"], capture_output=True, check=True).stdout == model


def test_xnnpack_on_and_off_give_the_same_answers(trained):
    flat = tinyml.float_tflite(trained["model"])
    x = trained["x"][:10]
    on = tinyml.litert_predict(flat, x, xnnpack=True)
    off = tinyml.litert_predict(flat, x, xnnpack=False, num_threads=2)
    np.testing.assert_allclose(on, off, atol=1e-4)
    np.testing.assert_allclose(on, trained["model"].predict(x, verbose=0), atol=1e-4)
    rows = tinyml.xnnpack_latency(flat, runs=3, threads=(1, 2))
    assert [r["threads"] for r in rows] == [1, 2]
    assert all(r["xnnpack_s"] > 0 and r["builtin_s"] > 0 for r in rows)


# -- the decoder ---------------------------------------------------------------------------------
NONE, UP, DOWN, THUMBS_UP, FIST = np.eye(5)


def frames(*parts: tuple[np.ndarray, int]) -> np.ndarray:
    return np.concatenate([np.repeat(p[None], n, axis=0) for p, n in parts])


def typed(stream: np.ndarray, **kwargs) -> list[tuple[int, str]]:
    out = tinyml.GestureDecoder(**kwargs).run(stream)
    return [(i, e) for i, e in enumerate(out) if e is not None]


def test_decoder_types_once_per_onset_at_the_smoothing_threshold():
    # alpha 0.2 from "no gesture": 1 - 0.8^k >= 0.8 first at k = 8, the 8th gesture frame
    assert typed(frames((NONE, 5), (THUMBS_UP, 10))) == [(12, "\N{THUMBS UP SIGN}")]


def test_decoder_long_hold_types_once():
    assert len(typed(frames((FIST, 300)))) == 1


def test_decoder_ignores_flicker():
    stream = frames((NONE, 5), (THUMBS_UP, 1), (NONE, 3), (THUMBS_UP, 2), (NONE, 3),
                    (DOWN, 3), (NONE, 10))
    assert typed(stream) == []


def test_decoder_ignores_low_confidence_and_ties():
    low = np.array([0.1, 0.45, 0.15, 0.15, 0.15])  # top class below min_activation
    tie = np.array([0.0, 0.48, 0.0, 0.52, 0.0])  # margin 0.04 below min_margin
    assert typed(frames((low, 50))) == [] and typed(frames((tie, 50))) == []
    # without the filters, the same frames would type: the filters are doing the work
    assert typed(frames((tie, 50)), min_margin=0.0, threshold=0.5) != []


def test_decoder_rearms_only_after_no_gesture():
    again = frames((THUMBS_UP, 20), (NONE, 20), (THUMBS_UP, 20))
    assert [e for _, e in typed(again)] == ["\N{THUMBS UP SIGN}"] * 2
    # a brief gap does not re-arm, and switching gesture without letting go types nothing
    assert len(typed(frames((THUMBS_UP, 20), (NONE, 2), (THUMBS_UP, 20)))) == 1
    assert len(typed(frames((THUMBS_UP, 20), (FIST, 30)))) == 1
    decoder = tinyml.GestureDecoder()
    decoder.run(frames((UP, 20)))
    decoder.reset()
    assert [e for e in decoder.run(frames((UP, 20))) if e] == ["\N{RAISED HAND}"]


def test_decoder_keystrokes_and_bad_input():
    assert tinyml.GestureDecoder.keystrokes("\N{THUMBS UP SIGN}") == ["U+1F44D"]
    assert tinyml.GestureDecoder.keystrokes(tinyml.EMOJI[4]) == ["U+270A"]
    with pytest.raises(ValueError, match="5 class probabilities"):
        tinyml.GestureDecoder().update(np.ones(3) / 3)
    with pytest.raises(ValueError, match="alpha"):
        tinyml.GestureDecoder(alpha=0)


def test_confusion_and_gesture_stream():
    probs = np.eye(5)[[0, 1, 1, 3]]
    matrix = tinyml.confusion(probs, np.array([0, 1, 2, 3]))
    assert matrix.sum() == 4 and matrix[2, 1] == 1 and np.trace(matrix) == 3
    frames, labels = tinyml.gesture_stream([0, 3, 0], [2, 3, 1], seed=0)
    assert frames.shape == (6, 96, 96, 1)
    np.testing.assert_array_equal(labels, [0, 0, 3, 3, 3, 0])
