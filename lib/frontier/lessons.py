"""Run the course's notebooks with papermill and tabulate what they recorded (``make lessons``).

    python -m frontier.lessons                      # every lesson, quick profile
    python -m frontier.lessons --lessons "01 07"    # a subset, by number
    python -m frontier.lessons --profile smoke

Executed notebooks go to ``build/notebooks/`` (``build/notebooks-<profile>/`` for other
profiles); a summary with each lesson's recorded results, its wall time and the CPU time of its
kernel goes to ``summary.json`` beside them. Exit status 1 when any lesson failed.

Wall time depends on what else the machine is doing; CPU time (user + system seconds of the
kernel process and the processes it waited for) much less so, and the load average at the end of
each lesson says how busy the machine was: quote all three.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from frontier.profiles import DEFAULT_PROFILE, PROFILES, check_name

ROOT = Path(__file__).resolve().parents[2]

#: The fixed lesson order: (notebook stem, workload, what it teaches, paper key in references.bib).
COURSE: tuple[tuple[str, str, str, str], ...] = (
    ("00_start_here", "Start here", "the course, profiles, environment, exercises", ""),
    ("01_bit_transfer", "BigTransfer (BiT)",
     "GN+WS ResNet-v2, BiT-HyperRule, fine-tuning and few-shot transfer", "kolesnikov2020bit"),
    ("02_galaxy_bayesian_cnn", "Galaxy Zoo I",
     "binomial vote likelihood, MC-dropout posteriors, calibration", "walmsley2020galaxy"),
    ("03_galaxy_active_learning", "Galaxy Zoo II", "BALD active learning", "houlsby2011bald"),
    ("04_video_frames", "Video I",
     "memory-efficient frame loading, einops resizing", "tran2018closer"),
    ("05_video_2plus1d", "Video II", "a (2+1)D ResNet for action recognition", "tran2018closer"),
    ("06_esrgan", "ESRGAN",
     "RRDB generator, relativistic GAN, perceptual loss, PSNR/FID", "wang2018esrgan"),
    ("07_qnn_layerwise", "Quantum neural networks",
     "simulated circuits, barren plateaus, layerwise vs complete-depth training",
     "skolik2021layerwise"),
    ("08_tinyml_gesture", "TinyML I",
     "a gesture model on a microcontroller budget, int8 quantisation", "howard2017mobilenets"),
    ("09_tinyml_micro", "TinyML II",
     "TensorFlow Lite Micro: arena, ops, the gesture-to-emoji loop", "chowdhery2019vww"),
)


def course_map(notebooks: Path = ROOT / "notebooks") -> list[dict[str, str]]:
    """The lesson map in course order, each lesson marked ``ready`` or ``coming``."""
    present = {p.stem for p in notebooks.glob("*.ipynb")}
    return [{"notebook": stem, "workload": workload, "topics": topics, "paper": paper,
             "status": "ready" if stem in present else "coming"}
            for stem, workload, topics, paper in COURSE]


def discover(notebooks: Path = ROOT / "notebooks") -> list[Path]:
    """The lesson notebooks, in course order (by their number prefix).

    A notebook whose name is not in :data:`COURSE` is an error: the order is fixed.
    """
    paths = sorted(p for p in notebooks.glob("[0-9][0-9]_*.ipynb"))
    known = {stem for stem, *_ in COURSE}
    stray = [p.name for p in paths if p.stem not in known]
    if stray:
        raise SystemExit(f"notebooks not in the course map (frontier.lessons.COURSE): {stray}")
    return paths


def select(paths: list[Path], lessons: str | None) -> list[Path]:
    """Keep the notebooks whose number is in ``lessons`` ("01 07" or "01,07"; empty = all)."""
    wanted = [w.zfill(2) for w in (lessons or "").replace(",", " ").split()]
    if not wanted:
        return paths
    known = {p.name[:2] for p in paths}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise SystemExit(f"no lesson numbered {', '.join(unknown)}; lessons here: "
                         f"{', '.join(sorted(known))}")
    return [p for p in paths if p.name[:2] in wanted]


def output_dir(profile: str) -> Path:
    name = "notebooks" if profile == DEFAULT_PROFILE else f"notebooks-{profile}"
    return ROOT / "build" / name


def execute(notebook: Path, out: Path, profile: str, timeout: int | None = None) -> None:
    """Execute ``notebook`` with ``PROFILE = profile`` into ``out`` (raises on a failing cell)."""
    import papermill

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    out.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(str(notebook), str(out), parameters={"PROFILE": profile},
                               kernel_name="python3", cwd=str(notebook.parent),
                               execution_timeout=timeout, progress_bar=False,
                               log_output=False)


def children_cpu_seconds() -> float:
    """User + system CPU seconds of this process's children that have ended and been waited
    for (and of the processes they waited for), so far: a papermill kernel's CPU time is the
    difference across :func:`execute`, which waits for the kernel to end."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _short(value: Any, width: int = 70) -> str:
    text = json.dumps(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def run(paths: list[Path], profile: str, out_dir: Path | None = None) -> list[dict[str, Any]]:
    """Execute each notebook (into ``out_dir``, default :func:`output_dir`), print a table row
    as each ends; return the summary rows, also written to ``summary.json`` in ``out_dir``:
    status, ``wall_seconds``, ``cpu_seconds`` (the kernel's), ``load_average`` (1 minute, at
    the end) and the recorded results of each lesson."""
    from frontier import report

    rows = []
    out_dir = output_dir(profile) if out_dir is None else out_dir
    print(f"Running {len(paths)} lesson(s) in the {profile!r} profile -> {out_dir}", flush=True)
    for path in paths:
        out = out_dir / path.name
        start, cpu_start = time.monotonic(), children_cpu_seconds()
        try:
            execute(path, out, profile)
            status, error = "ok", ""
        except Exception as err:  # papermill raises PapermillExecutionError with the cell
            status, error = "FAILED", str(err).strip().splitlines()[-1][:200] if str(err) else \
                type(err).__name__
        seconds, cpu = time.monotonic() - start, children_cpu_seconds() - cpu_start
        results = report.read(out) if out.exists() else {}
        rows.append({"lesson": path.stem, "status": status, "wall_seconds": round(seconds, 1),
                     "cpu_seconds": round(cpu, 1), "load_average": round(os.getloadavg()[0], 2),
                     "results": results, "error": error, "output": str(out)})
        print(f"  {path.stem:<32} {status:<6} {seconds:7.1f} s wall {cpu:7.1f} s CPU  "
              f"{len(results)} result(s)" + (f"  {error}" if error else ""), flush=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps(rows, indent=2))
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'lesson':<32} {'status':<6} {'wall':>8} {'CPU':>8} {'load':>5}  result",
             "-" * 120]
    for row in rows:
        results = row["results"] or {"-": None}
        first = True
        for name, value in results.items():
            head = (f"{row['lesson']:<32} {row['status']:<6} {row['wall_seconds']:>7.1f}s "
                    f"{row['cpu_seconds']:>7.1f}s {row['load_average']:>5.1f}"
                    if first else " " * 64)
            lines.append(f"{head}  {name} = {_short(value)}" if name != "-" else head)
            first = False
    return "\n".join(lines)


