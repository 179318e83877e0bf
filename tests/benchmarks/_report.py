"""What every benchmark writes: its measurements plus the facts of the machine that ran it.

The machines are shared and noisy, so a report carries the load average next to the numbers;
read ratios measured in one run, not absolute times across runs.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parents[2] / "build" / "bench"


def write_report(name: str, report: dict[str, Any]) -> Path:
    """Write ``report`` and the machine's facts to ``build/bench/<name>.json``; return the path."""
    facts = {"machine": platform.machine(), "cpus": os.cpu_count(),
             "python": platform.python_version(),
             "load_average_1min": round(os.getloadavg()[0], 2)}
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}.json"
    path.write_text(json.dumps({**report, "environment": facts}, indent=2))
    print(f"wrote {path} (load average {facts['load_average_1min']:.1f} on {facts['cpus']} CPUs)")
    return path
