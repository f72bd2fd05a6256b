"""Small multiples of annual footprints: one PNG grid of the years' maps, drawn with the QGIS
style's mining colour (styles/footprint.qml), nodata grey, a year above each panel, so a site's
change over the years can be seen without QGIS.

Rasters are read decimated (rasterio ``out_shape``, nearest neighbour) to at most PANEL_SIDE
pixels a side, so memory stays bounded by the panels, never by the scene.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from rasterio.enums import Resampling

from ..errors import InputError, OutputError
from ..io.outputs import atomic_outputs
from ..io.raster import decimation, open_input
from .figures import colormap, new_figure, print_png

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PANEL_SIDE = 400  # longest side, in pixels, a footprint is read at
COLUMNS = 5  # panels per row: two rows for the ten EuroMineNet years
NOT_MINING, MINING, NODATA = 0, 1, 2  # panel codes
NOT_MINING_COLOUR = "#ffffff"  # transparent in QGIS, over the imagery; white on paper
NODATA_COLOUR = "#bdbdbd"
FOOTPRINT_STYLE = Path(__file__).resolve().parents[2] / "styles" / "footprint.qml"


def mining_colour(style: Path = FOOTPRINT_STYLE) -> str:
    """The colour QGIS draws mining (value 1) in, read from the footprint style."""
    for entry in ET.parse(style).iter("paletteEntry"):
        colour = entry.get("color")
        if entry.get("value") == str(MINING) and colour:
            return colour
    raise InputError(f"{style}: no palette entry for mining (value {MINING})")


def read_panel(path: Path, side: int = PANEL_SIDE) -> NDArray[np.uint8]:
    """A footprint raster read at most ``side`` pixels a side, as panel codes NOT_MINING / MINING /
    NODATA by the mask rule (core/io/masks.py: the declared nodata and NaN are nodata, any other
    non-zero value is mining); InputError naming the file when it is not a one-band raster."""
    with open_input(Path(path)) as src:
        if src.count != 1:
            raise InputError(f"{path}: footprint raster has {src.count} bands; expected one band")
        _, height, width = decimation(src.height, src.width, side)
        data = src.read(1, out_shape=(height, width), resampling=Resampling.nearest, masked=True)
    values = data.filled(0)
    masked = np.ma.getmaskarray(data)  # type: ignore[no-untyped-call]  # numpy 1.24's numpy.ma has no annotations
    nodata = masked | (np.isnan(values) if values.dtype.kind == "f" else False)
    panel: NDArray[np.uint8] = np.where(nodata, NODATA, np.where(values != 0, MINING, NOT_MINING)).astype(np.uint8)
    return panel


def small_multiples_figure(panels: Mapping[int, NDArray[np.uint8]], title: str | None = None) -> Figure:
    """A grid of the years' panels (codes NOT_MINING / MINING / NODATA), in year order, with a legend."""
    years = sorted(panels)
    columns = min(COLUMNS, len(years))
    rows = math.ceil(len(years) / columns)
    height, width = panels[years[0]].shape
    panel_inches = 2.2
    grid_height = rows * panel_inches * height / width
    from matplotlib.patches import Patch  # when drawn: see figures

    fig = new_figure(figsize=(columns * panel_inches, grid_height + 0.5), dpi=100, layout="constrained")
    maps, key = fig.subfigures(2, 1, height_ratios=(grid_height, 0.5))
    colours = [NOT_MINING_COLOUR, mining_colour(), NODATA_COLOUR]
    cmap = colormap(colours)
    axes = maps.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, year in zip(axes.flat, years, strict=False):
        ax.imshow(panels[year], cmap=cmap, vmin=-0.5, vmax=2.5, interpolation="nearest")
        ax.set_title(str(year), fontsize=10)
        ax.set_axis_on()
        ax.set_xticks([])
        ax.set_yticks([])
    key.legend(handles=[Patch(facecolor=c, edgecolor="#999", label=label)
                        for c, label in zip(colours, ("not mining", "mining", "nodata"), strict=True)],
               loc="center", ncol=3, frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def write_small_multiples(footprints: Mapping[int, Path], path: Path, title: str | None = None,
                          side: int = PANEL_SIDE) -> Path:
    """Write the small multiples of ``footprints`` ({year: raster}) to the PNG ``path`` atomically."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise OutputError(f"{path}: the small multiples must be a .png file")
    if not footprints:
        raise InputError("no footprints to draw small multiples of")
    fig = small_multiples_figure({year: read_panel(p, side) for year, p in footprints.items()}, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_outputs([path]) as (temp,):
        print_png(fig, temp)
    return path
