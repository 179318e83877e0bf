"""frontier.data.remotezip and video.ucf101_subset against zips served on 127.0.0.1."""

from __future__ import annotations

import http.server
import io
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from frontier import video
from frontier.data import FetchError
from frontier.data.remotezip import fetch_members, list_members

ROOT = Path(__file__).resolve().parents[1]
MEMBER_SIZE = 200_000


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` at /NAME; honours ``Range: bytes=a-b`` (206) unless ``ranges`` is
    False (then 200 and the whole file), sleeping ``delay`` s per 16 KB. Records every range."""

    files: dict[str, bytes] = {}
    ranges = True
    delay = 0.0
    served: list[tuple[int, int]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        body = self.files.get(self.path.strip("/"))
        if body is None:
            self.send_error(404)
            return
        header = self.headers.get("Range", "")
        first, last = 0, len(body) - 1
        if self.ranges and header.startswith("bytes="):
            a, _, b = header[6:].partition("-")
            first, last = int(a), min(int(b or len(body) - 1), len(body) - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {first}-{last}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(last - first + 1))
        self.end_headers()
        self.served.append((first, last))
        try:
            for i in range(first, last + 1, 16384):
                self.wfile.write(body[i:min(i + 16384, last + 1)])
                if self.delay:
                    self.wfile.flush()
                    time.sleep(self.delay)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def range_server():
    handler = type("Handler", (RangeHandler,), {"files": {}, "served": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def make_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def random_members(n: int = 6) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    return {f"UCF101/v_Act_g{i:02d}_c01.avi": rng.bytes(MEMBER_SIZE) for i in range(n)}


def test_only_the_asked_members_are_transferred(range_server, tmp_path):
    base, handler = range_server
    members = random_members()
    handler.files["a.zip"] = blob = make_zip(members)
    asked = list(members)[1:3]
    got = fetch_members(f"{base}/a.zip", asked, tmp_path, read_ahead=16384, progress=False)
    for name in asked:
        assert got[name].read_bytes() == members[name]
    assert sorted(p.name for p in tmp_path.rglob("*.avi")) == sorted(Path(n).name for n in asked)
    transferred = sum(b - a + 1 for a, b in handler.served)
    assert transferred < 2 * MEMBER_SIZE + 3 * 16384 + 4096, transferred
    assert transferred < 0.4 * len(blob)
    # the ranges read touch the asked members, the directory, and nothing else's data
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        others = [zf.getinfo(n) for n in members if n not in asked]
    for info in others:
        data_start = info.header_offset + 30 + len(info.filename)
        inside = [(a, b) for a, b in handler.served if a >= data_start + 16384
                  and b < data_start + info.file_size]
        assert not inside, f"read inside {info.filename}"


def test_cached_members_are_not_fetched_again(range_server, tmp_path):
    base, handler = range_server
    members = random_members(3)
    handler.files["a.zip"] = make_zip(members)
    fetch_members(f"{base}/a.zip", list(members), tmp_path, progress=False)
    handler.served.clear()
    fetch_members(f"{base}/a.zip", list(members), tmp_path, progress=False)
    assert sum(b - a + 1 for a, b in handler.served) < MEMBER_SIZE  # the directory only


def test_a_corrupted_member_is_rejected_and_not_written(range_server, tmp_path):
    base, handler = range_server
    members = random_members(3)
    blob = bytearray(make_zip(members))
    with zipfile.ZipFile(io.BytesIO(bytes(blob))) as zf:
        info = zf.getinfo(list(members)[1])
    spot = info.header_offset + 30 + len(info.filename) + 1000
    blob[spot] ^= 0xFF
    handler.files["bad.zip"] = bytes(blob)
    with pytest.raises(FetchError, match="v_Act_g01_c01.avi.*corrupt"):
        fetch_members(f"{base}/bad.zip", [list(members)[1]], tmp_path, progress=False)
    assert not list(tmp_path.rglob("*.avi"))
    assert not list((tmp_path / ".tmp").iterdir())


def test_a_server_without_range_support_is_a_clear_error(range_server, tmp_path):
    base, handler = range_server
    handler.ranges = False
    handler.files["a.zip"] = make_zip(random_members(2))
    with pytest.raises(FetchError, match="ignores HTTP Range"):
        list_members(f"{base}/a.zip")


def test_unreachable_server_fails_fast(tmp_path):
    start = time.monotonic()
    with pytest.raises(FetchError, match="offline"):
        fetch_members("http://127.0.0.1:9/a.zip", ["x"], tmp_path, progress=False)
    assert time.monotonic() - start < 10


def test_a_missing_member_is_named(range_server, tmp_path):
    base, handler = range_server
    handler.files["a.zip"] = make_zip(random_members(2))
    with pytest.raises(FetchError, match="no member 'nope.avi'"):
        fetch_members(f"{base}/a.zip", ["nope.avi"], tmp_path, progress=False)


def test_a_killed_fetch_leaves_no_partial_file(range_server, tmp_path):
    base, handler = range_server
    members = random_members(2)
    handler.files["a.zip"] = make_zip(members)
    handler.delay = 0.2  # ~2.5 s per member
    name = list(members)[0]
    code = (f"from frontier.data.remotezip import fetch_members; "
            f"fetch_members({base + '/a.zip'!r}, [{name!r}], {str(tmp_path)!r}, "
            f"read_ahead=16384, progress=False)")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib")}
    child = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.monotonic() + 120  # a loaded machine takes a while to start Python
    while time.monotonic() < deadline and child.poll() is None \
            and not list((tmp_path / ".tmp").glob("*.part")):
        time.sleep(0.02)
    assert list((tmp_path / ".tmp").glob("*.part")), \
        f"the fetch never started writing (exit {child.poll()})"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert not (tmp_path / name).exists()  # no partial clip where a clip belongs
    handler.delay = 0.0
    got = fetch_members(f"{base}/a.zip", [name], tmp_path, progress=False)
    assert got[name].read_bytes() == members[name]
    assert not list((tmp_path / ".tmp").iterdir())  # the dead fetch's temporary was removed


def test_split_ucf101_is_seeded_and_keeps_groups_apart():
    names = [f"UCF101/v_{cls}_g{g:02d}_c{c:02d}.avi" for cls in ("B", "A", "C")
             for g in range(1, 9) for c in range(1, 5)] + ["UCF101/", "UCF101/readme.txt"]
    splits = video.split_ucf101(names, n_classes=2, clips_per_class=(8, 4, 4), seed=1)
    assert [len(v) for v in splits.values()] == [16, 8, 8]
    assert {video.ucf101_class(m) for m in sum(splits.values(), [])} == {"B", "A"}
    groups = {name: {(video.ucf101_class(m), video.ucf101_group(m)) for m in members}
              for name, members in splits.items()}
    assert not groups["train"] & groups["test"] and not groups["train"] & groups["val"]
    assert splits == video.split_ucf101(names, 2, (8, 4, 4), seed=1)
    assert splits != video.split_ucf101(names, 2, (8, 4, 4), seed=2)
    with pytest.raises(ValueError, match="too few clips"):
        video.split_ucf101(names, 2, (30, 4, 4))


def test_ucf101_subset_from_a_local_zip(range_server, tmp_path):
    from frontier.data.synthetic.videos import render_clip, write_avi

    base, handler = range_server
    clip = write_avi(tmp_path / "clip.avi", render_clip("left", np.random.default_rng(0),
                                                        size=32, n_frames=12))
    data = clip.read_bytes()
    names = {f"UCF101/v_{cls}_g{g:02d}_c01.avi": data for cls in ("Jump", "Run", "Swim")
             for g in range(1, 5)}
    handler.files["UCF101_videos.zip"] = make_zip(names)
    splits = video.ucf101_subset(tmp_path / "ucf", clips_per_class=(2, 1, 1), n_classes=2,
                                 url=f"{base}/UCF101_videos.zip", progress=False)
    gen = video.FrameGenerator(splits["train"], 3, output_size=(16, 16), frame_step=2)
    assert gen.class_names == ["Jump", "Run"] and len(gen) == 4
    assert next(gen())[0].shape == (3, 16, 16, 3)
    assert len(list(splits["test"].glob("*/*.avi"))) == 2


def test_full_profile_offline_fails_fast(monkeypatch, tmp_path):
    registry = tmp_path / "registry.toml"
    registry.write_text('[assets.ucf101_videos]\nurl = "http://127.0.0.1:9/UCF101_videos.zip"\n'
                        'sha256 = ""\nsize = 0\nlicense = "x"\ncitation = "x"\n'
                        'description = "x"\n')
    monkeypatch.setenv("FRONTIER_REGISTRY", str(registry))
    start = time.monotonic()
    with pytest.raises(FetchError, match="PROFILE = \"quick\""):
        video.lesson_data(video.SIZES["full"], root=tmp_path / "ucf")
    assert time.monotonic() - start < 10
