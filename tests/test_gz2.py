"""frontier.data.gz2: the Galaxy Zoo 2 loader, against tiny GZ2-shaped files on 127.0.0.1."""

from __future__ import annotations

import gzip
import io
import socket
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from frontier.data import FetchError, gz2

SIDE = 40  # the fake cutouts: a bright 24x24 square of grey level LEVEL(asset) on black sky

# dr7objid: (bar count, no-bar count, asset_id or None if not in the mapping, JPEG in the zip?)
GALAXIES = {
    587722981741363201: (3, 17, 1, True),
    587722981741363202: (10, 5, 2, True),
    587722981741363203: (0, 4, 3, True),       # N = 4: below min_volunteers=10
    587722981741363204: (7, 8, 4, False),      # mapped, but its JPEG is missing from the zip
    587722981741363205: (12, 0, None, True),   # not in the mapping
    587722981741363206: (2, 30, 6, True),
    587722981741363207: (9, 9, 7, True),
    587722981741363208: (1, 2, 8, True),       # N = 3: below
    587722981741363209: (5, 20, 9, True),
}
POOL = [o for o, (k, no, a, jpg) in GALAXIES.items() if k + no >= 10 and a and jpg]

# The real catalogue's columns (a subset) around the ones the loader reads.
QUESTIONS = ["t01_smooth_or_features_a01_smooth", "t01_smooth_or_features_a02_features_or_disk",
             "t01_smooth_or_features_a03_star_or_artifact", "t03_bar_a06_bar", "t03_bar_a07_no_bar"]
SUFFIXES = ["count", "weight", "fraction", "weighted_fraction", "debiased", "flag"]


def first_question(k: int, no: int) -> dict[str, int]:
    """Fake t01 counts: 12 smooth, N + 3 featured (3 said edge-on), 1 star or artifact."""
    return {"t01_smooth_or_features_a01_smooth": 12,
            "t01_smooth_or_features_a02_features_or_disk": k + no + 3,
            "t01_smooth_or_features_a03_star_or_artifact": 1}


def level(asset_id: int) -> int:
    return 40 + 20 * asset_id


def catalogue_csv(drop: tuple[str, ...] = ()) -> bytes:
    columns = ["dr7objid", "ra", "dec", "rastring", "decstring", "sample", "gz2_class",
               "total_classifications", "total_votes"]
    columns += [f"{q}_{s}" for q in QUESTIONS for s in SUFFIXES]
    columns = [c for c in columns if c not in drop]
    lines = [",".join(columns)]
    for objid, (k, no, asset, _) in GALAXIES.items():
        row = {"dr7objid": objid, "ra": 180.5, "dec": 1.25, "rastring": "12:02:00.00",
               "decstring": "+01:15:00.0", "sample": "original", "gz2_class": "SBc",
               "total_classifications": 44, "total_votes": 300}
        for q in QUESTIONS:
            count = {"t03_bar_a06_bar": k, "t03_bar_a07_no_bar": no, **first_question(k, no)}[q]
            row.update({f"{q}_count": count, f"{q}_weight": count, f"{q}_fraction": 0.5,
                        f"{q}_weighted_fraction": 0.5, f"{q}_flag": 0, f"{q}_debiased": 0.0})
        row["t01_smooth_or_features_a01_smooth_debiased"] = 0.1 * (asset or 0) / 2
        row["t01_smooth_or_features_a02_features_or_disk_debiased"] = 1 - 0.1 * (asset or 0) / 2
        row["t03_bar_a06_bar_debiased"] = row["t03_bar_a07_no_bar_debiased"] = 0.5
        lines.append(",".join(str(row[c]) for c in columns))
    return gzip.compress(("\n".join(lines) + "\n").encode())


def mapping_csv() -> bytes:
    rows = ["objid,sample,asset_id"]
    for objid, (_, _, asset, _) in GALAXIES.items():
        if asset is not None:
            rows.append(f"{objid},original,{asset}")
    rows.append("587722981741363201,stripe82,99")  # a second sample of galaxy 1: no JPEG
    rows.append("588000000000000000,original,50")  # a galaxy not in the catalogue
    return ("\n".join(rows) + "\n").encode()


