"""The change task's held-out measurement: the domain-shift generator settings, every change route
measured by ``python -m export.zoo routes`` with the plugin's engine, and the change routes page the
docs site generates from models.json."""
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio

from euromine_qgis.core.engine.change_routes import (
    INTERVALS,
    TEST_SETS,
    favoured_methods,
    ranking,
    recommendation_html,
    recorded_routes,
)
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.engine.model_cards import routes_page
from euromine_qgis.core.scoring.metrics import Counts, confusion
from export import synthetic, zoo
from export.change_routes import route_counts
from export.data import read_labels, training_sites
from export.site_scores import THRESHOLD, map_scene

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models_onnx"
YEARS = (2015, 2016, 2017)
ROUTE_MODELS = ("spectral_baseline", "utae_series", "fc_siam_diff_change")


def test_shifted_sites_differ_from_the_default_in_grid_size_and_conditions(tmp_path):
    shifted = synthetic.simulate_site(7, years=(2015, 2024), domain=synthetic.SHIFTED_DOMAIN)
    default = synthetic.simulate_site(7, years=(2015, 2024))
    assert default.crs == "EPSG:4326" and shifted.crs.startswith("EPSG:326")
    assert (shifted.transform.a, -shifted.transform.e) == (10, 10)
    low, high = synthetic.SHIFTED_DOMAIN.sides
    assert all(low <= side <= high for side in shifted.shape)
    assert shifted.shape != default.shape
    folder = synthetic.write_site(shifted, tmp_path, "Shifted")
    with rasterio.open(folder / "image" / "Year2015.tif") as src:
        assert src.crs.to_string() == shifted.crs and src.res == (10.0, 10.0)
        assert "shifted generator settings" in src.tags()[synthetic.SYNTHETIC_TAG]
    with rasterio.open(folder / "label" / "Year2015.tif") as src:
        assert src.crs is None  # labels carry no georeferencing, as in the release


def test_the_command_line_writes_shifted_sites(tmp_path):
    synthetic.main([str(tmp_path), "--sites", "1", "--seed", "5000", "--domain", "shifted", "--years", "2015"])
    with rasterio.open(tmp_path / "Synthetic_1" / "image" / "Year2015.tif") as src:
        assert src.crs.is_projected
    with pytest.raises(SystemExit):
        synthetic.main([str(tmp_path), "--domain", "elsewhere"])


@pytest.fixture(scope="module")
def test_sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("routes")
    synthetic.generate_site(root / "inside", "Site_A", seed=11, size=(96, 112), years=YEARS)
    synthetic.generate_site(root / "shift", "Site_B", seed=18, size=(104, 96), years=YEARS,
                            domain=synthetic.SHIFTED_DOMAIN)
    return root


def test_post_classification_route_scores_where_the_two_maps_differ(test_sets):
    model = Model(MODELS / "spectral_baseline.onnx", device="cpu", scale=1.0)
    sites = training_sites(test_sets / "shift")
    pooled = route_counts(model, sites)
    maps = [map_scene(model, [sites[0].image(y)]) for y in YEARS]
    labels, labelled = read_labels(sites[0], maps[0][0].shape)
    expected = {}
    for i, j in ((0, 1), (1, 2), (0, 2)):
        valid = maps[i][1] & maps[j][1] & labelled[i] & labelled[j]
        counts = confusion((maps[i][0] >= THRESHOLD) ^ (maps[j][0] >= THRESHOLD), labels[i] ^ labels[j], valid)
        for key in ("annual" if j - i == 1 else "medium", "all"):
            expected[key] = expected.get(key, Counts()) + counts
    assert pooled == expected and pooled["all"].tp + pooled["all"].fn > 0


def test_zoo_routes_records_every_route_in_the_change_model_entry(test_sets, tmp_path):
    index = json.loads((MODELS / "models.json").read_text(encoding="utf-8"))
    index["models"] = [m for m in index["models"] if m["name"] in ROUTE_MODELS]
    (tmp_path / "models.json").write_text(json.dumps(index), encoding="utf-8")
    for entry in index["models"]:
        shutil.copy(MODELS / entry["file"], tmp_path / entry["file"])
    zoo.main(["routes", "--test-data", str(test_sets / "inside"), "--shift-data", str(test_sets / "shift"),
              "--out", str(tmp_path)])
    record = recorded_routes(tmp_path)
    assert set(record["routes"]) == {"post_classification:spectral_baseline", "series_maps:utae_series",
                                     "change_model:fc_siam_diff_change"}
    assert set(record["test_sets"]) == set(TEST_SETS) and record["command"].startswith("python -m export.zoo routes")
    for sets in record["routes"].values():
        for scores in sets.values():
            assert scores["f1_long"] is None  # three years hold no pair five years apart
            assert all(0 <= scores[f"{m}_{i}"] <= 1 for m in ("f1", "iou") for i in ("annual", "medium", "all"))
    favoured = favoured_methods(record)
    assert set(favoured) == {"annual", "medium", "all"}
    assert all(not route.startswith("series_maps") for route, _ in favoured.values())
    html = recommendation_html(tmp_path)
    assert html.count("<li>") == 3 and "domain-shift sites" in html


def _stated_ranking(page: str, label: str) -> list[tuple[str, float]]:
    line = re.search(rf"^- {re.escape(label)}: (.+)$", page, re.MULTILINE)
    assert line, f"the change routes page states no ranking for '{label}'"
    return [(route, float(f1)) for route, f1 in re.findall(r"`([\w:]+)` ([\d.]+)", line.group(1))]


@pytest.mark.parametrize("interval, label", [("all", "All pairs"), ("annual", "Annual (Δ = 1)"),
                                             ("medium", "Medium (Δ = 2–4)"), ("long", "Long (Δ ≥ 5)")])
def test_the_routes_page_states_the_ranking_models_json_holds(interval, label):
    record = recorded_routes()
    page = routes_page(record)
    measured = ranking(record, interval)
    assert [r for r, _ in _stated_ranking(page, label)] == [r for r, _ in measured]
    assert np.allclose([f1 for _, f1 in _stated_ranking(page, label)], [f1 for _, f1 in measured], atol=5e-4)
    route, f1 = favoured_methods(record)[interval]
    method, model = route.split(":")
    assert f"`{method}` with `{model}` (change F1 {f1:.3f} on the domain-shift sites)" in page
    for scores in record["routes"].values():  # every measured F1 and IoU is in the table
        assert all(f"{scores[s][f'{m}_{interval}']:.3f}" in page for s in TEST_SETS for m in ("f1", "iou"))


def test_the_bundled_record_covers_every_route_interval_and_test_set():
    record = recorded_routes()
    bundled = {m["name"] for m in json.loads((MODELS / "models.json").read_text(encoding="utf-8"))["models"]}
    assert {route.split(":")[1] for route in record["routes"]} == bundled
    for sets in record["routes"].values():
        assert set(sets) == set(TEST_SETS)
        assert all(set(scores) == {f"{m}_{i}" for m in ("f1", "iou") for i in INTERVALS} for scores in sets.values())
