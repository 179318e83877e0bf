"""Downloads that never leave a partial or corrupt file in the cache.

:func:`fetch_url` streams a URL into a temporary file under ``<cache>/.tmp/``, hashing as it
goes, checks the length and the sha256, and only then renames the file into place (an atomic
``os.replace`` on one file system). A download killed half-way leaves only a temporary file,
which the next fetch removes. A cached file is re-hashed before it is trusted, unless its size and
modification time are those it had when it was last hashed (recorded in
``<cache>/.verified/<filename>``: a 3 GB archive takes seconds to hash); a corrupt one is
fetched again.

Assets whose publisher gives no checksum are trusted on first use: the hash of the first
complete download is recorded in ``<cache>/.sha256/<filename>`` and every later use is checked
against it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
from pathlib import Path

from tqdm.auto import tqdm

#: Seconds to wait for a connection or for the next chunk of data. Offline, name resolution
#: fails at once; a black-holed route fails after this long. Never retried for minutes.
TIMEOUT = 8.0
CHUNK = 1 << 20


class FetchError(RuntimeError):
    """A download failed; the message names the asset and the URL and says what to do."""

    def __init__(self, message: str, *, asset: str | None = None, url: str | None = None):
        super().__init__(message)
        self.asset = asset
        self.url = url


def cache_dir() -> Path:
    """The data cache: ``$FRONTIER_DATA``, else ``~/.cache/frontier``."""
    return Path(os.environ.get("FRONTIER_DATA") or Path.home() / ".cache" / "frontier")


_default_cache_dir = cache_dir  # fetch_url's parameter of the same name shadows it


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks (any size, constant memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _recorded_hash_path(cache: Path, filename: str) -> Path:
    return cache / ".sha256" / filename


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size} {stat.st_mtime_ns}"


def _remember_hash(cache: Path, dest: Path, digest: str) -> None:
    memo = cache / ".verified" / dest.name
    memo.parent.mkdir(parents=True, exist_ok=True)
    memo.write_text(f"{_stamp(dest)} {digest}\n")


def _cached_hash(cache: Path, dest: Path) -> str:
    """sha256 of the cached file ``dest``: the one recorded when it was last hashed if its size
    and modification time have not changed since, else hashed again (and recorded)."""
    memo = cache / ".verified" / dest.name
    if memo.exists():
        size, mtime, digest = (memo.read_text().split() + ["", "", ""])[:3]
        if f"{size} {mtime}" == _stamp(dest) and len(digest) == 64:
            return digest
    digest = sha256_of(dest)
    _remember_hash(cache, dest, digest)
    return digest


def _clean_stale_temporaries(tmp_dir: Path) -> None:
    """Remove temporary files left by downloads whose process is gone (e.g. killed)."""
    if not tmp_dir.is_dir():
        return
    for part in tmp_dir.glob("*.part"):
        try:
            pid = int(part.name.split(".")[-2].split("-")[0])
        except (IndexError, ValueError):
            pid = -1
        if pid != os.getpid() and not _alive(pid):
            part.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _offline_advice(asset: str | None, dest: Path) -> str:
    what = f"asset {asset!r}" if asset else "this file"
    return (f"To work offline, run the lesson with PROFILE = \"quick\" (embedded data, no "
            f"downloads). Or download {what} on a machine with internet and copy it to {dest}; "
            f"it is verified before use.")


def fetch_url(url: str, sha256: str | None = None, *, filename: str | None = None,
              cache_dir: str | os.PathLike[str] | None = None, asset: str | None = None,
              progress: bool = True, timeout: float = TIMEOUT) -> Path:
    """Download ``url`` into the cache (once) and return the local path.

    ``sha256``: the expected hex digest; None or "" trusts the first download and records its
    hash. ``filename``: the name in the cache (default: the URL's last path part). ``asset``:
    the registry name, used in error messages. Raises :class:`FetchError` on any failure
    (no network, HTTP error, timeout, truncated transfer, checksum mismatch).
    """
    cache = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    filename = filename or Path(urllib.parse.urlparse(url).path).name
    if not filename:
        raise ValueError(f"cannot tell a file name from URL {url!r}: pass filename=")
    dest = cache / filename
    expected = (sha256 or "").lower() or None
    recorded = _recorded_hash_path(cache, filename)
    label = f"asset {asset!r}" if asset else f"file {filename!r}"

    if dest.exists():
        want = expected or (recorded.read_text().strip() if recorded.exists() else None)
        have = _cached_hash(cache, dest)
        if want is None or have == want:
            if want is None:  # cached before any hash was recorded: record it now
                recorded.parent.mkdir(parents=True, exist_ok=True)
                recorded.write_text(have + "\n")
            return dest
        dest.unlink()  # corrupt or changed: fetch it again

    tmp_dir = cache / ".tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    _clean_stale_temporaries(tmp_dir)
    tmp = tmp_dir / f"{filename}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part"
    try:
        digest, size, length = _stream(url, tmp, timeout=timeout, progress=progress,
                                       desc=filename)
        if length is not None and size != length:
            raise FetchError(
                f"download of {label} from {url} was truncated: got {size} of {length} bytes. "
                f"Try again; if it keeps failing, the server or the network is unreliable. "
                + _offline_advice(asset, dest), asset=asset, url=url)
        if expected is not None and digest != expected:
            raise FetchError(
                f"checksum mismatch for {label} from {url}: expected sha256 {expected}, got "
                f"{digest} ({size} bytes). The file may be corrupt or changed upstream; the "
                f"download was discarded. Try again, and if it persists, report it.",
                asset=asset, url=url)
        if expected is None and recorded.exists():
            first = recorded.read_text().strip()
            if digest != first:
                raise FetchError(
                    f"{label} from {url} differs from the first download (sha256 {digest}, "
                    f"recorded {first} in {recorded}): the file changed upstream or is corrupt. "
                    f"Delete {recorded} only if you trust the new file.", asset=asset, url=url)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)
        _remember_hash(cache, dest, digest)
        if expected is None and not recorded.exists():
            recorded.parent.mkdir(parents=True, exist_ok=True)
            recorded.write_text(digest + "\n")
        return dest
    finally:
        tmp.unlink(missing_ok=True)


def _stream(url: str, tmp: Path, *, timeout: float, progress: bool,
            desc: str) -> tuple[str, int, int | None]:
    """Copy ``url`` into ``tmp``; return (sha256, bytes written, Content-Length or None)."""
    digest = hashlib.sha256()
    size = 0
    request = urllib.request.Request(url, headers={"User-Agent": "frontier-course"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, \
                open(tmp, "wb") as out:
            header = response.headers.get("Content-Length")
            length = int(header) if header and header.isdigit() else None
            read = getattr(response, "read1", response.read)  # whatever has arrived
            with tqdm(total=length, unit="B", unit_scale=True, desc=desc, leave=False,
                      disable=not progress) as bar:
                while True:
                    chunk = read(CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as err:
        raise FetchError(
            f"could not download {desc!r} from {url}: HTTP {err.code} {err.reason}. Check the "
            f"URL in data/registry.toml or try later. "
            + _offline_advice(None, tmp.parent.parent / desc),
            url=url) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
        reason = getattr(err, "reason", err)
        if isinstance(reason, (socket.timeout, TimeoutError)) or "timed out" in str(reason):
            why = f"no answer within {timeout:g} s (timeout)"
        elif isinstance(err, (ConnectionError, urllib.error.URLError)):
            why = f"no connection ({reason}); are you offline?"
        else:
            why = str(reason)
        raise FetchError(f"could not download {desc!r} from {url}: {why}. "
                         + _offline_advice(None, tmp.parent.parent / desc), url=url) from None
    return digest.hexdigest(), size, length


def extract(archive: str | os.PathLike[str]) -> Path:
    """Unpack a .zip, .tar, .tar.gz or .tgz next to itself (once) and return the folder.

    The folder is ``<archive name without extension>/``; it appears only when unpacking has
    finished (unpacked into a temporary folder first), so an interrupted unpack is redone.
    Members that would escape the folder (absolute paths, ``..``) are refused.
    """
    archive = Path(archive)
    name = archive.name
    for suffix in (".tar.gz", ".tgz", ".tar", ".zip"):
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            break
    else:
        raise ValueError(f"cannot unpack {archive}: expected .zip, .tar, .tar.gz or .tgz")
    target = archive.parent / stem
    if target.is_dir():
        return target
    tmp = archive.parent / f".{stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.unpacking"
    tmp.mkdir(parents=True)
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    _check_member(archive, member)
                zf.extractall(tmp)
        else:
            with tarfile.open(archive) as tf_:
                tf_.extractall(tmp, filter="data")
        os.replace(tmp, target)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as err:
        raise FetchError(f"{archive} is not a readable archive ({err}): delete it and fetch "
                         "it again") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _check_member(archive: Path, member: str) -> None:
    parts = Path(member).parts
    if member.startswith(("/", "\\")) or ".." in parts:
        raise FetchError(f"{archive} holds an unsafe path {member!r}; refusing to unpack it")
