"""Runs of the command with an algorithm's parameters, for the tests of tests/cli."""
from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Euromine


def flags(parameters: dict) -> list[str]:
    """An algorithm's parameters as the command's flags: ``TILE_OVERLAP`` -> ``--tile-overlap``, a
    list -> its items after one flag, a boolean False -> ``--no-...``."""
    argv = []
    for name, value in parameters.items():
        flag = "--" + name.lower().replace("_", "-")
        if isinstance(value, bool):
            argv.append(flag if value else f"--no-{flag[2:]}")
        elif isinstance(value, (list, tuple)):
            argv += [flag, *map(str, value)]
        else:
            argv += [flag, str(value)]
    return argv


def algorithm_parameters(sites: list[Path], footprints: list[Path], out: Path) -> dict[str, dict]:
    """One run of every algorithm on the second generated site, as Processing parameters, writing under ``out``."""
    site = sites[1]
    images = [site / "image" / f"Year{y}.tif" for y in (2015, 2016, 2017)]
    return {
        "mapfootprints": {"IMAGES": images, "MODEL": "spectral_baseline", "DEVICE": "cpu", "PROBABILITIES": "uint8",
                          "MIN_AREA_HA": 0.05, "OUTPUT_FOLDER": out / "mapfootprints"},
        "changelayers": {"FOOTPRINTS": footprints, "PAIRS": "all", "MIN_AREA_HA": 0.05,
                         "OUTPUT_FOLDER": out / "changelayers", "AREA_TABLE": out / "changelayers" / "areas.csv",
                         "TRAJECTORY": out / "changelayers" / "trajectory.tif"},
        "detectchange": {"METHOD": "post_classification", "BEFORE": images[0], "AFTER": images[-1],
                         "MODEL": "spectral_baseline", "DEVICE": "cpu", "CHANGE": out / "detectchange" / "change.tif"},
        "evaluate": {"PREDICTIONS": footprints, "REFERENCES": sorted((site / "label").glob("Year*.tif")),
                     "PAIRS": "consecutive", "TABLE": out / "evaluate" / "metrics.csv"},
        "mapsites": {"SITES_FOLDER": site.parent, "SITES": site.name, "YEARS": "2015-2017",
                     "MODEL": "spectral_baseline", "DEVICE": "cpu", "SITE_REPORTS": False,
                     "OUTPUT_FOLDER": out / "mapsites"},
    }


def run_commands(euromine: Euromine, parameters: dict[str, dict]) -> dict[str, dict]:
    """Every command of ``parameters`` run by ``euromine``: its result dicts."""
    for command in parameters.values():
        for value in command.values():
            if isinstance(value, Path) and value.suffix:
                value.parent.mkdir(parents=True, exist_ok=True)
    return {name: euromine.json(name, *flags(p)) for name, p in parameters.items()}


def rasters_under(folder: Path) -> dict[str, Path]:
    """Every GeoTIFF under ``folder`` by its path relative to it."""
    return {str(p.relative_to(folder)): p for p in sorted(folder.rglob("*.tif"))}
