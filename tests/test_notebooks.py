"""Every lesson notebook: clean when committed, and runs in the smoke profile."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from frontier import lessons, report

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_start_here.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert path.stem in {stem for stem, *_ in lessons.COURSE}, \
        f"{path.name} is not in the course map (frontier.lessons.COURSE)"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs: clear them"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"
    title, setup, params = nb.cells[:3]
    assert title.cell_type == "markdown" and title.source.startswith("# ")
    assert "colab.research.google.com" in title.source and "mybinder.org" in title.source
    assert setup.cell_type == "code" and "frontier.check_environment()" in setup.source
    assert "pip" in setup.source and "except ModuleNotFoundError" in setup.source
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert tagged == [params], "the third cell, and only it, is tagged `parameters`"
    assigned = {t.id: ast.literal_eval(node.value) for node in ast.parse(params.source).body
                if isinstance(node, ast.Assign) for t in node.targets}
    assert assigned.get("PROFILE") == "quick", "the parameters cell sets PROFILE = \"quick\""
    assert any(c.cell_type == "markdown" and "\n## What we saw" in "\n" + c.source
               for c in nb.cells), "a lesson ends with a 'What we saw' section"


@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_smoke_profile(path):
    out = ROOT / "build" / "notebooks-smoke" / path.name
    out.unlink(missing_ok=True)
    lessons.execute(path, out, "smoke", timeout=600)
    results = report.read(out)
    assert results, f"{path.name} ran but recorded no results"
    assert results.get("profile", "smoke") == "smoke"
    executed = nbformat.read(out, as_version=4)
    if "plt.show()" in path.read_text():
        images = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs
                  if "image/png" in o.get("data", {})]
        assert images, f"{path.name} shows figures but none reached the executed notebook"

