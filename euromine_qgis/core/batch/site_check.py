"""The pre-run check of a mapsites run (DRY_RUN, ``euromine check mapsites``): every site's footprint
mapping checked by maps.preflight, with nothing written."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import InputError
from ..maps.preflight import RunCheck, check_run
from ..pairs import parse_pairs
from .site_sources import SiteSource

if TYPE_CHECKING:
    from ..engine.model import Model
    from .sites import SiteOptions


def check_sites(sites: Sequence[SiteSource], model: Model, options: SiteOptions) -> dict[str, RunCheck]:
    """Each site's pre-run check by its name: its years as map_sites would map them with ``model``
    and ``options`` (PAIRS checked against its years). Sites cut from mosaics (outlines) are
    refused: they are cut only in a real run."""
    if any(site.clip for site in sites):
        raise InputError("DRY_RUN checks the sites of SITES_FOLDER; sites of SITES_LAYER are cut from the MOSAICS "
                         "only in a real run")
    reports = {}
    for site in sites:
        parse_pairs(options.pairs, sorted(site.images))
        reports[site.name] = check_run(sorted(site.images.items()), model, options.settings, options.image_input,
                                       options.temporal_filter, options.min_area_ha, threshold=options.threshold)
    return reports
