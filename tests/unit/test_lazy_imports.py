"""The command loads only what it runs: matplotlib when something is drawn, dask and distributed
when SCHEDULER names a cluster, torch never. Each check runs in a fresh interpreter, so nothing this
test process imported counts."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from export.synthetic import generate_site

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("matplotlib", "dask", "distributed", "torch")
# prints, as JSON, which of HEAVY the code of argv[1] left loaded
LOADED = """
import json, sys
sys.path.insert(0, {repo!r})
exec(sys.argv[1])
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}} & set({heavy!r}))))
"""


def loaded_after(code: str) -> list[str]:
    """Which of HEAVY a fresh interpreter has loaded after running ``code``."""
    done = subprocess.run([sys.executable, "-c", LOADED.format(repo=str(REPO), heavy=HEAVY), code],
                          capture_output=True, text=True, check=False, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_importing_the_command_loads_none_of_the_heavy_packages():
    assert loaded_after("import euromine_qgis.cli.main") == []


@pytest.mark.slow
def test_mapfootprints_draws_nothing_and_loads_no_matplotlib(tmp_path):
    site = generate_site(tmp_path, "Pit", seed=5, size=(96, 128), years=(2018,))
    argv = ["mapfootprints", "--images", str(site / "image" / "Year2018.tif"), "--output-folder",
            str(tmp_path / "out"), "--device", "cpu", "--precision", "fp32"]
    code = f"from euromine_qgis.cli.main import main\nassert main({argv!r}) == 0"
    assert loaded_after(code) == []
    assert (tmp_path / "out").is_dir() and any((tmp_path / "out").iterdir())
