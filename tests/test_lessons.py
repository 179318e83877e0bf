"""``python -m frontier.lessons``: each lesson's wall time and its kernel's CPU time."""

from __future__ import annotations

import json
import os

import nbformat
import pytest

from frontier import lessons

BURN = 1.5  # CPU seconds the lesson below spends in its kernel


def _lesson(path, code):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    params = nbformat.v4.new_code_cell('PROFILE = "quick"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)
    return path


@pytest.mark.timeout(300)
def test_summary_records_wall_and_kernel_cpu_time(tmp_path, capsys):
    busy = _lesson(tmp_path / "01_busy.ipynb", f"""import time
from frontier.report import record
start = time.process_time()
while time.process_time() - start < {BURN}:
    pass
record("burned", time.process_time() - start)""")
    idle = _lesson(tmp_path / "02_idle.ipynb", "import time\ntime.sleep(2)\nraise SystemError('x')")
    out = tmp_path / "out"
    rows = lessons.run([busy, idle], "smoke", out_dir=out)
    assert rows == json.loads((out / "summary.json").read_text())
    first, second = rows
    assert first["status"] == "ok" and first["results"]["burned"] >= BURN
    # the kernel's CPU time, not this process's: the busy loop ran in the kernel
    assert BURN <= first["cpu_seconds"] <= first["wall_seconds"] * (os.cpu_count() or 1)
    assert first["wall_seconds"] >= BURN and first["load_average"] >= 0
    # a failed lesson is timed too; sleeping costs wall time, not CPU time
    assert second["status"] == "FAILED" and "SystemError" in second["error"]
    assert second["wall_seconds"] >= 2 and second["cpu_seconds"] < second["wall_seconds"]
    shown = lessons.table(rows)
    assert "CPU" in shown and f"{first['cpu_seconds']:.1f}s" in shown
    assert f"{first['wall_seconds']:.1f} s wall" in capsys.readouterr().out
