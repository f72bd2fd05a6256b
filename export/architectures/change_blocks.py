"""Blocks the change architectures share beyond ``blocks.py`` and ``encoders.py``: both dates
through one shared encoder as one batch, a pre-norm transformer layer and channel attention."""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from export.architectures.encoders import Attention


def siamese(
    encoder: Callable[[torch.Tensor], list[torch.Tensor]], before: torch.Tensor, after: torch.Tensor
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Both dates' features from a shared-weight encoder, in one pass over the two stacked as
    one batch (half the graph of two calls; BatchNorm statistics in training span both dates)."""
    pairs = [halves(f) for f in encoder(torch.cat([before, after]))]
    return [a for a, _ in pairs], [b for _, b in pairs]


def halves(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two dates of a (2N, ...) batch stacked as [before, after]."""
    # Not chunk(): a split of a dynamic size trips onnxscript's constant folding.
    pair = x.unflatten(0, (2, -1))
    return pair[0], pair[1]


class TransformerLayer(nn.Module):
    """Pre-norm transformer layer: attention and an MLP, each with a residual connection.

    Without a context it is a self-attention encoder layer; with one, queries attend to the
    context after the same LayerNorm (the decoder layer of BIT, Chen et al. 2021).
    """

    def __init__(self, dim: int, heads: int, head_dim: int, mlp_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attention = Attention(dim, heads, head_dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        q = self.norm1(x)
        x = x + self.attention(q, q if context is None else self.norm1(context))
        return x + self.mlp(self.norm2(x))


class ChannelAttention(nn.Module):
    """Channel attention of CBAM (Woo et al. 2018): a shared MLP over the average- and
    max-pooled descriptors, summed; returns the (N, C, 1, 1) sigmoid weights."""

    def __init__(self, channels: int, ratio: int) -> None:
        super().__init__()
        hidden = max(channels // ratio, 1)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True), nn.Conv2d(hidden, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.mlp(x.mean((2, 3), keepdim=True)) + self.mlp(x.amax((2, 3), keepdim=True)))
