"""Finding a year's scenes: a STAC API item search (pystac-client, every page) over the site's box,
the season's months and the scene cloud cover limit."""
from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pystac
import requests
from pystac_client import Client
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO

from ..errors import InputError, first_line
from .errors import SEARCH, ArchiveError
from .http import TIMEOUT_S, retry

PAGE_SIZE = 100


@dataclass(frozen=True)
class Scene:
    """One item of the search: its id, dates, cloud cover and the item JSON."""

    id: str
    datetime: str
    updated: str
    cloud_cover: float | None
    item: dict[str, Any]

    @property
    def month(self) -> int:
        return int(self.datetime[5:7])

    def record(self) -> dict[str, Any]:
        """What the manifest keeps of it: a changed item (a new ``updated``) makes its year again."""
        return {"id": self.id, "datetime": self.datetime, "updated": self.updated}


def parse_months(text: str) -> list[int]:
    """MONTHS: ``4-10``, ``6,7,8`` or ``11-2`` (across the new year: November, December, January,
    February of the same calendar year); InputError otherwise."""
    months: set[int] = set()
    try:
        for part in (p.strip() for p in str(text).split(",") if p.strip()):
            first, _, last = part.partition("-")
            start, stop = int(first), int(last or first)
            if not (1 <= start <= 12 and 1 <= stop <= 12):
                raise ValueError(part)
            months.update(range(start, stop + 1) if start <= stop else [*range(start, 13), *range(1, stop + 1)])
    except ValueError as exc:
        raise InputError(f"MONTHS '{text}': write months 1–12 as a range (4-10) or a list (6,7,8)") from exc
    if not months:
        raise InputError("MONTHS: give at least one month (e.g. 4-10)")
    return sorted(months)


def open_catalog(url: str) -> Client:
    """The STAC API at ``url``, its requests retried (core.archive.http)."""
    try:
        return Client.open(url, stac_io=StacApiIO(max_retries=retry(), timeout=TIMEOUT_S))
    except (APIError, requests.RequestException, pystac.STACError, ValueError) as exc:
        raise ArchiveError(url, SEARCH, f"cannot open the STAC API ({first_line(exc)})") from exc


def search_year(catalog: Client, url: str, collection: str, bbox: Sequence[float], year: int,
                months: Sequence[int], max_cloud: float) -> list[Scene]:
    """The items of ``collection`` over ``bbox`` acquired in ``months`` of ``year`` with a cloud cover
    of at most ``max_cloud`` %, every page read, sorted by date and id."""
    last_day = calendar.monthrange(year, max(months))[1]
    span = f"{year}-{min(months):02d}-01T00:00:00Z/{year}-{max(months):02d}-{last_day:02d}T23:59:59Z"
    try:
        found = catalog.search(collections=[collection], bbox=list(bbox), datetime=span, limit=PAGE_SIZE)
        items = list(found.items_as_dicts())
    except (APIError, requests.RequestException, pystac.STACError, NotImplementedError) as exc:
        raise ArchiveError(url, SEARCH, f"{collection} {year} ({first_line(exc)})") from exc
    scenes = []
    for item in items:
        properties = item.get("properties") or {}
        cloud = properties.get("eo:cloud_cover")
        scene = Scene(str(item["id"]), str(properties.get("datetime") or properties.get("start_datetime", "")),
                      str(properties.get("updated", "")), None if cloud is None else float(cloud), item)
        if scene.month in months and (scene.cloud_cover is None or scene.cloud_cover <= max_cloud):
            scenes.append(scene)
    return sorted(scenes, key=lambda s: (s.datetime, s.id))
