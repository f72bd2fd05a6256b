"""SAS signing against a token endpoint on loopback: the token becomes every href's query string and
is fetched again once it has expired; a failing endpoint is an error naming it and the step."""
from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from euromine_qgis.core.archive.errors import ArchiveError
from euromine_qgis.core.archive.signing import Signer

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def token_server():
    asked: list[str] = []

    class Tokens(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            asked.append(self.path)
            if not self.path.startswith("/token/"):
                self.send_response(404)
                self.end_headers()
                return
            body = json.dumps({"token": f"se=x&sig=token{len(asked)}",
                               "msft:expiry": (T0 + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Tokens)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()
    server.server_close()


def test_hrefs_carry_the_token_until_it_expires(token_server):
    url, asked = token_server
    now = [T0]
    sign = Signer(f"{url}/token", "sentinel-2-l2a", now=lambda: now[0])
    assert sign("https://a.test/B02.tif") == "https://a.test/B02.tif?se=x&sig=token1"
    assert sign("https://a.test/B03.tif?x=1") == "https://a.test/B03.tif?x=1&se=x&sig=token1"
    assert asked == ["/token/sentinel-2-l2a"]
    now[0] = T0 + dt.timedelta(minutes=58)  # within the margin before the expiry: a new token
    assert sign("https://a.test/B02.tif").endswith("sig=token2")
    assert len(asked) == 2


def test_without_an_endpoint_hrefs_stay_as_they_are():
    assert Signer("", "sentinel-2-c1-l2a")("https://a.test/B02.tif") == "https://a.test/B02.tif"


def test_a_failing_endpoint_names_itself_and_the_step(token_server):
    url, _ = token_server
    with pytest.raises(ArchiveError, match=r"/nothing/sentinel-2-l2a: sign failed"):
        Signer(f"{url}/nothing", "sentinel-2-l2a")("https://a.test/B02.tif")
