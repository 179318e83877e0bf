"""Members of a remote zip archive, fetched one by one with HTTP range requests.

A zip ends with a central directory listing every member's offset, size and CRC-32, so a
client that can read arbitrary byte ranges needs only the directory and the members it wants:
the UCF101 subset of lessons 04-05 is ~500 clips out of a 6.5 GB archive. This is what the
``remotezip`` package does for the TensorFlow tutorial; here it is :class:`HttpRangeFile`, a
seekable file over ``Range: bytes=a-b`` requests, handed to the standard :mod:`zipfile`.

- Every member is checked against the CRC-32 in the archive (``zipfile`` does this as the
  member is read); a mismatch raises :class:`~frontier.data.FetchError` and writes nothing.
- Members are written atomically: into ``<dest>/.tmp/`` first, renamed when complete, so a
  killed fetch leaves no partial file (and the next fetch removes its temporary files).
- A member already on disk with the right size and CRC is skipped, not fetched again.
- A server that ignores ``Range`` (answers 200 with the whole archive) is refused with a clear
  error rather than silently downloading gigabytes: download the whole archive instead.
"""

from __future__ import annotations

import io
import os
import urllib.error
import urllib.request
import uuid
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

from tqdm.auto import tqdm

from frontier.data.download import TIMEOUT, FetchError, _clean_stale_temporaries

#: Bytes read past what zipfile asks for, in one request (member headers are tiny reads).
READ_AHEAD = 256 * 1024


class HttpRangeFile(io.RawIOBase):
    """A read-only, seekable file over HTTP range requests; ``bytes_transferred`` counts
    the body bytes received."""

    def __init__(self, url: str, *, timeout: float = TIMEOUT, read_ahead: int = READ_AHEAD):
        super().__init__()
        self.url, self.timeout, self.read_ahead = url, timeout, read_ahead
        self.bytes_transferred = 0
        self.requests = 0
        self._pos = 0
        self._buffer, self._buffer_start = b"", 0
        self.size = self._probe_size()

    def _get(self, first: int, last: int) -> tuple[bytes, str | None, int]:
        request = urllib.request.Request(self.url, headers={
            "Range": f"bytes={first}-{last}", "User-Agent": "frontier-course"})
        self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                if response.status != 206:
                    raise FetchError(
                        f"the server at {self.url} ignores HTTP Range requests (answered "
                        f"{response.status} to a request for bytes {first}-{last}), so members "
                        "cannot be fetched one by one. Download the whole archive and open "
                        "it locally instead.", url=self.url)
                body = response.read()
                self.bytes_transferred += len(body)
                return body, response.headers.get("Content-Range"), response.status
        except urllib.error.HTTPError as err:
            raise FetchError(f"could not read bytes {first}-{last} of {self.url}: HTTP "
                             f"{err.code} {err.reason}", url=self.url) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
            if isinstance(err, FetchError):
                raise
            raise FetchError(
                f"could not reach {self.url} ({getattr(err, 'reason', err)}); are you offline? "
                "Run the lesson with PROFILE = \"quick\" (simulated data, no downloads).",
                url=self.url) from None

    def _probe_size(self) -> int:
        _, content_range, _ = self._get(0, 0)
        try:
            return int((content_range or "").rsplit("/", 1)[1])
        except (IndexError, ValueError):
            raise FetchError(f"the server at {self.url} gave no archive size (Content-Range "
                             f"{content_range!r})", url=self.url) from None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(b), self.size - self._pos)
        if n <= 0:
            return 0
        start = self._pos - self._buffer_start
        if not (0 <= start and start + n <= len(self._buffer)):
            last = min(self.size, self._pos + max(n, self.read_ahead)) - 1
            self._buffer, _, _ = self._get(self._pos, last)
            self._buffer_start, start = self._pos, 0
            n = min(n, len(self._buffer))
        b[:n] = self._buffer[start:start + n]
        self._pos += n
        return n


def list_members(url: str, *, timeout: float = TIMEOUT) -> list[zipfile.ZipInfo]:
    """The members of the zip at ``url`` (reads only its central directory)."""
    with HttpRangeFile(url, timeout=timeout) as raw, \
            zipfile.ZipFile(io.BufferedReader(raw, 64 * 1024)) as archive:
        return archive.infolist()


def _crc_of(path: Path) -> int:
    crc = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            crc = zlib.crc32(chunk, crc)
    return crc


def fetch_members(url: str, members: Iterable[str], dest: str | os.PathLike[str], *,
                  rename: dict[str, str] | None = None, timeout: float = TIMEOUT,
                  read_ahead: int = READ_AHEAD, progress: bool = True,
                  asset: str | None = None) -> dict[str, Path]:
    """Fetch ``members`` of the zip at ``url`` into ``dest``; return {member: local path}.

    A member goes to ``dest / rename[member]`` (default: ``dest / member``). Each is checked
    against the archive's CRC-32 and written atomically; one already there with the right size
    and CRC is not fetched again. Raises :class:`~frontier.data.FetchError` naming the member
    for a missing member or a CRC mismatch, and naming the URL when the server is unreachable
    or ignores ``Range``.
    """
    dest = Path(dest)
    members = list(members)
    rename = rename or {}
    label = f"asset {asset!r}" if asset else url
    tmp_dir = dest / ".tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    _clean_stale_temporaries(tmp_dir)
    out: dict[str, Path] = {}
    with HttpRangeFile(url, timeout=timeout, read_ahead=read_ahead) as raw, \
            zipfile.ZipFile(raw) as archive:
        for member in tqdm(members, desc=f"{Path(url).name} members", unit="file",
                           leave=False, disable=not progress):
            try:
                info = archive.getinfo(member)
            except KeyError:
                raise FetchError(f"{label}: the archive at {url} has no member {member!r}",
                                 asset=asset, url=url) from None
            target = dest / rename.get(member, member)
            if target.is_file() and target.stat().st_size == info.file_size \
                    and _crc_of(target) == info.CRC:
                out[member] = target
                continue
            tmp = tmp_dir / f"{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part"
            try:
                with archive.open(info) as src, open(tmp, "wb") as fh:
                    for chunk in iter(lambda s=src: s.read(1 << 20), b""):  # CRC checked at EOF
                        fh.write(chunk)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
            except (zipfile.BadZipFile, zlib.error, EOFError) as err:
                raise FetchError(f"{label}: member {member!r} of {url} is corrupt ({err}); "
                                 "nothing was written. Try again; if it persists, the "
                                 "archive is damaged upstream.", asset=asset, url=url) from None
            finally:
                tmp.unlink(missing_ok=True)
            out[member] = target
    return out
