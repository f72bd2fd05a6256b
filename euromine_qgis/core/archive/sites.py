"""The sites of a composites run, each a name and a lon/lat box: from ``--bbox`` with ``--site-name``,
from the outlines of a polygon layer (QGIS) or of a GeoJSON file (``--sites``) with a name field."""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyproj import Transformer
from pyproj.exceptions import CRSError

from ..batch.site_sources import safe_site_name
from ..errors import InputError
from .grid import BOUNDS_DENSITY, WGS84

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Site:
    """One site: its folder name, its lon/lat (WGS 84) box west, south, east, north, and where it was
    given in another CRS, that CRS and the box in it (the grid keeps it when it is the output CRS)."""

    name: str
    bbox: Box
    native: tuple[str, Box] | None = None


def parse_bbox(text: str) -> Box:
    """``W,S,E,N`` in degrees of longitude and latitude; InputError naming the problem."""
    parts = [p.strip() for p in text.split(",")]
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError as exc:
        raise InputError(f"BBOX '{text}': write four numbers W,S,E,N in degrees (e.g. 13.30,52.40,13.35,52.43)") \
            from exc
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InputError(f"BBOX '{text}': needs west < east within ±180 and south < north within ±90 (degrees)")
    return west, south, east, north


def _points(coordinates: Any) -> Iterator[tuple[float, float]]:
    if isinstance(coordinates, (list, tuple)) and coordinates and isinstance(coordinates[0], (int, float)):
        yield float(coordinates[0]), float(coordinates[1])
        return
    for part in coordinates or ():
        yield from _points(part)


def _boxes(shapes: Sequence[tuple[object, Mapping[str, Any] | None]],
           crs: str) -> list[tuple[object, Box, Box]]:
    """(name, lon/lat box, box in ``crs``) of each outline with a geometry, given in ``crs``."""
    try:
        to_wgs84 = Transformer.from_crs(crs, WGS84, always_xy=True)
    except CRSError as exc:
        raise InputError(f"site outlines: unknown CRS {crs!r} ({exc})") from exc
    boxes = []
    for name, geometry in shapes:
        points = list(_points((geometry or {}).get("coordinates")))
        if points:
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            box = (min(xs), min(ys), max(xs), max(ys))
            west, south, east, north = to_wgs84.transform_bounds(*box, densify_pts=BOUNDS_DENSITY)
            boxes.append((name, (float(west), float(south), float(east), float(north)), box))
    if not boxes:
        raise InputError("site outlines: no outline has a geometry")
    return boxes


def outline_sites(shapes: Sequence[tuple[object, Mapping[str, Any] | None]], crs: str) -> list[Site]:
    """A site per (name, GeoJSON geometry in ``crs``): its name made safe for a folder, the lon/lat
    box of its outline. Empty geometries are skipped; names must stay distinct."""
    sites: dict[str, Site] = {}
    for name, box, native in _boxes(shapes, crs):
        safe = safe_site_name(name)
        if safe in sites:
            raise InputError(f"site outlines: two outlines are named {safe!r}; give each site its own name")
        sites[safe] = Site(safe, box, (crs, native))
    return list(sites.values())


def extent_site(name: str, shapes: Sequence[tuple[object, Mapping[str, Any] | None]], crs: str) -> Site:
    """One site named ``name`` covering every shape (an extent's rectangle) given in ``crs``."""
    boxes = _boxes(shapes, crs)
    return Site(safe_site_name(name), _union([b for _, b, _ in boxes]), (crs, _union([n for _, _, n in boxes])))


def _union(boxes: Sequence[Box]) -> Box:
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


def geojson_sites(path: Path, name_field: str) -> list[Site]:
    """The sites of a GeoJSON file of polygons, named by ``name_field`` (CRS: the file's ``crs``
    member where it has one, else WGS 84 as RFC 7946 says)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read the sites as GeoJSON ({exc})") from exc
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise InputError(f"{path}: not a GeoJSON FeatureCollection")
    if not name_field:
        raise InputError(f"{path}: give NAME_FIELD, the property that names the sites")
    shapes: list[tuple[object, Mapping[str, Any] | None]] = []
    for feature in features:
        properties = feature.get("properties") or {}
        if name_field not in properties:
            raise InputError(f"{path}: a feature has no property {name_field!r} (it has: {', '.join(properties)})")
        shapes.append((properties[name_field], feature.get("geometry")))
    crs = ((data.get("crs") or {}).get("properties") or {}).get("name") or WGS84
    return outline_sites(shapes, crs)
