"""Exercises: sources run, student notebooks are fresh, and grading is right and tamper-proof."""

from __future__ import annotations

import csv
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from frontier import exercises, sandbox

ROOT = Path(__file__).resolve().parents[1]
SOURCES = exercises.sources()
FIXTURES = ROOT / "tests" / "fixtures" / "submissions"
ATTACKS = ROOT / "tests" / "fixtures" / "attacks"
sys.path.insert(0, str(ATTACKS))
import build as attacks  # noqa: E402 (tests/fixtures/attacks/build.py)

TIME_LIMIT = 60.0  # seconds per submission in the graded folder
ANSWERLESS = ["patch_machinery", "read_solution", "pickle", "side_files", "escape", "root",
              "always_equal"]
LIMITS = {"memory_hog": "memory limit", "output_flood": "output limit",
          "process_flood": "process limit", "big_file": "file size limit"}


@pytest.fixture(scope="session")
def assigned(tmp_path_factory):
    """Every source assigned afresh into a temporary tree (as `make exercises` does)."""
    base = tmp_path_factory.mktemp("assigned")
    dirs = {"student_dir": base / "student", "autograder_dir": base / "autograder",
            "tests_dir": base / "tests"}
    for source in SOURCES:
        exercises.assign(source, **dirs)
    return dirs


def test_there_is_a_warmup_set():
    assert SOURCES and SOURCES[0].name == "00_warmup.ipynb"


def test_sources_run_cell_by_cell_under_nbval():
    out = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-q",
                          "-p", "no:cacheprovider", *map(str, SOURCES)],
                         cwd=ROOT / "exercises" / "source", capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout[-4000:]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_committed_student_notebook_is_fresh(source, assigned):
    fresh = assigned["student_dir"] / source.name
    committed = ROOT / "exercises" / "student" / source.name
    assert committed.exists(), f"{committed} missing: run `make exercises` and commit it"
    assert committed.read_text() == fresh.read_text(), \
        f"{committed} is stale relative to {source}: run `make exercises` and commit"
    tests = sorted(p.name for p in (assigned["tests_dir"] / source.stem).iterdir())
    shipped = exercises.PUBLIC_TESTS / source.stem
    assert tests == sorted(p.name for p in shipped.iterdir())
    for name in tests:
        assert (shipped / name).read_text() == \
            (assigned["tests_dir"] / source.stem / name).read_text(), f"{name} is stale"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_student_notebook_hides_solutions_and_hidden_tests(source, assigned):
    student = (ROOT / "exercises" / "student" / source.name).read_text()
    assert "BEGIN SOLUTION" not in student and "# HIDDEN" not in student
    public = "".join(p.read_text() for p in (exercises.PUBLIC_TESTS / source.stem).iterdir())
    assert "'hidden': True" not in public and '"hidden": True' not in public
    bundle = exercises.load_bundle(source.stem, assigned["autograder_dir"],
                                   assigned["student_dir"])
    assert any(case.hidden for cases in bundle.questions.values() for case in cases), \
        "the autograder bundle carries the hidden tests"
    assert all(case.examples and case.examples[-1].want for cases in bundle.questions.values()
               for case in cases), "every test case prints what it checks"


# -- submissions ----------------------------------------------------------------------------
def answer_cells(nb):
    return [c for c in nb["cells"] if "otter_answer_cell" in c.get("metadata", {}).get("tags", [])]


def submission(assigned, exercise, answers=None, extra=None, drop_checks=False):
    """A student notebook with `answers` (index -> source; default: the reference solution)
    pasted into its answer cells; `extra` (index -> source) adds a cell after answer `index`."""
    student = json.loads((assigned["student_dir"] / f"{exercise}.ipynb").read_text())
    solution = json.loads((assigned["autograder_dir"] / f"{exercise}-solution.ipynb").read_text())
    solved = [c for c in solution["cells"] if c["cell_type"] == "code" and
              "otter_assign_solution_cell" in c.get("metadata", {}).get("tags", [])]
    cells = answer_cells(student)
    assert len(cells) == len(solved), "answer cells and solution cells must match one to one"
    for i, cell in enumerate(cells):
        src = solved[i]["source"]
        cell["source"] = (answers or {}).get(i, "".join(src) if isinstance(src, list) else src)
    for i, src in sorted((extra or {}).items(), reverse=True):
        at = student["cells"].index(cells[i]) + 1
        student["cells"].insert(at, nbformat.v4.new_code_cell(src))
    if drop_checks:
        student["cells"] = [c for c in student["cells"] if "grader.check" not in
                            "".join(c["source"])]
    return student