def jpeg(asset_id: int) -> bytes:
    v = level(asset_id)
    rgb = np.zeros((SIDE, SIDE, 3), np.uint8)
    rgb[8:32, 8:32] = (v + 20, v, v - 20)  # mean over bands = v
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def images_zip(compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for _, _, asset, in_zip in GALAXIES.values():
            if asset is not None and in_zip:
                zf.writestr(f"images/{asset}.jpg", jpeg(asset))
                zf.writestr(f"__MACOSX/images/._{asset}.jpg", b"\x00\x05\x16\x07 resource fork")
        zf.writestr("images/README.txt", "not an image")
    return buf.getvalue()


def write_registry(tmp_path: Path, urls: dict[str, str]) -> Path:
    reg = tmp_path / "registry.toml"
    reg.write_text("".join(f"""
[assets.{name}]
url = "{url}"
sha256 = ""
size = 0
license = "CC-BY-4.0"
citation = "willett2013gz2"
description = "a fake GZ2 file"
""" for name, url in urls.items()))
    return reg


NAMES = {"gz2_hart16": "gz2_hart16.csv.gz", "gz2_filename_mapping": "gz2_filename_mapping.csv",
         "gz2_images": "images_gz2.zip"}


@pytest.fixture
def served(http_server, tmp_path, monkeypatch):
    """The three fake GZ2 files served on 127.0.0.1 and a registry pointing at them."""
    base, handler = http_server
    handler.files.update({"gz2_hart16.csv.gz": catalogue_csv(),
                          "gz2_filename_mapping.csv": mapping_csv(),
                          "images_gz2.zip": images_zip()})
    urls = {name: f"{base}/files/{file}" for name, file in NAMES.items()}
    monkeypatch.setenv("FRONTIER_REGISTRY", str(write_registry(tmp_path, urls)))
    return handler


def load(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gz2.load_gz2(*args, progress=False, **kwargs)


def test_loader_maps_counts_to_k_and_n_filters_and_keeps_images_with_labels(served):
    with pytest.warns(UserWarning, match=r"skipped 2 of 7 .* \(1 not in gz2_filename_mapping"
                                         r"\.csv, 1 without a JPEG in images_gz2\.zip\)"):
        data = gz2.load_gz2(len(POOL), 8, seed=0, min_volunteers=10, progress=False)
    assert sorted(data["dr7objid"].tolist()) == sorted(POOL)
    for j, objid in enumerate(data["dr7objid"]):
        k, no, asset, _ = GALAXIES[int(objid)]
        assert data["votes"][j] == k and data["n_volunteers"][j] == k + no
        assert data["shown_to"][j] == k + no + 16
        assert data["asset_id"][j] == asset
        # the image is that galaxy's: its grey level (mean of the bands) identifies the JPEG
        assert abs(data["images"][j].mean() * 255 - level(asset)) < 4
        assert data["featured_fraction"][j] == pytest.approx(1 - 0.05 * asset, abs=1e-6)
    assert data["images"].shape == (len(POOL), 8, 8, 1) and data["images"].dtype == np.float32
    assert 0 <= data["images"].min() and data["images"].max() <= 1
    for key in ("votes", "n_volunteers", "shown_to", "dr7objid", "asset_id"):
        assert data[key].dtype == np.int64 and data[key].shape == (len(POOL),)
    assert "rho" not in data  # unknown for real galaxies
    # the keys tests/test_galaxy.py fakes to run the galaxy lessons on data like this
    assert set(data) == {"images", "votes", "n_volunteers", "shown_to", "dr7objid", "asset_id",
                         "smooth_fraction", "featured_fraction"}
    # asking for more galaxies than qualify, or lowering the threshold
    with pytest.raises(ValueError, match=r"only 5 galaxies .* at least 10 answers"):
        load(len(POOL) + 1, 8, min_volunteers=10)
    assert len(load(7, 8, min_volunteers=0)["votes"]) == 7  # + the two with N < 10


def test_centre_crop_keeps_the_galaxy_and_drops_the_sky(served):
    crop = load(2, 10, seed=3, min_volunteers=10)
    whole = load(2, 10, seed=3, min_volunteers=10, crop_fraction=1.0)
    assert (crop["dr7objid"] == whole["dr7objid"]).all()
    levels = np.array([level(a) for a in crop["asset_id"]]) / 255
    # central half: only the bright square; whole cutout: (24/40)^2 = 36% of it is bright
    np.testing.assert_allclose(crop["images"].mean(axis=(1, 2, 3)), levels, atol=4 / 255)
    np.testing.assert_allclose(whole["images"].mean(axis=(1, 2, 3)), 0.36 * levels,
                               atol=6 / 255)


def test_same_seed_same_galaxies_other_seed_other_draw(served):
    a = load(3, 8, seed=1)
    b = load(3, 8, seed=1)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    orders = {tuple(load(3, 8, seed=s)["dr7objid"]) for s in range(6)}
    assert len(orders) > 1


def test_catalogue_missing_columns_is_a_clear_error(tmp_path, served):
    bad = tmp_path / "gz2_hart16.csv.gz"
    bad.write_bytes(catalogue_csv(drop=("t03_bar_a07_no_bar_count", "dr7objid")))
    with pytest.raises(ValueError) as err:
        gz2.read_catalogue(bad)
    assert str(bad) in str(err.value)
    assert "t03_bar_a07_no_bar_count" in str(err.value) and "dr7objid" in str(err.value)
    # the same file served as the catalogue: load_gz2 fails the same way
    served.files["gz2_hart16.csv.gz"] = bad.read_bytes()
    with pytest.raises(ValueError, match="missing columns .*t03_bar_a07_no_bar_count"):
        load(2, 8)


def test_read_catalogue_and_mapping(tmp_path):
    path = tmp_path / "cat.csv.gz"
    path.write_bytes(catalogue_csv())
    cat = gz2.read_catalogue(path)
    objids = list(GALAXIES)
    np.testing.assert_array_equal(cat["dr7objid"], objids)
    np.testing.assert_array_equal(cat["votes"], [GALAXIES[o][0] for o in objids])
    np.testing.assert_array_equal(cat["n_volunteers"], [sum(GALAXIES[o][:2]) for o in objids])
    np.testing.assert_array_equal(cat["shown_to"], [sum(GALAXIES[o][:2]) + 16 for o in objids])
    mpath = tmp_path / "map.csv"
    mpath.write_bytes(mapping_csv())
    mapping = gz2.read_mapping(mpath)
    asset = gz2.lookup(mapping["dr7objid"], mapping["asset_id"], cat["dr7objid"])
    # galaxy ...201 is also in stripe82 as asset 99: the original sample's asset 1 wins
    np.testing.assert_array_equal(asset, [a if a is not None else -1
                                          for _, _, a, _ in GALAXIES.values()])
    bad = tmp_path / "bad.csv"
    bad.write_text("objid,sample\n1,original\n")
    with pytest.raises(ValueError, match=r"bad\.csv is missing columns \['asset_id'\]"):
        gz2.read_mapping(bad)


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_jpeg_zip_reads_jpeg_members_in_place(tmp_path, compression):
    path = tmp_path / "images_gz2.zip"
    path.write_bytes(images_zip(compression))
    archive = gz2.JpegZip(path)
    expected = sorted(a for _, _, a, jpg in GALAXIES.values() if a is not None and jpg)
    assert archive.asset_ids.tolist() == expected  # no resource forks, no README
    np.testing.assert_array_equal(archive.has(np.array([1, 4, 99])), [True, False, False])
    with zipfile.ZipFile(path) as zf:
        assert archive.read(6) == zf.read("images/6.jpg")
    with pytest.raises(KeyError, match="4.jpg"):
        archive.read(4)
    # a flipped byte inside a member's data fails its CRC; a truncated file is not a zip
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("images/2.jpg")
    data[info.header_offset + 30 + len("images/2.jpg") + 100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"2\.jpg in .*is corrupt .*fetch it again"):
        gz2.JpegZip(path).read(2)
    path.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(ValueError, match="not a zip file"):
        gz2.JpegZip(path)


def test_offline_fetch_fails_fast_naming_the_asset(tmp_path, monkeypatch, http_server):
    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    urls = {name: f"{dead}/{file}" for name, file in NAMES.items()}
    monkeypatch.setenv("FRONTIER_REGISTRY", str(write_registry(tmp_path, urls)))
    start = time.monotonic()
    with pytest.raises(FetchError) as err:
        gz2.load_gz2(2, 8, progress=False)
    assert time.monotonic() - start < 10
    assert err.value.asset == "gz2_hart16" and "'gz2_hart16'" in str(err.value)
    assert 'PROFILE = "quick"' in str(err.value)
    # catalogue and mapping reachable, the image zip not: the error names the zip's asset
    base, handler = http_server
    handler.files.update({"gz2_hart16.csv.gz": catalogue_csv(),
                          "gz2_filename_mapping.csv": mapping_csv()})
    urls.update({name: f"{base}/files/{NAMES[name]}"
                 for name in ("gz2_hart16", "gz2_filename_mapping")})
    monkeypatch.setenv("FRONTIER_REGISTRY", str(write_registry(tmp_path, urls)))
    with pytest.raises(FetchError) as err:
        gz2.load_gz2(2, 8, progress=False)
    assert err.value.asset == "gz2_images" and urls["gz2_images"] in str(err.value)


def test_bad_arguments_are_refused_before_any_download():
    for kwargs in (dict(n=0, image_size=8), dict(n=2, image_size=0),
                   dict(n=2, image_size=8, crop_fraction=0.0),
                   dict(n=2, image_size=8, min_volunteers=-1)):
        with pytest.raises(ValueError, match="load_gz2"):
            gz2.load_gz2(**kwargs)
