"""euromine:composites through real QGIS Processing (pytest-qgis's QgsApplication): a site given as
an EXTENT with SITE_NAME, and sites given as a polygon layer with NAME_FIELD, from the loopback
Earth Search API; then euromine:mapsites over the output folder with the bundled unet_footprint."""
from __future__ import annotations

from pathlib import Path

import pytest
import rasterio
from qgis import processing
from qgis.core import QgsFeature, QgsGeometry, QgsRectangle, QgsVectorLayer
from qgis.PyQt.QtCore import QMetaType

from euromine_qgis.qgis_compat import field
from tests.archive.archive_runs import GDAL_HTTP_TIMEOUT_S, check_year
from tests.stac.scenes import SITE_UTM, site_lonlat

pytestmark = pytest.mark.slow  # reads the scenes over HTTP
ALG = "euromine:composites"


@pytest.fixture(autouse=True)
def gdal_timeout(monkeypatch):
    monkeypatch.setenv("GDAL_HTTP_TIMEOUT", str(GDAL_HTTP_TIMEOUT_S))


def test_extent_and_site_name(euromine_provider, api, tmp_path):
    served = api("earth-search-c1")
    w, s, e, n = site_lonlat()
    result = processing.run(ALG, {**served.parameters(), "EXTENT": f"{w},{e},{s},{n} [EPSG:4326]",
                                  "SITE_NAME": "Pit", "YEARS": "2021-2022", "OUTPUT_FOLDER": str(tmp_path)})
    assert Path(result["OUTPUT_FOLDER"]) == tmp_path
    for year in (2021, 2022):
        check_year(tmp_path / "Pit" / "image" / f"Year{year}.tif", served, year)

    maps = tmp_path.parent / f"{tmp_path.name}_maps"
    mapped = processing.run("euromine:mapsites", {"SITES_FOLDER": str(tmp_path), "YEARS": "2021-2022",
                                                  "MODEL": "unet_footprint", "DEVICE": "cpu",
                                                  "SITE_REPORTS": False, "OUTPUT_FOLDER": str(maps)})
    assert mapped["SITE_NAMES"] == mapped["MAPPED"] == ["Pit"]
    for footprint, year in zip(mapped["SITE_RESULTS"]["Pit"]["footprints"], (2021, 2022), strict=True):
        with rasterio.open(footprint) as f, rasterio.open(tmp_path / "Pit" / "image" / f"Year{year}.tif") as image:
            assert (f.crs, f.transform, f.shape) == (image.crs, image.transform, image.shape)


W, S, E, N = SITE_UTM
OUTLINES = {"Pit west": (W, S + 400, E - 400, N), "Pit east": (W + 300, S + 400, E - 100, N)}  # UTM 32N


def sites_layer() -> QgsVectorLayer:
    """The site's outline in its UTM zone, and a second outline 300 m east of it, named by "site"."""
    layer = QgsVectorLayer("Polygon?crs=EPSG:32632", "outlines", "memory")
    layer.dataProvider().addAttributes([field("site", QMetaType.Type.QString)])
    layer.updateFields()
    for name, (west, south, east, north) in OUTLINES.items():
        feature = QgsFeature(layer.fields())
        feature.setGeometry(QgsGeometry.fromRect(QgsRectangle(west, south, east, north)))
        feature["site"] = name
        layer.dataProvider().addFeatures([feature])
    return layer


def test_sites_layer_and_name_field(euromine_provider, api, tmp_path):
    served = api("earth-search-c1")
    processing.run(ALG, {**served.parameters(), "SITES_LAYER": sites_layer(), "NAME_FIELD": "site",
                         "YEARS": "2023", "OUTPUT_FOLDER": str(tmp_path)})
    names = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert names == ["Pit_east", "Pit_west"]
    for name, outline in OUTLINES.items():
        check_year(tmp_path / name.replace(" ", "_") / "image" / "Year2023.tif", served, 2023, covers=outline)
