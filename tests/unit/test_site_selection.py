"""The sites of a many-site run in one call: a EuroMineNet-layout folder, or outlines over
mosaics, narrowed by the SITES text."""
from __future__ import annotations

import shutil

import pytest
import rasterio

from euromine_qgis.core.batch.site_sources import sites_from_folder, sites_from_outlines
from euromine_qgis.core.errors import InputError, YearsError
from euromine_qgis.core.io.coordinates import apply_affine
from euromine_qgis.core.progress import Reporter
from euromine_qgis.core.release import SPLITS


def test_folder_sites_by_name_with_their_years_and_labels(sites):
    chosen = sites_from_folder(sites[0].parent, "Synthetic_3, Synthetic_1", [2015, 2016])
    assert [s.name for s in chosen] == ["Synthetic_3", "Synthetic_1"]
    assert all(s.years == [2015, 2016] and sorted(s.labels) == [2015, 2016] for s in chosen)
    assert chosen[0].images[2016] == sites[2] / "image" / "Year2016.tif"
    assert [s.name for s in sites_from_folder(sites[0].parent, "all", None)] == [s.name for s in sites]
    with pytest.raises(InputError, match="no site named Nowhere_1"):
        sites_from_folder(sites[0].parent, "Nowhere_1", None)
    with pytest.raises(YearsError, match=r"site Synthetic_1 .*2030"):
        sites_from_folder(sites[0].parent, "Synthetic_1", [2030])


def test_a_split_names_its_members_missing_from_the_folder(sites, tmp_path):
    member, *missing = SPLITS["test"]
    shutil.copytree(sites[0], tmp_path / member)
    shutil.copytree(sites[1], tmp_path / "Spain_1")  # a train site: not picked
    lines: list[str] = []
    chosen = sites_from_folder(tmp_path, "test", None, Reporter(info=lines.append))
    assert [s.name for s in chosen] == [member]
    assert lines == [f"{len(missing)} site(s) of split 'test' are not in {tmp_path}: {', '.join(missing)}"]


def test_outline_sites_are_picked_by_their_safe_names(sites):
    mosaics = [sites[2] / "image" / f"Year{y}.tif" for y in (2015, 2016)]
    with rasterio.open(mosaics[0]) as src:
        (left, top), (right, bottom) = apply_affine(src.transform, 5, 5), apply_affine(src.transform, 45, 35)
    square = {"type": "Polygon", "coordinates": [[[left, top], [right, top], [right, bottom], [left, bottom],
                                                  [left, top]]]}
    outlines = [("Pit 7/north", square), ("Quarry A", square)]
    chosen = sites_from_outlines(outlines, "EPSG:4326", mosaics, "Quarry_A, Pit_7_north", [2016])
    assert [s.name for s in chosen] == ["Quarry_A", "Pit_7_north"]
    assert all(s.years == [2016] and s.clip.mosaics == {2016: mosaics[1]} for s in chosen)
    assert [s.name for s in sites_from_outlines(outlines, "EPSG:4326", mosaics, "all", None)] == \
        ["Pit_7_north", "Quarry_A"]
    with pytest.raises(InputError, match="no site named Pit_9"):
        sites_from_outlines(outlines, "EPSG:4326", mosaics, "Pit_9", None)
