"""The asset registry, ``data/registry.toml``: every external file a lesson downloads.

Each ``[assets.NAME]`` table gives ``url``, ``sha256`` (empty when the publisher gives none:
trusted on first use), ``size`` in bytes (0 if unknown), ``license``, ``citation`` (a key in
``course/references.bib``) and ``description``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from frontier.data.download import FetchError, fetch_url

_FIELDS = ("url", "sha256", "size", "license", "citation", "description")


@dataclass(frozen=True)
class Asset:
    name: str
    url: str
    sha256: str
    size: int
    license: str
    citation: str
    description: str
    filename: str = ""

    @property
    def trust_on_first_use(self) -> bool:
        return not self.sha256


def registry_path() -> Path:
    """``$FRONTIER_REGISTRY``, else the repository's ``data/registry.toml``, else the copy
    installed with the package."""
    env = os.environ.get("FRONTIER_REGISTRY")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[3] / "data" / "registry.toml"
    if repo.exists():
        return repo
    return Path(__file__).with_name("registry.toml")


def load_registry(path: str | os.PathLike[str] | None = None) -> dict[str, Asset]:
    """Parse the registry into ``{name: Asset}``; a malformed entry raises ValueError naming it."""
    path = Path(path) if path is not None else registry_path()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"no asset registry at {path}") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path} is not valid TOML: {err}") from None
    assets = {}
    for name, entry in raw.get("assets", {}).items():
        missing = [f for f in _FIELDS if f not in entry]
        unknown = sorted(set(entry) - set(_FIELDS) - {"filename"})
        if missing or unknown:
            raise ValueError(f"{path}: asset {name!r} is missing {missing} / has unknown "
                             f"fields {unknown}; fields are {', '.join(_FIELDS)} (+ filename)")
        sha = str(entry["sha256"]).lower()
        if sha and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
            raise ValueError(f"{path}: asset {name!r} has sha256 {sha!r}, which is not 64 hex "
                             "digits (leave it empty for trust-on-first-use)")
        assets[name] = Asset(name=name, url=entry["url"], sha256=sha, size=int(entry["size"]),
                             license=entry["license"], citation=entry["citation"],
                             description=entry["description"],
                             filename=entry.get("filename", ""))
    return assets


def fetch(name: str, *, cache_dir: str | os.PathLike[str] | None = None,
          progress: bool = True) -> Path:
    """Download registry asset ``name`` (once; verified) and return its local path.

    Raises KeyError listing the known assets for an unknown name, and
    :class:`~frontier.data.FetchError` (naming the asset, its URL and what to do) when the
    download fails, e.g. offline.
    """
    assets = load_registry()
    if name not in assets:
        raise KeyError(f"no asset {name!r} in {registry_path()}; known assets: "
                       f"{', '.join(sorted(assets)) or '(none)'}")
    asset = assets[name]
    try:
        return fetch_url(asset.url, asset.sha256 or None, filename=asset.filename or None,
                         cache_dir=cache_dir, asset=name, progress=progress)
    except FetchError as err:
        message = str(err)
        if repr(name) not in message:
            message = f"asset {name!r}: {message}"
        raise FetchError(message, asset=name, url=asset.url) from None
