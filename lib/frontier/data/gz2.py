"""Galaxy Zoo 2: real galaxies and bar votes for the ``full`` profile of lessons 02 and 03.

Three public files, fetched through the asset registry (``data/registry.toml``):

- ``gz2_hart16``: the GZ2 catalogue with Hart et al. (2016)'s debiasing ("Table 1, normal-depth
  sample", ``gz2_hart16.csv.gz`` from data.galaxyzoo.org), one row per galaxy keyed by its SDSS
  DR7 ``dr7objid``, with the raw vote count of every answer (``t03_bar_a06_bar_count``, ...).
- ``gz2_images``: ``images_gz2.zip`` (Zenodo record 3565489, about 3.4 GB): the 243,434
  424x424 RGB JPEG cutouts of the "original" GZ2 sample (Willett et al. 2013), named
  ``<asset_id>.jpg``.
- ``gz2_filename_mapping``: ``gz2_filename_mapping.csv`` (same record), columns ``objid``,
  ``sample``, ``asset_id``: which JPEG shows which galaxy.

The label is the bar question, as in Walmsley et al. (2020): ``votes`` = k volunteers answered
"bar" out of ``n_volunteers`` = N who answered the question at all (bar + no bar). GZ2 asks about
bars only after "features or disk" and "not edge-on", so N varies widely: from 0 for galaxies
nearly everyone called smooth or edge-on to a few tens; ``min_volunteers`` drops galaxies with
too few answers. ``shown_to``, the volunteers who classified the galaxy at all (the answers to the
first question), is what lesson 03's network learns N from: N / ``shown_to`` is the share who
reached the bar question.

Images are read straight from the zip (only the chosen JPEGs), never unpacked.
"""

from __future__ import annotations

import io
import os
import re
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from frontier.data.registry import fetch

#: The catalogue columns :func:`read_catalogue` needs (names as in gz2_hart16.csv.gz).
BAR = "t03_bar_a06_bar_count"
NO_BAR = "t03_bar_a07_no_bar_count"
SMOOTH = "t01_smooth_or_features_a01_smooth_debiased"
FEATURED = "t01_smooth_or_features_a02_features_or_disk_debiased"
#: The first question's raw counts: every volunteer who classified the galaxy answers it.
FIRST_QUESTION = ("t01_smooth_or_features_a01_smooth_count",
                  "t01_smooth_or_features_a02_features_or_disk_count",
                  "t01_smooth_or_features_a03_star_or_artifact_count")
CATALOGUE_COLUMNS = ("dr7objid", BAR, NO_BAR, SMOOTH, FEATURED, *FIRST_QUESTION)
MAPPING_COLUMNS = ("objid", "asset_id")

#: Default fraction of the 424-pixel cutout kept around its centre (see :func:`preprocess`).
CROP_FRACTION = 0.5


