"""EuroMineNet readers for training: sites, site-disjoint splits and patch datasets.

Reads the release layout (``core.io.layout``) as published and handles its quirks:

- images are int16 (EPSG:4326, about 10 m); which pixels are valid is the engine's own rule
  (``core.io.valid``): invalid pixels are ignored by the loss and zeroed after normalization;
- labels are uint8 0/255 with no CRS or geotransform: they must have the image's shape and
  take its georeferencing; they are read by the mask rule of ``core.io.masks`` (a declared
  nodata value is not valid, every other non-zero value is mining);
- sites smaller than a patch are reflect-padded, the padding is not valid;
- Spain_4, Sweden_6 and Poland_16 are skipped as the release's preprocessing does;
- the release's site-disjoint train/val/test lists select sites by split name.

Generated sites (``export/synthetic.py``) have the same layout and read the same way.

Samples are dicts, as in torchgeo, so one training loop serves every task: ``"image"``
(normalized float32), ``"mask"`` (int64, 1 = mining or change) and ``"valid"`` (bool: the
pixel counts):

- ``FootprintPatches``: image (C, P, P), mask and valid (P, P) per site, year and patch;
- ``ChangePairs``: image (2, C, P, P) = (before, after), mask |Y_b - Y_a| and valid (P, P)
  for every pair of years a < b;
- ``SeriesStacks``: image (T, C, P, P), mask and valid (T, P, P) for whole annual stacks.

Nothing here needs onnxruntime.
"""
from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window
from torch.utils.data import Dataset

from euromine_qgis.core import release
from euromine_qgis.core.engine.contract import normalize_in_place
from euromine_qgis.core.engine.tiling import tile_starts
from euromine_qgis.core.io import layout
from euromine_qgis.core.io.masks import inspect_mask, read_stack
from euromine_qgis.core.io.raster import open_raster
from euromine_qgis.core.io.valid import valid_pixels
from export.synthetic import SYNTHETIC_TAG

log = logging.getLogger(__name__)

Sample = dict[str, np.ndarray]


class DataError(ValueError):
    """A site folder does not follow the EuroMineNet layout; the message names the file."""


@dataclass(frozen=True)
class TrainingSite:
    """One site folder of a training, validation or test set: its name and the years that have
    both an image and a label."""

    name: str
    root: Path
    years: tuple[int, ...]

    def image(self, year: int) -> Path:
        """The site's image of ``year``."""
        return layout.image_path(self.root, year)

    def label(self, year: int) -> Path:
        """The site's label of ``year``."""
        return layout.label_path(self.root, year)

    @property
    def synthetic(self) -> str | None:
        """The generator's tag when the images were made by ``export.synthetic``, else None."""
        with rasterio.open(self.image(self.years[0])) as src:
            return src.tags().get(SYNTHETIC_TAG)


@dataclass(frozen=True)
class SiteArrays:
    """A site loaded into memory: raw images (T, C, H, W) int16 or float32, valid (T, H, W) bool
    (image and label both valid), labels (T, H, W) bool mining."""

    site: TrainingSite
    images: np.ndarray
    valid: np.ndarray
    labels: np.ndarray


def training_sites(
    data_dir: str | Path,
    split: str | None = None,
    names: Sequence[str] | None = None,
    years: Sequence[int] | None = None,
) -> list[TrainingSite]:
    """Site folders under ``data_dir`` in the release layout, sorted by name.

    ``split`` ('train', 'val', 'test') keeps the release's list for that split; ``names`` keeps
    exactly those sites (a missing one is an error). The release's excluded sites are skipped.
    ``years`` restricts every site to those years (each must be present).
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data folder does not exist")
    found = layout.site_folders(data_dir)
    if not found:
        raise DataError(f"{data_dir}: no site folders with annual images "
                        f"({layout.IMAGE_FOLDER}/{layout.FILE_GLOB}, the EuroMineNet layout)")
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
        root = found[name]
        labelled_years = layout.years_of(layout.image_files(root)) & layout.years_of(layout.label_files(root))
        site_years = tuple(sorted(labelled_years))
        if years is not None:
            absent = sorted(set(years) - set(site_years))
            if absent:
                raise DataError(f"{root}: no image and label for {', '.join(map(str, absent))}")
            site_years = tuple(sorted(years))
        if not site_years:
            raise DataError(f"{root}: no year has both an image ({layout.IMAGE_FOLDER}/) and a label "
                            f"({layout.LABEL_FOLDER}/)")
        sites.append(TrainingSite(name, root, site_years))
    return sites


def holdout_split(sites: Sequence[TrainingSite], every: int = 5) -> tuple[list[TrainingSite], list[TrainingSite]]:
    """Site-disjoint (train, validation) for folders that are not the release: every
    ``every``-th site by name is validation. The release itself uses ``training_sites(split=)``."""
    if len(sites) < 2:
        raise DataError("need at least two sites to hold one out for validation")
    val = [s for i, s in enumerate(sites) if i % every == every - 1] or [sites[-1]]
    return [s for s in sites if s not in val], val


def read_labels(site: TrainingSite, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(mining, valid) boolean (T, H, W) labels of every year of ``site`` by the mask rule; each
    label must have the image's ``shape`` (labels carry no georeferencing of their own)."""
    infos = [inspect_mask(site.label(year)) for year in site.years]
    for info in infos:
        if info.grid.shape != shape:
            raise DataError(f"{info.path}: label is {info.grid.height}x{info.grid.width}, "
                            f"its image is {shape[0]}x{shape[1]}")
    return read_stack(infos, Window(0, 0, shape[1], shape[0]))


