"""The algorithms of the core, in the order the surfaces list them."""
from __future__ import annotations

from . import bundled_models, changelayers, composites, detectchange, evaluate, mapfootprints, mapsites
from .spec import AlgorithmSpec

SPECS: tuple[AlgorithmSpec, ...] = (
    mapfootprints.SPEC, detectchange.SPEC, changelayers.SPEC, evaluate.SPEC, mapsites.SPEC, composites.SPEC,
    bundled_models.SPEC,
)
