"""`euromine composites` against a loopback STAC API that fails: a 500 and a 429 on a search page
(retried), an asset whose range request hangs past the time-out (retried), a server that dies in
the middle of a year (a clear error naming the API and the step, nothing partial under the final
names, no temporary file left), then a resume after the server is back that reuses the finished
years and makes the unfinished one."""
from __future__ import annotations

import pytest

from tests.archive.archive_runs import SITE, check_year, composites, leftovers, site_years
from tests.stac.reference import used

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
    assert served.server.url in message or "read" in message, f"the last line says what failed: {message}"
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
