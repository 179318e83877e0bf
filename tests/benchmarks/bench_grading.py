"""Benchmark: grading time per submission, sandboxed (bubblewrap) against the grader before it.

    python tests/benchmarks/bench_grading.py [--repeat N] [--old-ref REF]

Grades the same warm-up submissions (the reference solution, the untouched student notebook and
tests/fixtures/submissions/00_warmup_partial.ipynb) three ways, one after the other:

- ``sandboxed``: today's ``frontier.exercises`` grader, each submission in bubblewrap;
- ``trusted``: the same grader with ``--trust-submissions`` (no sandbox), to show what the
  sandbox itself costs;
- ``old``: the grader of git ``REF`` (default: the commit before the sandbox, ``13dcdc0``: otter's
  ``grade_submission`` in a process group), run from a copy of that commit's ``lib/``.

All three grade against one autograder bundle made by today's ``assign``. Prints a table of
seconds per submission (each grader's own timing, from its JSON) and writes
build/bench/bench_grading.json. The machine is shared: run it on a quiet machine, or read the
medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from _report import write_report  # tests/benchmarks/_report.py, beside this script

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[2]
EXERCISE = "00_warmup"


def submissions(assigned: Path, folder: Path) -> list[str]:
    """Write the three submissions into ``folder``; returns their names."""
    sys.path.insert(0, str(ROOT / "tests"))
    from test_exercises import submission

    dirs = {"student_dir": assigned / "student", "autograder_dir": assigned / "autograder"}
    folder.mkdir(parents=True)
    (folder / f"{EXERCISE}_solution.ipynb").write_text(json.dumps(submission(dirs, EXERCISE)))
    shutil.copy(assigned / "student" / f"{EXERCISE}.ipynb", folder / f"{EXERCISE}_untouched.ipynb")
    shutil.copy(ROOT / "tests" / "fixtures" / "submissions" / f"{EXERCISE}_partial.ipynb", folder)
    return sorted(p.stem for p in folder.glob("*.ipynb"))


def seconds(out: Path) -> dict[str, dict]:
    """Each submission's grading time and total, from the JSON files a grader wrote."""
    rows = {}
    for path in out.glob(f"{EXERCISE}_*.json"):
        data = json.loads(path.read_text())
        rows[path.stem] = {"seconds": data["seconds"], "total": data["total"],
                           "status": data["status"]}
    return rows


def grade_new(folder: Path, out: Path, assigned: Path, trust: bool) -> dict[str, dict]:
    from frontier import exercises

    exercises.grade_folder(folder, out, autograder_dir=assigned / "autograder",
                           student_dir=assigned / "student", trust_submissions=trust,
                           progress=False)
    return seconds(out)


def grade_old(folder: Path, out: Path, assigned: Path, ref: str, tmp: Path) -> dict[str, dict]:
    """The grader of ``ref``, from a copy of its lib/ (bundles where it looks for them)."""
    old = tmp / "old"
    if not old.exists():
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "lib"], check=True,
                                 capture_output=True).stdout
        old.mkdir()
        (tmp / "old.tar").write_bytes(archive)
        with tarfile.open(tmp / "old.tar") as tar:
            tar.extractall(old, filter="data")
        shutil.copytree(assigned / "autograder", old / "build" / "autograder")
        shutil.copytree(assigned / "student", old / "exercises" / "student")
    env = {**os.environ, "PYTHONPATH": str(old / "lib")}
    subprocess.run([sys.executable, "-m", "frontier.exercises", "grade", str(folder), "--out",
                    str(out)], check=True, env=env, capture_output=True, timeout=3600)
    return seconds(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--old-ref", default="13dcdc0")
    args = parser.parse_args()
    from frontier import exercises

    with tempfile.TemporaryDirectory(prefix="bench-grading-") as name:
        tmp = Path(name)
        assigned = tmp / "assigned"
        exercises.assign(exercises.SOURCES / f"{EXERCISE}.ipynb",
                         student_dir=assigned / "student",
                         autograder_dir=assigned / "autograder", tests_dir=assigned / "tests")
        names = submissions(assigned, tmp / "subs")
        runs: dict[str, list[dict]] = {"sandboxed": [], "trusted": [], "old": []}
        for i in range(args.repeat):
            runs["sandboxed"].append(grade_new(tmp / "subs", tmp / f"s{i}", assigned, False))
            runs["trusted"].append(grade_new(tmp / "subs", tmp / f"t{i}", assigned, True))
            runs["old"].append(grade_old(tmp / "subs", tmp / f"o{i}", assigned, args.old_ref,
                                         tmp))
    table = {way: {n: {"median_s": statistics.median(r[n]["seconds"] for r in rs),
                       "runs_s": [r[n]["seconds"] for r in rs], "total": rs[0][n]["total"],
                       "status": rs[0][n]["status"]} for n in names}
             for way, rs in runs.items()}
    print(f"{'submission':<28}" + "".join(f"{way:>22}" for way in table))
    for n in names:
        print(f"{n:<28}" + "".join(
            f"{table[w][n]['median_s']:>9.1f} s ({table[w][n]['total']:g} pts)".rjust(22)
            for w in table))
    load = os.getloadavg()
    print(f"load average while measuring: {load[0]:.1f} (cores: {os.cpu_count()})")
    write_report("bench_grading", {"exercise": EXERCISE, "repeat": args.repeat,
                                   "old_ref": args.old_ref, "seconds_per_submission": table})


if __name__ == "__main__":
    main()
