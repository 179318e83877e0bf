"""frontier.data: downloads against a local server, the registry, embedded data."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from frontier import data
from frontier.data import FetchError

BODY = os.urandom(300_000)
SHA = hashlib.sha256(BODY).hexdigest()


def leftovers(cache: Path) -> list[Path]:
    """Partial files anywhere in the cache."""
    return [p for p in cache.rglob("*") if p.is_file() and p.name.endswith(".part")]


def test_fetch_url_downloads_verifies_and_caches(http_server, private_cache):
    base, handler = http_server
    handler.files["a.bin"] = BODY
    path = data.fetch_url(f"{base}/files/a.bin", SHA, progress=False)
    assert path == private_cache / "a.bin"
    assert path.read_bytes() == BODY
    again = data.fetch_url(f"{base}/files/a.bin", SHA, progress=False)
    assert again == path
    assert handler.hits["/files/a.bin"] == 1, "a verified cached file is not downloaded again"
    assert leftovers(private_cache) == []


def test_checksum_mismatch_leaves_nothing(http_server, private_cache):
    base, handler = http_server
    handler.files["a.bin"] = BODY
    with pytest.raises(FetchError, match="checksum mismatch") as err:
        data.fetch_url(f"{base}/files/a.bin", "0" * 64, progress=False)
    assert SHA in str(err.value) and f"{base}/files/a.bin" in str(err.value)
    assert not (private_cache / "a.bin").exists()
    assert leftovers(private_cache) == []


def test_truncated_transfer_is_rejected(http_server, private_cache):
    base, handler = http_server
    handler.files["a.bin"] = BODY
    with pytest.raises(FetchError, match="truncated|no connection"):
        data.fetch_url(f"{base}/truncated/a.bin", progress=False)
    assert not (private_cache / "a.bin").exists()
    assert leftovers(private_cache) == []
    assert not (private_cache / ".sha256" / "a.bin").exists(), "no hash recorded for a bad file"


def test_http_404_names_url_and_status(http_server, private_cache):
    base, _ = http_server
    with pytest.raises(FetchError, match="HTTP 404") as err:
        data.fetch_url(f"{base}/files/missing.bin", progress=False)
    assert f"{base}/files/missing.bin" in str(err.value)
    assert 'PROFILE = "quick"' in str(err.value)


def test_timeout_fails_fast(http_server, private_cache):
    base, _ = http_server
    start = time.monotonic()
    with pytest.raises(FetchError, match="timeout"):
        data.fetch_url(f"{base}/silent/x.bin", timeout=1.0, progress=False)
    assert time.monotonic() - start < 5
    assert leftovers(private_cache) == []


def test_refused_connection_fails_at_once(private_cache):
    import socket

    with socket.socket() as s:  # find a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(FetchError, match="no connection"):
        data.fetch_url(f"http://127.0.0.1:{port}/x.bin", progress=False)
    assert time.monotonic() - start < 10


def test_corrupt_cached_file_is_fetched_again(http_server, private_cache):
    base, handler = http_server
    handler.files["a.bin"] = BODY
    path = data.fetch_url(f"{base}/files/a.bin", SHA, progress=False)
    path.write_bytes(b"garbage")
    assert data.fetch_url(f"{base}/files/a.bin", SHA, progress=False).read_bytes() == BODY
    assert handler.hits["/files/a.bin"] == 2


def test_unchanged_cached_file_is_not_hashed_again(http_server, private_cache, monkeypatch):
    from frontier.data import download

    base, handler = http_server
    handler.files["a.bin"] = BODY
    path = data.fetch_url(f"{base}/files/a.bin", SHA, progress=False)
    hashed = []
    real = download.sha256_of
    monkeypatch.setattr(download, "sha256_of", lambda p: hashed.append(p) or real(p))
    assert data.fetch_url(f"{base}/files/a.bin", SHA, progress=False) == path
    assert hashed == [], "same size and modification time as when verified: trusted"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # touched
    assert data.fetch_url(f"{base}/files/a.bin", SHA, progress=False) == path
    assert hashed == [path] and handler.hits["/files/a.bin"] == 1
    # same size, new bytes, new time: hashed, found corrupt, fetched again
    path.write_bytes(bytes(len(BODY)))
    assert data.fetch_url(f"{base}/files/a.bin", SHA, progress=False).read_bytes() == BODY
    assert handler.hits["/files/a.bin"] == 2


def test_trust_on_first_use_records_and_checks_hash(http_server, private_cache):
    base, handler = http_server
    handler.files["t.bin"] = BODY
    path = data.fetch_url(f"{base}/files/t.bin", progress=False)
    assert (private_cache / ".sha256" / "t.bin").read_text().strip() == SHA
    path.write_bytes(b"tampered")  # a later use is checked against the first download
    handler.files["t.bin"] = b"changed upstream"
    with pytest.raises(FetchError, match="differs from the first download"):
        data.fetch_url(f"{base}/files/t.bin", progress=False)
    assert not path.exists()


def test_killed_download_leaves_no_file_and_retry_succeeds(http_server, private_cache):
    base, handler = http_server
    body = os.urandom(4096 * 40)  # served at 4 KiB per 0.2 s: ~8 s in all
    handler.files["big.bin"] = body
    url = f"{base}/slow/big.bin"
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from frontier.data import fetch_url; "
         "fetch_url(sys.argv[1], progress=False)", url],
        env={**os.environ, "FRONTIER_DATA": str(private_cache)})
    deadline = time.monotonic() + 20
    while not leftovers(private_cache) or leftovers(private_cache)[0].stat().st_size < 8192:
        assert time.monotonic() < deadline, "the download never started"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert not (private_cache / "big.bin").exists(), "a killed download left a file in place"
    handler.files["big.bin"] = body
    path = data.fetch_url(f"{base}/files/big.bin", hashlib.sha256(body).hexdigest(),
                          progress=False)
    assert path.read_bytes() == body
    assert leftovers(private_cache) == [], "the retry cleans up the killed download's part file"


def write_registry(tmp_path: Path, url: str, sha: str = "") -> Path:
    reg = tmp_path / "registry.toml"
    reg.write_text(f"""
