"""A STAC API of the tests' own on loopback: the endpoints a STAC client walks (landing page,
conformance, collections, items, item search by GET and POST with paging), the generated COGs
served as static files with HTTP range requests, and Planetary Computer's SAS token endpoint, with
byte counters per path and faults on demand.

Hand-written on the standard library's ThreadingHTTPServer: no STAC server package runs from a
folder of item JSON without a database, and the faults (a 500 or 429 on one search page, a hang on
one range request, a server that dies after N requests) need hooks inside the request handling.

Search follows the STAC API - Item Search specification: ``bbox``, ``intersects`` (matched by the
geometry's bounding box, which is exact for the rectangles the tests send), ``datetime`` (an
instant or an interval, ``..`` for an open end), ``collections``, ``ids``, ``limit``, ``sortby``
(datetime), the Query extension (``query``: eq, lt, lte, gt, gte on item properties) and the Filter
extension in CQL2-JSON (``and``, ``or``, ``not`` and the comparisons, on item properties). Pages
are linked by ``next`` links carrying a ``token`` (the offset of the page): a GET link for GET
searches, a POST link with the body to merge for POST searches, as Earth Search and Planetary
Computer do.
"""
from __future__ import annotations

import json
import re
import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0/item-search#sort",
    "https://api.stacspec.org/v1.0.0/item-search#filter",
    "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
]
GEOJSON = "application/geo+json"
DATA_PREFIX = "/data/"  # the generated COGs
SAS_PREFIX = "/api/sas/v1/token/"  # Planetary Computer's token endpoint: GET {SAS_PREFIX}{collection}
DEFAULT_LIMIT = 10  # Earth Search's default page size
MAX_LIMIT = 10000
RANGE = re.compile(r"(\d*)-(\d*)")


@dataclass
class Catalogue:
    """What the server answers with: collections (id -> collection JSON without links), their items
    (id -> items, item JSON with hrefs relative to the server's root, e.g. ``/data/...``), the folder
    the ``/data/`` paths are read from, and the SAS token that signed collections' assets need."""

    collections: dict[str, dict[str, Any]]
    items: dict[str, list[dict[str, Any]]]
    data_root: Path
    signed: frozenset[str] = frozenset()  # collections whose assets need the SAS token
    sas_token: str = "st=2026-12-07T00%3A00%3A00Z&se=2026-12-09T00%3A00%3A00Z&sp=rl&sv=2021-06-08&sr=c&sig=loopback"
    signed_paths: frozenset[str] = field(init=False)  # the asset paths of the signed collections

    def __post_init__(self) -> None:
        self.signed_paths = frozenset(a["href"] for c in self.signed for i in self.items[c]
                                      for a in i["assets"].values())


@dataclass
class Faults:
    """Faults the server injects, each consumed when it fires. ``search_status``: (page token, HTTP
    status) pairs answered instead of that search page once; ``hang``: (path substring, seconds)
    pairs, the next range request whose path holds the substring waits that long and then drops the
    connection without an answer; ``die_after``: (path substring, N): after N more requests whose
    path holds the substring the server stops listening (connection refused)."""

    search_status: list[tuple[int, int]] = field(default_factory=list)
    hang: list[tuple[str, float]] = field(default_factory=list)
    die_after: tuple[str, int] | None = None


