"""Building blocks shared by the architectures: conv-norm-activation, residual stages and a
ResNet-style encoder that returns features at strides 2, 4, 8, 16 and 32."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn_relu(cin: int, cout: int, kernel: int = 3, stride: int = 1, dilation: int = 1, groups: int = 1) -> nn.Sequential:
    """Conv (no bias) + BatchNorm + ReLU, 'same' padding for odd kernels."""
    pad = dilation * (kernel // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, pad, dilation=dilation, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class BasicBlock(nn.Module):
    """The ResNet-18/34 residual block (He et al. 2016)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = conv_bn_relu(cin, cout, 3, stride)
        self.conv2 = nn.Sequential(nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = (
            nn.Identity() if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv2(self.conv1(x)) + self.skip(x))


def stage(cin: int, cout: int, blocks: int, stride: int) -> nn.Sequential:
    """``blocks`` BasicBlocks, the first one changing width and stride."""
    return nn.Sequential(BasicBlock(cin, cout, stride), *[BasicBlock(cout, cout) for _ in range(blocks - 1)])


class ResNetEncoder(nn.Module):
    """A ResNet-18-layout encoder for any number of input bands.

    ``forward`` returns five feature maps at strides 2, 4, 8, 16, 32 with widths
    ``self.channels`` = (w, w, 2w, 4w, 8w). The stem keeps a stride-2 stage (not ResNet's
    stride-4 stem plus pooling) because Sentinel-2 pixels are 10 m and pits are narrow.
    """

    def __init__(self, in_channels: int, width: int, depths: tuple[int, int, int, int] = (2, 2, 2, 2)) -> None:
        super().__init__()
        w = width
        self.channels = (w, w, 2 * w, 4 * w, 8 * w)
        self.stem = nn.Sequential(conv_bn_relu(in_channels, w, 3, 2), conv_bn_relu(w, w))
        self.stages = nn.ModuleList(
            stage(cin, cout, d, 2) for cin, cout, d in zip(self.channels[:-1], self.channels[1:], depths)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = [self.stem(x)]
        for s in self.stages:
            features.append(s(features[-1]))
        return features


def upsample_like(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Bilinear resize of ``x`` to ``ref``'s height and width."""
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)
