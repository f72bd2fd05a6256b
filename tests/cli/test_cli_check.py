"""`euromine check` (and --dry-run) and issue 20's imagery cases through the command, in QGIS's
environment and in the clean numpy-2 venv: the pre-run check's report lines and result dict with
nothing written; a 13-band float 0–1 L2A stack with --scale 10000, and an unnamed one with
--input-bands, map as the int16 10-band original."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.band_stacks import flips_only_at_threshold, l2a_numbers, l2a_stack, reflectance_copy

YEAR = 2016


@pytest.fixture(scope="module")
def image(sites) -> Path:
    """One year of the second generated site: 10 bands, int16 reflectance × 10000, named."""
    return sites[1] / "image" / f"Year{YEAR}.tif"


@pytest.fixture(scope="module")
def float_l2a(image, tmp_path_factory) -> Path:
    """``image`` as a 13-band L2A export with band names, float reflectance 0–1."""
    folder = tmp_path_factory.mktemp("l2a")
    return reflectance_copy(l2a_stack(image, folder / "stack.tif"), folder / f"S2L2A_{YEAR}.tif")


def _report_lines(stdout: str, years: list[int]) -> None:
    lines = stdout.splitlines()
    assert lines[0].startswith("Dry run: nothing was written. tiles of ")
    assert any(line.startswith("Model spectral_baseline on CPUExecutionProvider") for line in lines)
    for year in years:
        assert any(line.startswith(f"{year}: Year{year}.tif, ") and " tile(s) of " in line and "pixel " in line
                   and "nodata " in line for line in lines), year
        assert any(line.startswith(f"{year}: bands by name: B2=1, ") and "scaling: " in line for line in lines), year
    assert any(line.startswith("Estimated peak memory ") for line in lines)
    assert any(line.startswith("Estimated time ") for line in lines)


def test_check_mapfootprints_prints_the_report_and_writes_nothing(euromine, sites, tmp_path):
    images = [sites[1] / "image" / f"Year{y}.tif" for y in (2015, 2016)]
    out_dir = tmp_path / "out"
    argv = ["--images", *images, "--device", "cpu", "--min-area-ha", "0.1", "--output-folder", out_dir]
    shown = euromine.run("check", "mapfootprints", *argv)
    assert shown.returncode == 0, shown.stderr[-3000:]
    _report_lines(shown.stdout, [2015, 2016])
    assert "MIN_AREA_HA 0.1 " in shown.stdout  # the sieve's memory is counted
    result = euromine.json("mapfootprints", *argv, "--dry-run")  # the same check as the command's flag
    report = result["DRY_RUN_REPORT"]
    assert [i["year"] for i in report["images"]] == [2015, 2016] and report["min_area_ha"] == 0.1
    assert all(i["tiles"] >= 1 and i["bands"]["B2"] == 1 for i in report["images"])
    assert report["peak_memory_mib"] > 0 and report["seconds"] > 0 and report["batches"] >= 2
    assert result["MODEL_NAME"] == "spectral_baseline" and result["PROVIDER"] == "CPUExecutionProvider"
    assert not out_dir.exists()


def test_check_names_the_scale_of_a_float_l2a_export(euromine, float_l2a, tmp_path):
    argv = ["--images", float_l2a, "--device", "cpu", "--output-folder", tmp_path / "out"]
    unscaled = euromine.run("check", "--json", "mapfootprints", *argv)  # --json before the checked command
    assert unscaled.returncode == 0, unscaled.stderr[-3000:]
    (checked,) = json.loads(unscaled.stdout)["DRY_RUN_REPORT"]["images"]
    assert checked["band_choice"] == "by name" and list(checked["bands"].values()) == l2a_numbers()
    assert "SCALE=10000" in checked["scaling"]
    assert f"Warning: {float_l2a}: " in unscaled.stderr and "SCALE=10000" in unscaled.stderr
    scaled = euromine.run("check", "mapfootprints", *argv, "--scale", "10000")
    assert scaled.returncode == 0 and "SCALE=10000" not in scaled.stdout + scaled.stderr
    assert "scaling: values look like the training data" in scaled.stdout
    assert not (tmp_path / "out").exists()


def test_check_detectchange_runs_both_models(euromine, sites, tmp_path):
    before, after = (sites[1] / "image" / f"Year{y}.tif" for y in (2015, 2017))
    change = tmp_path / "change" / "change.tif"
    argv = ["--method", "change_model", "--before", before, "--after", after, "--device", "cpu", "--change", change]
    result = euromine.json("check", "detectchange", *argv)
    report = result["DRY_RUN_REPORT"]
    assert result["METHOD"] == "change_model" and len(report["images"]) == 2
    assert len(report["profiles"]) == 2  # the footprint model and the change model each ran one batch
    assert not change.parent.exists()
    refused = euromine.run("check", "detectchange", *argv[:1], "footprints", *argv[2:])
    assert refused.returncode == 2
    assert "euromine check: error: DRY_RUN checks a model run; METHOD footprints runs no model" in refused.stderr


def test_check_mapsites_reports_each_site(euromine, sites, tmp_path):
    out_dir = tmp_path / "out"
    shown = euromine.run("check", "mapsites", "--sites-folder", sites[0].parent, "--sites", "Synthetic_2,Synthetic_3",
                         "--years", "2015-2016", "--device", "cpu", "--output-folder", out_dir, "--json")
    assert shown.returncode == 0, shown.stderr[-3000:]
    reports = json.loads(shown.stdout)["DRY_RUN_REPORT"]
    assert list(reports) == ["Synthetic_2", "Synthetic_3"]
    assert all([i["year"] for i in r["images"]] == [2015, 2016] for r in reports.values())
    assert not out_dir.exists()


def test_a_13_band_float_export_with_scale_and_an_unnamed_stack_with_input_bands(euromine, image, float_l2a,
                                                                                 tmp_path):
    def footprints(images: Path, out: str, *extra: str) -> dict:
        return euromine.json("mapfootprints", "--images", images, "--device", "cpu", "--probabilities", "float32",
                             "--output-folder", tmp_path / out, *extra)

    (reference,) = footprints(image, "int16")["FOOTPRINTS"]
    scaled = footprints(float_l2a, "float", "--scale", "10000")
    assert flips_only_at_threshold(Path(scaled["FOOTPRINTS"][0]), Path(reference),
                                   Path(scaled["PROBABILITY_RASTERS"][0]))
    unnamed = l2a_stack(image, tmp_path / f"unnamed_{YEAR}.tif", names=None)
    (stacked,) = footprints(unnamed, "unnamed", "--input-bands", ",".join(map(str, l2a_numbers())))["FOOTPRINTS"]
    assert Path(stacked).read_bytes() == Path(reference).read_bytes()
