"""Deterministic synthetic mining sites in the EuroMineNet release layout.

Writes every requested year of each site in the layout of ``core.io.layout``: an image (10
bands, int16 L2A reflectance x 10000, EPSG:4326, about 10 m, nodata 0) and a label (uint8,
0 = not mining, 255 = mining, no CRS and no geotransform).

Each site is a rural European landscape (forest, grassland, crop parcels whose fields are bare
in some years, lakes, a river, a town, roads) with one surface mine whose footprint grows,
pauses and is partly reclaimed over the years. Inside the mine: open pit with benches, spoil
heaps, tailings ponds, haul roads and a processing plant. Each year gets its own radiometric
drift and, in some years, haze, clouds with shadows and a nodata margin.

Label rule: a pixel is mining in year ``t`` when it has been excavated (or built on, flooded or
dumped on) by the mine in or before ``t`` and has not been revegetating for a full year: land
that is regraded in ``t`` but still bare counts as mining; from ``t + 1`` on it revegetates
(spectrum moving from bare soil toward vegetation) and is no longer mining. Clouds, haze and
nodata margins never change the label.

Everything is drawn from numpy generators seeded by ``(seed, ...)``, so the same seed writes
byte-identical files, and a year's files do not depend on which other years were asked for
(as long as the asked years lie in 2015-2024).

Two generator settings (:data:`DOMAINS`): ``default``, on which the bundled models were trained,
validated and tested, and ``shifted``, a domain-shift test the training never sees: sites of
other sizes on a projected grid (UTM, 10 m pixels in metres), more haze, more, smaller and
denser clouds, more and deeper nodata margins, longer and rougher mines that open later and
grow in fewer, larger steps with longer pauses.

No torch, no qgis: numpy, scipy, rasterio and the release facts of ``core.release``.
"""

from __future__ import annotations

import argparse
import enum
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import Affine, from_origin
from scipy import ndimage

from euromine_qgis.core.errors import YearsError
from euromine_qgis.core.io import layout
from euromine_qgis.core.release import BANDS, PATCH_SIZE, YEARS
from euromine_qgis.core.years import parse_years

WAVELENGTHS_NM = np.array([490, 560, 665, 705, 740, 783, 842, 865, 1610, 2190], dtype=np.float32)
IMAGE_NODATA = 0
# GeoTIFF metadata item that marks an image as generated here (training tools label models by it)
SYNTHETIC_TAG = "EUROMINE_SYNTHETIC"
LABEL_MINING = 255

_NEVER = np.int16(32767)  # "year" of an event that never happens
_MIN_SIDE = 24
_RANDOM_SIDES = (91, 419)  # odd sides drawn when no size is given
_SMALL_SIDES = (91, PATCH_SIZE - 1)  # smaller than a benchmark patch


class Cover(enum.IntEnum):
    """Land cover classes of the simulation (the index into :data:`SPECTRA`)."""

    FOREST = 0
    GRASS = 1
    CROP_GREEN = 2
    CROP_BARE = 3
    CROP_STUBBLE = 4
    WATER = 5
    BUILT = 6
    ROAD = 7
    PIT_BRIGHT = 8
    PIT_DARK = 9
    SPOIL = 10
    TAILINGS = 11
    HAUL_ROAD = 12
    PLANT = 13
    REGRADED = 14
    REVEGETATING = 15


# Typical Sentinel-2 L2A surface reflectance x 10000, bands as in BANDS. Bare crop fields,
# spoil, regraded land and haul roads overlap on purpose: spectra alone do not find a mine.
SPECTRA = np.array(
    [
        [250, 420, 260, 680, 1850, 2350, 2500, 2650, 1250, 560],  # forest
        [380, 650, 480, 1050, 2250, 2750, 2950, 3100, 2150, 1150],  # grassland
        [320, 620, 360, 950, 2650, 3450, 3750, 3850, 2000, 950],  # green crop
        [950, 1200, 1450, 1650, 1850, 2000, 2150, 2250, 2950, 2450],  # bare field
        [800, 1050, 1250, 1500, 1900, 2150, 2300, 2450, 3000, 2300],  # stubble
        [520, 560, 340, 270, 200, 180, 150, 140, 90, 60],  # lake / river
        [1150, 1250, 1350, 1480, 1620, 1720, 1820, 1880, 2150, 1950],  # built-up
        [850, 950, 1050, 1100, 1150, 1200, 1250, 1300, 1550, 1450],  # paved road
        [2100, 2400, 2700, 2900, 3000, 3100, 3200, 3300, 3600, 3100],  # bright rock (quarry)
        [520, 570, 620, 670, 720, 760, 800, 830, 920, 820],  # dark rock / lignite
        [1050, 1300, 1550, 1750, 1950, 2100, 2200, 2300, 3000, 2650],  # spoil heap
        [850, 1100, 950, 780, 480, 400, 340, 320, 160, 110],  # tailings pond (turbid water)
        [1250, 1450, 1650, 1800, 1950, 2050, 2150, 2220, 2750, 2450],  # haul road (dust)
        [1300, 1400, 1500, 1600, 1700, 1800, 1900, 1950, 2200, 2000],  # plant roofs/yards
        [900, 1150, 1400, 1600, 1800, 1950, 2100, 2200, 2800, 2300],  # regraded soil
        [900, 1150, 1400, 1600, 1800, 1950, 2100, 2200, 2800, 2300],  # revegetating: mixed later
    ],
    dtype=np.float32,
)