[assets.toy]
url = "{url}"
sha256 = "{sha}"
size = {len(BODY)}
license = "CC0-1.0"
citation = "none"
description = "a test asset"
""")
    return reg


def test_fetch_by_name(http_server, private_cache, tmp_path, monkeypatch):
    base, handler = http_server
    handler.files["a.bin"] = BODY
    registry = write_registry(tmp_path, f"{base}/files/a.bin", SHA)
    monkeypatch.setenv("FRONTIER_REGISTRY", str(registry))
    assert data.fetch("toy", progress=False).read_bytes() == BODY
    with pytest.raises(KeyError, match="toy"):
        data.fetch("nope")


def test_fetch_offline_names_asset_url_and_quick_profile(tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/weights.npz"
    monkeypatch.setenv("FRONTIER_REGISTRY", str(write_registry(tmp_path, url)))
    start = time.monotonic()
    with pytest.raises(FetchError) as err:
        data.fetch("toy", progress=False)
    assert time.monotonic() - start < 10
    message = str(err.value)
    assert "'toy'" in message and url in message and 'PROFILE = "quick"' in message
    assert err.value.asset == "toy" and err.value.url == url


def test_registry_rejects_malformed_entries(tmp_path):
    bad = tmp_path / "r.toml"
    bad.write_text('[assets.x]\nurl = "http://x"\nsha256 = "abc"\nsize = 0\nlicense = ""\n'
                   'citation = ""\ndescription = ""\n')
    with pytest.raises(ValueError, match="64 hex"):
        data.load_registry(bad)
    bad.write_text('[assets.x]\nurl = "http://x"\n')
    with pytest.raises(ValueError, match="missing"):
        data.load_registry(bad)


def test_repository_registry_is_well_formed():
    assets = data.load_registry()
    for asset in assets.values():
        assert asset.url.startswith(("https://", "http://")), asset
        assert asset.license and asset.citation and asset.description, asset


def test_registry_citations_exist_in_references():
    bib = (Path(__file__).resolve().parents[1] / "course" / "references.bib").read_text()
    for asset in data.load_registry().values():
        assert f"{{{asset.citation}," in bib, f"{asset.name}: cite key {asset.citation} missing"


def test_extract_zip_and_tar(tmp_path):
    import tarfile
    import zipfile

    src = tmp_path / "src"
    src.mkdir()
    (src / "x.txt").write_text("hello")
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.write(src / "x.txt", "inner/x.txt")
    with tarfile.open(tmp_path / "b.tar.gz", "w:gz") as tf_:
        tf_.add(src / "x.txt", "inner/x.txt")
    for name, stem in [("a.zip", "a"), ("b.tar.gz", "b")]:
        out = data.extract(tmp_path / name)
        assert out == tmp_path / stem and (out / "inner" / "x.txt").read_text() == "hello"
        assert data.extract(tmp_path / name) == out
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../escape.txt", "x")
    with pytest.raises(FetchError, match="unsafe"):
        data.extract(evil)
    assert not (tmp_path / "escape.txt").exists()


def test_tfds_load_fails_fast_offline(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "network_available", lambda *a, **k: False)
    start = time.monotonic()
    with pytest.raises(FetchError, match='PROFILE = "quick"'):
        data.tfds_load("mnist", split="train", data_dir=str(tmp_path))
    assert time.monotonic() - start < 10


def test_tfds_load_uses_prepared_data_without_network(monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(data, "network_available", lambda *a, **k: False)
    with tfds.testing.mock_data(num_examples=5):
        ds = data.tfds_load("mnist", split="train")
        assert len(list(ds)) == 5


def test_embedded_digits_and_images():
    images, labels = data.digits()
    assert images.shape == (1797, 8, 8) and labels.shape == (1797,)
    assert 0 <= images.min() and images.max() == 16 and set(labels) == set(range(10))
    hubble = data.sample_image("hubble_deep_field")
    assert hubble.dtype == np.uint8 and hubble.ndim == 3 and hubble.shape[-1] == 3
    assert data.sample_image("china").shape == (427, 640, 3)
    with pytest.raises(ValueError, match="hubble_deep_field"):
        data.sample_image("nope")
