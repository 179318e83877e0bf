"""Benchmark: the gesture models' runtimes, XNNPACK, flash and arena (lessons 08-09).

    python tests/benchmarks/bench_tinyml.py [--quick]

For the reference MobileNetV1-0.25 (96x96x1) and the small configuration (untrained: latency,
flash and arena do not depend on the weights' values):
1. int8 latency per inference, median over runs: LiteRT (1 thread) against TensorFlow Lite
   Micro's Python interpreter (the baseline, same run: TFLM's portable kernels), and the ratio;
2. float LiteRT latency with the default XNNPACK delegate against
   ``BUILTIN_WITHOUT_DEFAULT_DELEGATES`` (the baseline), 1 and 2 threads, and the speedup
   (the XNNPACK post: 2.3x on average);
3. flash (int8 flatbuffer bytes) and the smallest TFLM arena (bisection in subprocesses).
Prints a table and writes build/bench/bench_tinyml.json. The machine is shared: timings are
noisy; read the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from frontier import tinyml  # noqa: E402
from frontier.data.synthetic import gestures  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "build" / "bench" / "bench_tinyml.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer timed runs, coarser arena")
    args = parser.parse_args()
    runs, resolution = (10, 4096) if args.quick else (50, 512)
    keras.utils.set_random_seed(0)
    frames = gestures(64, seed=0)["images"]
    results = []
    for name, blocks in [("MobileNetV1-0.25", tinyml.MOBILENET_BLOCKS),
                         ("small (7 blocks)", tinyml.SMALL_BLOCKS)]:
        model = tinyml.mobilenet_v1(blocks=blocks)
        tinyml.randomize_biases(model, seed=0)
        int8 = tinyml.quantize_int8(model, frames)
        flat = tinyml.float_tflite(model)
        litert_s = tinyml.interpreter_latency(tinyml.litert_interpreter(int8), runs)
        from tflite_micro import runtime

        tflm_s = tinyml.interpreter_latency(runtime.Interpreter.from_bytes(int8), runs)
        xnnpack = tinyml.xnnpack_latency(flat, runs=runs, threads=(1, 2))
        arena = tinyml.smallest_arena(int8, resolution=resolution)
        row = {"model": name, "macs": tinyml.count_macs(model), "flash_bytes": len(int8),
               "float_bytes": len(flat), "arena_bytes": arena["arena_bytes"],
               "litert_int8_ms": 1e3 * litert_s, "tflm_int8_ms": 1e3 * tflm_s,
               "tflm_over_litert": tflm_s / litert_s, "xnnpack": xnnpack}
        results.append(row)
        print(f"\n{name}: {row['macs'] / 1e6:.2f} M MACs, flash {len(int8):,} B (float "
              f"{len(flat):,} B), smallest arena {arena['arena_bytes']:,} B "
              f"(fails at {arena['failed_bytes']:,} B, {arena['tries']} tries)")
        print(f"  int8 per inference: LiteRT {1e3 * litert_s:7.2f} ms | TFLM "
              f"{1e3 * tflm_s:7.2f} ms -> TFLM is {tflm_s / litert_s:.1f}x LiteRT's time")
        for r in xnnpack:
            print(f"  float, {r['threads']} thread(s): XNNPACK {1e3 * r['xnnpack_s']:7.2f} ms | "
                  f"builtin kernels {1e3 * r['builtin_s']:7.2f} ms -> {r['speedup']:.2f}x "
                  f"(post: 2.3x)")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"runs": runs, "models": results}, indent=2))
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