# Per-class strength of the per-pixel brightness texture.
_TEXTURE_AMP = np.array(
    [0.14, 0.08, 0.06, 0.08, 0.07, 0.05, 0.18, 0.07, 0.14, 0.14, 0.12, 0.06, 0.07, 0.15, 0.09, 0.1],
    dtype=np.float32,
)

MINING_COVERS = frozenset(
    {Cover.PIT_BRIGHT, Cover.PIT_DARK, Cover.SPOIL, Cover.TAILINGS, Cover.HAUL_ROAD, Cover.PLANT,
     Cover.REGRADED}
)
_MINING_LUT = np.isin(np.arange(len(Cover)), [int(c) for c in MINING_COVERS])
_RELIEF_LUT = np.isin(np.arange(len(Cover)), [Cover.PIT_BRIGHT, Cover.PIT_DARK, Cover.SPOIL])

# Haze: additive, strongest in the blue, decaying with wavelength.
_HAZE_WEIGHTS = (WAVELENGTHS_NM[0] / WAVELENGTHS_NM) ** 2.5
# Clouds: bright and flat through the visible and NIR, somewhat darker in the SWIR.
_CLOUD_SHAPE = np.array([1.0, 0.99, 0.98, 0.98, 0.98, 0.98, 0.99, 0.99, 0.8, 0.62], np.float32)


@dataclass(frozen=True)
class Domain:
    """Generator settings that tell one population of sites from another."""

    name: str
    sides: tuple[int, int]  # odd sides drawn when no size is given
    projected: bool  # UTM grid in metres (else EPSG:4326 in degrees)
    mine_length: tuple[float, float]  # ellipse half-axes over the mine scale
    mine_width: tuple[float, float]
    mine_roughness: float  # weight of the coarse noise on the mine outline
    late_opening: float  # chance that the mine opens after the first year
    pause: float  # chance that the footprint does not grow in a year
    growth_step: tuple[float, float]  # relative size of a year's growth
    haze: float  # chance of haze in a year
    cloud: float  # chance of clouds in a year
    cloud_size: tuple[float, float]  # cloud feature size in pixels
    cloud_cover: tuple[float, float]  # share of the scene under clouds
    nodata: float  # chance of a nodata margin in a year
    nodata_depth: tuple[float, float]  # depth of a straight margin, share of the side


DEFAULT_DOMAIN = Domain("default", _RANDOM_SIDES, False, (0.9, 1.35), (0.6, 1.0), 0.22, 0.15, 0.3, (0.3, 1.5),
                        0.3, 0.25, (10, 30), (0.04, 0.25), 0.2, (0.05, 0.3))
SHIFTED_DOMAIN = Domain("shifted", (161, 289), True, (1.2, 1.7), (0.4, 0.7), 0.4, 0.4, 0.45, (0.8, 2.5),
                        0.5, 0.5, (5, 14), (0.1, 0.35), 0.4, (0.1, 0.4))
DOMAINS = {d.name: d for d in (DEFAULT_DOMAIN, SHIFTED_DOMAIN)}


@dataclass(frozen=True)
class YearConditions:
    """What the atmosphere and the processing did to one year's image."""

    gain: tuple[float, ...]
    offset: tuple[float, ...]
    haze: float  # peak additive haze in B2 (0 = clear)
    cloud_fraction: float  # share of pixels under visible clouds (alpha > 0.5, not nodata)
    nodata_fraction: float  # share of pixels in the nodata margin


@dataclass
class SyntheticSite:
    """One simulated site in memory, before it is written.

    ``images[y]`` is (10, H, W) int16, ``labels[y]`` (H, W) uint8 0/255, ``cover[y]`` (H, W)
    uint8 :class:`Cover` codes (the land cover under any cloud or nodata).
    """

    seed: int
    transform: Affine
    years: tuple[int, ...]
    images: dict[int, np.ndarray]
    labels: dict[int, np.ndarray]
    cover: dict[int, np.ndarray]
    conditions: dict[int, YearConditions]
    crs: str = "EPSG:4326"
    domain: str = DEFAULT_DOMAIN.name

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return self.images[self.years[0]].shape[1:]


