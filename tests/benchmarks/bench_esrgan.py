"""Benchmark: ESRGAN generator training on CPU, default vs XLA (``jit_compile=True``), lesson 06.

    python tests/benchmarks/bench_esrgan.py [--quick] [--paper] [--phase 2] [--steps 20]

Each configuration runs in its own process (so its peak memory is its own): build the
generator at the ``quick`` profile's sizes (``--paper``: the paper's trunk 11 / 32 filters /
growth 32), take ``--warmup`` steps (tracing, XLA compilation), then time ``--steps`` training
steps of ``frontier.esrgan.phase1`` (``--phase 2``: the GAN step with the discriminator and
the stand-in perceptual features) on random HR patches and their bicubic LR. The baseline is
the default (no XLA) step, measured in the same run. Prints a table (steps/s, HR patches/s,
first-step time, CPU seconds, peak resident memory) and the XLA/default ratios, and writes
``build/bench/bench_esrgan.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_one(jit: bool, phase: int, paper: bool, batch: int, patch: int, steps: int,
            warmup: int) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np

    from frontier import esrgan, profiles

    P = profiles.profile("quick", "esrgan")
    sizes = (11, 32, 32) if paper else (P.trunk_size, P.filters, P.growth)
    keras.utils.set_random_seed(0)
    g = esrgan.generator(*sizes)
    if phase == 1:
        trainer = esrgan.phase1(g, steps=10**6, jit_compile=jit)
    else:
        trainer = esrgan.phase2(g, esrgan.discriminator(patch, P.d_filters),
                                esrgan.stand_in_extractor(), steps=10**6, jit_compile=jit)
    hr = np.random.default_rng(0).uniform(0, 1, (batch, patch, patch, 3)).astype("float32")
    batch_data = (esrgan.downscale(hr), hr)
    t0 = time.perf_counter()
    trainer.step(batch_data)
    first = time.perf_counter() - t0
    for _ in range(warmup - 1):
        trainer.step(batch_data)
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = trainer.step(batch_data)["loss"]
    elapsed = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage.ru_utime - usage0.ru_utime) + (usage.ru_stime - usage0.ru_stime)
    return {"jit_compile": jit, "phase": phase, "generator": dict(zip(
        ("trunk_size", "filters", "growth"), sizes, strict=True)), "params": g.count_params(),
        "batch": batch, "hr_patch": patch, "steps": steps, "steps_per_s": steps / elapsed,
        "patches_per_s": batch * steps / elapsed, "first_step_s": first,
        "cpu_s_per_step": cpu / steps, "peak_rss_mb": usage.ru_maxrss / 1024,
        "final_loss": loss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="batch 4, 3 timed steps")
    parser.add_argument("--paper", action="store_true",
                        help="the paper's generator (trunk 11, 32 filters, growth 32)")
    parser.add_argument("--phase", type=int, choices=(1, 2), default=1)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=48, help="HR patch size (pixels)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--child", choices=["default", "jit"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.batch, args.steps, args.warmup = 4, 3, 2
    if args.phase == 2 and args.patch % 16:
        parser.error(f"--phase 2 needs --patch divisible by 16 (the discriminator), not "
                     f"{args.patch}")
    if args.child:
        print(json.dumps(run_one(args.child == "jit", args.phase, args.paper, args.batch,
                                 args.patch, args.steps, args.warmup)))
        return
    results = {}
    for name in ("default", "jit"):
        cmd = [sys.executable, __file__, "--child", name, "--phase", str(args.phase),
               "--batch", str(args.batch), "--patch", str(args.patch), "--steps",
               str(args.steps), "--warmup", str(args.warmup)] + (["--paper"] if args.paper
                                                                 else [])
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            sys.exit(f"{name} run failed:\n{out.stderr[-3000:]}")
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    speed = results["jit"]["steps_per_s"] / results["default"]["steps_per_s"]
    memory = results["jit"]["peak_rss_mb"] / results["default"]["peak_rss_mb"]
    r0 = results["default"]
    print(f"ESRGAN phase-{args.phase} training on CPU ({os.cpu_count()} cores): generator "
          f"{r0['generator']} ({r0['params']:,} parameters), batch {args.batch} of "
          f"{args.patch} px HR patches, {args.steps} timed steps")
    print(f"{'config':<14}{'steps/s':>9}{'patches/s':>11}{'1st step s':>12}"
          f"{'CPU s/step':>12}{'peak MB':>10}")
    for name, r in results.items():
        label = "jit_compile" if name == "jit" else "default"
        print(f"{label:<14}{r['steps_per_s']:>9.2f}{r['patches_per_s']:>11.1f}"
              f"{r['first_step_s']:>12.1f}{r['cpu_s_per_step']:>12.2f}{r['peak_rss_mb']:>10.0f}")
    print(f"jit / default: steps/s {speed:.2f}x, peak memory {memory:.2f}x")
    out_dir = ROOT / "build" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"benchmark": f"esrgan_phase{args.phase}_train_cpu", "quick": args.quick,
              "paper_sizes": args.paper, "results": results, "jit_over_default": speed,
              "jit_over_default_peak_memory": memory, "machine": platform.machine(),
              "cpus": os.cpu_count(), "python": platform.python_version()}
    (out_dir / "bench_esrgan.json").write_text(json.dumps(report, indent=2))
    print(f"wrote {out_dir / 'bench_esrgan.json'}")


if __name__ == "__main__":
    main()
