"""Every EuroMine algorithm through `qgis_process run euromine:… --json --` with the installed plugin,
as a server script would call them."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from euromine_qgis.core.io.coordinates import apply_affine
from euromine_qgis.core.maps.trajectory import CLASS_FACTOR, CLASS_NAMES, TRAJECTORY_NODATA
from tests.band_stacks import flips_only_at_threshold, l2a_numbers, l2a_stack, reflectance_copy, sieved_footprint
from tests.e2e.test_qgis_process import run_qgis_process

YEARS = (2015, 2016, 2017)


def run_json(home, alg: str, *values: str) -> dict:
    out = run_qgis_process(home, "run", f"euromine:{alg}", "--json", "--", *values)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return json.loads(out.stdout)["results"]


def repeated(name: str, paths) -> list[str]:
    return [f"{name}={p}" for p in paths]


@pytest.fixture(scope="module")
def footprints(installed_profile, sites, tmp_path_factory) -> list[str]:
    out = tmp_path_factory.mktemp("qp_footprints")
    images = [sites[1] / "image" / f"Year{y}.tif" for y in YEARS]
    results = run_json(installed_profile, "mapfootprints", *repeated("IMAGES", images), "MODEL=spectral_baseline",
                       f"OUTPUT_FOLDER={out}")
    assert results["YEARS"] == list(YEARS) and results["PROVIDER"] == "CPUExecutionProvider"
    return results["FOOTPRINTS"]


def test_changelayers(installed_profile, footprints, tmp_path):
    results = run_json(installed_profile, "changelayers", *repeated("FOOTPRINTS", footprints), "PAIRS=all",
                       f"OUTPUT_FOLDER={tmp_path}")
    assert set(results["CHANGE"]) == {"2015-2016", "2015-2017", "2016-2017"}
    net = results["GAIN_HA"]["2015-2017"] - results["LOSS_HA"]["2015-2017"]
    assert results["NET_HA"]["2015-2017"] == pytest.approx(net)
    with rasterio.open(results["FIRST_YEAR"]) as src:
        assert src.dtypes[0] == "uint16"


def test_evaluate(installed_profile, footprints, sites, tmp_path):
    labels = [sites[1] / "label" / f"Year{y}.tif" for y in YEARS]
    results = run_json(installed_profile, "evaluate", *repeated("PREDICTIONS", footprints),
                       *repeated("REFERENCES", labels), "PAIRS=consecutive", f"TABLE={tmp_path / 'm.csv'}",
                       f"REPORT={tmp_path / 'r.html'}")
    assert results["YEARS"] == list(YEARS) and 0 <= results["CA_TIOU"] <= 1
    assert Path(results["REPORT"]).is_file() and Path(results["TABLE"]).is_file()


def test_evaluate_without_table_writes_a_temporary_one(installed_profile, footprints, sites):
    labels = [sites[1] / "label" / f"Year{y}.tif" for y in YEARS]
    results = run_json(installed_profile, "evaluate", *repeated("PREDICTIONS", footprints),
                       *repeated("REFERENCES", labels))
    # qgis_process deletes its temporary folder when it exits, as it does for QGIS's own algorithms
    assert Path(results["TABLE"]).parent.parent.name.startswith("processing_") and results["TABLE"].endswith(".csv")
    assert results["REPORT"] is None and 0 <= results["CA_TIOU"] <= 1


def test_detectchange(installed_profile, footprints, tmp_path):
    results = run_json(installed_profile, "detectchange", "METHOD=footprints", f"BEFORE={footprints[0]}",
                       f"AFTER={footprints[-1]}", f"CHANGE={tmp_path / 'change.tif'}")
    assert results["METHOD"] == "footprints" and Path(results["CHANGE"]).is_file()
    assert results["NET_HA"] == pytest.approx(results["GAIN_HA"] - results["LOSS_HA"])


def test_mapsites_over_a_sites_folder(installed_profile, sites, tmp_path):
    results = run_json(installed_profile, "mapsites", f"SITES_FOLDER={sites[0].parent}",
                       "SITES=Synthetic_1,Synthetic_3", "YEARS=2015-2016",
                       "MODEL=spectral_baseline", "SITE_REPORTS=false", f"OUTPUT_FOLDER={tmp_path}")
    assert results["MAPPED"] == ["Synthetic_1", "Synthetic_3"] and results["MICRO"]["sites"] == 2
    assert Path(results["SUMMARY_TABLE"]).is_file() and Path(results["SUMMARY_REPORT"]).is_file()


def test_mapsites_over_outlines_and_mosaics(installed_profile, sites, tmp_path):
    mosaics = [sites[2] / "image" / f"Year{y}.tif" for y in (2015, 2016)]
    with rasterio.open(mosaics[0]) as src:
        left, top = apply_affine(src.transform, 5, 5)
        right, bottom = apply_affine(src.transform, 45, 35)
    ring = [[left, top], [right, top], [right, bottom], [left, top]]
    outlines = tmp_path / "outlines.geojson"
    outlines.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Quarry A"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    results = run_json(installed_profile, "mapsites", f"SITES_LAYER={outlines}", "NAME_FIELD=name",
                       *repeated("MOSAICS", mosaics), "MODEL=spectral_baseline", f"OUTPUT_FOLDER={tmp_path / 'out'}")
    entry = results["SITE_RESULTS"]["Quarry_A"]
    assert entry["years"] == [2015, 2016] and entry["ca_tiou"] is None
    with rasterio.open(entry["footprints"][0]) as src:
        assert src.shape == (30, 40)


# Issue 20 through qgis_process, each case one year of the footprints fixture's site and model.

def test_a_13_band_float_l2a_export_with_scale_maps_as_the_int16_original(installed_profile, sites, footprints,
                                                                          tmp_path):
    image = sites[1] / "image" / f"Year{YEARS[0]}.tif"
    export = reflectance_copy(l2a_stack(image, tmp_path / "stack.tif"), tmp_path / f"S2L2A_{YEARS[0]}.tif")
    results = run_json(installed_profile, "mapfootprints", f"IMAGES={export}", "MODEL=spectral_baseline",
                       "SCALE=10000", "PROBABILITIES=float32", f"OUTPUT_FOLDER={tmp_path / 'out'}")
    (footprint,), (probability,) = results["FOOTPRINTS"], results["PROBABILITY_RASTERS"]
    assert flips_only_at_threshold(Path(footprint), Path(footprints[0]), Path(probability))


def test_input_bands_on_an_unnamed_stack(installed_profile, sites, footprints, tmp_path):
    unnamed = l2a_stack(sites[1] / "image" / f"Year{YEARS[0]}.tif", tmp_path / f"Year{YEARS[0]}.tif", names=None)
    results = run_json(installed_profile, "mapfootprints", f"IMAGES={unnamed}", "MODEL=spectral_baseline",
                       f"INPUT_BANDS={','.join(map(str, l2a_numbers()))}", f"OUTPUT_FOLDER={tmp_path / 'out'}")
    assert Path(results["FOOTPRINTS"][0]).read_bytes() == Path(footprints[0]).read_bytes()


def test_min_area_ha_sieves_the_footprints(installed_profile, sites, footprints, tmp_path):
    expected = sieved_footprint(Path(footprints[0]), 0.5)
    with rasterio.open(footprints[0]) as src:
        assert not np.array_equal(src.read(1), expected)  # the site has patches or holes under 0.5 ha
    results = run_json(installed_profile, "mapfootprints", f"IMAGES={sites[1] / 'image' / f'Year{YEARS[0]}.tif'}",
                       "MODEL=spectral_baseline", "MIN_AREA_HA=0.5", f"OUTPUT_FOLDER={tmp_path / 'out'}")
    with rasterio.open(results["FOOTPRINTS"][0]) as src:
        assert np.array_equal(src.read(1), expected)


def test_dry_run_prints_the_report_and_writes_nothing(installed_profile, sites, tmp_path):
    images = [sites[1] / "image" / f"Year{y}.tif" for y in YEARS]
    out = run_qgis_process(installed_profile, "run", "euromine:mapfootprints", "--", *repeated("IMAGES", images),
                           "MODEL=spectral_baseline", "DRY_RUN=true", f"OUTPUT_FOLDER={tmp_path / 'out'}")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "Dry run: nothing was written. tiles of " in out.stdout
    for year in YEARS:
        assert f"{year}: Year{year}.tif, " in out.stdout and f"{year}: bands by name: B2=1" in out.stdout
    assert "Estimated peak memory " in out.stdout and "Estimated time " in out.stdout
    assert "DRY_RUN_REPORT:" in out.stdout  # the result, after the log
    assert not (tmp_path / "out").exists()


def test_changelayers_writes_the_trajectory(installed_profile, footprints, tmp_path):
    trajectory = tmp_path / "site_trajectory.tif"
    results = run_json(installed_profile, "changelayers", *repeated("FOOTPRINTS", footprints),
                       f"TRAJECTORY={trajectory}", f"OUTPUT_FOLDER={tmp_path / 'out'}")
    assert results["TRAJECTORY"] == str(trajectory)
    with rasterio.open(trajectory) as src:
        values = src.read(1)
    values = values[values != TRAJECTORY_NODATA]
    assert values.size and set(np.unique(values // CLASS_FACTOR)) <= set(CLASS_NAMES)
    assert set(np.unique(values % CLASS_FACTOR)) <= {0, *YEARS[1:]}  # gains and losses carry their year
    summary = results["TRAJECTORY_SUMMARY"]
    assert summary["first_detected_year"] in (None, *YEARS) and 0 <= summary["flicker_share"] <= 1