WRONG = {
    1: "def read_results(nb):\n    return {}\n",
    2: "def verify(path, sha256):\n    return False\n",
}


@pytest.fixture(scope="module")
def local_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"the answers")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def graded(assigned, tmp_path_factory, local_server):
    """Grade one mixed folder, as `make grade SUBMISSIONS=folder/` does: honest work, mistakes,
    crashes, the old tampering tricks and one submission per attack class of issue 11."""
    folder = tmp_path_factory.mktemp("submissions")
    ex = "00_warmup"
    student = (assigned["student_dir"] / f"{ex}.ipynb").read_text()
    cases = {
        "correct": submission(assigned, ex),
        "untouched": json.loads(student),
        "partial": json.loads((FIXTURES / "00_warmup_partial.ipynb").read_text()),
        "wrong": submission(assigned, ex, answers=WRONG),
        # crashes its kernel after q1 and q2 are answered
        "crashing": submission(assigned, ex, extra={1: "import os\nos._exit(3)"}),
        # loops forever after q1 is answered
        "looping": submission(assigned, ex, extra={0: "while True:\n    pass"}),
        # reads the network (a server on this machine) after q2
        "network": submission(assigned, ex, extra={1: (
            "import urllib.request\n"
            f"leaked = urllib.request.urlopen({local_server!r}, timeout=5).read()")}),
        # the same server through the first process's network namespace
        "network_nsenter": submission(assigned, ex, extra={1: (
            "import subprocess, sys\n"
            "leaked = subprocess.run(['nsenter', '-t', '1', '-n', sys.executable, '-c', "
            + repr(f"import urllib.request; print(urllib.request.urlopen({local_server!r}, "
                   "timeout=5).read())")
            + "], capture_output=True, text=True)\n"
            "assert 'the answers' in leaked.stdout, f'no network: {leaked.stderr[-200:]}'")}),
        # wrong answers, every check cell deleted
        "tamper_deleted_checks": submission(assigned, ex, answers=WRONG, drop_checks=True),
        # wrong answers and a fake grader that says everything passed
        "tamper_fake_grader": submission(assigned, ex, answers=WRONG, extra={0: (
            "class Fake:\n    def check(self, q):\n        print(q, 'passed')\n"
            "    def check_all(self):\n        print('all passed')\n\ngrader = Fake()")}),
        # wrong answers, then overwrite the test files the grader reads with ones that pass
        "tamper_test_files": submission(assigned, ex, answers=WRONG, extra={0: (
            "import os, glob\nos.makedirs('tests', exist_ok=True)\n"
            "for name in ['q1', 'q2', 'q3', 'q4']:\n"
            "    with open(f'tests/{name}.py', 'w') as fh:\n"
            "        fh.write(\"OK_FORMAT = True\\ntest = {'name': '%s', 'points': 9, 'suites': "
            "[{'cases': [{'code': '>>> True\\\\nTrue', 'hidden': False, 'locked': False}], "
            "'scored': True, 'setup': '', 'teardown': '', 'type': 'doctest'}]}\" % name)\n")}),
        # wrong answers, then patch the grader's checker and the builtins the checks use
        "tamper_patch_checker": submission(assigned, ex, answers=WRONG, extra={0: (
            "from otter.execute import Checker\nChecker.check_if_not_already_checked = "
            "lambda *a, **k: None")}),
        "tamper_builtins": submission(assigned, ex, answers={
            **WRONG, 2: "def verify(path, sha256):\n    return True\n"},
            extra={2: "import builtins\nbuiltins.AssertionError = type('Never', (Exception,), {})\n"
                      "def isinstance(*a):\n    return True"}),
        "tamper_eq": submission(assigned, ex, answers={
            1: "class Anything(dict):\n    def __eq__(self, other):\n        return True\n\n"
               "def read_results(nb):\n    return Anything()\n"}),
    }
    for name, nb in cases.items():
        (folder / f"{ex}_{name}.ipynb").write_text(json.dumps(nb))
    for name in attacks.ATTACKS:
        (folder / f"{ex}_attack_{name}.ipynb").write_bytes(
            (ATTACKS / f"{ex}_attack_{name}.ipynb").read_bytes())
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    out = tmp_path_factory.mktemp("grades")
    outcomes = exercises.grade_folder(folder, out, autograder_dir=assigned["autograder_dir"],
                                      student_dir=assigned["student_dir"], timeout=TIME_LIMIT,
                                      progress=False)
    graded_at = time.monotonic()
    grades = (out / "grades.csv").read_bytes()
    with open(out / "grades.csv") as fh:
        rows = {r["submission"].removeprefix(f"{ex}_").removesuffix(".ipynb"): r
                for r in csv.DictReader(fh)}
    return {"rows": rows, "outcomes": {o.submission: o for o in outcomes}, "out": out,
            "folder": folder, "before": before, "grades": grades, "graded_at": graded_at}


