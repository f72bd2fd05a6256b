"""EuroMineNet readers for training: sites, site-disjoint splits and patch datasets.

Reads the release layout ``{Site}/image/YearYYYY.tif`` + ``{Site}/label/YearYYYY.tif`` as
published and handles its quirks:

- images are int16 (EPSG:4326, about 10 m); a pixel is invalid when any band equals the
  image's declared nodata, or when every band is 0 (the release's fill) - invalid pixels are
  ignored by the loss and zeroed after normalization;
- labels are uint8 0/255 with no CRS or geotransform: they must have the image's shape and
  take its georeferencing; any non-zero value is mining (labels declare no nodata);
- sites smaller than a patch are reflect-padded, the padding ignored by the loss;
- Spain_4, Sweden_6 and Poland_16 are skipped as the release's preprocessing does;
- the release's site-disjoint train/val/test lists select sites by split name.

Generated sites (``export/synthetic.py``) have the same layout and read the same way.

Three datasets, all yielding normalized float32 arrays and int64 targets with ``IGNORE`` where
a pixel does not count:

- ``FootprintPatches``: (image (C, P, P), mask (P, P)) per site, year and patch;
- ``ChangePairs``: (before, after, |Y_b - Y_a|) for every pair of years a < b;
- ``SeriesStacks``: (images (T, C, P, P), masks (T, P, P)) for whole 10-year stacks.
"""
from __future__ import annotations

import functools
import itertools
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning
from torch.utils.data import Dataset

from euromine_qgis.core import release
from euromine_qgis.core.engine.tiling import tile_starts
from euromine_qgis.core.io.valid import valid_pixels
from euromine_qgis.core.years import year_from_name
from export.synthetic import SYNTHETIC_TAG

log = logging.getLogger(__name__)

IGNORE = 255  # target value the loss skips (nodata, padding, undefined change)


class DataError(ValueError):
    """A site folder does not follow the EuroMineNet layout; the message names the file."""


@dataclass(frozen=True)
class Site:
    """One site folder: its name and the years that have both an image and a label."""

    name: str
    root: Path
    years: tuple[int, ...]

    def image(self, year: int) -> Path:
        return self.root / "image" / f"Year{year}.tif"

    def label(self, year: int) -> Path:
        return self.root / "label" / f"Year{year}.tif"

    @property
    def synthetic(self) -> str | None:
        """The generator's tag when the images were made by ``export.synthetic``, else None."""
        with rasterio.open(self.image(self.years[0])) as src:
            return src.tags().get(SYNTHETIC_TAG)


@dataclass(frozen=True)
class SiteArrays:
    """A site loaded into memory: raw images (T, C, H, W) int16 or float32, valid (T, H, W) bool,
    labels (T, H, W) uint8 0/1."""

    site: Site
    images: np.ndarray
    valid: np.ndarray
    labels: np.ndarray


def _site_years(root: Path) -> tuple[int, ...]:
    images = {year_from_name(p.name) for p in (root / "image").glob("Year*.tif")}
    labels = {year_from_name(p.name) for p in (root / "label").glob("Year*.tif")}
    return tuple(sorted(y for y in images & labels if y is not None))


