"""EuroMineNet release constants (band order, benchmark normalization, patch size).

The numbers are copied from ``shared/euromine_release.json`` so that exporting works from a
checkout without the shared folder beside it; a unit test keeps them equal to the JSON.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Inferred from the per-band means; the release does not name its bands (see the JSON's note).
BANDS: tuple[str, ...] = ("B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12")

# Per-band z-score on raw L2A digital numbers (reflectance x 10000), as published.
MEAN: tuple[float, ...] = (
    1089.74398414, 1004.04424665, 912.91169804, 1157.54372767, 1956.3718531,
    2314.40816642, 2249.62494194, 2551.81568494, 1920.88963249, 1185.54458012,
)
STD: tuple[float, ...] = (
    220.01112071, 258.62166282, 385.29996291, 352.84198064, 433.08390432,
    555.78649618, 556.49755492, 616.86119128, 615.74838491, 531.51408023,
)

PATCH_SIZE: int = 160

# Where the shared agreements live in the team's layout: beside the repository.
RELEASE_JSON: Path = Path(__file__).resolve().parent.parent.parent / "shared" / "euromine_release.json"


def load_release_json(path: Path = RELEASE_JSON) -> dict[str, Any] | None:
    """The release JSON as a dict, or None when the file is not there."""
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def check_against_json(path: Path = RELEASE_JSON) -> bool:
    """Raise ValueError if the release JSON exists and disagrees with these constants.

    Returns True when the JSON was found and agrees, False when it is absent.
    """
    release = load_release_json(path)
    if release is None:
        return False
    found = {
        "bands": tuple(release["bands"]),
        "mean": tuple(float(v) for v in release["normalization"]["mean"]),
        "std": tuple(float(v) for v in release["normalization"]["std"]),
        "patch_size": int(release["patch_size"]),
    }
    expected = {"bands": BANDS, "mean": MEAN, "std": STD, "patch_size": PATCH_SIZE}
    wrong = [k for k in expected if found[k] != expected[k]]
    if wrong:
        raise ValueError(f"{path}: {', '.join(wrong)} differ from export/release.py; update the constants")
    return True
