"""Blocks the change architectures share beyond ``blocks.py``: a MobileNetV2-style encoder,
both dates through one shared encoder as one batch, multi-head attention with a pre-norm
transformer layer, token/map reshapes and channel attention."""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from export.architectures.blocks import conv_bn_relu


class InvertedResidual(nn.Module):
    """MobileNetV2's inverted residual (Sandler et al. 2018): 1x1 expansion, 3x3 depthwise conv,
    linear 1x1 projection, identity shortcut when the shape is kept. It is also EfficientNet's
    MBConv without squeeze-excitation."""

    def __init__(self, cin: int, cout: int, stride: int = 1, expand: int = 6) -> None:
        super().__init__()
        hidden = cin * expand
        layers = [conv_bn_relu(cin, hidden, 1)] if expand != 1 else []
        layers += [
            conv_bn_relu(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class MobileEncoder(nn.Module):
    """A MobileNetV2-layout encoder (Sandler et al. 2018) for any number of bands.

    A stride-2 stem conv, a first stage of expansion-1 inverted residuals at stride 2, then one
    stride-2 stage of expansion-6 inverted residuals per further entry of ``channels``.
    ``forward`` returns every stage's output: strides 2, 4, 8, ... with widths ``channels``.
    """

    def __init__(self, in_channels: int, stem: int, channels: tuple[int, ...], repeats: tuple[int, ...]) -> None:
        super().__init__()
        self.channels = channels
        self.stem = conv_bn_relu(in_channels, stem, 3, 2)
        self.stages = nn.ModuleList()
        cin = stem
        for i, (cout, n) in enumerate(zip(channels, repeats)):
            stride, expand = (1, 1) if i == 0 else (2, 6)
            blocks = [InvertedResidual(cin, cout, stride, expand)]
            blocks += [InvertedResidual(cout, cout, 1, expand) for _ in range(n - 1)]
            self.stages.append(nn.Sequential(*blocks))
            cin = cout

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


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


def to_tokens(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) map -> (N, H*W, C) tokens."""
    return x.flatten(2).transpose(1, 2)


def to_map(tokens: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(N, H*W, C) tokens -> (N, C, H, W) map with ``like``'s height and width."""
    # Contiguous: a conv fed the channels-last view makes torch.export specialise the batch size.
    return tokens.transpose(1, 2).contiguous().unflatten(2, like.shape[-2:])


class Attention(nn.Module):
    """Multi-head scaled dot-product attention (Vaswani et al. 2017) of query tokens over
    context tokens; self-attention when the context is the queries themselves."""

    def __init__(self, dim: int, heads: int, head_dim: int) -> None:
        super().__init__()
        self.heads = heads
        inner = heads * head_dim
        self.q = nn.Linear(dim, inner, bias=False)
        self.k = nn.Linear(dim, inner, bias=False)
        self.v = nn.Linear(dim, inner, bias=False)
        self.out = nn.Linear(inner, dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)  # (N, heads, L, head_dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        q, k, v = self._heads(self.q(x)), self._heads(self.k(context)), self._heads(self.v(context))
        # The fused op also exports faster than spelled-out matmuls (fewer symbolic views to prove).
        return self.out(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2))


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