def score(graded, name):
    row = graded["rows"][name]
    return {q: float(row[q]) for q in ("q1", "q2", "q3", "q4")}, float(row["total"])


def test_grades_csv_has_a_row_per_submission_and_a_column_per_question(graded):
    rows = graded["rows"]
    assert len(rows) == 14 + len(attacks.ATTACKS)
    header = next(iter(rows.values())).keys()
    assert list(header)[:6] == ["submission", "exercise", "q1", "q2", "q3", "q4"]
    assert {"total", "possible", "status", "sandbox", "reasons"} <= set(header)
    assert {r["sandbox"] for r in rows.values()} == {"bwrap"}
    for name in rows:
        assert (graded["out"] / f"00_warmup_{name}.json").exists()


def test_reference_solution_scores_full_marks(graded):
    assert score(graded, "correct") == ({"q1": 2, "q2": 3, "q3": 3, "q4": 2}, 10)
    assert graded["rows"]["correct"]["status"] == "ok"


def test_untouched_student_notebook_scores_zero(graded):
    assert score(graded, "untouched")[1] == 0
    assert graded["rows"]["untouched"]["status"] == "ok"


def test_partly_wrong_submission_gets_its_exact_partial_score(graded):
    # q1 right (2); q2, q3, q4 pass their public case, fail the hidden one: half of each
    assert score(graded, "partial") == ({"q1": 2, "q2": 1.5, "q3": 1.5, "q4": 1}, 6)


def test_wrong_answers_score_only_what_is_right(graded):
    assert score(graded, "wrong") == ({"q1": 2, "q2": 0, "q3": 0, "q4": 2}, 4)


def test_crashing_submission_keeps_points_earned_before_the_crash(graded):
    scores, total = score(graded, "crashing")
    assert scores == {"q1": 2, "q2": 3, "q3": 0, "q4": 0}
    row = graded["rows"]["crashing"]
    assert row["status"] == "crashed" and "died in cell" in row["reasons"]


def test_looping_submission_is_stopped_and_keeps_earlier_points(graded):
    scores, _ = score(graded, "looping")
    assert scores == {"q1": 2, "q2": 0, "q3": 0, "q4": 0}
    row = graded["rows"]["looping"]
    assert row["status"] == "time limit" and "time limit" in row["reasons"]


@pytest.mark.parametrize("name", ["network", "network_nsenter"])
def test_a_listener_on_127_0_0_1_cannot_be_reached_from_inside(graded, name):
    scores, total = score(graded, name)
    assert total == 10, "the other answers are still graded"
    assert "network" in graded["rows"][name]["reasons"].lower()
    assert "the answers" not in json.dumps(graded["outcomes"][f"00_warmup_{name}.ipynb"]
                                           .to_json())