def build_site(profile: str = DEFAULT_PROFILE, out: Path = ROOT / "build" / "site") -> Path:
    """Build the course site into ``out`` (:func:`frontier.site.build`)."""
    from frontier import site

    return site.build(profile, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m frontier.lessons", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default=DEFAULT_PROFILE, choices=PROFILES)
    parser.add_argument("--lessons", default=os.environ.get("LESSONS", ""),
                        help='lesson numbers to run, e.g. "01 07" (default: all)')
    parser.add_argument("--site", action="store_true",
                        help="afterwards, build the course site into build/site")
    parser.add_argument("--site-only", action="store_true", help="only build the site")
    args = parser.parse_args(argv)
    if args.site_only:
        print(f"site: {build_site(args.profile) / 'index.html'}")
        return 0
    check_name(args.profile)
    paths = select(discover(), args.lessons)
    if not paths:
        print("no lesson notebooks found in notebooks/", file=sys.stderr)
        return 1
    rows = run(paths, args.profile)
    print()
    print(table(rows))
    failed = [r["lesson"] for r in rows if r["status"] != "ok"]
    if failed:
        print(f"\n{len(failed)} lesson(s) failed: {', '.join(failed)} "
              f"(executed notebooks with the error are in {output_dir(args.profile)})")
        return 1
    wall, cpu = sum(r["wall_seconds"] for r in rows), sum(r["cpu_seconds"] for r in rows)
    print(f"\nAll {len(rows)} lesson(s) ran in {wall:.0f} s wall, {cpu:.0f} s of kernel CPU.")
    if args.site:
        print(f"site: {build_site(args.profile) / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
