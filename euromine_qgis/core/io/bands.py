"""Which bands of an input image feed a model's bands, in the model's order.

Three ways, the first that applies:

1. An explicit mapping (INPUT_BANDS): one item per model band, in the model's order, each a 1-based
   band number of the image (``3``) or a band description of the image (``B04``; matched as in 3).
   Example for a 10-band model and a 13-band L2A stack: ``2,3,4,5,6,7,8,9,12,13``.
2. An image with exactly the model's band count whose band descriptions name no Sentinel-2 band
   (the EuroMineNet release names none): its bands in order.
3. Otherwise the image's band descriptions name the model's bands. Names are compared exactly
   (ignoring case), then as
   Sentinel-2 band names: case, zero padding and one underscore-joined prefix are ignored, so
   ``B2``, ``b02``, ``SR_B2`` and ``B02`` name the same band, as do ``B8A`` and ``B08A``. A name
   two of the image's bands share is ambiguous and matches neither. Where they do not all match
   but the image has the model's band count and some model band is no Sentinel-2 name (BANDS such
   as ``SWIR2``), names cannot decide, and the bands are taken in order as in 2.

An image that cannot be matched is refused with the bands it holds and the bands the model needs.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .raster import ImageInfo, inspect_image, open_input

BandItem = int | str  # a 1-based band number or a band description
# B1..B12 and B8A, zero-padded or not, after at most one prefix such as SR_ or TOA_
_SENTINEL2 = re.compile(r"^(?:[A-Z0-9]+_)?B0*(\d{1,2})(A?)$")


@dataclass(frozen=True)
class BandedImage(ImageInfo):
    """An input image's header and the 1-based bands that feed the model, in the model's order."""

    indexes: tuple[int, ...] = ()
    how: str = ""  # how the bands were chosen, for the log


def parse_input_bands(text: str | None) -> tuple[BandItem, ...] | None:
    """The INPUT_BANDS text (comma- or semicolon-separated band numbers or names) as items; None when empty."""
    items = [item.strip() for item in (text or "").replace(";", ",").split(",")]
    if not any(items):
        return None
    if not all(items):
        raise InputError(f"INPUT_BANDS '{text}': an item is empty; give one band number or name per model band")
    return tuple(int(item) if item.isdigit() else item for item in items)


def sentinel2_name(name: str | None) -> str | None:
    """The canonical Sentinel-2 name (``B2``, ``B8A``, ``B11``) of a band name, or None when it names none."""
    match = _SENTINEL2.match((name or "").strip().upper())
    if match is None or not 1 <= int(match.group(1)) <= 12 or (match.group(2) and int(match.group(1)) != 8):
        return None
    return f"B{int(match.group(1))}{match.group(2)}"


def _describe(descriptions: Sequence[str | None]) -> str:
    return ", ".join(f"{i} {d}" if d else f"{i} (unnamed)" for i, d in enumerate(descriptions, start=1))


def _by_name(descriptions: Sequence[str | None], name: str) -> tuple[int | None, str]:
    """The 1-based band whose description is ``name`` (exactly, else as a Sentinel-2 name), or None and why not."""
    exact = [i for i, d in enumerate(descriptions, start=1) if d and d.strip().upper() == name.strip().upper()]
    if len(exact) == 1:
        return exact[0], ""
    canonical = sentinel2_name(name)
    found = [i for i, d in enumerate(descriptions, start=1) if canonical and sentinel2_name(d) == canonical]
    if len(exact) > 1 or len(found) > 1:
        return None, f"{name} is ambiguous (bands {', '.join(map(str, exact if len(exact) > 1 else found))})"
    if found:
        return found[0], ""
    return None, f"no band is named {name}"


def select_bands(source: str | Path, descriptions: Sequence[str | None], model_bands: Sequence[str],
                 input_bands: Sequence[BandItem] | None = None, model: str = "") -> tuple[tuple[int, ...], str]:
    """The 1-based bands of an image with band ``descriptions`` that feed ``model_bands`` (of the
    model named ``model``), in the model's order, and how they were chosen (see the module
    docstring); InputError naming ``source``, the bands found and the bands needed when they cannot
    be told."""
    needed = len(model_bands)

    def refuse(problem: str) -> InputError:
        return InputError(
            f"{source}: image has {len(descriptions)} band(s) but model '{model}' expects {needed} "
            f"({', '.join(model_bands)}), and {problem}. The image's bands: {_describe(descriptions)}. "
            "Give INPUT_BANDS: one band number or name per model band, in the model's order")

    if input_bands:
        if len(input_bands) != needed:
            raise refuse(f"INPUT_BANDS gives {len(input_bands)} band(s) for the model's {needed}")
        indexes = []
        for item in input_bands:
            if isinstance(item, int):
                if not 1 <= item <= len(descriptions):
                    raise refuse(f"INPUT_BANDS names band {item}, which the image does not have")
                indexes.append(item)
                continue
            index, why = _by_name(descriptions, item)
            if index is None:
                raise refuse(f"INPUT_BANDS: {why}")
            indexes.append(index)
        return tuple(indexes), "INPUT_BANDS"
    if len(descriptions) == needed and not any(sentinel2_name(d) for d in descriptions):
        return tuple(range(1, needed + 1)), "in order (the bands are not named)"
    matched = [_by_name(descriptions, band) for band in model_bands]
    problems = [why for index, why in matched if index is None]
    unnamed = [band for band in model_bands if not sentinel2_name(band)]
    if problems and len(descriptions) == needed and unnamed:  # names cannot decide: the model's are not Sentinel-2's
        return tuple(range(1, needed + 1)), f"in order (model bands {', '.join(unnamed)} are not Sentinel-2 names)"
    if problems:
        if not any(descriptions):
            raise refuse("its bands are unnamed, so the model's bands cannot be picked by name")
        raise refuse("its band names do not give the model's bands (" + "; ".join(problems) + ")")
    return tuple(index for index, _ in matched if index is not None), "by name"


def banded_image(path: str | Path, model_bands: Sequence[str], input_bands: Sequence[BandItem] | None = None,
                 model: str = "") -> BandedImage:
    """inspect_image of ``path`` with the bands that feed ``model_bands`` of ``model`` (see select_bands)."""
    info = inspect_image(path)
    with open_input(Path(path)) as src:
        descriptions = list(src.descriptions)
    indexes, how = select_bands(path, descriptions, model_bands, input_bands, model)
    return BandedImage(**vars(info), indexes=indexes, how=how)
