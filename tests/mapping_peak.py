"""One footprint mapping (map_footprints at the plain run's settings) in a fresh process, with its
time and peak resident memory: the child's VmHWM, the high-water mark of its own memory since it
started (its ``ru_maxrss`` also counts the resident set of the process that spawned it, which a
child inherits until its exec)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCRIPT = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from euromine_qgis.core.engine import inference
from euromine_qgis.core.engine.bundled import resolve_bundled
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.maps.footprints import map_footprints
from tests.bench.side_by_side import peak_kib
from tests.plain_run import PLAIN_FOOTPRINTS

options = json.loads(sys.argv[4])
if options.get("gdal_cache_bytes"):
    inference.GDAL_CACHE_BYTES = options["gdal_cache_bytes"]
model = Model(resolve_bundled(options["model"]), device="cpu", scale=1.0, precision="fp32")
start = time.perf_counter()
map_footprints([(2020, Path(sys.argv[1]))], model, Path(sys.argv[2]), **PLAIN_FOOTPRINTS, **options["mapping"])
print(json.dumps({"seconds": time.perf_counter() - start, "peak": peak_kib() * 1024}))
"""


def mapping_peak(image: Path, out: Path, model: str = "spectral_baseline", gdal_cache_bytes: int | None = None,
                 **mapping: Any) -> dict[str, float]:
    """Map ``image`` into ``out`` with the bundled ``model`` (fp32, on the CPU) in a fresh process, GDAL's
    block cache at ``gdal_cache_bytes`` (None: the engine's) and map_footprints' ``mapping`` options beyond
    the plain run's: its seconds and peak (bytes)."""
    options = {"model": model, "gdal_cache_bytes": gdal_cache_bytes, "mapping": mapping}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(image), str(out), str(REPO), json.dumps(options)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures
