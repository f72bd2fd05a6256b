"""EuroMineNet release facts as data: band order, benchmark normalization, patch size, years,
the site-disjoint split lists and the sites the release's preprocessing excludes.

Kept in the package, so the plugin and the export tools read nothing outside it;
tests/unit/test_release.py keeps it equal to the team's ``euromine_release.json`` where that file
sits beside the repository.
"""
from __future__ import annotations

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
YEARS: tuple[int, ...] = tuple(range(2015, 2025))

# Site folder names as spelled in the release (e.g. 'Portuga_1'). The published train list
# names Germany_13 twice; it appears once here.
SPLITS: dict[str, tuple[str, ...]] = {
    'train': (
    'Austria_1', 'Bulgaria_10', 'Bulgaria_11', 'Bulgaria_13', 'Bulgaria_14', 'Bulgaria_15',
    'Bulgaria_16', 'Bulgaria_17', 'Bulgaria_18', 'Bulgaria_2', 'Bulgaria_4', 'Bulgaria_5',
    'Bulgaria_6', 'Bulgaria_7', 'Bulgaria_9', 'Czechia_1', 'Czechia_3', 'Finland_1',
    'Finland_2', 'Finland_4', 'Germany_1', 'Germany_10', 'Germany_11', 'Germany_12',
    'Germany_13', 'Germany_14', 'Germany_15', 'Germany_16', 'Germany_3', 'Germany_5',
    'Germany_7', 'Germany_8', 'Greece_1', 'Greece_11', 'Greece_12', 'Greece_13', 'Greece_2',
    'Greece_4', 'Greece_5', 'Greece_6', 'Greece_7', 'Greece_8', 'Greece_9', 'Hungary_1',
    'Hungary_2', 'Hungary_5', 'Hungary_6', 'Italy_1', 'Italy_3', 'Poland_1', 'Poland_10',
    'Poland_11', 'Poland_12', 'Poland_13', 'Poland_14', 'Poland_17', 'Poland_2', 'Poland_3',
    'Poland_4', 'Poland_5', 'Poland_6', 'Poland_7', 'Poland_8', 'Poland_9', 'Portuga_2',
    'Portuga_3', 'Portuga_4', 'Portuga_5', 'Portuga_6', 'Romania_1', 'Romania_11',
    'Romania_12', 'Romania_2', 'Romania_3', 'Romania_5', 'Romania_7', 'Romania_8',
    'Romania_9', 'Slovakia_2', 'Spain_1', 'Spain_10', 'Spain_11', 'Spain_12', 'Spain_13',
    'Spain_14', 'Spain_15', 'Spain_16', 'Spain_17', 'Spain_18', 'Spain_19', 'Spain_2',
    'Spain_20', 'Spain_3', 'Spain_5', 'Spain_6', 'Spain_7', 'Spain_8', 'Spain_9',
    'Sweden_5', 'Sweden_8', 'Sweden_9',
    ),
    'val': (
    'Bulgaria_12', 'Bulgaria_3', 'Czechia_2', 'Finland_7', 'Germany_6', 'Germany_9',
    'Greece_10', 'Hungary_4', 'Hungary_7', 'Poland_18', 'Portuga_1', 'Romania_4',
    'Sweden_2', 'Sweden_3',
    ),
    'test': (
    'Bulgaria_1', 'Bulgaria_8', 'Czechia_4', 'Finland_3', 'Finland_5', 'Finland_6',
    'Germany_2', 'Germany_4', 'Hungary_8', 'Italy_2', 'Poland_15', 'Romania_10',
    'Romania_6', 'Slovakia_1', 'Sweden_1', 'Sweden_4', 'Sweden_7',
    ),
}
EXCLUDED: tuple[str, ...] = ('Spain_4', 'Sweden_6', 'Poland_16')


def split_sites(name: str) -> tuple[str, ...]:
    """The site names of split ``name`` ('train', 'val' or 'test'); ValueError for another name."""
    try:
        return SPLITS[name]
    except KeyError:
        raise ValueError(f"unknown split '{name}' (the release has {', '.join(SPLITS)})") from None
