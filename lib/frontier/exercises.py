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

``assign`` first runs the source notebook from top to bottom, so that what each test cell
prints for the reference solution becomes that test's expected output.

``grade`` grades every ``*.ipynb`` in a folder and writes ``grades.csv`` (one row per
submission, one column per question, the total, a status, the sandbox used, the reasons) and
one JSON per submission. A submission is treated as arbitrary code; what holds:

- each submission runs alone in a bubblewrap sandbox (``frontier.sandbox``): its own mount, PID,
  network, IPC, UTS and user namespaces, no capabilities, a clean environment, read-only Python,
  one private scratch folder. It cannot see other submissions, the autograder bundle, the
  solution, ``build/``, the grades or any home folder, and cannot reach the network (not even
  127.0.0.1 of the grading machine);
- the sandbox receives the cells and each test example's *source*, never the expected outputs;
  it prints what each example printed, as JSON lines on a pipe, capped in size. The grader
  parses that as JSON (never pickle, never import), validates it, and compares it with the
  expected outputs here, outside the sandbox: patching doctest, otter, the runner or
  ``__eq__`` inside can change what is printed, but points need the expected values, which
  never enter the sandbox. The grader reads nothing else the submission could write;
- nothing outlives its submission: when the notebook ends or a limit is hit the sandbox is
  killed and its PID namespace takes every process with it; every wait is bounded;
- limits on time, memory (address space per process), file size, processes (counted from
  outside every 0.1 s) and output are statuses
  (``time limit``, ``memory limit``, ...), graded on the cells before the one that hit them;
  one bad submission never stops the folder;
- without bubblewrap (macOS, a kernel without user namespaces) grading stops with what to
  install, unless ``--trust-submissions`` says to run them unsandboxed (every row says so).

