"""Benchmark: video loading pipelines and (2+1)D vs 3D training steps (lessons 04-05).

    python tests/benchmarks/bench_video.py [--quick]

1. Loading: clips/s and peak RSS of three pipelines over the same clips (simulated MJPG clips of
   UCF101's frame size, 320 x 240, long enough for 10 frames 15 apart), each in its own process:
   - ``tutorial``: the tutorial's code as published (``FrameGenerator`` + ``from_generator``,
     one TensorFlow ``convert_image_dtype`` and ``resize_with_pad`` call per frame): the baseline;
   - ``generator``: ``frontier.video.dataset(parallel=False)`` (same structure, OpenCV resize);
   - ``parallel``: ``frontier.video.dataset(parallel=True)`` (clips decoded on threads).
   Peak RSS is the process's maximum resident set (``ru_maxrss``) after the epoch; ratios are
   against the tutorial's pipeline measured in the same run.
2. Models: parameters and mean training-step time of the tutorial's (2+1)D ResNet and the same
   network with full 3D convolutions (widths 16-128, 10 frames, batch 8).
Prints tables and writes build/bench/bench_video.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "build" / "bench" / "bench_video.json"
N_FRAMES, FRAME_STEP, BATCH = 10, 15, 8


# -- the tutorial's pipeline, as published (the baseline) --------------------------------------
def tutorial_format_frames(frame, output_size):
    import tensorflow as tf

    frame = tf.image.convert_image_dtype(frame, tf.float32)
    return tf.image.resize_with_pad(frame, *output_size)


def tutorial_frames_from_video_file(video_path, n_frames, output_size=(224, 224), frame_step=15):
    import cv2

    result = []
    src = cv2.VideoCapture(str(video_path))
    video_length = int(src.get(cv2.CAP_PROP_FRAME_COUNT))  # PR #2396: the count is a float
    need_length = 1 + (n_frames - 1) * frame_step
    if need_length > video_length:
        start = 0
    else:
        max_start = video_length - need_length
        start = random.randint(0, max_start + 1)
    src.set(cv2.CAP_PROP_POS_FRAMES, start)
    ret, frame = src.read()
    result.append(tutorial_format_frames(frame, output_size))
    for _ in range(n_frames - 1):
        for _ in range(frame_step):
            ret, frame = src.read()
        if ret:
            result.append(tutorial_format_frames(frame, output_size))
        else:
            result.append(np.zeros_like(result[0]))
    src.release()
    return np.array(result)[..., [2, 1, 0]]


class TutorialFrameGenerator:
    def __init__(self, path, n_frames, output_size, training=False):
        self.path, self.n_frames, self.training = Path(path), n_frames, training
        self.output_size = output_size
        self.class_names = sorted({p.name for p in self.path.iterdir() if p.is_dir()})
        self.class_ids_for_name = {name: i for i, name in enumerate(self.class_names)}

    def __call__(self):
        video_paths = list(self.path.glob("*/*.avi"))
        classes = [p.parent.name for p in video_paths]
        pairs = list(zip(video_paths, classes, strict=True))
        if self.training:
            random.shuffle(pairs)
        for path, name in pairs:
            frames = tutorial_frames_from_video_file(path, self.n_frames, self.output_size,
                                                     FRAME_STEP)
            yield frames, self.class_ids_for_name[name]


# -- one pipeline in its own process ------------------------------------------------------------
def run_pipeline(kind: str, root: str, size: int) -> dict:
    import tensorflow as tf

    from frontier import video

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if kind == "tutorial":
        gen = TutorialFrameGenerator(root, N_FRAMES, (size, size), training=True)
        data = tf.data.Dataset.from_generator(gen, output_signature=(
            tf.TensorSpec(shape=(None, None, None, 3), dtype=tf.float32),
            tf.TensorSpec(shape=(), dtype=tf.int16))).batch(BATCH)
    else:
        data = video.dataset(root, N_FRAMES, batch_size=BATCH, training=True,
                             parallel=kind == "parallel", output_size=(size, size),
                             frame_step=FRAME_STEP)
    cpu = time.process_time()
    rate, clips = video.clips_per_second(data)  # one epoch, the first batch not counted
    return {"pipeline": kind, "clips": clips, "seconds": clips / rate,
            "cpu_seconds": time.process_time() - cpu, "clips_per_s": rate,
            "rss_before_mb": rss_before,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def make_clips(root: Path, n_clips: int) -> None:
    from frontier.data.synthetic.videos import MOTIONS, render_clip, write_avi

    need = 1 + (N_FRAMES - 1) * FRAME_STEP
    for i in range(n_clips):
        rng = np.random.default_rng(i)
        motion = MOTIONS[i % len(MOTIONS)]
        frames = render_clip(motion, rng, size=240, n_frames=need + int(rng.integers(0, 40)))
        wide = np.concatenate([frames[:, :, :40], frames, frames[:, :, -40:]], 2)  # 320 x 240
        write_avi(root / motion / f"{motion}_{i:03d}.avi", wide)


def step_times(size: int, steps: int) -> list[dict]:
    import keras

    from frontier import video

    rows = []
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(BATCH, N_FRAMES, size, size, 3)).astype(np.float32)
    y = rng.integers(0, 10, BATCH)
    for conv in ("2plus1d", "3d"):
        keras.utils.set_random_seed(0)
        model = video.compile_classifier(video.resnet_2plus1d(N_FRAMES, size, 10, conv=conv))
        model.train_on_batch(x, y)  # trace and warm up
        start = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(x, y)
        rows.append({"conv": conv, "params": model.count_params(),
                     "step_seconds": (time.perf_counter() - start) / steps})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer clips, smaller model input")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "ROOT", "SIZE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_pipeline(args.child[0], args.child[1], int(args.child[2]))))
        return
    n_clips, model_size, steps = (24, 56, 2) if args.quick else (64, 112, 3)
    size = 112
    with tempfile.TemporaryDirectory() as tmp:
        make_clips(Path(tmp), n_clips)
        loading = []
        for kind in ("tutorial", "generator", "parallel"):
            out = subprocess.run([sys.executable, __file__, "--child", kind, tmp, str(size)],
                                 capture_output=True, text=True, check=True)
            loading.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = loading[0]
    print(f"Loading {n_clips} clips (320x240 MJPG), {N_FRAMES} frames {FRAME_STEP} apart, "
          f"{size} px, batch {BATCH}, {os.cpu_count()} CPUs")
    print(f"{'pipeline':<10} {'clips/s':>8} {'x tutorial':>10} {'cpu s':>7} "
          f"{'peak RSS MB':>12} {'x tutorial':>10}")
    for row in loading:
        row["speedup"] = row["clips_per_s"] / base["clips_per_s"]
        row["rss_ratio"] = row["peak_rss_mb"] / base["peak_rss_mb"]
        print(f"{row['pipeline']:<10} {row['clips_per_s']:8.1f} {row['speedup']:10.1f} "
              f"{row['cpu_seconds']:7.1f} {row['peak_rss_mb']:12.0f} {row['rss_ratio']:10.2f}")
    models = step_times(model_size, steps)
    print(f"\nTraining step, batch {BATCH} x {N_FRAMES} frames x {model_size} px, "
          f"widths 16-128")
    print(f"{'conv':<8} {'params':>9} {'s/step':>8}")
    for row in models:
        print(f"{row['conv']:<8} {row['params']:9,d} {row['step_seconds']:8.2f}")
    print(f"3D / (2+1)D: {models[1]['params'] / models[0]['params']:.2f}x parameters, "
          f"{models[1]['step_seconds'] / models[0]['step_seconds']:.2f}x step time")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"loading": loading, "models": models, "clips": n_clips,
                               "image_size": size, "model_image_size": model_size}, indent=2))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
