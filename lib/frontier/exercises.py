"""Exercises with automatic grading, built on otter-grader (no Docker).

Instructors write one *source* notebook per lesson, ``exercises/source/NN_topic.ipynb``, in
otter-grader's assign format (questions, reference solutions, public and hidden tests, points;
see ``exercises/README.md``). Then:

    python -m frontier.exercises assign            # make exercises
    python -m frontier.exercises grade FOLDER/     # make grade SUBMISSIONS=FOLDER/

``assign`` runs ``otter assign`` on every source: the student notebook goes to
``exercises/student/NN_topic.ipynb`` (committed: no solutions, no hidden tests), its public tests
to ``lib/frontier/exercise_tests/NN_topic/`` (shipped with the package, so ``grader.check`` works
on JupyterLab, Binder and Colab alike) and the autograder bundle, with the hidden tests, to
``build/autograder/NN_topic.zip`` (never committed).

``grade`` grades every ``*.ipynb`` in a folder with ``otter run``'s engine, one submission at a
time, each in its own process group with a time limit, and writes ``grades.csv`` (one row per
submission, one column per question, the total) and one JSON per submission. The grader never
trusts the submission:

- the hidden tests come from the autograder bundle (checked against its hash), never from the
  submission;
- before the checks, the pristine test files are written back and earlier check results are
  discarded, so edited, deleted or overwritten tests, and fake ``grader`` objects, change nothing;
- cells that reach into the grader (otter internals, builtins, ``sys.modules``, monkeypatching an
  imported module, ``exec``/``eval``, threads, ...) are not run; the reason is reported;
- network access is blocked (in the kernel, and by a private network namespace when the grader
  runs as root), and as root the submission runs as ``nobody`` so it cannot write the
  instructor's files;
- a submission that crashes its kernel or runs past the time limit is graded again on the cells
  it completed, so it keeps the points it earned before that, with the reason.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import csv
import functools
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "exercises" / "source"
STUDENT = ROOT / "exercises" / "student"
AUTOGRADER = ROOT / "build" / "autograder"
PUBLIC_TESTS = Path(__file__).resolve().parent / "exercise_tests"
DEFAULT_TIMEOUT = 300.0
MARK = "[frontier grader]"
NOBODY = 65534  # uid/gid the submission runs as when the grader runs as root
SETUP_FAILED = 3  # exit status of a grading child whose own set-up failed


# -- for learners ---------------------------------------------------------------------------
def public_tests(exercise: str) -> str:
    """The folder of ``exercise``'s public tests (shipped with the package) for otter.Notebook.

    Warns when it does not exist yet (a new set before its first ``make exercises``).
    """
    folder = PUBLIC_TESTS / exercise
    if not folder.is_dir():
        import warnings

        known = sorted(p.name for p in PUBLIC_TESTS.iterdir()) if PUBLIC_TESTS.is_dir() else []
        warnings.warn(f"no public tests for exercise {exercise!r} (known: {known}): reinstall "
                      "the course package, or run `make exercises`", stacklevel=2)
    return str(folder)


# -- assign -------------------------------------------------------------------------------
def sources(folder: Path = SOURCES) -> list[Path]:
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def assign(source: Path, *, student_dir: Path = STUDENT, autograder_dir: Path = AUTOGRADER,
           tests_dir: Path = PUBLIC_TESTS) -> dict[str, Path]:
    """Run ``otter assign`` on one source notebook; returns the paths written.

    Fails (RuntimeError) when otter assign fails, e.g. when the reference solution does not
    pass its own public and hidden tests.
    """
    source = Path(source).resolve()
    name = source.stem
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        proc = subprocess.run([sys.executable, "-m", "otter", "assign", str(source), str(out)],
                              capture_output=True, text=True, cwd=source.parent,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        if proc.returncode != 0:
            raise RuntimeError(f"otter assign failed for {source}:\n{proc.stdout[-3000:]}"
                               f"\n{proc.stderr[-3000:]}")
        bundles = list((out / "autograder").glob("*.zip"))
        if len(bundles) != 1:
            raise RuntimeError(f"otter assign made {len(bundles)} autograder zips for {source}")
        student_nb = out / "student" / f"{name}.ipynb"
        for p in (student_dir, autograder_dir, tests_dir):
            p.mkdir(parents=True, exist_ok=True)
        written = {
            "student": student_dir / f"{name}.ipynb",
            "autograder": autograder_dir / f"{name}.zip",
            "solution": autograder_dir / f"{name}-solution.ipynb",
            "public_tests": tests_dir / name,
        }
        _write_normalised_notebook(student_nb, written["student"])
        shutil.copy(bundles[0], written["autograder"])
        shutil.copy(out / "autograder" / f"{name}.ipynb", written["solution"])
        shutil.rmtree(written["public_tests"], ignore_errors=True)
        shutil.copytree(out / "student" / "tests", written["public_tests"])
    return written


def _write_normalised_notebook(src: Path, dest: Path) -> None:
    """Copy a notebook with stable JSON (sorted keys, no outputs) so re-assigning is a no-op."""
    import nbformat

    nb = nbformat.read(src, as_version=4)
    for cell in nb.cells:
        cell.pop("id", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.nbformat_minor = 4
    dest.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")


# -- static checks on a submission -----------------------------------------------------------
_BANNED_NAMES = {
    "otter": "uses the grader's internals (otter)",
    "Checker": "uses the grader's internals (Checker)",
    "GradingResults": "uses the grader's internals (GradingResults)",
    "builtins": "changes Python's builtins",
    "__builtins__": "changes Python's builtins",
    "exec": "runs code from a string (exec)",
    "eval": "runs code from a string (eval)",
    "compile": "compiles code from a string",
    "__import__": "imports modules dynamically",
    "importlib": "imports modules dynamically",
    "globals": "rewrites the notebook's globals",
    "setattr": "sets attributes dynamically",
    "delattr": "deletes attributes dynamically",
    "atexit": "runs code after the notebook ends",
    "threading": "starts threads that outlive the cell",
    "_thread": "starts threads that outlive the cell",
    "multiprocessing": "starts processes",
    "subprocess": "starts processes",
    "ctypes": "calls C code",
    "gc": "walks the interpreter's objects",
    "inspect": "inspects the grader's frames",
    "signal": "installs signal handlers",
    "sys.modules": "replaces loaded modules",
}
_ALLOWED_DUNDERS = {"__init__", "__name__", "__doc__", "__len__", "__iter__", "__next__",
                    "__getitem__", "__call__", "__repr__", "__str__", "__enter__", "__exit__",
                    "__main__", "__file__"}
_BUILTIN_NAMES = set(dir(builtins)) - {"_", "__doc__", "__name__", "__package__", "__spec__",
                                       "__loader__", "__build_class__", "copyright", "credits",
                                       "license", "exit", "quit", "help"}


def tampering(source: str) -> list[str]:
    """Reasons why a cell may not run under the grader (empty when it may).

    Ordinary exercise code (functions, numpy, frontier, files of one's own) passes; what is
    refused is what could change how the checks run rather than what they check.
    """
    try:
        tree = ast.parse(_strip_magics(source))
    except SyntaxError:
        return []  # it fails on its own when run; that is not tampering
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                imported.add((alias.asname or alias.name).split(".")[0])
    reasons: list[str] = []

    def flag(node: ast.AST, why: str) -> None:
        line = getattr(node, "lineno", "?")
        reasons.append(f"line {line}: {why}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in _BANNED_NAMES:
            flag(node, _BANNED_NAMES[node.id])
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""]
            names = [a.name for a in node.names]
            for mod in mods + (names if isinstance(node, ast.ImportFrom) else []):
                if mod.split(".")[0] in _BANNED_NAMES:
                    flag(node, _BANNED_NAMES[mod.split(".")[0]])
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                if bound in _BUILTIN_NAMES:
                    flag(node, f"shadows the builtin {bound!r}")
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("__") and node.attr.endswith("__") and \
                    node.attr not in _ALLOWED_DUNDERS:
                flag(node, f"reaches into Python internals ({node.attr})")
            if node.attr == "modules" and isinstance(node.value, ast.Name) and \
                    node.value.id == "sys":
                flag(node, _BANNED_NAMES["sys.modules"])
            if node.attr in {"system", "fork", "popen", "spawnv", "execv", "kill"} and \
                    isinstance(node.value, ast.Name) and node.value.id == "os":
                flag(node, f"runs or controls processes (os.{node.attr})")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name in _BUILTIN_NAMES:
                flag(node, f"shadows the builtin {node.name!r}")
            if node.name.startswith("__") and node.name.endswith("__") and \
                    node.name not in _ALLOWED_DUNDERS:
                flag(node, f"defines {node.name}, which could fool comparisons in the checks")
        elif isinstance(node, ast.Global):
            for name in node.names:
                if name in _BUILTIN_NAMES:
                    flag(node, f"shadows the builtin {name!r}")
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)) \
                            and sub.id in _BUILTIN_NAMES:
                        flag(sub, f"shadows the builtin {sub.id!r}")
                    if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                        base = sub.value
                        while isinstance(base, ast.Attribute):
                            base = base.value
                        if isinstance(base, ast.Name) and base.id in imported:
                            flag(sub, f"monkeypatches {base.id!r}, which it imported")
    return sorted(set(reasons), key=lambda r: (int(r.split()[1].rstrip(":"))
                                               if r.split()[1].rstrip(":").isdigit() else 0, r))


def _strip_magics(source: str) -> str:
    """Drop IPython magics and shell escapes so the rest parses as Python."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


# -- grading one submission -------------------------------------------------------------------
GUARD_CELL = '''# {mark} guard: no network while grading; note each cell's error for the report
def _frontier_after_cell(result, _progress={progress!r}, _errors={errors!r}):
    import json, os
    error = result.error_in_exec or result.error_before_exec
    if error is not None:
        done = open(_progress).read() if os.path.exists(_progress) else "0"
        with open(_errors, "a") as fh:
            fh.write(json.dumps(f"cell {{int(done or 0) + 1}}: {{type(error).__name__}}: "
                                f"{{error}}"[:300]) + "\\n")
get_ipython().events.register("post_run_cell", _frontier_after_cell)
import socket as _frontier_socket
def _frontier_no_network(*args, **kwargs):
    raise PermissionError("{mark} network access is blocked during grading; "
                          "the exercise must work offline")
_frontier_socket.socket.connect = _frontier_no_network
_frontier_socket.socket.connect_ex = _frontier_no_network
_frontier_socket.create_connection = _frontier_no_network
_frontier_socket.getaddrinfo = _frontier_no_network
del _frontier_socket
'''

PROGRESS_CELL = '''# {mark} progress
with open({path!r}, "w") as _frontier_fh:
    _frontier_fh.write("{index}")
'''

FINAL_CELL = '''# {mark} restore the hidden tests and discard earlier check results
import json as _frontier_json, os as _frontier_os
from otter.execute import Checker as _FrontierChecker
_frontier_os.makedirs("tests", exist_ok=True)
for _frontier_name, _frontier_text in _frontier_json.loads({tests!r}).items():
    with open(_frontier_os.path.join("tests", _frontier_name), "w") as _frontier_fh:
        _frontier_fh.write(_frontier_text)
_FrontierChecker.clear_results()
_FrontierChecker.enable_tracking()
'''


@dataclass
class Outcome:
    """What grading one submission gave."""

    submission: str
    exercise: str | None
    scores: dict[str, float] = field(default_factory=dict)
    possible: dict[str, float] = field(default_factory=dict)
    status: str = "ok"
    reasons: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return float(sum(self.scores.values()))

    def to_json(self) -> dict[str, Any]:
        return {"submission": self.submission, "exercise": self.exercise,
                "status": self.status, "total": self.total,
                "possible": float(sum(self.possible.values())), "scores": self.scores,
                "max_scores": self.possible, "reasons": self.reasons,
                "details": self.details, "seconds": round(self.seconds, 1)}


@dataclass
class Bundle:
    """An exercise's autograder bundle: its path, hash and hidden test files."""

    exercise: str
    path: Path
    sha256: str
    tests: dict[str, str]
    points: dict[str, float]
    template_cells: set[str]


def load_bundle(exercise: str, autograder_dir: Path = AUTOGRADER,
                student_dir: Path = STUDENT) -> Bundle:
    path = autograder_dir / f"{exercise}.zip"
    if not path.exists():
        raise FileNotFoundError(f"no autograder bundle {path}: run `make exercises` first")
    data = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        tests = {Path(n).name: zf.read(n).decode() for n in zf.namelist()
                 if n.startswith("tests/") and n.endswith(".py")}
    points = {}
    for name, text in tests.items():
        namespace: dict[str, Any] = {}
        exec(compile(text, name, "exec"), namespace)  # noqa: S102 (our own bundle's test file)
        test = namespace.get("test", {})
        points[Path(name).stem] = float(test.get("points") or 0) if isinstance(test, dict) else 0.0
    template = student_dir / f"{exercise}.ipynb"
    cells = set()
    if template.exists():
        nb = json.loads(template.read_text())
        cells = {"".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                 for c in nb["cells"] if c["cell_type"] == "code"}
    return Bundle(exercise, path, hashlib.sha256(data).hexdigest(), tests, points, cells)


def exercise_of(nb: dict[str, Any], path: Path, known: list[str]) -> str | None:
    """The exercise a submission belongs to: its otter metadata, else its file name's prefix."""
    name = nb.get("metadata", {}).get("otter", {}).get("assignment_name")
    if name in known:
        return name
    for exercise in known:
        if path.stem.startswith(exercise) or path.stem.startswith(exercise[:3]):
            return exercise
    return None


def prepare(nb: dict[str, Any], bundle: Bundle, progress: Path,
            upto: int | None = None) -> tuple[dict[str, Any], list[str]]:
    """The notebook the grader runs: guard cell, the submission's code cells (tampering cells
    replaced by an error), a progress marker after each, and the final restore cell.

    ``upto``: keep only the first ``upto`` code cells (re-grading after a crash or timeout).
    Returns the notebook and the reasons for cells that were not run.
    """
    import nbformat

    errors = progress.with_name("errors.jsonl")
    cells = [nbformat.v4.new_code_cell(
        GUARD_CELL.format(mark=MARK, progress=str(progress), errors=str(errors)))]
    reasons: list[str] = []
    code_cells = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    for index, cell in enumerate(code_cells[:upto]):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        why = [] if source in bundle.template_cells else tampering(source)
        if why:
            message = f"cell {index + 1} was not run: " + "; ".join(why)
            reasons.append(message)
            source = f"raise RuntimeError({MARK + ' ' + message!r})"
        cells.append(nbformat.v4.new_code_cell(source))
        cells.append(nbformat.v4.new_code_cell(
            PROGRESS_CELL.format(mark=MARK, path=str(progress), index=index + 1)))
    cells.append(nbformat.v4.new_code_cell(
        FINAL_CELL.format(mark=MARK, tests=json.dumps(bundle.tests))))
    out = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "otter": {"assignment_name": bundle.exercise}})
    return out, reasons