def discover_sites(
    data_dir: str | Path,
    split: str | None = None,
    names: Sequence[str] | None = None,
    years: Sequence[int] | None = None,
) -> list[Site]:
    """Site folders under ``data_dir`` in the release layout, sorted by name.

    ``split`` ('train', 'val', 'test') keeps the release's list for that split; ``names`` keeps
    exactly those sites (a missing one is an error). The release's excluded sites are skipped.
    ``years`` restricts every site to those years (each must be present).
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data folder does not exist")
    found = {p.name: p for p in sorted(data_dir.iterdir()) if (p / "image").is_dir()}
    if not found:
        raise DataError(f"{data_dir}: no site folders with an image/ subfolder")
    wanted = list(release.split_sites(split)) if split else list(names) if names else sorted(found)
    excluded = [n for n in wanted if n in release.EXCLUDED]
    if excluded:
        log.info("skipping %s: excluded by the release's preprocessing", ", ".join(excluded))
    missing = [n for n in wanted if n not in found and n not in release.EXCLUDED]
    if missing:
        raise DataError(f"{data_dir}: no site folder for {', '.join(missing)}")
    sites = []
    for name in wanted:
        if name in release.EXCLUDED:
            continue
        site_years = _site_years(found[name])
        if years is not None:
            absent = sorted(set(years) - set(site_years))
            if absent:
                raise DataError(f"{found[name]}: no image and label for {', '.join(map(str, absent))}")
            site_years = tuple(sorted(years))
        if not site_years:
            raise DataError(f"{found[name]}: no year has both image/YearYYYY.tif and label/YearYYYY.tif")
        sites.append(Site(name, found[name], site_years))
    return sites


def holdout_split(sites: Sequence[Site], every: int = 5) -> tuple[list[Site], list[Site]]:
    """Site-disjoint (train, validation) for folders that are not the release: every
    ``every``-th site by name is validation. The release itself uses ``discover_sites(split=)``."""
    if len(sites) < 2:
        raise DataError("need at least two sites to hold one out for validation")
    val = [s for i, s in enumerate(sites) if i % every == every - 1] or [sites[-1]]
    return [s for s in sites if s not in val], val


def _read_label(path: Path, shape: tuple[int, int]) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # release labels carry no CRS
        with rasterio.open(path) as src:
            if (src.height, src.width) != shape:
                raise DataError(f"{path}: label is {src.height}x{src.width}, its image is {shape[0]}x{shape[1]}")
            label = src.read(1)
            nodata = src.nodata
    mining = label != 0
    if nodata is not None:
        mining &= label != nodata
    return mining.astype(np.uint8)


def load_site(site: Site, bands: int = len(release.BANDS)) -> SiteArrays:
    """Read every year of ``site``; all years must share one grid and have ``bands`` bands."""
    images, valid, labels = [], [], []
    shape = None
    for year in site.years:
        path = site.image(year)
        with rasterio.open(path) as src:
            if src.count != bands:
                raise DataError(f"{path}: {src.count} bands, expected {bands}")
            if shape is not None and (src.height, src.width) != shape:
                raise DataError(f"{path}: {src.height}x{src.width} differs from the site's other years {shape}")
            shape = (src.height, src.width)
            data = src.read()
            nodata = src.nodata
        ok = valid_pixels(data, nodata)
        images.append(data)
        valid.append(ok)
        labels.append(_read_label(site.label(year), shape))
    return SiteArrays(site, np.stack(images), np.stack(valid), np.stack(labels))


def normalize(raw: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Benchmark z-score of raw (..., C, H, W) values; invalid pixels become 0 (the mean)."""
    mean = np.asarray(release.MEAN, np.float32).reshape(-1, 1, 1)
    std = np.asarray(release.STD, np.float32).reshape(-1, 1, 1)
    x = (raw.astype(np.float32) - mean) / std
    return np.where(valid[..., None, :, :], x, np.float32(0.0))


def _patch_starts(height: int, width: int, patch: int, stride: int) -> list[tuple[int, int]]:
    overlap = max(0, patch - stride)
    return list(itertools.product(tile_starts(height, patch, overlap), tile_starts(width, patch, overlap)))


def _crop(array: np.ndarray, y: int, x: int, patch: int, mode: str) -> np.ndarray:
    """(..., patch, patch) window at (y, x), padded at the bottom/right where the site is smaller."""
    window = array[..., y:y + patch, x:x + patch]
    h, w = window.shape[-2:]
    if h == patch and w == patch:
        return window
    pad = [(0, 0)] * (window.ndim - 2) + [(0, patch - h), (0, patch - w)]
    if mode == "reflect" and (h < 2 or w < 2):
        mode = "edge"  # reflect needs two pixels
    return np.pad(window, pad, mode=mode) if mode != "constant" else np.pad(window, pad, constant_values=0)


