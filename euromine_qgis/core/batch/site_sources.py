"""The sites of a many-site run: folders in the EuroMineNet layout or polygons over annual
mosaics, selected by name or by a split of the release."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, YearsError
from ..io.layout import IMAGE_PATTERN, image_files, label_files, site_folders
from ..progress import Reporter
from ..release import EXCLUDED, SPLITS
from ..years import match_years

_UNSAFE = re.compile(r"[^\w.-]+")


@dataclass(frozen=True)
class PolygonClip:
    """A site outline to cut from every year's mosaic: a GeoJSON geometry in CRS ``crs``
    (an authority code such as ``EPSG:4326``, or WKT)."""

    geometry: Mapping[str, Any]
    crs: str
    mosaics: Mapping[int, Path]


@dataclass(frozen=True)
class SiteSource:
    """One site to map: its annual images (or the clip that makes them) and any labels."""

    name: str
    images: Mapping[int, Path] = field(default_factory=dict)
    labels: Mapping[int, Path] = field(default_factory=dict)
    clip: PolygonClip | None = None

    @property
    def years(self) -> list[int]:
        return sorted(self.clip.mosaics if self.clip else self.images)

    def signature(self) -> dict[str, Any]:
        """What the outputs were made from: every input file with its size and modification
        time (and the outline), so a resumed run notices changed inputs."""
        files = {**{f"image {y}": p for y, p in self.images.items()},
                 **{f"label {y}": p for y, p in self.labels.items()}}
        if self.clip:
            files.update({f"mosaic {y}": p for y, p in self.clip.mosaics.items()})
        signature: dict[str, Any] = {"files": {key: _file_signature(path) for key, path in sorted(files.items())}}
        if self.clip:
            signature["outline"] = {"geometry": self.clip.geometry, "crs": self.clip.crs}
        return signature


def _file_signature(path: Path) -> list[object]:
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def split_of(name: str) -> str:
    """The release split a site belongs to (train, val, test, excluded), or '' for another site."""
    if name in EXCLUDED:
        return "excluded"
    return next((split for split, names in SPLITS.items() if name in names), "")


def discover_sites(folder: Path) -> dict[str, Path]:
    """Site name -> folder of the sites under ``folder`` in the EuroMineNet layout (io.layout)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: sites folder does not exist")
    sites = site_folders(folder)
    if not sites:
        raise InputError(f"{folder}: no site folders with {IMAGE_PATTERN} (EuroMineNet layout) in it")
    return sites


def select_sites(available: Sequence[str], selection: str | None) -> tuple[list[str], list[str]]:
    """The sites a SITES text picks among ``available``, and the split members not available.

    ``all`` (or empty): every available site; ``train``, ``val`` or ``test``: the release's split
    (members missing from ``available`` are returned second); otherwise site names separated by
    commas, semicolons or spaces, each of which must be available.
    """
    text = (selection or "").strip()
    if not text or text.lower() == "all":
        return sorted(available), []
    if text.lower() in SPLITS:
        members = SPLITS[text.lower()]
        chosen = [s for s in members if s in available]
        if not chosen:
            raise InputError(f"SITES '{text}': none of the {len(members)} sites of the release's {text.lower()} "
                             f"split is among the {len(available)} sites given")
        return sorted(chosen), [s for s in members if s not in available]
    names = list(dict.fromkeys(n for n in re.split(r"[,;\s]+", text) if n))
    unknown = [n for n in names if n not in available]
    if unknown:
        shown = ", ".join(sorted(available)[:20]) + (" …" if len(available) > 20 else "")
        raise InputError(f"SITES: no site named {', '.join(unknown)} (sites found: {shown})")
    return names, []


def folder_site(folder: Path, years: Sequence[int] | None) -> SiteSource:
    """A EuroMineNet site folder: its images of ``years`` (None: every year found) and the labels
    of those years that exist."""
    folder = Path(folder)
    try:
        images = dict(match_years(image_files(folder), years))
    except YearsError as exc:
        raise YearsError(f"site {folder.name} ({folder}): {exc}") from exc
    labelled = label_files(folder)
    labels = dict(match_years(labelled, None)) if labelled else {}
    return SiteSource(folder.name, images, {y: p for y, p in labels.items() if y in images})


def safe_site_name(value: object) -> str:
    """A site name usable as a folder name: runs of other characters than letters, digits,
    ``_``, ``.`` and ``-`` become ``_``; empty names are refused."""
    name = _UNSAFE.sub("_", str(value if value is not None else "")).strip("._")
    if not name:
        raise InputError(f"site name {value!r} is empty once made safe for a folder name")
    return name


def polygon_sites(outlines: Sequence[tuple[object, Mapping[str, Any]]], crs: str,
                  mosaics: Sequence[Path], years: Sequence[int] | None) -> list[SiteSource]:
    """Sites from (name, GeoJSON geometry) outlines in ``crs`` over annual ``mosaics`` (year in
    each file name). Names must stay distinct once made safe for folder names."""
    dated = dict(match_years(mosaics, years))
    sites: dict[str, SiteSource] = {}
    for raw_name, geometry in outlines:
        name = safe_site_name(raw_name)
        if name in sites:
            raise InputError(f"two site outlines are named '{name}'; give every outline its own name")
        if not geometry:
            raise InputError(f"site outline '{name}' has no geometry")
        sites[name] = SiteSource(name, clip=PolygonClip(dict(geometry), crs, dated))
    if not sites:
        raise InputError("the site outline layer has no features")
    return list(sites.values())


def sites_from_folder(folder: Path, selection: str | None, years: Sequence[int] | None,
                      reporter: Reporter = Reporter()) -> list[SiteSource]:
    """The sites of ``folder`` (EuroMineNet layout) that the SITES text ``selection`` picks (see
    select_sites), each with its images of ``years`` (None: every year found) and its labels.
    Members of a release split that the folder lacks are named in the log."""
    found = discover_sites(Path(folder))
    names, missing = select_sites(list(found), selection)
    if missing:
        reporter.info(f"{len(missing)} site(s) of split '{selection}' are not in {folder}: {', '.join(missing)}")
    return [folder_site(found[name], years) for name in names]


def sites_from_outlines(outlines: Sequence[tuple[object, Mapping[str, Any]]], crs: str, mosaics: Sequence[Path],
                        selection: str | None, years: Sequence[int] | None) -> list[SiteSource]:
    """The sites of the (name, GeoJSON geometry) ``outlines`` in ``crs`` over annual ``mosaics``
    (see polygon_sites) that the SITES text ``selection`` picks, in the order it names them."""
    sites = {site.name: site for site in polygon_sites(outlines, crs, mosaics, years)}
    names, _ = select_sites(list(sites), selection)
    return [sites[name] for name in names]