def _read_csv_columns(path: str | os.PathLike[str], columns: tuple[str, ...], what: str,
                      dtypes: dict[str, str] | None = None, optional: tuple[str, ...] = ()):
    """A pandas DataFrame of ``columns`` (+ those of ``optional`` present) from a CSV (.gz ok);
    ValueError naming the file and the missing columns."""
    import pandas as pd

    try:
        header = list(pd.read_csv(path, nrows=0).columns)
    except (OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as err:
        raise ValueError(f"could not read {path} as {what} ({err}): delete it and fetch it "
                         "again") from None
    missing = [c for c in columns if c not in header]
    if missing:
        raise ValueError(f"{path} is missing columns {missing}: it is not {what} (its columns "
                         f"start {header[:6]}). Delete it and fetch it again.")
    usecols = list(columns) + [c for c in optional if c in header]
    return pd.read_csv(path, usecols=usecols, dtype=dtypes)


def read_catalogue(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The GZ2 catalogue (Hart et al. 2016) as arrays, one entry per galaxy, in file order.

    - ``dr7objid`` int64: SDSS DR7 object id;
    - ``votes`` int64: k, volunteers who answered "bar" (``t03_bar_a06_bar_count``);
    - ``n_volunteers`` int64: N, volunteers asked about a bar (bar + no-bar counts);
    - ``shown_to`` int64: volunteers who classified the galaxy (the three answers to the first
      question, smooth / features or disk / star or artifact), at least N;
    - ``smooth_fraction``, ``featured_fraction`` float32: Hart et al.'s redshift-debiased
      fractions for "smooth" and "features or disk" (question t01); NaN where blank.

    Blank vote counts count as 0. Raises ValueError naming ``path`` and the missing columns
    when it is not the Hart et al. table.
    """
    table = _read_csv_columns(path, CATALOGUE_COLUMNS, "the GZ2 catalogue of Hart et al. 2016 "
                              "(gz2_hart16.csv.gz)", dtypes={"dr7objid": "int64"})
    k = table[BAR].fillna(0).to_numpy(np.int64)
    no = table[NO_BAR].fillna(0).to_numpy(np.int64)
    if (k < 0).any() or (no < 0).any():
        raise ValueError(f"{path}: negative vote counts in {BAR} / {NO_BAR}; the file is corrupt "
                         "or not the GZ2 catalogue. Delete it and fetch it again.")
    shown = table[list(FIRST_QUESTION)].fillna(0).to_numpy(np.int64).sum(1)
    return {"dr7objid": table["dr7objid"].to_numpy(np.int64), "votes": k,
            "n_volunteers": k + no, "shown_to": np.maximum(shown, k + no),
            "smooth_fraction": table[SMOOTH].to_numpy(np.float32),
            "featured_fraction": table[FEATURED].to_numpy(np.float32)}


def read_mapping(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """``gz2_filename_mapping.csv`` as two int64 arrays, ``dr7objid`` (sorted, unique) and
    ``asset_id`` (the image is ``<asset_id>.jpg``).

    An object listed more than once (e.g. also in a Stripe 82 sample) keeps its row of the
    ``original`` sample, the one the Zenodo zip holds, else its first row.
    """
    table = _read_csv_columns(path, MAPPING_COLUMNS, "the GZ2 file-name mapping "
                              "(gz2_filename_mapping.csv, columns objid, sample, asset_id)",
                              dtypes={"objid": "int64", "asset_id": "int64"},
                              optional=("sample",))
    if "sample" in table:
        rank = (table["sample"].astype(str) != "original").to_numpy(np.int8)
    else:
        rank = np.zeros(len(table), np.int8)
    objid = table["objid"].to_numpy(np.int64)
    order = np.lexsort((np.arange(len(objid)), rank, objid))  # by objid, original first
    objid, asset = objid[order], table["asset_id"].to_numpy(np.int64)[order]
    first = np.ones(len(objid), bool)
    first[1:] = objid[1:] != objid[:-1]
    return {"dr7objid": objid[first], "asset_id": asset[first]}


def lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``values`` at the positions of ``query`` in sorted unique ``keys``; -1 where absent."""
    query = np.asarray(query, np.int64)
    if len(keys) == 0:
        return np.full(query.shape, -1, np.int64)
    pos = np.clip(np.searchsorted(keys, query), 0, len(keys) - 1)
    return np.where(keys[pos] == query, values[pos], -1).astype(np.int64)


# -- the zip: an index of its JPEGs, members read one at a time --------------------------------
_JPEG = re.compile(r"(?:^|/)(\d+)\.jpe?g$", re.IGNORECASE)


class JpegZip:
    """The ``<asset_id>.jpg`` members of a zip, read in place without unpacking anything.

    Members not named ``<digits>.jpg`` (folders, text files, macOS resource forks
    ``._16.jpg``) are ignored; of a duplicated id the first member counts. Opening the real
    zip (243,434 members) reads its directory in a few seconds.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as err:
            raise ValueError(f"{self.path} is not a zip file ({err}): the download is "
                             "incomplete or corrupt. Delete it and fetch it again.") from None
        self._members: dict[int, zipfile.ZipInfo] = {}
        for info in self._zip.infolist():
            match = _JPEG.search(info.filename)
            if match:
                self._members.setdefault(int(match.group(1)), info)
        self.asset_ids = np.array(sorted(self._members), np.int64)

    def __len__(self) -> int:
        return len(self.asset_ids)

    def has(self, asset_ids: np.ndarray) -> np.ndarray:
        """Boolean mask: which of ``asset_ids`` have a JPEG in the zip."""
        return np.isin(asset_ids, self.asset_ids)

    def read(self, asset_id: int) -> bytes:
        """The bytes of ``<asset_id>.jpg`` (CRC-checked); KeyError if absent, ValueError if
        corrupt."""
        info = self._members.get(int(asset_id))
        if info is None:
            raise KeyError(f"no {asset_id}.jpg in {self.path}")
        try:
            return self._zip.read(info)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
            raise ValueError(f"{info.filename} in {self.path} is corrupt ({err}); delete the "
                             "zip and fetch it again") from None


# -- images ------------------------------------------------------------------------------------
def preprocess(jpeg: bytes, image_size: int, crop_fraction: float = CROP_FRACTION,
               name: str = "image") -> np.ndarray:
    """A GZ2 JPEG as a greyscale ``(image_size, image_size)`` float32 array in [0, 1].

    Keeps the central ``crop_fraction`` of the cutout (0.5: the central 212 of 424 pixels),
    resizes it with an antialiasing (Lanczos) filter and averages the three colour bands.
    GZ2 cutouts are scaled with each galaxy's Petrosian radius (Willett et al. 2013), so the
    galaxy sits in the middle of the frame and the outer half is mostly sky and neighbours;
    cropping it spends the few pixels of a 64x64 input on the galaxy. The fraction is our
    choice, not the paper's. Walmsley et al. (2020) also trained on greyscale images.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(jpeg)) as img:
            img = img.convert("RGB")
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"could not decode {name} as a JPEG ({err}); delete the zip and fetch "
                         "it again") from None
    w, h = img.size
    cw, ch = max(1, round(w * crop_fraction)), max(1, round(h * crop_fraction))
    left, top = (w - cw) // 2, (h - ch) // 2
    img = img.crop((left, top, left + cw, top + ch))
    img = img.resize((image_size, image_size), Image.Resampling.LANCZOS)
    return np.asarray(img, np.float32).mean(axis=-1) / 255.0


def load_gz2(n: int, image_size: int, seed: int = 0, min_volunteers: int = 10, *,
             crop_fraction: float = CROP_FRACTION, progress: bool = True
             ) -> dict[str, np.ndarray]:
    """``n`` real Galaxy Zoo 2 galaxies with their bar votes, the ``full`` profile's data.

    Fetches the catalogue, the file-name mapping and the image zip (once; cached and verified),
    keeps galaxies with ``n_volunteers >= min_volunteers`` answers to the bar question that
    have an image, and draws ``n`` of them at random (``seed``; same seed, same galaxies in the
    same order). Catalogue rows without an image (not in the mapping, or mapped to a JPEG the
    zip lacks: about 0.1% of rows) are skipped with a warning that says how many.

    Returns the keys the lessons use for simulated galaxies: ``images`` (n, image_size,
    image_size, 1) float32 in [0, 1], greyscale (see :func:`preprocess`); ``votes`` (n,)
    int64, k; ``n_volunteers`` (n,) int64, N; ``shown_to`` (n,) int64, volunteers who
    classified the galaxy; plus ``dr7objid``, ``asset_id`` (n,) int64 and
    ``smooth_fraction``, ``featured_fraction`` (n,) float32 (debiased, Hart et al. 2016).
    There is no ``rho``: for real galaxies it is unknown.

    Raises :class:`~frontier.data.FetchError` (naming the asset) when a file cannot be
    downloaded, and ValueError when fewer than ``n`` galaxies qualify or a file is corrupt.
    """
    if n < 1 or image_size < 1:
        raise ValueError(f"load_gz2(n={n}, image_size={image_size}): both must be >= 1")
    if not 0 < crop_fraction <= 1:
        raise ValueError(f"load_gz2(crop_fraction={crop_fraction}): must be in (0, 1]")
    if min_volunteers < 0:
        raise ValueError(f"load_gz2(min_volunteers={min_volunteers}): must be >= 0")
    catalogue_path = fetch("gz2_hart16", progress=progress)
    mapping_path = fetch("gz2_filename_mapping", progress=progress)
    zip_path = fetch("gz2_images", progress=progress)

    cat = read_catalogue(catalogue_path)
    mapping = read_mapping(mapping_path)
    archive = JpegZip(zip_path)
    asset = lookup(mapping["dr7objid"], mapping["asset_id"], cat["dr7objid"])
    enough = cat["n_volunteers"] >= min_volunteers
    unmapped = enough & (asset < 0)
    no_jpeg = enough & (asset >= 0) & ~archive.has(asset)
    skipped = int(unmapped.sum() + no_jpeg.sum())
    if skipped:
        warnings.warn(
            f"Galaxy Zoo 2: skipped {skipped} of {int(enough.sum())} catalogue rows with "
            f"n_volunteers >= {min_volunteers} that have no image ({int(unmapped.sum())} not in "
            f"{mapping_path.name}, {int(no_jpeg.sum())} without a JPEG in {zip_path.name})",
            stacklevel=2)
    pool = np.flatnonzero(enough & ~unmapped & ~no_jpeg)
    if len(pool) < n:
        raise ValueError(
            f"load_gz2(n={n}, min_volunteers={min_volunteers}): only {len(pool)} galaxies of "
            f"{catalogue_path.name} have an image and at least {min_volunteers} answers to the "
            f"bar question; ask for fewer galaxies or lower min_volunteers")
    pool = pool[np.argsort(cat["dr7objid"][pool], kind="stable")]  # independent of file order
    chosen = pool[np.random.default_rng(seed).choice(len(pool), size=n, replace=False)]

    images = np.empty((n, image_size, image_size, 1), np.float32)
    for j, row in enumerate(tqdm(chosen, desc="GZ2 images", unit="img", leave=False,
                                 disable=not progress)):
        images[j, ..., 0] = preprocess(archive.read(int(asset[row])), image_size,
                                       crop_fraction, name=f"{asset[row]}.jpg in {zip_path}")
    return {"images": images, "votes": cat["votes"][chosen],
            "n_volunteers": cat["n_volunteers"][chosen], "shown_to": cat["shown_to"][chosen],
            "dr7objid": cat["dr7objid"][chosen],
            "asset_id": asset[chosen], "smooth_fraction": cat["smooth_fraction"][chosen],
            "featured_fraction": cat["featured_fraction"][chosen]}
