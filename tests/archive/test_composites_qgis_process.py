"""euromine:composites through qgis_process with the installed plugin: one year of the site from the
loopback Earth Search API, compared with the reference."""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.archive.archive_runs import GDAL_HTTP_TIMEOUT_S, SITE, check_year

# the e2e fixtures: the plugin zip of this checkout, installed into a fresh QGIS profile
from tests.e2e.conftest import QGIS_PROCESS, installed_profile, plugin_zip, qgis_env  # noqa: F401 (fixtures)
from tests.stac.scenes import site_lonlat

pytestmark = pytest.mark.slow  # qgis_process in a process of its own


def test_one_year_through_qgis_process(installed_profile, api, tmp_path):  # noqa: F811 (the fixture)
    served = api("earth-search-c1")
    w, s, e, n = site_lonlat()
    parameters = {**served.parameters(), "EXTENT": f"{w},{e},{s},{n} [EPSG:4326]", "SITE_NAME": SITE,
                  "YEARS": "2022", "OUTPUT_FOLDER": str(tmp_path)}
    env = {**qgis_env(installed_profile), "GDAL_HTTP_TIMEOUT": str(GDAL_HTTP_TIMEOUT_S)}
    done = subprocess.run([QGIS_PROCESS, "run", "euromine:composites", "--json", "--",
                           *(f"{k}={v}" for k, v in parameters.items())],
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert json.loads(done.stdout)["results"]
    check_year(tmp_path / SITE / "image" / "Year2022.tif", served, 2022)