@pytest.mark.parametrize("name", ["tamper_deleted_checks", "tamper_fake_grader",
                                  "tamper_test_files", "tamper_patch_checker"])
def test_old_tampering_tricks_do_not_raise_the_score(graded, name):
    assert score(graded, name) == score(graded, "wrong")


def test_redefining_builtins_or_assert_gains_nothing_and_is_reported(graded):
    scores, _ = score(graded, "tamper_builtins")
    assert scores["q3"] == 0
    reasons = graded["rows"]["tamper_builtins"]["reasons"]
    assert "looks suspicious" in reasons and "builtins" in reasons


def test_always_equal_objects_gain_nothing(graded):
    scores, _ = score(graded, "tamper_eq")
    assert scores["q2"] == 0 and "__eq__" in graded["rows"]["tamper_eq"]["reasons"]


def test_suspicious_cells_are_reported_by_cell(graded):
    reasons = graded["rows"]["tamper_patch_checker"]["reasons"]
    assert "cell 3 looks suspicious" in reasons and "grader's internals" in reasons


# -- issue 11: one submission per attack class ------------------------------------------------
def test_committed_attack_fixtures_are_what_build_py_makes():
    for name in attacks.ATTACKS:
        committed = (ATTACKS / f"00_warmup_attack_{name}.ipynb").read_text(encoding="utf-8")
        assert committed == attacks.text(attacks.build(name)), \
            f"run `python tests/fixtures/attacks/build.py` and commit ({name})"


@pytest.mark.parametrize("name", ANSWERLESS)
def test_answerless_attack_scores_zero(graded, name):
    row = graded["rows"][f"attack_{name}"]
    assert score(graded, f"attack_{name}")[1] == 0, row
    assert row["sandbox"] == "bwrap"


def test_partly_right_attack_scores_exactly_its_answers(graded):
    assert score(graded, "attack_partly_right") == ({"q1": 2, "q2": 0, "q3": 0, "q4": 0}, 2)


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_a_limit_is_a_status_and_keeps_the_points_before_it(graded, name):
    row = graded["rows"][f"attack_{name}"]
    assert row["status"] == LIMITS[name], row
    assert score(graded, f"attack_{name}") == ({"q1": 2, "q2": 0, "q3": 0, "q4": 0}, 2), row


def test_classmates_are_unchanged_byte_for_byte(graded):
    folder, before = graded["folder"], graded["before"]
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert score(graded, "correct")[1] == 10 and score(graded, "partial")[1] == 6


def test_nothing_the_submissions_wrote_reached_the_host(graded):
    assert not Path(attacks.PICKLE_RAN).exists(), "the grader unpickled a submission's object"
    assert not Path("/usr/frontier_attack_root").exists()
    assert not any(p.suffix == ".pkl" for p in graded["out"].iterdir())


def test_no_process_of_a_submission_outlives_it(graded):
    survivors = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if attacks.SURVIVOR.encode() in cmdline:
            survivors.append((pid, cmdline))
    assert survivors == []


def test_a_held_pipe_does_not_hang_the_grader(graded):
    escape = graded["outcomes"]["00_warmup_attack_escape.ipynb"]
    assert escape.status == "ok" and escape.seconds < TIME_LIMIT, escape.to_json()


def test_grades_csv_is_unchanged_30_s_after_grading(graded):
    time.sleep(max(0.0, graded["graded_at"] + 30 - time.monotonic()))
    assert (graded["out"] / "grades.csv").read_bytes() == graded["grades"]
    assert {p.name: p.read_bytes() for p in graded["folder"].iterdir()} == graded["before"]


