"""BANDS, MEAN and STD as a user types them (comma-separated text) made into the
NormalizationOverride a Model takes: the one reading the algorithms and the command share."""
from __future__ import annotations

from ..errors import InputError
from .contract import NormalizationOverride


def _numbers(text: str, name: str) -> tuple[float, ...] | None:
    """Comma- (or semicolon-) separated numbers; None for empty text."""
    if not text.strip():
        return None
    try:
        return tuple(float(v) for v in text.replace(";", ",").split(","))
    except ValueError as exc:
        raise InputError(f"{name} '{text}': expected comma-separated numbers") from exc


def parse_override(bands: str, mean: str, std: str) -> NormalizationOverride:
    """The override of a model's band names and normalization from BANDS, MEAN and STD (each empty
    for the model's own); InputError names a parameter that holds something other than numbers."""
    return NormalizationOverride(bands=tuple(b.strip() for b in bands.split(",") if b.strip()) or None,
                                 mean=_numbers(mean, "MEAN"), std=_numbers(std, "STD"))
