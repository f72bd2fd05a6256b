"""`euromine composites` against a loopback STAC API that fails: a 500 and a 429 on a search page
(retried), an asset whose range request hangs past the time-out (retried), a server that dies in
the middle of a year (a clear error naming the API and the step, nothing partial under the final
names, no temporary file left), then a resume after the server is back that reuses the finished
years and makes the unfinished one."""
from __future__ import annotations

import pytest

from euromine_qgis.core.archive.run import CompositeOptions, build_composites
from euromine_qgis.core.archive.sites import Site
from euromine_qgis.core.errors import Cancelled
from euromine_qgis.core.progress import Reporter
from tests.archive.archive_runs import SITE, check_year, composites, leftovers, site_years
from tests.stac.reference import used
from tests.stac.scenes import EXCLUDED_SCL, site_lonlat

pytestmark = pytest.mark.slow  # the command in a process of its own, reading over HTTP


def test_search_errors_are_retried(api, tmp_path):
    served = api("earth-search-c1")
    served.server.page_cap = 2  # two items a page: the year's search follows next links
    served.server.faults.search_status = [(2, 500), (2, 429)]  # the second page: 500, then 429, then served
    out = tmp_path / "out"
    done = composites(served, out, "2021")
    assert done.returncode == 0, done.stderr[-3000:]
    statuses = [status for _, path, status in served.server.log if path.startswith("/search")]
    assert statuses[:4] == [200, 500, 429, 200], statuses
    check_year(out / SITE / "image" / "Year2021.tif", served, 2021)


def test_a_hanging_asset_is_retried(api, tmp_path):
    served = api("earth-search-c1")
    hanging = used(served.shape.written, 2021)[2]
    # its red band's first range request gets no answer for longer than GDAL's time-out (archive_runs)
    served.server.faults.hang = [(hanging.files["B4"], 60.0)]
    out = tmp_path / "out"
    done = composites(served, out, "2021")
    assert done.returncode == 0, done.stderr[-3000:]
    assert served.server.faults.hang == [], "the hang was served"
    check_year(out / SITE / "image" / "Year2021.tif", served, 2021)


def test_a_server_that_dies_mid_year_then_a_resume(api, tmp_path):
    served = api("earth-search-c1")
    served.server.faults.die_after = ("/2022/", 6)  # six COG requests into 2022, then connection refused
    out = tmp_path / "out"
    died = composites(served, out, "2020-2022")
    assert died.returncode == 1  # a service that failed, not bad input (2)
    message = died.stderr.strip().splitlines()[-1] if died.stderr.strip() else ""
    assert served.server.url in died.stderr and "read" in died.stderr, died.stderr[-3000:]
    assert served.server.url in message and "read" in message, f"the last line says what failed: {message}"
    assert site_years(out) == ["Year2020.tif", "Year2021.tif"], "the finished years are kept, 2022 is not"
    assert leftovers(out) == [], "no temporary or partial file is left"
    stamps = {p: p.stat().st_mtime_ns for p in sorted((out / SITE).rglob("Year*.tif"))}

    served.server.restart()
    served.server.reset_counters()
    resumed = composites(served, out, "2020-2022")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert served.server.data_bytes("/2020/") == 0 and served.server.data_bytes("/2021/") == 0, \
        f"the finished years are reused:\n{resumed.stderr[-2000:]}"
    assert served.server.data_bytes("/2022/") > 0
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert site_years(out) == ["Year2020.tif", "Year2021.tif", "Year2022.tif"]
    check_year(out / SITE / "image" / "Year2022.tif", served, 2022)
    assert leftovers(out) == []


def test_unsigned_assets_fail_with_the_api_named(api, tmp_path):
    """Planetary Computer's assets without SAS_TOKEN_URL: 403 on every read, an error naming the API
    and the step, no file."""
    served = api("planetary")
    out = tmp_path / "out"
    done = composites(served, out, "2021", sign=False)
    assert done.returncode == 1
    assert served.server.url in done.stderr and "read" in done.stderr, done.stderr[-3000:]
    assert "(HTTP 403)" in done.stderr and "needs SAS_TOKEN_URL" in done.stderr, done.stderr[-3000:]
    assert site_years(out) == [] and leftovers(out) == []


def test_a_cancelled_run_leaves_nothing_partial_and_resumes(api, tmp_path):
    """Cancelling in the middle of a year (the Reporter's check, as QGIS's cancel button and Ctrl-C
    reach it) raises Cancelled and keeps only the finished years; the next run makes the rest."""
    served = api("earth-search-c1")
    options = CompositeOptions(stac_url=served.server.url, collection=served.collection, years=[2021, 2022],
                               months=list(range(4, 11)), max_cloud=80.0, crs="", resolution=10.0,
                               excluded_scl=frozenset(EXCLUDED_SCL), sas_token_url="")
    site = Site(SITE, site_lonlat())

    def cancel_in_2022() -> bool:  # true from the first check after a 2022 asset was read
        return any("/data/" in path and "2022" in path for _, path, _ in served.server.log)

    out = tmp_path / "out"
    with pytest.raises(Cancelled):
        build_composites([site], options, out, Reporter(is_canceled=cancel_in_2022))
    assert site_years(out) == ["Year2021.tif"] and leftovers(out) == []
    build_composites([site], options, out, Reporter())
    assert site_years(out) == ["Year2021.tif", "Year2022.tif"] and leftovers(out) == []
    check_year(out / SITE / "image" / "Year2022.tif", served, 2022)
