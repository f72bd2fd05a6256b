"""Years of annual images: parsing the YEARS text (its list items and YYYY-YYYY spans, shared with
PAIRS) and finding the year in a file name."""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from .errors import YearsError

# A plausible acquisition year standing alone (not part of a longer number): 1980–2099.
_YEAR_IN_NAME = re.compile(r"(?<!\d)(19[89]\d|20\d\d)(?!\d)")
_SPAN = re.compile(r"^(\d{4})\s*-\s*(\d{4})$")


def list_items(text: str) -> list[str]:
    """The items of a comma- or semicolon-separated text (YEARS, PAIRS), stripped, blanks left out."""
    return [part.strip() for part in str(text).replace(";", ",").split(",") if part.strip()]


def year_span(item: str) -> tuple[int, int] | None:
    """The two years of an item written ``YYYY-YYYY`` (a range of years, a pair), else None."""
    match = _SPAN.match(item)
    return (int(match.group(1)), int(match.group(2))) if match else None


def parse_years(text: str | None) -> list[int] | None:
    """Parse a YEARS expression such as ``"2015-2024"``, ``"2016,2019"`` or ``"2015-2017, 2020"``.

    Returns the sorted distinct years, or None for an empty text (meaning: every year found).
    """
    if text is None or not str(text).strip():
        return None
    years: set[int] = set()
    for part in list_items(text):
        span = year_span(part)
        if span:
            first, last = span
            if first > last:
                raise YearsError(f"YEARS '{text}': range {part} runs backwards; write {last}-{first}")
            years.update(range(first, last + 1))
        elif re.fullmatch(r"\d{4}", part):
            years.add(int(part))
        else:
            raise YearsError(
                f"YEARS '{text}': cannot read '{part}'; use a year (2019), a range (2015-2024) "
                "or a comma-separated list of them"
            )
    return sorted(years)


def year_from_name(path: str | Path) -> int | None:
    """The acquisition year written in a file or layer name (``Year2016.tif`` -> 2016).

    Returns None when the name holds no year or several different ones.
    """
    found = {int(m) for m in _YEAR_IN_NAME.findall(Path(str(path)).stem)}
    return found.pop() if len(found) == 1 else None


def match_years(
    paths: Sequence[str | Path],
    wanted: Sequence[int] | None,
    names: Sequence[str] | None = None,
) -> list[tuple[int, Path]]:
    """Pair each input file with its year and keep the wanted years, sorted by year.

    The year comes from the file name, else from ``names[i]`` (a layer name, say). Every input
    must carry exactly one year and no year may appear twice; every wanted year must be present.
    ``wanted=None`` keeps every year found.
    """
    by_year: dict[int, Path] = {}
    for i, raw in enumerate(paths):
        path = Path(str(raw))
        year = year_from_name(path)
        if year is None and names is not None:
            year = year_from_name(names[i])
        if year is None:
            raise YearsError(
                f"{path}: no single year (1980–2099) in the file or layer name; name annual "
                "images like Year2019.tif or site_2019.tif"
            )
        if year in by_year:
            raise YearsError(f"year {year} appears twice: {by_year[year]} and {path}")
        by_year[year] = path
    if not by_year:
        raise YearsError("no input images were given")
    if wanted is None:
        return sorted(by_year.items())
    missing = [y for y in wanted if y not in by_year]
    if missing:
        have = ", ".join(str(y) for y in sorted(by_year))
        raise YearsError(
            f"no image for year(s) {', '.join(map(str, missing))}; the inputs hold {have}"
        )
    return [(y, by_year[y]) for y in wanted]