class StacServer:
    """The loopback STAC API (see the module's docstring). ``url`` is its root; ``bytes_served`` and
    ``requests`` count the body bytes and the requests per path (query left out); ``faults`` holds
    the faults to inject. ``stop()`` ends it; ``restart()`` starts it again on the same port."""

    def __init__(self, catalogue: Catalogue, port: int = 0) -> None:
        self.catalogue = catalogue
        self.faults = Faults()
        self.page_cap = MAX_LIMIT  # the most items a page holds, whatever limit asks (Earth Search caps it too)
        self.bytes_served: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.log: list[tuple[str, str, int]] = []  # (method, path with query, status)
        self.ranges: list[tuple[str, int, int]] = []  # (path, first byte, last byte) of each range served
        self._lock = threading.Lock()
        self._released = threading.Event()  # set on stop: hanging requests end
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = port
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen (on ``port``, or a free one the first time) and serve in a daemon thread."""
        handler = type("Handler", (_Handler,), {"stac": self})
        httpd = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False  # type: ignore[attr-defined]
        self.port = httpd.server_address[1]
        self._released.clear()
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name=f"stac-{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening (new connections are refused) and release hanging requests."""
        with self._lock:
            httpd, self._httpd = self._httpd, None
        self._released.set()
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()

    def restart(self) -> None:
        """Start again on the same port (after ``stop`` or a ``die_after`` fault), faults cleared."""
        self.stop()
        self.faults = Faults()
        self.start()

    def reset_counters(self) -> None:
        with self._lock:
            self.bytes_served.clear()
            self.requests.clear()
            self.log.clear()
            self.ranges.clear()

    def data_bytes(self, part: str = "") -> int:
        """Body bytes served from the COGs (``/data/`` paths), only paths holding ``part`` if given."""
        with self._lock:
            return sum(n for p, n in self.bytes_served.items() if p.startswith(DATA_PREFIX) and part in p)

    def data_requests(self, part: str = "") -> int:
        """Requests for the COGs (``/data/`` paths), only paths holding ``part`` if given."""
        with self._lock:
            return sum(n for p, n in self.requests.items() if p.startswith(DATA_PREFIX) and part in p)

    # -- hooks the handler calls ----------------------------------------------------------------

    def _count(self, path: str) -> bool:
        """Count a request; False when the server is dead or dies now (drop the connection)."""
        with self._lock:
            if self._httpd is None:
                return False
            self.requests[path] += 1
            die = self.faults.die_after
            if die is not None and die[0] in path:
                left = die[1] - 1
                self.faults.die_after = (die[0], left)
                if left < 0:
                    threading.Thread(target=self.stop, daemon=True).start()
                    return False
        return True

    def _sent(self, path: str, n: int) -> None:
        with self._lock:
            self.bytes_served[path] += n

    def _search_fault(self, token: int) -> int | None:
        with self._lock:
            for i, (page, status) in enumerate(self.faults.search_status):
                if page == token:
                    del self.faults.search_status[i]
                    return status
        return None

    def _hang_fault(self, path: str) -> float | None:
        with self._lock:
            for i, (part, seconds) in enumerate(self.faults.hang):
                if part in path:
                    del self.faults.hang[i]
                    return seconds
        return None


# -- search -----------------------------------------------------------------------------------------

