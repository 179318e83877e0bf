"""Version guard and environment report (used by every notebook's setup cell and notebook 00).

The course is tested against the exact versions pinned in ``requirements.txt``. On Colab or an
older local install TensorFlow may differ; :func:`check_environment` then warns (as the TinyMLx
notebooks' version guard does) instead of failing, so the learner knows where a difference in
behaviour may come from.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
import warnings
from typing import Any

#: The versions the course is tested with; ``tests/test_foundation.py`` keeps these equal to
#: ``requirements.txt``.
PINNED: dict[str, str] = {
    "tensorflow": "2.21.0",
    "keras": "3.15.1",
}


def installed_version(package: str) -> str | None:
    """The installed distribution version of ``package``, or None when it is not installed."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def version_mismatches(pinned: dict[str, str] | None = None) -> dict[str, tuple[str | None, str]]:
    """``{package: (installed, pinned)}`` for each pinned package whose version differs."""
    pinned = PINNED if pinned is None else pinned
    out = {}
    for package, want in pinned.items():
        have = installed_version(package)
        if have != want:
            out[package] = (have, want)
    return out


def in_colab() -> bool:
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def import_tensorflow_quietly() -> Any:
    """Import TensorFlow and probe its devices without the C++ start-up log.

    With ``TF_CPP_MIN_LOG_LEVEL`` >= 2, TensorFlow 2.21 still writes oneDNN and CUDA-probing
    lines to the process's stderr before its logging starts; in a notebook they land in the
    learner's output. They are start-up chatter, not errors (a Python error is still raised),
    so they are sent to /dev/null while TensorFlow starts. Returns the ``tensorflow`` module.
    """
    if "tensorflow" in sys.modules or int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") or 0) < 2:
        import tensorflow as tf

        return tf
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()  # CUDA probing logs here
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tf


def check_environment(pinned: dict[str, str] | None = None) -> bool:
    """Warn when an installed version differs from the course's pin; True when all match.

    Also starts TensorFlow quietly (see :func:`import_tensorflow_quietly`), as every lesson
    uses it.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if installed_version("tensorflow") is not None:
        import_tensorflow_quietly()
    mismatches = version_mismatches(pinned)
    for package, (have, want) in mismatches.items():
        hint = ("on Colab, run `!pip install -r "
                "https://raw.githubusercontent.com/frontier-course/frontier/main/requirements.txt`"
                " then restart the runtime" if in_colab()
                else "run `make lessons` or `pip install -r requirements.txt` in a fresh venv")
        warnings.warn(
            f"{package} {have or '(not installed)'} is installed but the course is tested with "
            f"{package}=={want}; results and APIs may differ: {hint}.",
            stacklevel=2,
        )
    return not mismatches


def report() -> dict[str, Any]:
    """A dict describing this environment: versions, devices, profile defaults, data cache."""
    from frontier import data

    tf = import_tensorflow_quietly()
    gpus = tf.config.list_physical_devices("GPU")
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "tensorflow": tf.__version__,
        "keras": installed_version("keras"),
        "numpy": installed_version("numpy"),
        "gpus": [d.name for d in gpus],
        "colab": in_colab(),
        "data_cache": str(data.cache_dir()),
        "pinned_versions_match": not version_mismatches(),
    }