@dataclass
class _Landscape:
    cover: np.ndarray  # static background cover; crop pixels hold CROP_GREEN
    parcel: np.ndarray  # crop parcel index, -1 outside crops
    n_parcels: int
    texture: np.ndarray  # zero-mean unit-std brightness texture


@dataclass
class _Mine:
    excavated: np.ndarray  # first year the mine reaches a pixel (_NEVER if it never does)
    reclaimed: np.ndarray  # year a pixel is regraded for reclamation (_NEVER if never)
    heap: np.ndarray  # spoil-heap zone (rest of the mine is pit)
    bright_pit: np.ndarray  # pit floor of bright rock (else dark)
    relief: np.ndarray  # brightness multiplier: benches in the pit, ridges on heaps
    haul: np.ndarray  # haul roads; outside the mine they continue as public roads
    pond: np.ndarray  # tailings pond basins
    pond_year: int
    plant: np.ndarray
    revegetation: Cover  # what reclaimed land turns into


# --------------------------------------------------------------------------- random fields


def _rng(seed: int, *tags: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *map(int, tags)])


def _bspline_matrix(n_out: int, cell: int, offset: float) -> np.ndarray:
    """(n_out, n_out // cell + 5) cubic B-spline weights sampling a coarse grid every 1/cell."""
    pos = np.arange(n_out) / cell + offset + 1.0
    base = np.floor(pos).astype(np.int64)
    t = pos - base
    weights = np.stack([(1 - t) ** 3, 3 * t**3 - 6 * t**2 + 4, -3 * t**3 + 3 * t**2 + 3 * t + 1,
                        t**3], axis=1) / 6
    matrix = np.zeros((n_out, n_out // cell + 5))
    rows = np.arange(n_out)[:, None]
    matrix[rows, base[:, None] + np.arange(-1, 3)] = weights
    return matrix


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """Zero-mean, unit-std noise with features about ``cell`` pixels across.

    Coarse white noise interpolated with a cubic B-spline, written as two small matrix
    products (much faster than scipy's zoom on full-size rasters).
    """
    h, w = shape
    cell = max(2, int(round(cell)))
    coarse = rng.standard_normal((h // cell + 5, w // cell + 5))
    oy, ox = rng.uniform(0, 1, 2)
    field = (_bspline_matrix(h, cell, oy) @ coarse @ _bspline_matrix(w, cell, ox).T)
    field = field.astype(np.float32)
    return (field - field.mean()) / (field.std() + 1e-6)


def _line_distance(grid, cy, cx, angle, wiggle=0.0, wavelength=50.0, phase=0.0):
    """Distance across, and position along, a gently curving line through (cy, cx)."""
    yy, xx = grid
    along = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
    across = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
    across = across - wiggle * np.sin(along / wavelength + phase)
    return np.abs(across), along


# --------------------------------------------------------------------------- landscape


def _crop_parcels(rng, grid, region):
    """Label crop parcels (rotated rectangular grid) inside ``region``; hedges get -1."""
    yy, xx = grid
    angle = rng.uniform(0, np.pi / 2)
    pw, ph = rng.uniform(14, 40, 2)
    u = xx * np.cos(angle) + yy * np.sin(angle) + rng.uniform(0, pw)
    v = -xx * np.sin(angle) + yy * np.cos(angle) + rng.uniform(0, ph)
    iu, iv = np.floor(u / pw).astype(np.int64), np.floor(v / ph).astype(np.int64)
    hedge = (u - iu * pw < 1.0) | (v - iv * ph < 1.0)
    key = (iu - iu.min()) * (iv.max() - iv.min() + 1) + (iv - iv.min())
    inside = region & ~hedge
    parcel = np.full(region.shape, -1, np.int32)
    _, ids = np.unique(key[inside], return_inverse=True)
    parcel[inside] = ids
    return parcel, int(ids.max()) + 1 if ids.size else 0


def _blob_away_from_mine(rng, shape, grid, potential, radius, roughness, tries=12):
    """A noisy disc of ``radius`` px placed clear of the final mine extent, or None."""
    h, w = shape
    yy, xx = grid
    wobble = roughness * _smooth_noise(rng, shape, radius / 2)
    for _ in range(tries):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        blob = np.hypot(yy - cy, xx - cx) / radius + wobble < 1
        if blob.any() and not (blob & (potential < 1.4)).any():
            return blob
    return None


def _build_landscape(rng, shape, grid, potential, lat) -> _Landscape:
    """Static background: forest/grass/crops, towns, lakes, rivers, roads."""
    h, w = shape
    side = min(h, w)
    cover = np.full(shape, Cover.GRASS, np.uint8)
    use = _smooth_noise(rng, shape, rng.uniform(25, 55))
    forest_share = np.clip(rng.uniform(0.15, 0.45) + (lat - 50) * 0.01, 0.1, 0.6)
    crop_share = rng.uniform(0.25, 0.45)
    cover[use > np.quantile(use, 1 - forest_share)] = Cover.FOREST
    crops = use < np.quantile(use, crop_share)
    parcel, n_parcels = _crop_parcels(rng, grid, crops)
    cover[parcel >= 0] = Cover.CROP_GREEN

    if rng.random() < 0.6:  # town with a street grid and gardens
        town = _blob_away_from_mine(rng, shape, grid, potential, rng.uniform(0.08, 0.16) * side, 0.3)
        if town is not None:
            yy, xx = grid
            block = rng.uniform(6, 11)
            streets = ((yy % block) < 1.3) | ((xx % block) < 1.3)
            gardens = _smooth_noise(rng, shape, 3) > 0.8
            cover[town] = Cover.BUILT
            cover[town & gardens] = Cover.GRASS
            cover[town & streets] = Cover.ROAD

    if rng.random() < 0.5:  # lake
        lake = _blob_away_from_mine(rng, shape, grid, potential, rng.uniform(0.05, 0.12) * side, 0.25)
        if lake is not None:
            cover[lake] = Cover.WATER

    if rng.random() < 0.4:  # river that keeps clear of the mine
        for _ in range(8):
            across, _ = _line_distance(
                grid, rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0, np.pi),
                wiggle=rng.uniform(3, 12), wavelength=rng.uniform(15, 40), phase=rng.uniform(0, 6.3),
            )
            river = across < rng.uniform(1.5, 4.5)
            if not (river & (potential < 1.4)).any():
                cover[river] = Cover.WATER
                break

    for _ in range(rng.integers(0, 3)):  # straight regional roads
        across, _ = _line_distance(grid, rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0, np.pi))
        cover[across < rng.uniform(0.7, 1.3)] = Cover.ROAD

    texture = _smooth_noise(rng, shape, 5) + 0.8 * rng.standard_normal(shape).astype(np.float32)
    texture /= texture.std()
    return _Landscape(cover, parcel, n_parcels, texture)


# --------------------------------------------------------------------------- the mine


def _mine_radii(rng, n_years: int, domain: Domain) -> tuple[np.ndarray, int]:
    """Footprint radius (potential units) per year: grows with pauses; -inf before opening."""
    opening = 0 if rng.random() > domain.late_opening else int(rng.integers(1, 4))
    start = rng.uniform(0.4, 0.75)
    steps = np.where(rng.random(n_years) < domain.pause, 0.0, rng.uniform(*domain.growth_step, n_years))
    steps[: opening + 1] = 0.0
    if steps.sum() == 0:
        steps[-1] = 1.0
    radii = start + (1.0 - start) * np.cumsum(steps) / steps.sum()
    radii[:opening] = -np.inf
    return radii, opening


def _first_years(potential, radii, timeline) -> np.ndarray:
    """First year in which ``potential < radius`` (radii never shrink)."""
    index = np.searchsorted(radii, potential, side="right")
    years = np.append(np.asarray(timeline, np.int16), _NEVER)
    return years[index]


def _reclamation(rng, grid, centre, scale, eligible, timeline, opening) -> np.ndarray:
    """Year each pixel is regraded for reclamation; advances along a direction, with pauses."""
    reclaimed = np.full(eligible.shape, _NEVER, np.int16)
    n = len(timeline)
    if rng.random() > 0.75 or opening + 1 >= n or not eligible.any():
        return reclaimed
    first = int(rng.integers(opening + 1, min(opening + 7, n)))
    direction = rng.uniform(0, 2 * np.pi)
    yy, xx = grid
    progress = ((xx - centre[1]) * np.cos(direction) + (yy - centre[0]) * np.sin(direction)) / scale
    progress = progress + 0.25 * _smooth_noise(rng, eligible.shape, scale / 3)
    values = progress[eligible]
    ceiling = rng.uniform(0.35, 0.75)
    steps = np.where(rng.random(n) < 0.25, 0.0, rng.uniform(0.06, 0.16, n))
    steps[:first] = 0.0
    share = np.minimum(np.cumsum(steps), ceiling)
    for year, s in zip(timeline, share, strict=True):
        if s <= 0:
            continue
        now = eligible & (progress >= np.quantile(values, 1 - s)) & (reclaimed == _NEVER)
        reclaimed[now] = year
    return reclaimed


def _ellipse_point(centre, a, b, theta, rho, alpha):
    u, v = rho * np.cos(alpha) * a, rho * np.sin(alpha) * b
    return (centre[0] + u * np.sin(theta) + v * np.cos(theta),
            centre[1] + u * np.cos(theta) - v * np.sin(theta))


def _build_mine(rng, shape, grid, timeline, domain: Domain) -> tuple[_Mine, np.ndarray]:
    """Mine geometry and its history; also returns the potential field (< 1 = final extent)."""
    h, w = shape
    yy, xx = grid
    centre = (rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w)
    scale = rng.uniform(0.2, 0.34) * min(h, w)
    a, b = scale * rng.uniform(*domain.mine_length), scale * rng.uniform(*domain.mine_width)
    theta = rng.uniform(0, np.pi)
    dy, dx = yy - centre[0], xx - centre[1]
    u = (dx * np.cos(theta) + dy * np.sin(theta)) / a
    v = (-dx * np.sin(theta) + dy * np.cos(theta)) / b
    potential = (np.hypot(u, v) + domain.mine_roughness * _smooth_noise(rng, shape, scale / 2)
                 + 0.07 * _smooth_noise(rng, shape, scale / 8))

    radii, opening = _mine_radii(rng, len(timeline), domain)
    radii[opening:] = np.maximum(radii[opening:], potential.min() + 0.15)
    excavated = _first_years(potential, radii, timeline)

    heap_field = _smooth_noise(rng, shape, scale * 0.8)
    heap_dir = rng.uniform(0, 2 * np.pi)
    heap_field += 0.8 * (dx * np.cos(heap_dir) + dy * np.sin(heap_dir)) / scale
    heap = heap_field > rng.uniform(0.3, 0.9)
    bright_pit = (_smooth_noise(rng, shape, 6) > 0.9) ^ (rng.random() < 0.5)
    benches = 1 + 0.14 * np.sin(2 * np.pi * potential * rng.uniform(8, 16) + rng.uniform(0, 6.3))
    ridges = 1 + 0.1 * np.sin((dx * np.cos(heap_dir) + dy * np.sin(heap_dir)) / rng.uniform(2, 4))
    relief = np.where(heap, ridges, benches).astype(np.float32)

    haul = np.zeros(shape, bool)
    for _ in range(rng.integers(1, 4)):
        across, along = _line_distance(
            grid, *centre, rng.uniform(0, 2 * np.pi), wiggle=rng.uniform(0, 4),
            wavelength=rng.uniform(20, 60), phase=rng.uniform(0, 6.3),
        )
        haul |= (across < rng.uniform(0.8, 1.5)) & (along >= 0)

    pond = np.zeros(shape, bool)
    for _ in range(rng.choice(3, p=[0.25, 0.45, 0.3])):
        py, px = _ellipse_point(centre, a, b, theta, rng.uniform(0.35, 0.75), rng.uniform(0, 2 * np.pi))
        radius = rng.uniform(0.12, 0.22) * scale
        blob = np.hypot(yy - py, xx - px) / radius + 0.25 * _smooth_noise(rng, shape, radius)
        pond |= blob < 1
    pond_year = int(timeline[int(rng.integers(0, len(timeline)))])

    plant = np.zeros(shape, bool)
    if rng.random() < 0.5:
        py, px = _ellipse_point(centre, a, b, theta, 0.85, rng.uniform(0, 2 * np.pi))
        hy, hx = rng.uniform(0.05, 0.1, 2) * scale + 1
        plant = (np.abs(yy - py) < hy) & (np.abs(xx - px) < hx)

    opened = timeline[opening]
    eligible = (excavated <= opened) & ~pond & ~plant
    reclaimed = _reclamation(rng, grid, centre, scale, eligible, timeline, opening)
    revegetation = Cover.FOREST if rng.random() < 0.3 else Cover.GRASS
    mine = _Mine(excavated, reclaimed, heap, bright_pit, relief, haul, pond, pond_year, plant,
                 revegetation)
    return mine, potential


def _year_cover(land: _Landscape, mine: _Mine, crop_state: np.ndarray, year: int):
    """Land cover, mining label and revegetation share of one year."""
    cover = land.cover.copy()
    crops = land.parcel >= 0
    cover[crops] = crop_state[land.parcel[crops]]
    dug = mine.excavated <= year
    cover[~dug & mine.haul] = Cover.ROAD  # access roads outside the mine are public roads
    cover[dug & mine.heap] = Cover.SPOIL
    cover[dug & ~mine.heap & mine.bright_pit] = Cover.PIT_BRIGHT
    cover[dug & ~mine.heap & ~mine.bright_pit] = Cover.PIT_DARK
    cover[dug & mine.haul] = Cover.HAUL_ROAD
    cover[dug & mine.plant] = Cover.PLANT
    if year >= mine.pond_year:
        cover[mine.pond & (mine.excavated < year)] = Cover.TAILINGS
    cover[mine.reclaimed == year] = Cover.REGRADED
    reveg = mine.reclaimed < year
    cover[reveg] = Cover.REVEGETATING
    green = np.zeros(cover.shape, np.float32)
    green[reveg] = np.minimum(1.0, 0.3 + 0.25 * (year - mine.reclaimed[reveg] - 1))
    label = np.where(_MINING_LUT[cover], LABEL_MINING, 0).astype(np.uint8)
    return cover, label, green


# --------------------------------------------------------------------------- rendering


def _draw_conditions(rng, shape, domain: Domain) -> tuple[YearConditions, np.ndarray, np.ndarray, np.ndarray]:
    """Per-year drift, haze field, cloud alpha and nodata mask."""
    h, w = shape
    gain = 1 + rng.normal(0, 0.02) + rng.normal(0, 0.025, len(BANDS))
    offset = rng.normal(0, 25, len(BANDS))

    haze = np.zeros(shape, np.float32)
    haze_amp = 0.0
    if rng.random() < domain.haze:
        haze_amp = float(rng.uniform(250, 700))
        haze = haze_amp * (0.4 + 0.6 / (1 + np.exp(-2 * _smooth_noise(rng, shape, 40))))

    alpha = np.zeros(shape, np.float32)
    if rng.random() < domain.cloud:
        field = _smooth_noise(rng, shape, rng.uniform(*domain.cloud_size))
        threshold = np.quantile(field, 1 - rng.uniform(*domain.cloud_cover))
        alpha = np.clip((field - threshold) / 0.35, 0, 1)

    nodata = np.zeros(shape, bool)
    if rng.random() < domain.nodata:
        yy, xx = np.mgrid[0:h, 0:w]
        fy, fx = (yy + 0.5) / h, (xx + 0.5) / w
        if rng.random() < 0.5:  # straight strip along one edge
            edge = [fy, 1 - fy, fx, 1 - fx][rng.integers(0, 4)]
            nodata = edge < rng.uniform(*domain.nodata_depth)
        else:  # diagonal orbit edge across one corner
            if rng.random() < 0.5:
                fy = 1 - fy
            if rng.random() < 0.5:
                fx = 1 - fx
            nodata = fy + fx < rng.uniform(0.2, 0.7)

    conditions = YearConditions(
        gain=tuple(np.round(gain, 6).tolist()), offset=tuple(np.round(offset, 3).tolist()),
        haze=haze_amp, cloud_fraction=float(((alpha > 0.5) & ~nodata).mean()),
        nodata_fraction=float(nodata.mean()),
    )
    return conditions, haze, alpha, nodata


def _add_clouds(rng, img: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Blend bright flat clouds over ``img`` and darken their shadows."""
    if not alpha.any():
        return img
    h, w = alpha.shape
    angle = rng.uniform(0, 2 * np.pi)
    dist = rng.uniform(4, 12)
    sy, sx = int(round(dist * np.sin(angle))), int(round(dist * np.cos(angle)))
    shadow = np.zeros_like(alpha)
    shadow[max(sy, 0) : h + min(sy, 0), max(sx, 0) : w + min(sx, 0)] = \
        alpha[max(-sy, 0) : h + min(-sy, 0), max(-sx, 0) : w + min(-sx, 0)]
    img = img * (1 - 0.6 * shadow * (1 - alpha))
    level = rng.uniform(4800, 7500) * (1 + 0.06 * _smooth_noise(rng, alpha.shape, 4))
    cloud = _CLOUD_SHAPE[:, None, None] * level
    return img * (1 - alpha) + cloud * alpha


def _render(rng, land: _Landscape, mine: _Mine, cover, green, conditions, haze, alpha, nodata,
            crop_brightness):
    """Reflectance image (10, H, W) int16 of one year."""
    img = np.take(SPECTRA.T, cover, axis=1)
    shape = img.shape
    reveg = green > 0
    if reveg.any():
        mixed = SPECTRA[mine.revegetation][:, None]
        img[:, reveg] = img[:, reveg] * (1 - green[reveg]) + mixed * green[reveg]
    brightness = 1 + _TEXTURE_AMP[cover] * land.texture
    brightness = np.where(_RELIEF_LUT[cover], brightness * mine.relief, brightness)
    crops = land.parcel >= 0
    brightness[crops] *= crop_brightness[land.parcel[crops]]
    img *= np.maximum(brightness, 0.3)
    img = ndimage.gaussian_filter(img, sigma=(0, 0.6, 0.6), truncate=3.0)  # sensor PSF
    # Sensor noise: ~1.5 % of the signal plus a floor, uniform (cheaper to draw than normal).
    noise = rng.random(shape, dtype=np.float32) - np.float32(0.5)
    img += (0.05 * img + 40) * noise
    img += haze * _HAZE_WEIGHTS[:, None, None]
    img = _add_clouds(rng, img, alpha)
    img = img * np.asarray(conditions.gain, np.float32)[:, None, None]
    img += np.asarray(conditions.offset, np.float32)[:, None, None]
    out = np.clip(np.rint(img), 1, np.iinfo(np.int16).max).astype(np.int16)
    out[:, nodata] = IMAGE_NODATA
    return out


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    h, w = (int(s) for s in size)
    if h < _MIN_SIDE or w < _MIN_SIDE:
        raise ValueError(f"site size {h}x{w} is too small; both sides need >= {_MIN_SIDE} px")
    return h, w


def _random_size(rng: np.random.Generator, sides=_RANDOM_SIDES) -> tuple[int, int]:
    """Odd (height, width) with each side in ``sides`` (inclusive)."""
    lo, hi = (s // 2 for s in sides)
    h, w = 2 * rng.integers(lo, hi + 1, 2) + 1
    return int(h), int(w)


def _site_grid(rng, shape, projected: bool) -> tuple[str, Affine, float]:
    """(CRS, north-up transform, latitude of the centre) of a ~10 m grid around a European centre:
    EPSG:4326 in degrees, or with ``projected`` the centre's UTM zone with 10 m pixels."""
    h, w = shape
    lat, lon = rng.uniform(37, 66), rng.uniform(-9, 28)
    if projected:
        crs = f"EPSG:{32600 + int((lon + 180) // 6) + 1}"
        east, north = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
        return crs, from_origin(round(east - w / 2 * 10), round(north + h / 2 * 10), 10, 10), lat
    dx = 10 / (111320 * np.cos(np.radians(lat)))
    dy = 10 / 110574
    transform = from_origin(lon - w / 2 * dx, lat + h / 2 * dy, dx, dy)
    return "EPSG:4326", transform, transform.f - h / 2 * abs(transform.e)


def simulate_site(seed: int, size: tuple[int, int] | None = None,
                  years: Sequence[int] = YEARS, domain: Domain = DEFAULT_DOMAIN) -> SyntheticSite:
    """Simulate one site in memory (nothing is written).

    Args:
        seed: non-negative integer; the whole site follows from it.
        size: (height, width) in pixels; None draws odd sides in ``domain.sides`` from ``seed``.
        years: years to render. The mine's history runs over 2015-2024 widened to cover them,
            so any subset of 2015-2024 renders exactly as in the full run.
        domain: the generator settings (:data:`DOMAINS`).

    Returns:
        The images, labels, land cover and per-year conditions.
    """
    years = tuple(sorted({int(y) for y in years}))
    if not years:
        raise ValueError("no years to simulate")
    rng = _rng(seed, 0)
    shape = _check_size(size) if size is not None else _random_size(rng, domain.sides)
    crs, transform, lat = _site_grid(rng, shape, domain.projected)
    timeline = tuple(range(min(years[0], YEARS[0]), max(years[-1], YEARS[-1]) + 1))
    grid = tuple(g.astype(np.float32) for g in np.mgrid[0 : shape[0], 0 : shape[1]])
    mine, potential = _build_mine(rng, shape, grid, timeline, domain)
    land = _build_landscape(rng, shape, grid, potential, lat)

    images, labels, covers, conditions = {}, {}, {}, {}
    for year in years:
        yr = _rng(seed, 1, year)
        crop_state = yr.choice(
            np.array([Cover.CROP_GREEN, Cover.CROP_BARE, Cover.CROP_STUBBLE], np.uint8),
            size=max(land.n_parcels, 1), p=[0.5, 0.3, 0.2],
        )
        crop_brightness = yr.uniform(0.75, 1.35, max(land.n_parcels, 1)).astype(np.float32)
        cover, label, green = _year_cover(land, mine, crop_state, year)
        cond, haze, alpha, nodata = _draw_conditions(yr, shape, domain)
        images[year] = _render(yr, land, mine, cover, green, cond, haze, alpha, nodata,
                               crop_brightness)
        labels[year], covers[year], conditions[year] = label, cover, cond
    return SyntheticSite(int(seed), transform, years, images, labels, covers, conditions, crs, domain.name)


# --------------------------------------------------------------------------- writing


def _block_options(shape: tuple[int, int]) -> dict:
    """Tiled GeoTIFF blocks as large as the raster allows (strips below 64 px)."""
    side = min(shape)
    for block in (256, 128, 64):
        if side >= block:
            return {"tiled": True, "blockxsize": block, "blockysize": block}
    return {}


def write_site(site: SyntheticSite, out_dir: str | Path, name: str) -> Path:
    """Write a simulated site as ``{out_dir}/{name}`` in the EuroMineNet layout (core.io.layout).

    Existing files of the same years are overwritten. Returns the site folder.
    """
    folder = Path(out_dir) / name
    for path in (layout.image_path(folder, site.years[0]), layout.label_path(folder, site.years[0])):
        path.parent.mkdir(parents=True, exist_ok=True)
    h, w = site.shape
    common = {"driver": "GTiff", "height": h, "width": w, "compress": "deflate",
              **_block_options((h, w))}
    image_profile = {**common, "count": len(BANDS), "dtype": "int16", "crs": site.crs,
                     "transform": site.transform, "nodata": IMAGE_NODATA, "predictor": 2}
    label_profile = {**common, "count": 1, "dtype": "uint8"}
    for year in site.years:
        with rasterio.open(layout.image_path(folder, year), "w", **image_profile) as dst:
            dst.write(site.images[year])
            shifted = "" if site.domain == DEFAULT_DOMAIN.name else f" ({site.domain} generator settings)"
            dst.update_tags(**{SYNTHETIC_TAG: f"export.synthetic site seed {site.seed}{shifted}"})
            for index, band in enumerate(BANDS, start=1):
                dst.set_band_description(index, band)
        # The release's labels carry no georeferencing; rasterio warns about that.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(layout.label_path(folder, year), "w", **label_profile) as dst:
                dst.write(site.labels[year], 1)
    return folder


def generate_site(out_dir: str | Path, name: str, seed: int, size: tuple[int, int] | None = None,
                  years: Sequence[int] = YEARS, domain: Domain = DEFAULT_DOMAIN) -> Path:
    """Simulate and write one site; returns its folder ``{out_dir}/{name}``.

    Args:
        out_dir: folder that receives the site folder.
        name: site folder name.
        seed: non-negative integer; the same seed writes byte-identical files.
        size: (height, width) in pixels; None draws odd sides in ``domain.sides`` from ``seed``.
        years: years to write (default 2015-2024).
        domain: the generator settings (:data:`DOMAINS`).
    """
    return write_site(simulate_site(seed, size, years, domain), out_dir, name)


def site_seed(seed: int, index: int) -> int:
    """Seed of the ``index``-th (0-based) site of a run seeded with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def generate_sites(out_dir: str | Path, n_sites: int, seed: int,
                   size: tuple[int, int] | None = None,
                   years: Sequence[int] = YEARS, domain: Domain = DEFAULT_DOMAIN) -> list[Path]:
    """Write sites ``Synthetic_1`` ... ``Synthetic_{n_sites}``; returns their folders.

    Site ``k`` depends only on ``(seed, k)``, not on ``n_sites``. With ``size`` None every site
    draws odd sides in ``domain.sides``, except that site 1 is smaller than a benchmark patch
    (160 px) in at least one dimension.
    """
    if n_sites < 0:
        raise ValueError("n_sites must be >= 0")
    folders = []
    for index in range(n_sites):
        own_seed = site_seed(seed, index)
        site_size = size
        if size is None and index == 0:
            rng = _rng(own_seed, 2)
            short, long = _random_size(rng, _SMALL_SIDES)[0], _random_size(rng, domain.sides)[1]
            site_size = (short, long) if rng.random() < 0.5 else (long, short)
        folders.append(generate_site(out_dir, f"Synthetic_{index + 1}", own_seed, site_size, years, domain))
    return folders


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m export.synthetic OUT --sites N --seed S [--domain shifted]``."""
    parser = argparse.ArgumentParser(
        prog="python -m export.synthetic",
        description="Write synthetic mining sites in the EuroMineNet layout.",
    )
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--sites", type=int, default=1, help="number of sites (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="non-negative seed (default 0)")
    parser.add_argument("--size", type=int, nargs=2, metavar=("HEIGHT", "WIDTH"),
                        help="site size in pixels (default: random odd sizes)")
    parser.add_argument("--years", default="2015-2024",
                        help="years, e.g. 2015-2024 or 2016,2019 (default 2015-2024)")
    parser.add_argument("--domain", choices=sorted(DOMAINS), default=DEFAULT_DOMAIN.name,
                        help="generator settings: default (the bundled models' training data) or shifted "
                             "(a domain-shift test; see the module's docstring)")
    args = parser.parse_args(argv)
    try:
        years = parse_years(args.years)
        if not years:
            raise ValueError("--years names no year")
        if args.seed < 0 or args.sites < 1:
            raise ValueError("--seed must be >= 0 and --sites >= 1")
        size = _check_size(args.size) if args.size else None
    except (ValueError, YearsError) as exc:
        parser.error(str(exc))
    for folder in generate_sites(args.out, args.sites, args.seed, size, years, DOMAINS[args.domain]):
        print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