def test_without_a_sandbox_grading_stops_unless_trusted(assigned, tmp_path, monkeypatch,
                                                         capsys):
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "00_warmup_untouched.ipynb").write_text(
        (assigned["student_dir"] / "00_warmup.ipynb").read_text())
    dirs = {"autograder_dir": assigned["autograder_dir"], "student_dir": assigned["student_dir"]}
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install bubblewrap"):
        exercises.grade_folder(folder, tmp_path / "out", progress=False, **dirs)
    assert not (tmp_path / "out").exists()
    monkeypatch.setattr(exercises.grade_folder, "__kwdefaults__",
                        {**exercises.grade_folder.__kwdefaults__, **dirs})
    assert exercises.main(["grade", str(folder), "--out", str(tmp_path / "out")]) == 2
    assert "--trust-submissions" in capsys.readouterr().err
    outcomes = exercises.grade_folder(folder, tmp_path / "trusted", progress=False,
                                      trust_submissions=True, **dirs)
    assert outcomes[0].status == "ok" and outcomes[0].total == 0
    with open(tmp_path / "trusted" / "grades.csv") as fh:
        row = next(csv.DictReader(fh))
    assert row["sandbox"] == "none (--trust-submissions)"
    assert "WITHOUT a sandbox" in row["reasons"]


def test_grading_refuses_an_unknown_exercise(assigned, tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "essay.ipynb").write_text(json.dumps(nbformat.v4.new_notebook()))
    (folder / "broken.ipynb").write_text("{not json")
    outcomes = exercises.grade_folder(folder, tmp_path / "out",
                                      autograder_dir=assigned["autograder_dir"],
                                      student_dir=assigned["student_dir"], progress=False)
    by_name = {o.submission: o for o in outcomes}
    assert by_name["essay.ipynb"].status == "unknown exercise"
    assert by_name["broken.ipynb"].status == "unreadable"


def test_student_notebook_with_reference_answers_passes_check_all(assigned):
    from nbclient import NotebookClient

    nb = nbformat.from_dict(submission(assigned, "00_warmup"))
    nb.cells.append(nbformat.v4.new_code_cell(
        "results = grader.check_all()\n"
        "assert results.passed_all_public, results\n"
        "print('CHECK_ALL_PASSED')"))
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "exercises" / "student")}}).execute()
    text = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert "CHECK_ALL_PASSED" in text
    assert "q1 results: All test cases passed!" in text


def test_student_self_check_reports_a_failing_answer(assigned):
    from nbclient import NotebookClient

    nb = nbformat.from_dict(submission(assigned, "00_warmup", answers=WRONG))
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(ROOT / "exercises" / "student")}}).execute()
    checks = [c for c in nb.cells if c.cell_type == "code" and 'grader.check("q2")' in c.source]
    assert "q2 results:" in json.dumps(checks[0].outputs)
    assert "All test cases passed" not in json.dumps(checks[0].outputs)


def test_tampering_detector_allows_ordinary_code():
    ordinary = ("import numpy as np\nimport hashlib, os, pathlib, tempfile\n"
                "class Model:\n    def __init__(self):\n        self.w = np.zeros(3)\n"
                "def f(path):\n    d = hashlib.sha256()\n    with open(path, 'rb') as fh:\n"
                "        d.update(fh.read())\n    return d.hexdigest()\n%matplotlib inline\n")
    assert exercises.tampering(ordinary) == []
    assert exercises.tampering("import numpy as np\nnp.isclose = None")
    assert exercises.tampering("sum = lambda x: 0")
    assert exercises.tampering("x = ().__class__.__subclasses__()")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_reference_solution_scores_full_and_untouched_scores_zero(source, assigned,
                                                                         tmp_path):
    if source.stem == "00_warmup":
        pytest.skip("graded with the mixed folder above")
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / f"{source.stem}_solution.ipynb").write_text(
        json.dumps(submission(assigned, source.stem)))
    (folder / f"{source.stem}_untouched.ipynb").write_text(
        (assigned["student_dir"] / source.name).read_text())
    outcomes = {o.submission: o for o in exercises.grade_folder(
        folder, tmp_path / "out", autograder_dir=assigned["autograder_dir"],
        student_dir=assigned["student_dir"], timeout=300, progress=False)}
    solved = outcomes[f"{source.stem}_solution.ipynb"]
    untouched = outcomes[f"{source.stem}_untouched.ipynb"]
    assert solved.total == sum(solved.possible.values()) > 0, solved.to_json()
    assert untouched.total == 0 and untouched.status == "ok", untouched.to_json()
