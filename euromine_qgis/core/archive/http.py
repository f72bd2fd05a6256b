"""HTTP for the STAC API and the token endpoint: requests with urllib3's retries, backing off on
429, 5xx, time-outs and dropped connections (Retry-After honoured)."""
from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

RETRY_STATUS = (429, 500, 502, 503, 504)
RETRIES = 5
BACKOFF_FACTOR = 0.5  # urllib3 waits factor × 2^(n-1) s before the n-th retry
TIMEOUT_S = (10.0, 60.0)  # connect, read


def retry() -> Retry:
    """The retry policy of every request, POST searches included (a search changes nothing)."""
    return Retry(total=RETRIES, connect=RETRIES, read=RETRIES, status=RETRIES, backoff_factor=BACKOFF_FACTOR,
                 status_forcelist=RETRY_STATUS, allowed_methods=None, raise_on_status=False)


def session() -> requests.Session:
    """A requests session that retries with ``retry()``."""
    s = requests.Session()
    adapter = HTTPAdapter(max_retries=retry())
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


REFUSED = (401, 403)
SIGNING_HINT = ("the server refuses the asset (HTTP {status}): a STAC API whose assets need signing "
                "(Planetary Computer) needs SAS_TOKEN_URL, e.g. https://planetarycomputer.microsoft.com/api/sas/v1/token")


def refusal_hint(href: str) -> str:
    """A hint for an asset GDAL could not open: what to do when the server refuses it (401/403),
    else "" (GDAL's own message says only that the file does not exist)."""
    if not href.startswith(("http://", "https://")):
        return ""
    try:
        status = requests.head(href, timeout=TIMEOUT_S, allow_redirects=True).status_code
    except requests.RequestException:
        return ""
    return "; " + SIGNING_HINT.format(status=status) if status in REFUSED else ""