class _SitePatches(Dataset):
    """Shared machinery: which (site, y, x) patches exist, with sites cached in memory."""

    def __init__(self, sites: Sequence[Site], patch: int = release.PATCH_SIZE, stride: int | None = None,
                 cache_sites: int = 64) -> None:
        self.sites = list(sites)
        self.patch = patch
        stride = stride or patch
        self._load = functools.lru_cache(maxsize=cache_sites)(self._load_index)
        self.index: list[tuple[int, int, int]] = []
        for i, site in enumerate(self.sites):
            with rasterio.open(site.image(site.years[0])) as src:
                height, width = src.height, src.width
            self.index += [(i, y, x) for y, x in _patch_starts(height, width, patch, stride)]

    def _load_index(self, i: int) -> SiteArrays:
        return load_site(self.sites[i])

    def _window(self, i: int, y: int, x: int, years: Sequence[int] | slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """Normalized images (t, C, P, P) and targets (t, P, P) with IGNORE where not valid, for
        the year indices ``years`` (default all)."""
        arrays = self._load(i)
        p = self.patch
        valid = _crop(arrays.valid[years], y, x, p, "constant")  # padding is not valid
        images = normalize(_crop(arrays.images[years], y, x, p, "reflect"), valid)
        targets = np.where(valid, _crop(arrays.labels[years], y, x, p, "constant"), IGNORE).astype(np.int64)
        return images, targets


class FootprintPatches(_SitePatches):
    """Single-year samples: (image (C, P, P) float32, mask (P, P) int64: 0, 1 or IGNORE)."""

    def __init__(self, sites: Sequence[Site], **kwargs) -> None:
        super().__init__(sites, **kwargs)
        self.items = [(k, t) for k, (i, _, _) in enumerate(self.index) for t in range(len(self.sites[i].years))]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        k, t = self.items[n]
        images, targets = self._window(*self.index[k], [t])
        return images[0], targets[0]


class ChangePairs(_SitePatches):
    """Year pairs a < b: (before (C, P, P), after (C, P, P), change (P, P) = |Y_b - Y_a| or IGNORE
    where either year is not valid). Every pair of a site's years, as in the benchmark."""

    def __init__(self, sites: Sequence[Site], **kwargs) -> None:
        super().__init__(sites, **kwargs)
        self.items = [
            (k, a, b)
            for k, (i, _, _) in enumerate(self.index)
            for a, b in itertools.combinations(range(len(self.sites[i].years)), 2)
        ]

    def __len__(self) -> int:
        return len(self.items)

    def changed(self) -> np.ndarray:
        """Per sample: does its label change between the two years anywhere in the patch? Change
        is rare (most pairs of most patches have none), so training draws these more often."""
        flags = np.zeros(len(self.items), bool)
        for n, (k, a, b) in enumerate(self.items):
            i, y, x = self.index[k]
            labels = self._load(i).labels[:, y:y + self.patch, x:x + self.patch]
            flags[n] = bool(np.any(labels[a] != labels[b]))
        return flags

    def __getitem__(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k, a, b = self.items[n]
        images, targets = self._window(*self.index[k], [a, b])
        ignore = (targets[0] == IGNORE) | (targets[1] == IGNORE)
        change = np.where(ignore, IGNORE, np.abs(targets[1] - targets[0]))
        return images[0], images[1], change


class SeriesStacks(_SitePatches):
    """Whole stacks: (images (T, C, P, P), masks (T, P, P)). Every site must have the same T."""

    def __init__(self, sites: Sequence[Site], **kwargs) -> None:
        super().__init__(sites, **kwargs)
        lengths = {len(s.years) for s in self.sites}
        if len(lengths) > 1:
            raise DataError(f"series samples need the same years at every site, got {sorted(lengths)} years")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self._window(*self.index[n])
