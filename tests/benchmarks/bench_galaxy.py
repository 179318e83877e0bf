"""Benchmark: BALD scoring throughput and active-learning round time (lessons 02-03).

    python tests/benchmarks/bench_galaxy.py [--quick]

1. BALD for T = 30 dropout samples: ``frontier.galaxy.bald`` (vectorised numpy) against a
   straightforward loop over galaxies with scipy.stats.binom (the baseline, same run), in
   galaxies per second, and their ratio; both give the same scores (checked).
2. One active-learning acquisition round (``galaxy.acquisition_scores``: 30 MC-dropout passes
   over the pool, expected N, BALD; then top-k) for pools of 1k, 10k and 100k simulated
   galaxies (32 px, width 8 network); MC sampling with the trunk once against the whole model.
3. One round of lesson 03's training (``galaxy.train``, 250 steps, quick sizes), wall and CPU
   seconds, three rounds of the same model (the first traces the compiled step).
Prints a table and writes build/bench/bench_galaxy.json.
"""

from __future__ import annotations

import argparse
import os
import time

from _report import write_report  # tests/benchmarks/_report.py, beside this script

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from scipy.stats import binom  # noqa: E402

from frontier import galaxy  # noqa: E402
from frontier.data.synthetic import galaxies  # noqa: E402


def scipy_bald(rho_samples: np.ndarray, n: np.ndarray) -> np.ndarray:
    out = np.empty(rho_samples.shape[1])
    for j in range(rho_samples.shape[1]):
        k = np.arange(n[j] + 1)
        pmfs = np.array([binom.pmf(k, n[j], r) for r in rho_samples[:, j]])
        mix = pmfs.mean(0)
        h = -np.sum(mix[mix > 0] * np.log(mix[mix > 0]))
        hs = [-np.sum(p[p > 0] * np.log(p[p > 0])) for p in pmfs]
        out[j] = h - np.mean(hs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller pools and baselines")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n_gal, n_base = (20_000, 200) if args.quick else (100_000, 1000)
    rho = rng.uniform(0.01, 0.99, (30, n_gal))
    n = rng.integers(5, 41, n_gal)
    start = time.perf_counter()
    ours = galaxy.bald(rho, n)
    ours_rate = n_gal / (time.perf_counter() - start)
    start = time.perf_counter()
    base = scipy_bald(rho[:, :n_base], n[:n_base])
    base_rate = n_base / (time.perf_counter() - start)
    assert np.allclose(ours[:n_base], base, atol=1e-9)
    print(f"BALD, T=30: ours {ours_rate:,.0f} galaxies/s, scipy loop {base_rate:,.0f} "
          f"galaxies/s -> {ours_rate / base_rate:.0f}x")

    # an acquisition round as in galaxy.active_learning: rho and reach samples, N from reach
    model = galaxy.bayesian_cnn(32, width=8, predict_reach=True)
    rounds = []
    for pool in ([1000, 10_000] if args.quick else [1000, 10_000, 100_000]):
        data = galaxies(pool, seed=1, size=32)
        start = time.perf_counter()
        scores, _, _ = galaxy.acquisition_scores(model, data["images"], data["n_volunteers"],
                                                 data["shown_to"], mc_samples=30)
        np.argsort(-scores)[:100]
        seconds = time.perf_counter() - start
        rounds.append({"pool": pool, "round_seconds": seconds,
                       "per_1k_galaxies_s": 1000 * seconds / pool})
        print(f"acquisition round, pool {pool:>7,}: {seconds:7.2f} s "
              f"({1000 * seconds / pool:.3f} s per 1k galaxies)")
    # MC sampling: the trunk once and the head T times vs the whole network T times
    images = galaxies(1000, seed=2, size=32)["images"]
    timings = {}
    for name, reuse_trunk in [("trunk once", True), ("whole model", False)]:
        start = time.perf_counter()
        galaxy.posterior_samples(model, images, 30, reuse_trunk=reuse_trunk)
        timings[name] = time.perf_counter() - start
    print(f"30 MC samples of 1,000 galaxies: trunk once {timings['trunk once']:.2f} s, whole "
          f"model {timings['whole model']:.2f} s -> "
          f"{timings['whole model'] / timings['trunk once']:.1f}x")
    # one round of lesson 03's training (quick sizes): 250 steps of 64 galaxies, 32 px, width 16
    data = galaxies(500, seed=3, size=32)
    model = galaxy.compiled_cnn(32, width=16, predict_reach=True)
    training = []
    for _ in range(3):  # the first round also traces the compiled step
        start, cpu = time.perf_counter(), time.process_time()
        galaxy.train(model, data["images"], data["votes"], data["n_volunteers"], steps=250,
                     shown_to=data["shown_to"])
        training.append({"wall_s": time.perf_counter() - start,
                         "cpu_s": time.process_time() - cpu})
    print("training round, 250 steps: " + ", ".join(
        f"{t['wall_s']:.1f} s wall / {t['cpu_s']:.1f} s CPU" for t in training))
    write_report("bench_galaxy", {"bald_galaxies_per_s": ours_rate,
                                  "scipy_loop_galaxies_per_s": base_rate,
                                  "speedup": ours_rate / base_rate, "rounds": rounds,
                                  "mc_sampling_seconds": timings, "training_rounds": training})


if __name__ == "__main__":
    main()
