"""Pairs of years for change evaluation: parsing the PAIRS text against the selected years."""
from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations, pairwise

from .errors import YearsError
from .years import list_items, year_span

KEYWORDS = ("consecutive", "all", "first-last")


def parse_pairs(text: str | None, years: Sequence[int]) -> list[tuple[int, int]]:
    """The (a, b) year pairs, a < b, that PAIRS asks for among the selected ``years``.

    ``consecutive`` (each selected year with the next), ``all`` (every a < b, the benchmark's
    45 pairs for ten years), ``first-last``, or explicit pairs ``2016-2019, 2015-2024``.
    An empty text means no change evaluation. Every year of an explicit pair must be selected.
    """
    if text is None or not str(text).strip():
        return []
    years = sorted(years)
    keyword = str(text).strip().lower()
    if keyword == "consecutive":
        return list(pairwise(years))
    if keyword == "all":
        return list(combinations(years, 2))
    if keyword == "first-last":
        return [(years[0], years[-1])] if len(years) > 1 else []
    pairs: set[tuple[int, int]] = set()
    for part in list_items(text):
        span = year_span(part)
        if span is None:
            raise YearsError(
                f"PAIRS '{text}': cannot read '{part}'; use {', '.join(KEYWORDS)} "
                "or pairs such as 2016-2019, 2015-2024"
            )
        a, b = span
        if a >= b:
            raise YearsError(f"PAIRS '{text}': pair {part} must run from an earlier to a later year")
        missing = [y for y in (a, b) if y not in years]
        if missing:
            raise YearsError(
                f"PAIRS '{text}': year(s) {', '.join(map(str, missing))} of pair {part} are not among "
                f"the evaluated years ({', '.join(map(str, years))})"
            )
        pairs.add((a, b))
    return sorted(pairs)
