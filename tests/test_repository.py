"""Repository hygiene: CITATION.cff validates (cffconvert), references.bib holds every paper
the course names, and the code passes ruff."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CFFCONVERT = ROOT / "build" / "cite-venv" / "bin" / "cffconvert"

PAPERS = ["kolesnikov2020bit", "walmsley2020galaxy", "tran2018closer", "wang2018esrgan",
          "skolik2021layerwise", "howard2017mobilenets", "chowdhery2019vww", "gal2016dropout",
          "houlsby2011bald", "zhang2018mixup", "mcclean2018barren"]


def test_citation_cff_validates():
    if not CFFCONVERT.exists():
        pytest.fail(f"{CFFCONVERT} is missing: run `make test`, which installs cffconvert into "
                    "its own venv (it needs jsonschema<4, which Jupyter cannot live with)")
    out = subprocess.run([str(CFFCONVERT), "--validate", "-i", str(ROOT / "CITATION.cff")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_cffconvert_rejects_a_broken_file(tmp_path):
    if not CFFCONVERT.exists():
        pytest.fail(f"{CFFCONVERT} is missing: run `make test`")
    broken = tmp_path / "CITATION.cff"
    broken.write_text((ROOT / "CITATION.cff").read_text().replace("cff-version: 1.2.0\n", ""))
    out = subprocess.run([str(CFFCONVERT), "--validate", "-i", str(broken)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0


def test_references_bib_has_the_course_papers():
    bib = (ROOT / "course" / "references.bib").read_text()
    keys = re.findall(r"@\w+\{([^,]+),", bib)
    assert len(keys) == len(set(keys)), "duplicate cite keys"
    for key in PAPERS:
        assert key in keys, f"{key} missing from course/references.bib"


def test_lessons_cite_known_keys():
    from frontier.lessons import COURSE

    bib = (ROOT / "course" / "references.bib").read_text()
    for stem, _, _, paper in COURSE:
        assert not paper or f"{{{paper}," in bib, f"{stem} cites {paper}, not in references.bib"


def test_library_and_tests_pass_ruff():
    import shutil
    import sys

    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    out = subprocess.run([ruff, "check", "lib", "tests"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-4000:]


def test_package_docstring_names_the_modules_that_exist():
    """frontier/__init__ lists its modules; a module added or removed must be listed or dropped."""
    import frontier

    package = ROOT / "lib" / "frontier"
    modules = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {p.name for p in package.iterdir() if (p / "__init__.py").exists()}
    named = set(re.findall(r"``(\w+)``", frontier.__doc__ or ""))
    assert modules - named == set(), f"not described in frontier/__init__: {modules - named}"
    stale = {n for n in named if n.islower() and n not in modules and n != "frontier"}
    assert stale == set(), f"frontier/__init__ names modules that do not exist: {stale}"


def test_library_cites_only_test_files_that_exist():
    for path in (ROOT / "lib" / "frontier").rglob("*.py"):
        for cited in re.findall(r"tests/[\w/]+\.py", path.read_text()):
            assert (ROOT / cited).exists(), f"{path.relative_to(ROOT)} cites missing {cited}"