def _parse_instant(text: str, end: bool) -> datetime | None:
    if text in ("", ".."):
        return None
    if "T" not in text:  # a date alone: the whole day
        day = datetime.fromisoformat(text).replace(tzinfo=UTC)
        return day + timedelta(days=1) - timedelta(microseconds=1) if end else day
    moment = datetime.fromisoformat(text.replace("z", "Z"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _datetime_range(text: str) -> tuple[datetime | None, datetime | None]:
    if "/" in text:
        start, end = text.split("/", 1)
        return _parse_instant(start, False), _parse_instant(end, True)
    moment = _parse_instant(text, False)
    return moment, moment


def _item_time(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["properties"]["datetime"])


def _bounds(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    xs: list[float] = []
    ys: list[float] = []

    def walk(c: Any) -> None:
        if isinstance(c[0], (int, float)):
            xs.append(c[0])
            ys.append(c[1])
        else:
            for part in c:
                walk(part)

    walk(geometry["coordinates"])
    return min(xs), min(ys), max(xs), max(ys)


def _intersects(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b, "=": lambda a, b: a == b, "neq": lambda a, b: a != b, "<>": lambda a, b: a != b,
    "lt": lambda a, b: a < b, "<": lambda a, b: a < b, "lte": lambda a, b: a <= b, "<=": lambda a, b: a <= b,
    "gt": lambda a, b: a > b, ">": lambda a, b: a > b, "gte": lambda a, b: a >= b, ">=": lambda a, b: a >= b,
}


def _value(item: dict[str, Any], arg: Any) -> Any:
    if isinstance(arg, dict) and "property" in arg:
        name = arg["property"].removeprefix("properties.")
        if name == "id":
            return item["id"]
        if name == "collection":
            return item["collection"]
        return item["properties"].get(name)
    if isinstance(arg, dict) and "timestamp" in arg:
        return datetime.fromisoformat(arg["timestamp"].replace("Z", "+00:00")).isoformat()
    return arg


def _cql2(item: dict[str, Any], expr: dict[str, Any]) -> bool:
    op = expr["op"].lower()
    args = expr["args"]
    if op == "and":
        return all(_cql2(item, a) for a in args)
    if op == "or":
        return any(_cql2(item, a) for a in args)
    if op == "not":
        return not _cql2(item, args[0])
    if op in COMPARE:
        left, right = _value(item, args[0]), _value(item, args[1])
        return left is not None and COMPARE[op](left, right)
    raise ValueError(f"unsupported CQL2 operator {expr['op']!r}")


def _query(item: dict[str, Any], query: dict[str, dict[str, Any]]) -> bool:
    for name, tests in query.items():
        value = item["properties"].get(name)
        if value is None or not all(COMPARE[op](value, ref) for op, ref in tests.items()):
            return False
    return True


def search(catalogue: Catalogue, params: dict[str, Any], collections: list[str] | None = None) -> list[dict[str, Any]]:
    """The items ``params`` (a search body: bbox, intersects, datetime, collections, ids, query,
    filter, sortby) select, sorted (by datetime, then id, unless ``sortby`` says otherwise)."""
    names = collections or params.get("collections") or list(catalogue.items)
    unknown = [n for n in names if n not in catalogue.collections]
    if unknown:
        raise LookupError(f"unknown collection(s) {unknown}")
    found = [i for n in names for i in catalogue.items[n]]
    if params.get("ids"):
        found = [i for i in found if i["id"] in params["ids"]]
    box = params.get("bbox")
    if params.get("intersects"):
        box = _bounds(params["intersects"])
    if box:
        box = tuple(float(v) for v in box)
        if len(box) == 6:
            box = (box[0], box[1], box[3], box[4])
        found = [i for i in found if _intersects(tuple(i["bbox"]), box)]
    if params.get("datetime"):
        start, end = _datetime_range(params["datetime"])
        found = [i for i in found
                 if (start is None or _item_time(i) >= start) and (end is None or _item_time(i) <= end)]
    if params.get("query"):
        found = [i for i in found if _query(i, params["query"])]
    if params.get("filter"):
        found = [i for i in found if _cql2(i, params["filter"])]
    found.sort(key=lambda i: (_item_time(i), i["id"]))
    for key in reversed(params.get("sortby") or []):
        if key["field"].removeprefix("properties.") != "datetime":
            raise ValueError(f"sortby supports datetime only, not {key['field']!r}")
        found.sort(key=_item_time, reverse=key.get("direction", "asc") == "desc")
    return found


def _get_params(query: dict[str, list[str]]) -> dict[str, Any]:
    """A GET search's query string as a search body."""
    one = {k: v[-1] for k, v in query.items()}
    params: dict[str, Any] = {}
    if "bbox" in one:
        params["bbox"] = [float(v) for v in one["bbox"].split(",")]
    if "intersects" in one:
        params["intersects"] = json.loads(one["intersects"])
    for key in ("collections", "ids"):
        if key in one:
            params[key] = one[key].split(",")
    if "datetime" in one:
        params["datetime"] = one["datetime"]
    if "query" in one:
        params["query"] = json.loads(one["query"])
    if "filter" in one:
        if one.get("filter-lang", "cql2-json") != "cql2-json":
            raise ValueError(f"filter-lang {one['filter-lang']!r} is not supported here (cql2-json only)")
        params["filter"] = json.loads(one["filter"])
    if "sortby" in one:
        params["sortby"] = [{"field": f.lstrip("+-"), "direction": "desc" if f.startswith("-") else "asc"}
                            for f in one["sortby"].split(",")]
    for key in ("limit", "token"):
        if key in one:
            params[key] = one[key]
    return params


# -- the handler ------------------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    stac: StacServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the server's own log keeps what the tests read

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None,
              path: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
            if path is not None:
                self.stac._sent(path, len(body))
        self.stac.log.append((self.command, self.path, status))

    def _json(self, status: int, doc: Any, content_type: str = "application/json") -> None:
        self._send(status, json.dumps(doc).encode(), content_type)

    def _error(self, status: int, text: str) -> None:
        self._json(status, {"code": HTTPStatus(status).phrase, "description": text})

    def do_HEAD(self) -> None:
        self._route()

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def _route(self) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        body = self._body() if self.command == "POST" else b""
        if not self.stac._count(path):
            self._drop()
            return
        try:
            if path.startswith(DATA_PREFIX):
                self._file(path, parts.query)
            elif path.startswith(SAS_PREFIX):
                self._token(path.removeprefix(SAS_PREFIX))
            else:
                self._api(path.rstrip("/") or "/", parse_qs(parts.query), body)
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
            self._error(400, f"{type(e).__name__}: {e}")
        except LookupError as e:
            self._error(404, str(e))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # the API

    def _links(self) -> list[dict[str, Any]]:
        root = self.stac.url
        return [
            {"rel": "self", "type": "application/json", "href": f"{root}/"},
            {"rel": "root", "type": "application/json", "href": f"{root}/"},
            {"rel": "conformance", "type": "application/json", "href": f"{root}/conformance"},
            {"rel": "data", "type": "application/json", "href": f"{root}/collections"},
            {"rel": "search", "type": GEOJSON, "method": "GET", "href": f"{root}/search"},
            {"rel": "search", "type": GEOJSON, "method": "POST", "href": f"{root}/search"},
            *({"rel": "child", "type": "application/json", "href": f"{root}/collections/{c}"}
              for c in self.stac.catalogue.collections),
        ]

    def _collection(self, cid: str) -> dict[str, Any]:
        root = self.stac.url
        doc = dict(self.stac.catalogue.collections[cid])
        doc["links"] = [
            {"rel": "self", "type": "application/json", "href": f"{root}/collections/{cid}"},
            {"rel": "root", "type": "application/json", "href": f"{root}/"},
            {"rel": "parent", "type": "application/json", "href": f"{root}/"},
            {"rel": "items", "type": GEOJSON, "href": f"{root}/collections/{cid}/items"},
        ]
        return doc

    def _api(self, path: str, query: dict[str, list[str]], body: bytes) -> None:
        catalogue = self.stac.catalogue
        if path == "/":
            self._json(200, {"type": "Catalog", "id": "loopback-stac", "stac_version": "1.0.0",
                             "description": "EuroMine's loopback STAC API for tests",
                             "conformsTo": CONFORMANCE, "links": self._links()})
        elif path == "/conformance":
            self._json(200, {"conformsTo": CONFORMANCE})
        elif path == "/collections":
            self._json(200, {"collections": [self._collection(c) for c in catalogue.collections],
                             "links": [{"rel": "self", "href": f"{self.stac.url}/collections"},
                                       {"rel": "root", "href": f"{self.stac.url}/"}]})
        elif (m := re.fullmatch(r"/collections/([^/]+)", path)) and m[1] in catalogue.collections:
            self._json(200, self._collection(m[1]))
        elif (m := re.fullmatch(r"/collections/([^/]+)/items/([^/]+)", path)) and m[1] in catalogue.collections:
            item = next((i for i in catalogue.items[m[1]] if i["id"] == m[2]), None)
            if item is None:
                raise LookupError(f"no item {m[2]!r} in {m[1]!r}")
            self._json(200, self._item(item), GEOJSON)
        elif (m := re.fullmatch(r"/collections/([^/]+)/items", path)) and m[1] in catalogue.collections:
            self._page(f"{self.stac.url}/collections/{m[1]}/items", _get_params(query), "GET", [m[1]])
        elif path == "/search" and self.command == "POST":
            self._page(f"{self.stac.url}/search", json.loads(body or b"{}"), "POST")
        elif path == "/search":
            self._page(f"{self.stac.url}/search", _get_params(query), "GET")
        else:
            raise LookupError(f"no such path {path}")

    def _item(self, item: dict[str, Any]) -> dict[str, Any]:
        root = self.stac.url
        doc = json.loads(json.dumps(item))
        for asset in doc["assets"].values():
            if asset["href"].startswith("/"):
                asset["href"] = root + asset["href"]
        doc["links"] = [
            {"rel": "self", "type": GEOJSON, "href": f"{root}/collections/{item['collection']}/items/{item['id']}"},
            {"rel": "parent", "type": "application/json", "href": f"{root}/collections/{item['collection']}"},
            {"rel": "collection", "type": "application/json", "href": f"{root}/collections/{item['collection']}"},
            {"rel": "root", "type": "application/json", "href": f"{root}/"},
        ]
        return doc

    def _page(self, href: str, params: dict[str, Any], method: str, collections: list[str] | None = None) -> None:
        token = int(params.get("token") or 0)
        fault = self.stac._search_fault(token)
        if fault is not None:
            headers = {"Retry-After": "1"} if fault == 429 else {}
            self._send(fault, json.dumps({"code": HTTPStatus(fault).phrase,
                                          "description": "injected fault"}).encode(), "application/json", headers)
            return
        limit = min(int(params.get("limit") or DEFAULT_LIMIT), self.stac.page_cap)
        found = search(self.stac.catalogue, params, collections)
        page = found[token:token + limit]
        links: list[dict[str, Any]] = [{"rel": "root", "type": "application/json", "href": f"{self.stac.url}/"}]
        if token + limit < len(found):
            following = token + limit
            if method == "POST":
                links.append({"rel": "next", "type": GEOJSON, "method": "POST", "href": href,
                              "body": {**params, "token": str(following)}, "merge": False})
            else:
                query = "&".join(f"{k}={v}" for k, v in self._query_of(params, following).items())
                links.append({"rel": "next", "type": GEOJSON, "method": "GET", "href": f"{href}?{query}"})
        self._json(200, {"type": "FeatureCollection", "features": [self._item(i) for i in page],
                         "numberMatched": len(found), "numberReturned": len(page), "links": links}, GEOJSON)

    @staticmethod
    def _query_of(params: dict[str, Any], token: int) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in params.items():
            if key == "token":
                continue
            if key in ("bbox", "collections", "ids"):
                out[key] = ",".join(map(str, value))
            elif key in ("intersects", "query", "filter"):
                out[key] = quote(json.dumps(value))
            elif key == "sortby":
                out[key] = ",".join(("-" if s.get("direction") == "desc" else "") + s["field"] for s in value)
            else:
                out[key] = quote(str(value))
        out["token"] = str(token)
        return out

    # Planetary Computer's SAS tokens

    def _token(self, collection: str) -> None:
        if collection not in self.stac.catalogue.signed:
            raise LookupError(f"no SAS token for {collection!r}")
        expiry = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._json(200, {"msft:expiry": expiry, "token": self.stac.catalogue.sas_token})

    # static files with range requests

    def _file(self, path: str, query: str) -> None:
        catalogue = self.stac.catalogue
        file = catalogue.data_root / path.removeprefix(DATA_PREFIX)
        if ".." in Path(path).parts or not file.is_file():
            raise LookupError(f"no file {path}")
        if path in catalogue.signed_paths and query != catalogue.sas_token:
            body = (b'<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code>'
                    b"<Message>Server failed to authenticate the request.</Message></Error>")
            self._send(403, body, "application/xml")
            return
        size = file.stat().st_size
        stamp = {"Accept-Ranges": "bytes", "Last-Modified": formatdate(file.stat().st_mtime, usegmt=True),
                 "ETag": f'"{size:x}-{int(file.stat().st_mtime):x}"'}
        if self.command == "HEAD":
            self._head(size, stamp)
            return
        ranges = self.headers.get("Range")
        if not ranges:
            self._send(200, file.read_bytes(), "image/tiff", stamp, path)
            return
        spans = self._spans(ranges, size)
        if spans is None:
            self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{size}"})
            return
        seconds = self.stac._hang_fault(path)
        if seconds is not None:
            self.stac._released.wait(seconds)
            self._drop()
            return
        self.stac.ranges.extend((path, start, end) for start, end in spans)
        with open(file, "rb") as f:
            parts = []
            for start, end in spans:
                f.seek(start)
                parts.append((start, end, f.read(end - start + 1)))
        if len(parts) == 1:
            start, end, data = parts[0]
            self._send(206, data, "image/tiff", {**stamp, "Content-Range": f"bytes {start}-{end}/{size}"}, path)
            return
        boundary = "loopbackbyteranges"
        body = b"".join(
            f"--{boundary}\r\nContent-Type: image/tiff\r\nContent-Range: bytes {s}-{e}/{size}\r\n\r\n".encode()
            + data + b"\r\n" for s, e, data in parts) + f"--{boundary}--\r\n".encode()
        self._send(206, body, f"multipart/byteranges; boundary={boundary}", stamp, path)

    def _head(self, size: int, stamp: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/tiff")
        self.send_header("Content-Length", str(size))
        for k, v in stamp.items():
            self.send_header(k, v)
        self.end_headers()
        self.stac.log.append((self.command, self.path, 200))

    @staticmethod
    def _spans(header: str, size: int) -> list[tuple[int, int]] | None:
        if not header.startswith("bytes="):
            return None
        spans = []
        for part in header.removeprefix("bytes=").split(","):
            m = RANGE.fullmatch(part.strip())
            if not m or (m[1] == "" and m[2] == ""):
                return None
            if m[1] == "":  # the last N bytes
                start, end = max(size - int(m[2]), 0), size - 1
            else:
                start, end = int(m[1]), min(int(m[2]) if m[2] else size - 1, size - 1)
            if start >= size or start > end:
                return None
            spans.append((start, end))
        return spans
