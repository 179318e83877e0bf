"""The course's data layer: downloads, the asset registry, embedded and simulated data.

- ``full`` profile: :func:`fetch` downloads an asset from ``data/registry.toml`` into the cache
  (``$FRONTIER_DATA``, default ``~/.cache/frontier``), verified by sha256; :func:`tfds_load`
  loads a tensorflow-datasets dataset and fails fast offline.
- ``quick`` profile: :func:`digits` and :func:`sample_image` (real data shipped inside
  scikit-learn and scikit-image) and :mod:`frontier.data.synthetic` (simulators with known
  ground truth).

Every failure to get data raises :class:`FetchError` naming the asset, the URL and the way
out (usually: run the lesson with ``PROFILE = "quick"``).
"""

from __future__ import annotations

import os
import socket
from typing import Any

from frontier.data.download import FetchError, cache_dir, extract, fetch_url, sha256_of  # noqa: F401
from frontier.data.embedded import digits, sample_image  # noqa: F401
from frontier.data.registry import Asset, fetch, load_registry, registry_path  # noqa: F401

#: The host tensorflow-datasets downloads most datasets from (probed before a TFDS download).
TFDS_PROBE = ("storage.googleapis.com", 443)


def network_available(host: tuple[str, int] = TFDS_PROBE, timeout: float = 5.0) -> bool:
    """True when a TCP connection to ``host`` opens within ``timeout`` seconds."""
    try:
        with socket.create_connection(host, timeout=timeout):
            return True
    except OSError:
        return False


def tfds_load(name: str, **kwargs: Any) -> Any:
    """``tfds.load(name, **kwargs)`` that fails fast offline.

    A dataset already prepared in the TFDS data dir loads without the network. Otherwise the
    download host is probed first: offline, :class:`FetchError` is raised within seconds
    (plain ``tfds.load`` would retry for minutes).
    """
    import tensorflow_datasets as tfds

    kwargs.setdefault("data_dir", os.environ.get("TFDS_DATA_DIR")
                      or str(cache_dir() / "tensorflow_datasets"))
    try:
        return tfds.load(name, download=False, **kwargs)
    except (AssertionError, tfds.core.registered.DatasetNotFoundError, FileNotFoundError) as err:
        if isinstance(err, tfds.core.registered.DatasetNotFoundError) and "not found" in str(err) \
                and name.split("/")[0].split(":")[0] not in tfds.list_builders():
            raise ValueError(f"tensorflow-datasets has no dataset {name!r}") from None
    if not network_available():
        raise FetchError(
            f"tensorflow-datasets dataset {name!r} is not in {kwargs['data_dir']} and "
            f"{TFDS_PROBE[0]} cannot be reached (offline?). Run the lesson with "
            f"PROFILE = \"quick\" (embedded data, no downloads), or prepare the dataset on a "
            f"machine with internet and copy {kwargs['data_dir']} here.",
            asset=name, url=f"https://{TFDS_PROBE[0]}/")
    return tfds.load(name, download=True, **kwargs)
