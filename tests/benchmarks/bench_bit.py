"""Benchmark: BiT-M R50x1 fine-tuning throughput on CPU, default vs XLA (``jit_compile=True``).

    python tests/benchmarks/bench_bit.py [--quick] [--batch 8] [--steps 10] [--size 128]

Each configuration runs in its own process (so its peak memory is its own): build
``bit.ResNetV2(50, 1, num_classes=5)``, take ``--warmup`` training steps (tracing, XLA
compilation), then time ``--steps`` steps of ``frontier.train.Trainer`` with BiT's optimizer
on random images of ``--size`` pixels. Prints a table (images/s, seconds per step, first-step
time, peak resident memory) and the XLA/default ratio, and writes
``build/bench/bench_bit.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from _report import write_report  # tests/benchmarks/_report.py, beside this script

ROOT = Path(__file__).resolve().parents[2]


def run_one(jit: bool, batch: int, size: int, steps: int, warmup: int) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf

    from frontier import bit
    from frontier.train import Trainer

    keras.utils.set_random_seed(0)
    model = bit.ResNetV2(50, 1, num_classes=5)
    optimizer = keras.optimizers.SGD(bit.BiTSchedule((0, 10**6, 10**6, 10**6, 10**6), 0.003),
                                     momentum=0.9)
    trainer = Trainer(model, optimizer, bit.softmax_xent, jit_compile=jit)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(size=(batch, size, size, 3)).astype("float32"))
    y = tf.one_hot(rng.integers(0, 5, batch), 5)
    t0 = time.perf_counter()
    trainer.step((x, y))
    first = time.perf_counter() - t0
    for _ in range(warmup - 1):
        trainer.step((x, y))
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = trainer.step((x, y))["loss"]
    elapsed = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"jit_compile": jit, "batch": batch, "size": size, "steps": steps,
            "images_per_s": batch * steps / elapsed, "s_per_step": elapsed / steps,
            "first_step_s": first, "peak_rss_mb": peak_kb / 1024, "final_loss": loss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="batch 4, 3 timed steps")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--child", choices=["default", "jit"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.batch, args.steps, args.warmup = 4, 3, 2
    if args.child:
        print(json.dumps(run_one(args.child == "jit", args.batch, args.size, args.steps,
                                 args.warmup)))
        return
    results = {}
    for name in ("default", "jit"):
        cmd = [sys.executable, __file__, "--child", name, "--batch", str(args.batch),
               "--size", str(args.size), "--steps", str(args.steps), "--warmup",
               str(args.warmup)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            sys.exit(f"{name} run failed:\n{out.stderr[-3000:]}")
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    ratio = results["jit"]["images_per_s"] / results["default"]["images_per_s"]
    print(f"BiT-M R50x1 training on CPU ({os.cpu_count()} cores), {args.size} px, "
          f"batch {args.batch}, {args.steps} timed steps")
    print(f"{'config':<14}{'images/s':>10}{'s/step':>9}{'1st step s':>12}{'peak MB':>10}")
    for name, r in results.items():
        label = "jit_compile" if name == "jit" else "default"
        print(f"{label:<14}{r['images_per_s']:>10.2f}{r['s_per_step']:>9.2f}"
              f"{r['first_step_s']:>12.1f}{r['peak_rss_mb']:>10.0f}")
    print(f"jit / default throughput: {ratio:.2f}x")
    write_report("bench_bit", {"benchmark": "bit_r50x1_train_cpu", "quick": args.quick,
                               "results": results, "jit_over_default": ratio})


if __name__ == "__main__":
    main()
