"""The engine's memory does not grow with the scene's width: the peak resident set (``ru_maxrss``)
of a child process mapping a scene six times wider stays near the narrow one's. Both are wider than
one panel of the tiny spectral_baseline's tiles (engine.inference.PANEL_BYTES: about 5000 px)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import rasterio
from rasterio.transform import from_origin

from tests.rasters import random_scene, write_image

REPO = Path(__file__).resolve().parents[2]
HEIGHT, TILE_WIDTH = 256, 1500
NARROW, WIDE = 6_000, 36_000
# What the wide scene may add to the peak (measured: 21 MiB, GDAL's datasets for a VRT of more
# sources and the outputs' blocks). Full-width strips (the engine before panels: accumulators,
# row blocks, pixel areas and the row buffer a tile high and 36 000 px wide) added 85 MiB.
MAX_GROWTH = 40 * 2**20

SCRIPT = """
import json, resource, sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from euromine_qgis.core.engine import inference
from euromine_qgis.core.engine.bundled import resolve_bundled
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.maps.footprints import map_footprints
from tests.plain_run import PLAIN_FOOTPRINTS

inference.GDAL_CACHE_BYTES = 32 * 2**20  # bounded on its own (the outputs' blocks): not what is measured here
model = Model(resolve_bundled("spectral_baseline"), device="cpu", scale=1.0, precision="fp32")
map_footprints([(2020, Path(sys.argv[1]))], model, Path(sys.argv[2]), probabilities="uint8", **PLAIN_FOOTPRINTS)
print(json.dumps({"peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def repeated_vrt(tile: Path, height: int, width: int, out: Path) -> Path:
    """A VRT of ``height`` × ``width`` px that repeats ``tile`` side by side and top to bottom."""
    with rasterio.open(tile) as src:
        count, dtype, (th, tw), geo, srs = src.count, src.dtypes[0], src.shape, src.transform.to_gdal(), src.crs
    gdal_type = {"int16": "Int16", "uint16": "UInt16", "float32": "Float32"}[dtype]
    sources = [(y, x, min(th, height - y), min(tw, width - x))
               for y in range(0, height, th) for x in range(0, width, tw)]
    bands = "".join(
        f'<VRTRasterBand dataType="{gdal_type}" band="{b}">'
        + "".join(f'<SimpleSource><SourceFilename relativeToVRT="0">{tile}</SourceFilename>'
                  f'<SourceBand>{b}</SourceBand><SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>'
                  f'<DstRect xOff="{x}" yOff="{y}" xSize="{w}" ySize="{h}"/></SimpleSource>'
                  for y, x, h, w in sources)
        + "</VRTRasterBand>" for b in range(1, count + 1))
    out.write_text(f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}"><SRS>{srs.to_wkt()}</SRS>'
                   f"<GeoTransform>{', '.join(repr(v) for v in geo)}</GeoTransform>{bands}</VRTDataset>")
    return out


def peak_bytes(image: Path, out: Path) -> int:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(image), str(out), str(REPO)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return int(json.loads(done.stdout.strip().splitlines()[-1])["peak"])


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_the_width(tmp_path):
    data = random_scene(HEIGHT, TILE_WIDTH, seed=4)
    tile = write_image(tmp_path / "tile.tif", data, crs="EPSG:32632", transform=from_origin(500_000, 4_520_000, 10, 10),
                       tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    narrow = peak_bytes(repeated_vrt(tile, HEIGHT, NARROW, tmp_path / "narrow.vrt"), tmp_path / "narrow")
    wide = peak_bytes(repeated_vrt(tile, HEIGHT, WIDE, tmp_path / "wide.vrt"), tmp_path / "wide")
    with rasterio.open(tmp_path / "wide" / "footprint_2020.tif") as out:
        assert out.shape == (HEIGHT, WIDE)
    assert wide - narrow <= MAX_GROWTH, \
        f"peak {narrow / 2**20:.0f} MiB at {NARROW} px wide, {wide / 2**20:.0f} MiB at {WIDE}"
