"""PyTorch modules in the engine's terms: one call of a module for every task, and the adapter
through which ``core.engine.inference.predict_rows`` runs a module exactly as it runs the
module's ONNX export (same tiles, overlap, blending, padding and valid pixels)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from euromine_qgis.core.engine.contract import TASK_TABLE, ModelInfo
from euromine_qgis.core.errors import ModelError, OutOfMemory, first_line


def run_module(module: nn.Module, task: str, image: torch.Tensor) -> torch.Tensor:
    """Logits of ``module`` for a batch laid out as ``export.data``'s samples: (N, C, H, W) for a
    footprint model, (N, 2, C, H, W) = (before, after) for a change model (one input each), and
    (N, T, C, H, W) for a series model."""
    if len(TASK_TABLE[task].inputs) > 1:
        return module(*image.unbind(1))
    return module(image)


class TorchTileModel:
    """A PyTorch module behind the engine's ``TileModel`` protocol, with the contract metadata
    its export will carry."""

    def __init__(self, module: nn.Module, info: ModelInfo, device: torch.device) -> None:
        self.module, self.info, self.device = module, info, device
        self.provider = f"PyTorch on {device}"

    def positive_probability(self, batch: np.ndarray) -> np.ndarray:
        """(N, H, W) positive-class probabilities of a normalized (N, C·images, H, W) batch, or
        (N, T, H, W) for a series model; OutOfMemory or ModelError as the TileModel protocol says."""
        x = torch.from_numpy(batch).to(self.device)
        if self.info.images_per_sample != 1:  # images stacked on the band axis -> (N, images, C, H, W)
            x = x.view(x.shape[0], -1, len(self.info.bands), *x.shape[2:])
        self.module.eval()
        try:
            with torch.no_grad():
                logits = run_module(self.module, self.info.task, x).float()
        except torch.cuda.OutOfMemoryError as exc:
            raise OutOfMemory(f"{self.info.name}: out of memory on {self.provider} with a batch of {len(batch)} tiles"
                              ) from exc
        except RuntimeError as exc:  # torch's error for an input the module cannot take (its shapes do not line up)
            raise ModelError(f"{self.info.name} on {self.provider} cannot run a batch of {batch.shape} "
                             f"({first_line(exc)})") from exc
        axis = self.info.spec.class_axis
        return torch.softmax(logits, dim=axis).select(axis, self.info.positive_class).cpu().numpy()
