"""Series architectures: (N, T, C, H, W) -> (N, T, K, H, W), all years seen at once.

EuroMineNet found short-term dynamics the weakest point of per-year models: each year is
segmented alone, so a cloud, a bare crop field or a wet pit flips the map for one year. A
series model sees the whole stack and can tell a one-year spectral accident from a real
opening or reclamation.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from export.architectures.blocks import ResNetEncoder
from export.architectures.footprint import UNetDecoder
from export.architectures.registry import register


def _time_encoding(steps: int, channels: int, device: torch.device) -> torch.Tensor:
    """(steps, channels) sinusoidal encoding of the year index (Vaswani et al. 2017); computed
    from ``steps`` at run time so one exported model takes any number of years."""
    position = torch.arange(steps, device=device, dtype=torch.float32).unsqueeze(1)
    half = channels // 2
    frequency = torch.exp(torch.arange(half, device=device, dtype=torch.float32) * (-math.log(1000.0) / half))
    angle = position * frequency
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)


class TemporalAttention(nn.Module):
    """Pre-norm transformer layer over the time axis, applied independently at every pixel.

    Input and output (N·T, C, H, W) with the N·T frames ordered site-major.
    """

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(channels)
        self.attention = nn.MultiheadAttention(channels, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(channels)
        self.mlp = nn.Sequential(nn.Linear(channels, 2 * channels), nn.GELU(), nn.Linear(2 * channels, channels))
        # Residual branches start at zero, so the layer starts as the identity: a series model
        # warm-started from a per-year model begins exactly where that model is.
        for linear in (self.attention.out_proj, self.mlp[-1]):
            nn.init.zeros_(linear.weight)
            nn.init.zeros_(linear.bias)

    def forward(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        frames, c, h, w = x.shape
        n = frames // steps
        seq = x.reshape(n, steps, c, h, w).permute(0, 3, 4, 1, 2).reshape(n * h * w, steps, c)
        seq = seq + _time_encoding(steps, c, x.device)
        q = self.norm1(seq)
        seq = seq + self.attention(q, q, q, need_weights=False)[0]
        seq = seq + self.mlp(self.norm2(seq))
        return seq.reshape(n, h, w, steps, c).permute(0, 3, 4, 1, 2).reshape(frames, c, h, w)


class TemporalAttentionUNet(nn.Module):
    """U-TAE-style series model (after Sainte Fare Garnot & Landrieu 2021), with one map per year.

    A U-Net encoder shared by all years; at strides 8, 16 and 32 a transformer layer mixes each
    pixel's features across the years (U-TAE attends over time at the bottleneck and spreads the
    attention to the skips; here each of the three deep levels attends itself, because the
    output keeps one map per year instead of collapsing time); the U-Net decoder, shared by all
    years, then maps every year from its time-aware features.
    """

    attended_levels = (2, 3, 4)  # feature indices at strides 8, 16, 32

    def __init__(self, in_channels: int, num_classes: int, width: int, heads: int = 4) -> None:
        super().__init__()
        self.encoder = ResNetEncoder(in_channels, width)
        self.temporal = nn.ModuleDict(
            {str(i): TemporalAttention(self.encoder.channels[i], heads) for i in self.attended_levels}
        )
        self.decoder = UNetDecoder(self.encoder.channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, c, h, w = x.shape
        features = self.encoder(x.reshape(n * t, c, h, w))
        for i in self.attended_levels:
            features[i] = self.temporal[str(i)](features[i], t)
        logits = self.decoder(features)
        return logits.reshape(n, t, logits.shape[1], h, w)


@register("utae", "footprint_series", "U-TAE-style temporal attention U-Net, one map per year",
          "Sainte Fare Garnot & Landrieu 2021, Panoptic Segmentation of Satellite Image Time Series "
          "with Convolutional Temporal Attention Networks", width=16)
def build_utae(in_channels: int, num_classes: int, width: int) -> nn.Module:
    return TemporalAttentionUNet(in_channels, num_classes, width, heads=4 if width % 2 == 0 else 2)
