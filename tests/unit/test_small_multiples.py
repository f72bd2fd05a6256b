"""Small multiples of annual footprints (core/scoring/small_multiples.py): decimated reads by the
mask rule, the PNG grid in the QGIS style's colours, and its place in the HTML report."""
from __future__ import annotations

import base64
import io
import re
import tracemalloc

import numpy as np
import pytest
import rasterio
from matplotlib.colors import to_rgb
from matplotlib.image import imread
from rasterio.windows import Window

from euromine_qgis.core.errors import InputError, OutputError
from euromine_qgis.core.scoring.evaluate_files import evaluate_files
from euromine_qgis.core.scoring.small_multiples import (
    MINING,
    NODATA,
    NODATA_COLOUR,
    NOT_MINING,
    mining_colour,
    read_panel,
    small_multiples_figure,
    write_small_multiples,
)
from tests.rasters import write_mask


def coarse_codes(seed: int, shape=(400, 300)) -> np.ndarray:
    codes = np.random.default_rng(seed).choice([NOT_MINING, MINING, NODATA], size=shape, p=[0.5, 0.4, 0.1])
    return codes.astype(np.uint8)


def blow_up(codes: np.ndarray, step: int, mining: int, nodata: int, dtype=np.uint8) -> np.ndarray:
    """A full-resolution raster whose step × step blocks hold one code each: any decimation reads the codes back."""
    values = np.select([codes == MINING, codes == NODATA], [mining, nodata], 0).astype(dtype)
    return np.repeat(np.repeat(values, step, axis=0), step, axis=1)


def rgb_colours(png: np.ndarray) -> set[tuple[int, int, int]]:
    return {tuple(c) for c in np.unique((png[..., :3] * 255).round().astype(int).reshape(-1, 3), axis=0)}


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return tuple(round(v * 255) for v in to_rgb(colour))


@pytest.mark.parametrize("mining, nodata, dtype", [(1, 255, np.uint8), (255, None, np.uint8),
                                                   (1.0, float("nan"), np.float32)])
def test_panels_are_decimated_reads_by_the_mask_rule(tmp_path, mining, nodata, dtype):
    codes = coarse_codes(1)
    if nodata is None:  # EuroMineNet labels declare no nodata: 255 is mining, nothing is nodata
        codes[codes == NODATA] = NOT_MINING
    raster = write_mask(tmp_path / "footprint_2019.tif",
                        blow_up(codes, 3, mining, 0 if nodata is None else nodata, dtype), nodata)
    panel = read_panel(raster)  # 1200 × 900 read at most 400 a side: every third pixel
    assert panel.shape == (400, 300) and panel.dtype == np.uint8
    assert np.array_equal(panel, codes)


def test_a_big_raster_is_read_in_bounded_memory(tmp_path):
    path = tmp_path / "big.tif"
    side = 6000  # 36 MB at full resolution
    with rasterio.open(path, "w", driver="GTiff", width=side, height=side, count=1, dtype="uint8", nodata=255,
                       tiled=True, blockxsize=512, blockysize=512, compress="deflate") as dst:
        dst.write(np.ones((side // 2, side), np.uint8), 1, window=Window(0, 0, side, side // 2))
        dst.write(np.zeros((side // 2, side), np.uint8), 1, window=Window(0, side // 2, side, side // 2))
    tracemalloc.start()
    panel = read_panel(path, side=300)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert panel.shape == (300, 300)
    assert (panel[:150] == MINING).all() and (panel[150:] == NOT_MINING).all()
    assert peak < side * side / 20  # a few panels' worth, far from the 36 MB raster


@pytest.mark.slow
def test_png_grid_in_the_qgis_style_colours(tmp_path):
    footprints = {year: write_mask(tmp_path / f"footprint_{year}.tif", blow_up(coarse_codes(year, (40, 60)), 2, 1, 255),
                                   255) for year in range(2015, 2022)}
    png = write_small_multiples(footprints, tmp_path / "out" / "by_year.png", title="Site A")
    assert sorted(p.name for p in png.parent.iterdir()) == ["by_year.png"]  # no partial file beside it
    picture = imread(png)
    colours = rgb_colours(picture)
    assert mining_colour() == "#d7301f"  # the footprint style's mining colour
    assert {hex_rgb("#d7301f"), hex_rgb(NODATA_COLOUR), (255, 255, 255)} <= colours
    fig = small_multiples_figure({y: read_panel(p) for y, p in footprints.items()})
    titled = [ax.get_title() for ax in fig.axes if ax.axison]
    assert titled == [str(y) for y in range(2015, 2022)]
    assert len(fig.axes) == 10  # two rows of five, the last three left blank


def test_bad_inputs_and_outputs_are_named(tmp_path):
    footprint = write_mask(tmp_path / "footprint_2019.tif", np.zeros((10, 10), np.uint8), 255)
    with pytest.raises(OutputError, match=r"by_year\.jpg: the small multiples must be a \.png file"):
        write_small_multiples({2019: footprint}, tmp_path / "by_year.jpg")
    with pytest.raises(InputError, match=r"footprint_2020\.tif: file does not exist"):
        write_small_multiples({2019: footprint, 2020: tmp_path / "footprint_2020.tif"}, tmp_path / "by_year.png")
    assert not (tmp_path / "by_year.png").exists()
    two_bands = tmp_path / "two.tif"
    with rasterio.open(two_bands, "w", driver="GTiff", width=4, height=4, count=2, dtype="uint8") as dst:
        dst.write(np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(InputError, match=r"two\.tif: footprint raster has 2 bands"):
        read_panel(two_bands)


def test_the_html_report_carries_the_footprints_by_year(tmp_path):
    predictions, references = [], []
    for year in (2017, 2018, 2019):
        codes = coarse_codes(year, (30, 30))
        predictions.append(write_mask(tmp_path / f"pred_{year}.tif", blow_up(codes, 1, 1, 255), 255))
        references.append(write_mask(tmp_path / f"ref_{year}.tif", blow_up(codes, 1, 255, 0), None))
    report = tmp_path / "report.html"
    evaluate_files(predictions, references, tmp_path / "table.csv", report, lam=0.5)
    page = report.read_text(encoding="utf-8")
    assert "<h2>Footprints over the years</h2>" in page
    data = re.search(r'<img src="data:image/png;base64,([^"]+)" alt="mapped footprint per year">', page).group(1)
    colours = rgb_colours(imread(io.BytesIO(base64.b64decode(data))))
    assert {hex_rgb(mining_colour()), hex_rgb(NODATA_COLOUR)} <= colours
