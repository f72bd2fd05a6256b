"""The sites of a run: a lon/lat box and a name, or outlines (any CRS) named by a field; MONTHS and
EXCLUDED_SCL read with a message naming the parameter."""
from __future__ import annotations

import json

import pytest

from euromine_qgis.core.app.composites import excluded_classes
from euromine_qgis.core.archive.search import parse_months
from euromine_qgis.core.archive.sites import extent_site, geojson_sites, outline_sites, parse_bbox
from euromine_qgis.core.errors import InputError


def _square(x0, y0, size):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size],
                                                [x0, y0]]]}


def test_bbox():
    assert parse_bbox("13.3, 52.4,13.35,52.43") == (13.3, 52.4, 13.35, 52.43)
    for bad in ("13.3,52.4,13.35", "13.35,52.4,13.3,52.43", "a,b,c,d", "13,95,14,96"):
        with pytest.raises(InputError, match="BBOX"):
            parse_bbox(bad)


def test_outlines_in_a_projected_crs_become_lon_lat_boxes():
    sites = outline_sites([("Pit 1", _square(500000, 5538000, 1000)), ("Pit/2", _square(510000, 5540000, 500)),
                           ("empty", None)], "EPSG:32633")
    assert [s.name for s in sites] == ["Pit_1", "Pit_2"]
    west, south, east, north = sites[0].bbox
    assert west == pytest.approx(15.0, abs=1e-6) and 49.9 < south < north < 50.1 and east > west
    with pytest.raises(InputError, match="two outlines"):
        outline_sites([("A", _square(0, 0, 1)), ("A", _square(2, 2, 1))], "EPSG:4326")


def test_an_extent_is_one_named_site():
    site = extent_site("Quarry", [(None, _square(13.3, 52.4, 0.05))], "EPSG:4326")
    assert site.name == "Quarry" and site.bbox == pytest.approx((13.3, 52.4, 13.35, 52.45))
    projected = extent_site("Pit", [(None, _square(500000, 5536000, 500))], "EPSG:32633")
    assert projected.native == ("EPSG:32633", (500000, 5536000, 500500, 5536500))


def test_geojson_sites(tmp_path):
    path = tmp_path / "sites.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "North"}, "geometry": _square(13.3, 52.4, 0.01)},
        {"type": "Feature", "properties": {"name": "South"}, "geometry": _square(13.3, 52.3, 0.01)}]}))
    assert [s.name for s in geojson_sites(path, "name")] == ["North", "South"]
    with pytest.raises(InputError, match="no property 'site'"):
        geojson_sites(path, "site")


def test_months_and_excluded_classes():
    assert parse_months("4-10") == [4, 5, 6, 7, 8, 9, 10]
    assert parse_months("6, 8") == [6, 8]
    assert parse_months("11-2") == [1, 2, 11, 12]
    for bad in ("0-3", "4-13", "spring", ""):
        with pytest.raises(InputError, match="MONTHS"):
            parse_months(bad)
    assert excluded_classes("0,1,3,8,9,10") == frozenset({0, 1, 3, 8, 9, 10})
    with pytest.raises(InputError, match="EXCLUDED_SCL"):
        excluded_classes("3,12")