The static check (:func:`tampering`) only reports suspicious cells; no guarantee rests on it.
Hidden tests must print plain values (see ``exercises/README.md``): a test that prints ``True``
for any answer cannot tell answers apart, whatever the sandbox does.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import copy
import csv
import doctest
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from frontier import sandbox

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "exercises" / "source"
STUDENT = ROOT / "exercises" / "student"
AUTOGRADER = ROOT / "build" / "autograder"
PUBLIC_TESTS = Path(__file__).resolve().parent / "exercise_tests"
DEFAULT_TIMEOUT = 300.0


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
        executed = Path(tmp) / "executed" / source.name
        record_expected_outputs(source, executed)
        proc = subprocess.run([sys.executable, "-m", "otter", "assign", str(executed), str(out)],
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


def record_expected_outputs(source: Path, dest: Path) -> None:
    """Run the source notebook (reference solutions included) and save it to ``dest`` with its
    outputs: what each test cell prints for the reference solution becomes that test's expected
    output (otter reads it from there). Only printed text and results are kept, not stderr
    (warnings are not part of an answer)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(source, as_version=4)
    metadata = copy.deepcopy(nb.metadata)  # the kernel adds to it; the student copy must not
    try:
        NotebookClient(nb, timeout=900, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": str(source.parent)}}).execute()
    except Exception as err:
        raise RuntimeError(f"{source} does not run from top to bottom, so its tests' expected "
                           f"outputs cannot be recorded: {type(err).__name__}: "
                           f"{str(err)[-2000:]}") from err
    nb.metadata = metadata
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if not (o.output_type == "stream" and o.get("name") == "stderr")]
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)


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


# -- grading -----------------------------------------------------------------------------------
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
    sandbox: str = "bwrap"

    @property
    def total(self) -> float:
        return float(sum(self.scores.values()))

    def to_json(self) -> dict[str, Any]:
        return {"submission": self.submission, "exercise": self.exercise,
                "status": self.status, "total": self.total,
                "possible": float(sum(self.possible.values())), "scores": self.scores,
                "max_scores": self.possible, "reasons": self.reasons,
                "details": self.details, "seconds": round(self.seconds, 1),
                "sandbox": self.sandbox}


@dataclass
class Case:
    """One test case of a question: its doctest examples (source and expected output)."""

    examples: list[doctest.Example]
    points: float
    hidden: bool


@dataclass
class Bundle:
    """An exercise's autograder bundle, read by the grader only: every question's test cases
    (public and hidden) with their expected outputs and points."""

    exercise: str
    path: Path
    sha256: str
    questions: dict[str, list[Case]]
    template_cells: set[str]

    @property
    def points(self) -> dict[str, float]:
        return {q: float(sum(c.points for c in cases)) for q, cases in self.questions.items()}

    def sources(self) -> dict[str, list[list[str]]]:
        """What the sandbox receives: each example's source, never its expected output."""
        return {q: [[e.source for e in case.examples] for case in cases]
                for q, cases in self.questions.items()}


def load_bundle(exercise: str, autograder_dir: Path = AUTOGRADER,
                student_dir: Path = STUDENT) -> Bundle:
    """Read ``exercise``'s autograder zip (tests/q*.py in otter's OK format)."""
    from otter.test_files.ok_test import OKTestFile

    path = autograder_dir / f"{exercise}.zip"
    if not path.exists():
        raise FileNotFoundError(f"no autograder bundle {path}: run `make exercises` first")
    data = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        files = {Path(n).stem: zf.read(n).decode() for n in zf.namelist()
                 if n.startswith("tests/") and n.endswith(".py")}
    questions = {}
    parser = doctest.DocTestParser()
    for name, text in sorted(files.items(), key=lambda kv: (len(kv[0]), kv[0])):
        namespace: dict[str, Any] = {}
        exec(compile(text, name, "exec"), namespace)  # noqa: S102 (our own bundle's test file)
        spec = namespace.get("test")
        if not isinstance(spec, dict):
            raise ValueError(f"{path}: tests/{name}.py has no `test` dict (otter's OK format)")
        test = OKTestFile.from_spec(spec)
        questions[name] = [Case(parser.get_examples(c.body, f"{name} {i}"), float(c.points or 0),
                                bool(c.hidden)) for i, c in enumerate(test.test_cases)]
    template = student_dir / f"{exercise}.ipynb"
    cells = set()
    if template.exists():
        nb = json.loads(template.read_text())
        cells = {"".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                 for c in nb["cells"] if c["cell_type"] == "code"}
    return Bundle(exercise, path, hashlib.sha256(data).hexdigest(), questions, cells)


def exercise_of(nb: dict[str, Any], path: Path, known: list[str]) -> str | None:
    """The exercise a submission belongs to: its otter metadata, else its file name's prefix."""
    name = nb.get("metadata", {}).get("otter", {}).get("assignment_name")
    if name in known:
        return name
    for exercise in known:
        if path.stem.startswith(exercise) or path.stem.startswith(exercise[:3]):
            return exercise
    return None


def code_cells(nb: dict[str, Any]) -> list[str]:
    """The sources of a notebook's code cells, in order."""
    cells = []
    for cell in nb.get("cells", []) if isinstance(nb.get("cells"), list) else []:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            cells.append("".join(source) if isinstance(source, list) else str(source))
    return cells


def suspicious(cells: list[str], bundle: Bundle) -> list[str]:
    """The static check, as a report only: cells that look like they tamper with grading.
    They run anyway; no guarantee rests on this (the sandbox and the outside comparison do)."""
    notes = []
    for index, source in enumerate(cells, 1):
        why = [] if source in bundle.template_cells else tampering(source)
        if why:
            notes.append(f"cell {index} looks suspicious: " + "; ".join(why))
    return notes


_EXAMPLE_KEYS = {"out", "exc"}


def _valid_got(got: Any, n: int) -> bool:
    """Whether a sandbox's report for one case is ``n`` {"out": str, "exc": str | None}."""
    return isinstance(got, list) and len(got) == n and all(
        isinstance(g, dict) and set(g) == _EXAMPLE_KEYS and isinstance(g["out"], str)
        and (g["exc"] is None or isinstance(g["exc"], str)) for g in got)


def case_passes(case: Case, got: list[dict]) -> tuple[bool, str]:
    """Compare one case's printed results with its expected outputs, as doctest does (no
    option flags, like otter). Returns (passed, what failed)."""
    checker = doctest.OutputChecker()
    for example, result in zip(case.examples, got, strict=True):
        if example.exc_msg is None:
            ok = result["exc"] is None and checker.check_output(example.want, result["out"], 0)
        else:
            ok = result["exc"] is not None and checker.check_output(
                example.exc_msg, result["exc"].splitlines()[-1] + "\n", 0)
        if not ok:
            shown = result["out"] + (result["exc"] or "")
            return False, (f"failed: {example.source.strip()[:300]}\n  expected: "
                           f"{(example.want or example.exc_msg or '').strip()[:300]}\n  got: "
                           f"{shown.strip()[:300]}")
    return True, "passed"


_NETWORK_ERRORS = ("Errno 111", "Errno 101", "Errno 99", "Network is unreachable",
                   "Name or service not known", "Temporary failure in name resolution")


def _cell_error(index: int, error: str) -> str:
    hint = " (there is no network while grading)" if any(e in error for e in _NETWORK_ERRORS) \
        else ""
    return f"cell {index}: {error}"[:300] + hint


@dataclass
class _Attempt:
    """One sandbox run's validated results."""

    cells_done: int = 0
    errors: list[str] = field(default_factory=list)
    memory_limit: bool = False
    results: dict[tuple[str, int], list[dict]] = field(default_factory=dict)
    finished: bool = False


def _validate(run: sandbox.Run, bundle: Bundle, n_cells: int) -> _Attempt:
    """Keep only well-formed records about known cells, questions and cases."""
    attempt = _Attempt()
    for record in run.records:
        cell, question, case = record.get("cell"), record.get("question"), record.get("case")
        if type(cell) is int and 1 <= cell <= n_cells:
            attempt.cells_done = max(attempt.cells_done, cell)
            if isinstance(record.get("error"), str):
                attempt.errors.append(_cell_error(cell, record["error"]))
            if record.get("limit") == "memory limit":
                attempt.memory_limit = True
        elif question in bundle.questions and type(case) is int and \
                0 <= case < len(bundle.questions[question]) and \
                _valid_got(record.get("got"), len(bundle.questions[question][case].examples)):
            attempt.results[question, case] = record["got"]  # the runner's comes last
        elif record.get("done") is True:
            attempt.finished = True
    return attempt


def _score(outcome: Outcome, bundle: Bundle, attempt: _Attempt) -> None:
    for question, cases in bundle.questions.items():
        lines, earned = [], 0.0
        for i, case in enumerate(cases):
            got = attempt.results.get((question, i))
            passed, why = case_passes(case, got) if got is not None else (False, "not run")
            earned += case.points if passed else 0.0
            label = "hidden" if case.hidden else "public"
            lines.append(f"case {i + 1} ({label}, {case.points:g} pt): {why}")
        outcome.scores[question] = round(earned, 6)
        outcome.details[question] = "\n".join(lines)[:4000]


def grade_one(path: Path, bundles: dict[str, Bundle], timeout: float = DEFAULT_TIMEOUT, *,
              limits: sandbox.Limits | None = None, trust: bool = False) -> Outcome:
    """Grade one submitted notebook in a sandbox; never raises for a bad submission."""
    start = time.monotonic()
    limits = limits or sandbox.Limits(seconds=timeout)
    outcome = Outcome(submission=path.name, exercise=None,
                      sandbox="none (--trust-submissions)" if trust else "bwrap")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(nb, dict):
            raise ValueError("the file is JSON but not a notebook")
    except (OSError, UnicodeDecodeError, ValueError) as err:
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
    outcome.possible = bundle.points
    outcome.scores = {q: 0.0 for q in bundle.questions}
    cells = code_cells(nb)
    outcome.reasons += suspicious(cells, bundle)

    upto = len(cells)
    for attempt_no in range(2):
        with tempfile.TemporaryDirectory(prefix="frontier-grade-",
                                         ignore_cleanup_errors=True) as tmp:
            run = sandbox.run({"cells": cells[:upto], "tests": bundle.sources()}, Path(tmp),
                              limits, trust=trust)
        attempt = _validate(run, bundle, upto)
        if attempt.finished and run.limit is None and run.exit_code == 0:
            _score(outcome, bundle, attempt)
            outcome.reasons += attempt.errors
            if attempt.memory_limit and attempt_no == 0:
                outcome.status = "memory limit"
                outcome.reasons.append(f"cell {attempt.cells_done} ran out of memory "
                                       f"({limits.memory_mb} MB); graded on the cells before it")
            elif outcome.status == "ok" and any(m in e for e in attempt.errors
                                                  for m in ("File too large", "No space left")):
                outcome.status = "file size limit"
                outcome.reasons.append(f"a file grew past {limits.file_mb} MB, or the files past "
                                       f"{limits.disk_mb} MB (file size limit)")
            break
        where = f"in cell {attempt.cells_done + 1}" if attempt.cells_done < upto else \
            "while the checks ran"
        if run.limit:
            status = run.limit
            why = {"time limit": f"stopped after {limits.seconds:g} s (time limit)",
                   "output limit": f"printed more than {limits.output_kb} kB (output limit)",
                   "process limit": f"started more than {limits.processes} processes "
                                    "(process limit)"}[run.limit] + f" {where}"
        else:
            status = "crashed"
            last = run.output.strip().splitlines()[-1][:200] if run.output.strip() else \
                "no output"
            why = f"the notebook's process died {where} (exit {run.exit_code}): {last}"
        if attempt_no == 1:
            outcome.reasons.append("re-grading the completed cells failed too: " + why)
            outcome.scores = {q: 0.0 for q in bundle.questions}
            break
        outcome.status = status
        outcome.reasons.append(why + f"; graded on the {min(attempt.cells_done, upto)} "
                               "cell(s) before it")
        upto = min(attempt.cells_done, upto)
    if trust:
        outcome.reasons.append("graded WITHOUT a sandbox (--trust-submissions)")
    outcome.seconds = time.monotonic() - start
    return outcome


def grade_folder(folder: Path, out: Path, *, autograder_dir: Path = AUTOGRADER,
                 student_dir: Path = STUDENT, timeout: float = DEFAULT_TIMEOUT,
                 progress: bool = True, trust_submissions: bool = False,
                 limits: sandbox.Limits | None = None) -> list[Outcome]:
    """Grade every ``*.ipynb`` in ``folder``; write ``grades.csv`` and one JSON each to ``out``.

    Raises :class:`frontier.sandbox.SandboxUnavailable` when no sandbox can be made, unless
    ``trust_submissions`` (then every row says it was graded without one).
    """
    folder, out = Path(folder), Path(out)
    if not folder.is_dir():
        raise FileNotFoundError(f"no submissions folder {folder}")
    submissions = sorted(p for p in folder.glob("*.ipynb") if p.is_file())
    if not submissions:
        raise FileNotFoundError(f"no .ipynb submissions in {folder}")
    names = sorted(p.stem for p in autograder_dir.glob("*.zip")) if autograder_dir.is_dir() else []
    if not names:
        raise FileNotFoundError(f"no autograder bundles in {autograder_dir}: run "
                                "`make exercises` first")
    if not trust_submissions:
        sandbox.check_available()
    bundles = {name: load_bundle(name, autograder_dir, student_dir) for name in names}
    limits = limits or sandbox.Limits(seconds=timeout)
    outcomes = []
    for i, path in enumerate(submissions, 1):
        try:
            outcome = grade_one(path, bundles, limits=limits, trust=trust_submissions)
        except Exception as err:  # noqa: BLE001 (one submission never stops the folder)
            outcome = Outcome(submission=path.name, exercise=None, status="error",
                              reasons=[f"the grader failed on this submission: "
                                       f"{type(err).__name__}: {err}"[:500]])
        outcomes.append(outcome)
        if progress:
            print(f"[{i}/{len(submissions)}] {path.name}: {outcome.total:g}/"
                  f"{sum(outcome.possible.values()):g} ({outcome.status})", flush=True)
    write_grades(outcomes, out)
    return outcomes


def write_grades(outcomes: list[Outcome], out: Path) -> Path:
    """``grades.csv`` (submission, exercise, one column per question, total, possible, status,
    sandbox, reasons) and ``<submission>.json`` per submission, in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    questions = sorted({q for o in outcomes for q in o.possible},
                       key=lambda q: (len(q), q))
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["submission", "exercise", *questions, "total", "possible", "status",
                         "sandbox", "reasons"])
        for o in outcomes:
            writer.writerow([o.submission, o.exercise or "",
                             *[f"{o.scores[q]:g}" if q in o.scores else "" for q in questions],
                             f"{o.total:g}", f"{sum(o.possible.values()):g}", o.status,
                             o.sandbox, " | ".join(o.reasons)])
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
    g.add_argument("--memory-mb", type=int, default=sandbox.Limits.memory_mb,
                   help="address space per process, MB (default %(default)s)")
    g.add_argument("--trust-submissions", action="store_true",
                   help="grade WITHOUT a sandbox (no bubblewrap here): the submissions' code "
                        "runs with your rights and can change any grade; every row says so")
    args = parser.parse_args(argv)
    if args.command == "assign":
        for source in args.sources or sources():
            written = assign(source)
            print(f"{source.name}: student -> {written['student']}, "
                  f"autograder -> {written['autograder']}")
        return 0
    out = args.out or ROOT / "build" / "grades" / args.folder.resolve().name
    limits = sandbox.Limits(seconds=args.timeout, memory_mb=args.memory_mb)
    try:
        outcomes = grade_folder(args.folder, out, limits=limits,
                                trust_submissions=args.trust_submissions)
    except sandbox.SandboxUnavailable as err:
        print(f"cannot grade for credit: no sandbox. {err}.\nSubmissions are arbitrary code; "
              "without a sandbox they could change each other's grades. If you trust every "
              "submission in the folder, pass --trust-submissions.", file=sys.stderr)
        return 2
    print(f"\n{len(outcomes)} submission(s) graded: {out / 'grades.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
