"""The architecture registry: every model family the export tools can build, train and export.

Architectures are written here in plain PyTorch. segmentation-models-pytorch and timm (the
libraries we would otherwise build encoders and decoders from) both import torchvision, and
torchvision has no CPU build for torch 2.13: its PyPI wheels link libtorch_cuda and fail to
import beside the CPU torch the project installs. So the families are hand-written from their
papers, small and readable, sharing the blocks in ``blocks.py``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from euromine_qgis.core.engine.contract import TASKS


@dataclass(frozen=True)
class Architecture:
    """One registered model family.

    ``builder(in_channels, num_classes, width)`` returns the module; ``width`` scales every
    channel count (the bundled models use the default, tests use a small one). Footprint models
    map (N, C, H, W) -> (N, K, H, W); change models take ``(before, after)``, each
    (N, C, H, W), -> (N, K, H, W); series models map (N, T, C, H, W) -> (N, T, K, H, W).
    H and W must be multiples of ``multiple``.
    """

    name: str
    task: str
    title: str
    reference: str
    builder: Callable[..., nn.Module]
    width: int
    multiple: int = 32

    def build(self, in_channels: int = 10, num_classes: int = 2, width: int | None = None) -> nn.Module:
        """A freshly initialised module (seed torch first for reproducible weights)."""
        return self.builder(in_channels=in_channels, num_classes=num_classes, width=width or self.width)


ARCHITECTURES: dict[str, Architecture] = {}


def register(
    name: str, task: str, title: str, reference: str, width: int = 32, multiple: int = 32
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator that registers a builder under ``name``."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got '{task}'")

    def add(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in ARCHITECTURES:
            raise ValueError(f"architecture '{name}' is registered twice")
        ARCHITECTURES[name] = Architecture(name, task, title, reference, builder, width, multiple)
        return builder

    return add


def get(name: str) -> Architecture:
    """The registered architecture ``name``; KeyError listing the known names otherwise."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise KeyError(f"unknown architecture '{name}'; known: {', '.join(sorted(ARCHITECTURES))}") from None
