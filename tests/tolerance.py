"""How closely results computed in two different environments must agree.

Within one environment (one interpreter, one numpy, one GDAL, one CPU) a run is deterministic, so the
tests compare its files and numbers exactly. Across environments the same pixels give floats that
differ in their last bits: numpy builds take different SIMD paths for ``sin``, ``log`` and ``sum``
(numpy 1.24 against 2.4 on an AVX-512 CPU: areas differ by 2.5e-13 relative), so those floats are
compared with the tolerance below. Rasters and everything that is not a computed float (counts,
years, names, paths) stay exact.
"""
from __future__ import annotations

import math
from typing import Any

# Relative tolerance of areas (ha), rates (ha/year) and metrics computed by two numpy builds: four
# orders of magnitude above the differences seen, far below the 2 decimals the logs show.
REL = 1e-9
# Absolute floor, so that a value of 0 against 1e-17 passes: 1e-9 ha (0.1 cm²) for areas, the same
# figure in ha/year for rates and for the unitless metrics.
ABS = 1e-9


def float_mismatches(expected: Any, actual: Any, rel: float = REL, abs_: float = ABS, where: str = "") -> list[str]:
    """Every place where two result trees (dicts, lists, scalars as JSON gives them) differ: floats
    beyond ``rel`` (relative) and ``abs_`` (absolute), anything else at all. NaN equals NaN."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        if expected.keys() != actual.keys():
            return [f"{where or '<root>'}: keys {sorted(expected)} != {sorted(actual)}"]
        return [m for k in expected for m in float_mismatches(expected[k], actual[k], rel, abs_, f"{where}[{k!r}]")]
    if isinstance(expected, (list, tuple)) and isinstance(actual, (list, tuple)):
        if len(expected) != len(actual):
            return [f"{where or '<root>'}: {len(expected)} items != {len(actual)}"]
        return [m for i, (e, a) in enumerate(zip(expected, actual, strict=True))
                for m in float_mismatches(e, a, rel, abs_, f"{where}[{i}]")]
    if _is_float_pair(expected, actual):
        if (math.isnan(expected) and math.isnan(actual)) or math.isclose(expected, actual, rel_tol=rel, abs_tol=abs_):
            return []
        return [f"{where or '<root>'}: {expected!r} != {actual!r} (beyond rel {rel:g}, abs {abs_:g})"]
    if expected == actual and type(expected) is type(actual):
        return []
    return [f"{where or '<root>'}: {expected!r} != {actual!r}"]


def _is_float_pair(a: Any, b: Any) -> bool:
    """Two numbers of which at least one is a float (JSON writes 2.0 as 2.0, but a sum may be 2)."""
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
    return numbers and (isinstance(a, float) or isinstance(b, float))


def assert_results_close(expected: Any, actual: Any, rel: float = REL, abs_: float = ABS) -> None:
    """Fail with every mismatch listed unless ``float_mismatches`` finds none."""
    mismatches = float_mismatches(expected, actual, rel, abs_)
    assert not mismatches, f"{len(mismatches)} result(s) differ:\n" + "\n".join(mismatches[:40])