def _run_isolated(args: list[str], workdir: Path, timeout: float) -> tuple[int | None, str]:
    """Run the grading child in its own session (killed as a group on timeout); as root, in a
    private network namespace and as user ``nobody``. Returns (exit code or None, output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JPY_", "JUPYTER_"))}
    env.update(HOME=str(workdir), IPYTHONDIR=str(workdir / ".ipython"),
               JUPYTER_RUNTIME_DIR=str(workdir / ".jupyter"), MPLCONFIGDIR=str(workdir / ".mpl"),
               TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1",
               FRONTIER_DATA=str(workdir / "data"))
    prefix: list[str] = []
    as_root = os.geteuid() == 0
    drop = as_root and _nobody_can_run_python()
    if as_root:
        if shutil.which("unshare"):
            prefix = ["unshare", "--net", "--"]
        for path in [workdir, *workdir.rglob("*")]:
            os.chown(path, NOBODY, NOBODY)
    cmd = prefix + [sys.executable, "-m", "frontier.exercises", "_child",
                    "drop" if drop else "stay", *args]
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
        if proc.returncode == SETUP_FAILED:
            raise RuntimeError(f"the grader could not start a grading process: {output[-2000:]}")
        return proc.returncode, output
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        return None, output or ""


@functools.lru_cache(maxsize=1)
def _nobody_can_run_python() -> bool:
    """Whether user ``nobody`` can start this Python (not when it lives under /root)."""
    def become_nobody() -> None:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)

    try:
        probe = subprocess.run([sys.executable, "-c", "import json, numbers, otter"],
                               preexec_fn=become_nobody, capture_output=True, timeout=60,
                               cwd="/")
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def _child(drop: str, prepared: str, bundle: str, result: str) -> None:
    """In the isolated process: bring up loopback (own network namespace), drop to ``nobody``
    when started as root, then grade with otter."""
    try:
        _loopback_up()
        if drop == "drop":
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        from otter.api import grade_submission
    except Exception as err:  # our set-up, not the submission, failed
        print(f"{MARK} set-up failed: {type(err).__name__}: {err}", flush=True)
        sys.exit(SETUP_FAILED)

    results = grade_submission(prepared, bundle, quiet=True)
    errors = []
    scores = {name: float(tf.score) for name, tf in results.results.items()}
    details = {name: tf.summary()[:2000] for name, tf in results.results.items()}
    if results.catastrophic_error is not None:
        errors.append(f"grader error: {results.catastrophic_error}"[:300])
    Path(result).write_text(json.dumps({"scores": scores, "errors": errors,
                                        "details": details}))


def _loopback_up() -> None:
    """In a fresh network namespace the loopback interface is down; the kernel needs it."""
    import fcntl
    import socket
    import struct

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            ifreq = struct.pack("16sH14s", b"lo", 0, b"\x00" * 14)
            flags = struct.unpack("16sH14s", fcntl.ioctl(s, 0x8913, ifreq))[1]  # SIOCGIFFLAGS
            if not flags & 0x1:  # IFF_UP
                fcntl.ioctl(s, 0x8914, struct.pack("16sH14s", b"lo", flags | 0x1, b"\x00" * 14))
    except OSError:
        pass  # not permitted (not root): loopback is up in the host's namespace anyway


def grade_one(path: Path, bundles: dict[str, Bundle], timeout: float = DEFAULT_TIMEOUT
              ) -> Outcome:
    """Grade one submitted notebook; never raises for a bad submission."""
    start = time.monotonic()
    outcome = Outcome(submission=path.name, exercise=None)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        outcome.status, outcome.reasons = "unreadable", [f"not a readable notebook: {err}"]
        return outcome
    exercise = exercise_of(nb, path, sorted(bundles))
    if exercise is None:
        outcome.status = "unknown exercise"
        outcome.reasons = [f"cannot tell which exercise {path.name} answers (no otter "
                           f"assignment_name in its metadata and no known name prefix: "
                           f"{', '.join(sorted(bundles))})"]
        return outcome
    bundle = bundles[exercise]
    outcome.exercise = exercise
    outcome.possible = dict(bundle.points)
    outcome.scores = {q: 0.0 for q in bundle.points}
    if hashlib.sha256(bundle.path.read_bytes()).hexdigest() != bundle.sha256:
        raise RuntimeError(f"the autograder bundle {bundle.path} changed during grading; "
                           "run `make exercises` again and re-grade")

    upto = None
    for attempt in range(2):
        with tempfile.TemporaryDirectory(prefix="frontier-grade-") as tmp:
            work = Path(tmp)
            progress = work / "progress.txt"
            prepared, skipped = prepare(nb, bundle, progress, upto=upto)
            import nbformat

            (work / "submission.ipynb").write_text(nbformat.writes(prepared))
            shutil.copy(bundle.path, work / "autograder.zip")
            code, output = _run_isolated(["submission.ipynb", "autograder.zip", "result.json"],
                                         work, timeout)
            result_file = work / "result.json"
            reached = int(progress.read_text() or 0) if progress.exists() else 0
            errors_file = work / "errors.jsonl"
            raised = [json.loads(line) for line in errors_file.read_text().splitlines()] \
                if errors_file.exists() else []
            if code == 0 and result_file.exists():
                result = json.loads(result_file.read_text())
                for q, score in result["scores"].items():
                    if q in outcome.scores:
                        outcome.scores[q] = min(float(score), outcome.possible.get(q, score))
                outcome.details = result["details"]
                outcome.reasons += skipped + [
                    f"{e}" for e in raised if MARK + " cell" not in e]
                if attempt == 0:
                    outcome.status = "ok" if not skipped else "cells not run"
                break
            why = (f"stopped after {timeout:g} s (time limit) in cell {reached + 1}"
                   if code is None else
                   f"the kernel died in cell {reached + 1} (exit {code}): "
                   f"{output.strip().splitlines()[-1][:200] if output.strip() else 'no output'}")
            if attempt == 0:
                outcome.status = "timeout" if code is None else "crashed"
                outcome.reasons.append(why + f"; graded on the {reached} cell(s) before it")
                upto = reached
            else:
                outcome.reasons.append("re-grading the completed cells failed too: " + why)
                outcome.scores = {q: 0.0 for q in bundle.points}
    outcome.seconds = time.monotonic() - start
    return outcome


def grade_folder(folder: Path, out: Path, *, autograder_dir: Path = AUTOGRADER,
                 student_dir: Path = STUDENT, timeout: float = DEFAULT_TIMEOUT,
                 progress: bool = True) -> list[Outcome]:
    """Grade every ``*.ipynb`` in ``folder``; write ``grades.csv`` and one JSON each to ``out``."""
    folder, out = Path(folder), Path(out)
    if not folder.is_dir():
        raise FileNotFoundError(f"no submissions folder {folder}")
    submissions = sorted(folder.glob("*.ipynb"))
    if not submissions:
        raise FileNotFoundError(f"no .ipynb submissions in {folder}")
    names = sorted(p.stem for p in autograder_dir.glob("*.zip")) if autograder_dir.is_dir() else []
    if not names:
        raise FileNotFoundError(f"no autograder bundles in {autograder_dir}: run "
                                "`make exercises` first")
    bundles = {name: load_bundle(name, autograder_dir, student_dir) for name in names}
    outcomes = []
    for i, path in enumerate(submissions, 1):
        outcome = grade_one(path, bundles, timeout)
        outcomes.append(outcome)
        if progress:
            print(f"[{i}/{len(submissions)}] {path.name}: {outcome.total:g}/"
                  f"{sum(outcome.possible.values()):g} ({outcome.status})", flush=True)
    write_grades(outcomes, out)
    return outcomes


def write_grades(outcomes: list[Outcome], out: Path) -> Path:
    """``grades.csv`` (submission, exercise, one column per question, total, possible, status,
    reasons) and ``<submission>.json`` per submission, in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    questions = sorted({q for o in outcomes for q in o.possible},
                       key=lambda q: (len(q), q))
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["submission", "exercise", *questions, "total", "possible", "status",
                         "reasons"])
        for o in outcomes:
            writer.writerow([o.submission, o.exercise or "",
                             *[f"{o.scores[q]:g}" if q in o.scores else "" for q in questions],
                             f"{o.total:g}", f"{sum(o.possible.values()):g}", o.status,
                             " | ".join(o.reasons)])
    for o in outcomes:
        (out / f"{Path(o.submission).stem}.json").write_text(json.dumps(o.to_json(), indent=2))
    return out / "grades.csv"


# -- command line -------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m frontier.exercises",
                                     description="Make student exercises and grade submissions.")
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("assign", help="otter assign every exercises/source/NN_*.ipynb")
    a.add_argument("sources", nargs="*", type=Path, help="source notebooks (default: all)")
    g = sub.add_parser("grade", help="grade a folder of submitted notebooks")
    g.add_argument("folder", type=Path)
    g.add_argument("--out", type=Path, default=None,
                   help="where grades.csv goes (default: build/grades/<folder name>)")
    g.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds per submission (default {DEFAULT_TIMEOUT:g})")
    c = sub.add_parser("_child")
    c.add_argument("args", nargs=4)
    args = parser.parse_args(argv)
    if args.command == "_child":
        _child(*args.args)
        return 0
    if args.command == "assign":
        for source in args.sources or sources():
            written = assign(source)
            print(f"{source.name}: student -> {written['student']}, "
                  f"autograder -> {written['autograder']}")
        return 0
    out = args.out or ROOT / "build" / "grades" / args.folder.resolve().name
    outcomes = grade_folder(args.folder, out, timeout=args.timeout)
    print(f"\n{len(outcomes)} submission(s) graded: {out / 'grades.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
