"""The EuroMineNet folder layout, declared once: ``{Site}/image/Year{YYYY}.tif`` (10-band
images) and ``{Site}/label/Year{YYYY}.tif`` (masks), for the release, generated sites, many-site
runs and training alike."""
from __future__ import annotations

from pathlib import Path

from ..years import year_from_name

IMAGE_FOLDER = "image"
LABEL_FOLDER = "label"
FILE_NAME = "Year{year}.tif"
FILE_GLOB = FILE_NAME.format(year="*")
IMAGE_PATTERN = f"{IMAGE_FOLDER}/" + FILE_NAME.format(year="{YYYY}")  # a site's images, in words


def file_name(year: int) -> str:
    """The file name of a year's image or label."""
    return FILE_NAME.format(year=year)


def image_path(site: Path, year: int) -> Path:
    """Where a site folder keeps the image of ``year``."""
    return Path(site) / IMAGE_FOLDER / file_name(year)


def label_path(site: Path, year: int) -> Path:
    """Where a site folder keeps the label of ``year``."""
    return Path(site) / LABEL_FOLDER / file_name(year)


def image_files(site: Path) -> list[Path]:
    """A site folder's annual image files, sorted by name."""
    return sorted((Path(site) / IMAGE_FOLDER).glob(FILE_GLOB))


def label_files(site: Path) -> list[Path]:
    """A site folder's annual label files, sorted by name."""
    return sorted((Path(site) / LABEL_FOLDER).glob(FILE_GLOB))


def years_of(files: list[Path]) -> set[int]:
    """The years named by ``files`` (names without exactly one year are left out)."""
    return {y for y in (year_from_name(p.name) for p in files) if y is not None}


def site_folders(folder: Path) -> dict[str, Path]:
    """Site name -> folder of every folder under ``folder`` that holds at least one annual image."""
    return {p.name: p for p in sorted(Path(folder).iterdir()) if p.is_dir() and image_files(p)}
