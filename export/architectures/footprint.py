"""Footprint architectures: (N, C, H, W) -> (N, K, H, W) per-year segmentation."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from export.architectures.blocks import ResNetEncoder, conv_bn_relu
from export.architectures.registry import register


class UNetDecoder(nn.Module):
    """U-Net decoder: upsample, concatenate the skip, two 3x3 convs, from stride 32 to 1."""

    def __init__(self, channels: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        deep = list(reversed(channels))  # stride 32 first
        self.blocks = nn.ModuleList()
        cin = deep[0]
        for skip in deep[1:]:
            self.blocks.append(nn.Sequential(conv_bn_relu(cin + skip, skip), conv_bn_relu(skip, skip)))
            cin = skip
        self.final = nn.Sequential(conv_bn_relu(cin, cin), nn.Conv2d(cin, num_classes, 1))

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = features[-1]
        for block, skip in zip(self.blocks, reversed(features[:-1])):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = block(torch.cat([x, skip], dim=1))
        return self.final(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UNet(nn.Module):
    """U-Net (Ronneberger et al. 2015) on a ResNet-18-layout encoder."""

    def __init__(self, in_channels: int, num_classes: int, width: int) -> None:
        super().__init__()
        self.encoder = ResNetEncoder(in_channels, width)
        self.decoder = UNetDecoder(self.encoder.channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


@register("unet", "footprint", "U-Net, ResNet-18-layout encoder",
          "Ronneberger, Fischer & Brox 2015, U-Net: Convolutional Networks for Biomedical Image Segmentation")
def build_unet(in_channels: int, num_classes: int, width: int) -> nn.Module:
    return UNet(in_channels, num_classes, width)
