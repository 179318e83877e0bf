"""Recorded results: what a lesson measured, machine-readable.

A notebook publishes each headline number with :func:`record`; tests, benchmarks and
``make lessons`` read them back from the executed notebook with :func:`read`, never from
printed text.

    frontier.report.record("coverage_80", 0.81)
    frontier.report.read("build/notebooks/02_galaxy_bayesian_cnn.ipynb")["coverage_80"]

In a notebook the value travels in the cell's output under the MIME type
:data:`MIME_TYPE` (next to a readable text line). Outside IPython it is kept in
:func:`recorded` and, when the environment variable ``FRONTIER_RESULTS`` names a file,
appended there as JSON lines.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

MIME_TYPE = "application/vnd.frontier.result+json"

_RECORDED: dict[str, Any] = {}


def to_json(value: Any) -> Any:
    """Convert numpy/TensorFlow scalars and arrays (nested in dicts/lists) to plain JSON."""
    if hasattr(value, "numpy") and callable(value.numpy):  # tf.Tensor / tf.Variable
        value = value.numpy()
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy array or scalar
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else (1e308 if value > 0 else -1e308)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(
        f"cannot record a value of type {type(value).__name__}: record numbers, strings, "
        "lists or dicts of them (convert with float(), .tolist() or a dict)"
    )


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def record(name: str, value: Any) -> None:
    """Publish result ``name`` = ``value`` (numbers, strings, lists and dicts of them; numpy and
    TensorFlow values are converted). Returns nothing, so a notebook shows the value once."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"result name {name!r} must be a Python identifier, like 'coverage_80'")
    data = to_json(value)
    _RECORDED[name] = data
    if _in_ipython():
        from IPython.display import display

        text = json.dumps(data)
        if len(text) > 200:
            text = text[:197] + "..."
        display({MIME_TYPE: {"name": name, "value": data},
                 "text/plain": f"[recorded] {name} = {text}"}, raw=True)
    target = os.environ.get("FRONTIER_RESULTS")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"name": name, "value": data}) + "\n")


def recorded() -> dict[str, Any]:
    """The results recorded in this process so far (a copy)."""
    return dict(_RECORDED)


def read(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return ``{name: value}`` of every result recorded in an executed notebook.

    A later record of the same name wins, as it would in the notebook.
    """
    path = Path(path)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"no executed notebook at {path}: run it first "
                                "(make lessons, or papermill)") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not a notebook (invalid JSON: {err})") from None
    results: dict[str, Any] = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            payload = output.get("data", {}).get(MIME_TYPE)
            if payload is None:
                continue
            if isinstance(payload, str):  # some writers store JSON MIME data as text
                payload = json.loads(payload)
            results[payload["name"]] = payload["value"]
    return results