def load_site(site: TrainingSite, bands: int = len(release.BANDS)) -> SiteArrays:
    """Read every year of ``site``; all years must share one grid and have ``bands`` bands."""
    images, valid = [], []
    shape = None
    for year in site.years:
        path = site.image(year)
        with open_raster(path) as src:
            if src.count != bands:
                raise DataError(f"{path}: {src.count} bands, expected {bands}")
            if shape is not None and (src.height, src.width) != shape:
                raise DataError(f"{path}: {src.height}x{src.width} differs from the site's other years {shape}")
            shape = (src.height, src.width)
            data = src.read()
            nodata = src.nodata
        images.append(data)
        valid.append(valid_pixels(data, nodata))
    labels, labelled = read_labels(site, shape)
    return SiteArrays(site, np.stack(images), np.stack(valid) & labelled, labels)


def normalize(raw: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Benchmark z-score of raw (..., C, H, W) values; invalid pixels become 0 (the mean)."""
    x = normalize_in_place(np.array(raw, np.float32, order="C"), release.MEAN, release.STD)
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

    def __init__(self, sites: Sequence[TrainingSite], patch: int = release.PATCH_SIZE, stride: int | None = None,
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

    def _window(self, i: int, y: int, x: int, years: Sequence[int] | slice = slice(None)) -> Sample:
        """The sample of patch (y, x) of site ``i`` for the year indices ``years`` (default all):
        image (t, C, P, P), mask and valid (t, P, P)."""
        arrays = self._load(i)
        p = self.patch
        valid = _crop(arrays.valid[years], y, x, p, "constant")  # padding is not valid
        return {
            "image": normalize(_crop(arrays.images[years], y, x, p, "reflect"), valid),
            "mask": _crop(arrays.labels[years], y, x, p, "constant").astype(np.int64),
            "valid": valid,
        }


class FootprintPatches(_SitePatches):
    """Single-year samples: image (C, P, P), mask and valid (P, P)."""

    def __init__(self, sites: Sequence[TrainingSite], **kwargs) -> None:
        super().__init__(sites, **kwargs)
        self.items = [(k, t) for k, (i, _, _) in enumerate(self.index) for t in range(len(self.sites[i].years))]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, n: int) -> Sample:
        k, t = self.items[n]
        return {key: value[0] for key, value in self._window(*self.index[k], [t]).items()}


class ChangePairs(_SitePatches):
    """Year pairs a < b: image (2, C, P, P) = (before, after), mask |Y_b - Y_a| and valid (P, P)
    where both years are valid. Every pair of a site's years, as in the benchmark."""

    def __init__(self, sites: Sequence[TrainingSite], **kwargs) -> None:
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

    def __getitem__(self, n: int) -> Sample:
        k, a, b = self.items[n]
        sample = self._window(*self.index[k], [a, b])
        return dict(sample, mask=sample["mask"][0] ^ sample["mask"][1], valid=sample["valid"][0] & sample["valid"][1])


class SeriesStacks(_SitePatches):
    """Whole stacks: image (T, C, P, P), mask and valid (T, P, P). Every site must have the same T."""

    def __init__(self, sites: Sequence[TrainingSite], **kwargs) -> None:
        super().__init__(sites, **kwargs)
        lengths = {len(s.years) for s in self.sites}
        if len(lengths) > 1:
            raise DataError(f"series samples need the same years at every site, got {sorted(lengths)} years")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, n: int) -> Sample:
        return self._window(*self.index[n])
