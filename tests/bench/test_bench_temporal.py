"""`make bench`: the value of TEMPORAL_FILTER on held-out generated sites (seed 90210, never used
for tuning) with the bundled spectral_baseline: CA-TIoU (micro over sites), TIoU, CIoU and mean
TRANSITIONS per valid pixel and per truly mined pixel, printed as a table.

Run: ``.venv/bin/python -m pytest -q -s -p no:cacheprovider tests/bench/test_bench_temporal.py``
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rasterio.windows import Window

from euromine_qgis.core.engine.bundled import resolve_bundled
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.io.masks import inspect_mask, read_stack
from euromine_qgis.core.maps.change_layers import summarise_window
from euromine_qgis.core.maps.footprints import map_footprints
from euromine_qgis.core.maps.temporal_filter import TEMPORAL_FILTERS
from euromine_qgis.core.scoring.evaluation import evaluate_rasters, match_inputs
from euromine_qgis.core.scoring.metrics import aggregate_sites
from euromine_qgis.core.years import match_years
from export.synthetic import generate_sites
from tests.plain_run import AUTO_TILES, PLAIN_INPUT

HELD_OUT_SEED = 90210
N_SITES = 8
YEARS = list(range(2015, 2025))


def stack(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    infos = [inspect_mask(p) for p in paths]
    return read_stack(infos, Window(0, 0, infos[0].grid.width, infos[0].grid.height))


def measure(sites: list[Path], out: Path, model: Model, temporal_filter: str) -> dict[str, float]:
    counts, per_pixel, per_mined = {}, [], []
    for site in sites:
        images = match_years(sorted((site / "image").glob("Year*.tif")), None)
        mapped = map_footprints(images, model, out / temporal_filter / site.name, temporal_filter=temporal_filter,
                                threshold=0.5, settings=AUTO_TILES, min_area_ha=0.0, image_input=PLAIN_INPUT)
        predictions, references = match_inputs([m.footprint for m in mapped],
                                               sorted((site / "label").glob("Year*.tif")), None)
        counts[site.name] = evaluate_rasters(predictions, references).counts
        mined, valid = stack([predictions[y] for y in YEARS])
        truth, _ = stack([references[y] for y in YEARS])
        flicker = summarise_window(mined, valid, YEARS)["transitions"].astype(float)
        seen = valid.any(axis=0)
        per_pixel.append(flicker[seen])
        per_mined.append(flicker[seen & truth.any(axis=0)])
    micro = aggregate_sites(counts, lam=0.5)["micro"]
    return {"ca_tiou": micro["ca_tiou"], "tiou": micro["tiou"], "ciou": micro["ciou"],
            "transitions": float(np.concatenate(per_pixel).mean()),
            "transitions_mined": float(np.concatenate(per_mined).mean())}


@pytest.mark.slow
def test_temporal_filters_raise_ca_tiou_and_lower_transitions(tmp_path):
    sites = generate_sites(tmp_path / "sites", N_SITES, seed=HELD_OUT_SEED)
    model = Model(resolve_bundled("spectral_baseline"), device="cpu", scale=1.0)
    rows = {f: measure(sites, tmp_path / "maps", model, f) for f in TEMPORAL_FILTERS}
    print(f"\n{N_SITES} held-out sites (seed {HELD_OUT_SEED}), spectral_baseline, threshold 0.5")
    print("filter     CA-TIoU   TIoU    CIoU    transitions/valid px   transitions/mined px")
    for name, r in rows.items():
        print(f"{name:9s} {r['ca_tiou']:7.4f} {r['tiou']:7.4f} {r['ciou']:7.4f} {r['transitions']:14.3f} "
              f"{r['transitions_mined']:22.3f}")
    for name in TEMPORAL_FILTERS[1:]:
        assert rows[name]["ca_tiou"] > rows["none"]["ca_tiou"], name
        assert rows[name]["transitions"] < rows["none"]["transitions"], name
        assert rows[name]["transitions_mined"] < rows["none"]["transitions_mined"], name
