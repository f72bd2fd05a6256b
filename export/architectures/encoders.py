"""Encoders beyond the plain ResNet: a dilated ResNet (PSPNet, DeepLab), MobileNetV2 and the
Mix Transformer of SegFormer.

Each returns a list of feature maps from ``forward`` and lists their widths in
``self.channels``: the CNNs five maps as ``ResNetEncoder`` (strides 2 to 32, or less where
dilated), the Mix Transformer four (strides 4 to 32).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from export.architectures.blocks import ResNetEncoder, conv_bn, stage

class DilatedResNetEncoder(ResNetEncoder):
    """``ResNetEncoder`` whose last stages trade stride for dilation (Yu & Koltun 2016), as in
    PSPNet (Zhao et al. 2017) and DeepLab (Chen et al. 2017, 2018).

    With ``output_stride`` 16 the last stage keeps stride 16 with dilation 2; with 8 the last
    two keep stride 8 with dilations 2 and 4. The features come at strides 2, 4, 8,
    min(16, ``output_stride``) and ``output_stride``.
    """

    def __init__(
        self, in_channels: int, width: int, output_stride: int = 16, depths: tuple[int, int, int, int] = (2, 2, 2, 2)
    ) -> None:
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride}")
        super().__init__(in_channels, width, depths)
        stride, dilation = 2, 1
        for i, depth in enumerate(depths):
            if stride * 2 > output_stride:
                dilation *= 2
                self.stages[i] = stage(self.channels[i], self.channels[i + 1], depth, 1, dilation)
            else:
                stride *= 2


def conv_bn_relu6(cin: int, cout: int, kernel: int = 1, stride: int = 1, dilation: int = 1, groups: int = 1) -> nn.Sequential:
    """Conv + BatchNorm + ReLU6, MobileNetV2's activation."""
    return nn.Sequential(*conv_bn(cin, cout, kernel, stride, dilation, groups), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    """MobileNetV2's inverted residual with linear bottleneck (Sandler et al. 2018): 1x1
    expansion, 3x3 depthwise conv, 1x1 linear projection; identity shortcut when the shape
    is kept."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int, dilation: int = 1) -> None:
        super().__init__()
        hidden = cin * expansion
        expand = [conv_bn_relu6(cin, hidden)] if expansion != 1 else []
        self.body = nn.Sequential(
            *expand,
            conv_bn_relu6(hidden, hidden, 3, stride, dilation, groups=hidden),
            conv_bn(hidden, cout, 1),
        )
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


# MobileNetV2's body (Sandler et al. 2018, Table 2): expansion t, channels c at width 32
# (multiplier 1.0), repeats n, stride s. Each tuple of rows ends at one output stride.
_MOBILENET_V2 = (
    ((1, 16, 1, 1),),                                  # stride 2
    ((6, 24, 2, 2),),                                  # stride 4
    ((6, 32, 3, 2),),                                  # stride 8
    ((6, 64, 4, 2), (6, 96, 3, 1)),                    # stride 16
    ((6, 160, 3, 2), (6, 320, 1, 1)),                  # stride 32
)


class MobileNetV2Encoder(nn.Module):
    """MobileNetV2 (Sandler et al. 2018) without its 1280-channel head and classifier.

    ``width`` is the stem's channel count: 32 is the paper's multiplier 1.0, and every channel
    count scales with it. ``forward`` returns five features at strides 2, 4, 8, 16 and
    ``output_stride`` (16 or 32; 16 replaces the last stride by dilation 2, as DeepLabV3+ does).
    """

    def __init__(self, in_channels: int, width: int, output_stride: int = 32) -> None:
        super().__init__()
        if output_stride not in (16, 32):
            raise ValueError(f"output_stride must be 16 or 32, got {output_stride}")
        self.stem = conv_bn_relu6(in_channels, width, 3, 2)
        self.stages = nn.ModuleList()
        channels = []
        cin, stride, dilation = width, 2, 1
        for rows in _MOBILENET_V2:
            blocks = []
            for t, c, n, s in rows:
                cout = c * width // 32
                if s == 2 and stride * 2 > output_stride:
                    s, dilation = 1, dilation * 2
                stride *= s
                for k in range(n):
                    blocks.append(InvertedResidual(cin, cout, s if k == 0 else 1, t, dilation))
                    cin = cout
            self.stages.append(nn.Sequential(*blocks))
            channels.append(cin)
        self.channels = tuple(channels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        x = self.stem(x)
        for s in self.stages:
            x = s(x)
            features.append(x)
        return features


class ChannelNorm(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) map: each pixel is one token."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def patch_embed(cin: int, cout: int, kernel: int, stride: int) -> nn.Sequential:
    """Strided conv + LayerNorm over channels: SegFormer's overlapping patch embedding when
    ``kernel`` > ``stride`` (padded by kernel // 2), its spatial reduction when they are equal."""
    padding = kernel // 2 if kernel > stride else 0
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding), ChannelNorm(cout))


class EfficientSelfAttention(nn.Module):
    """Multi-head self-attention whose keys and values come from the map shrunk by a strided
    ``reduction`` x ``reduction`` conv (Xie et al. 2021, after PVT), cutting the cost by
    ``reduction``²."""

    def __init__(self, channels: int, heads: int, reduction: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(channels, channels)
        self.key_value = nn.Linear(channels, 2 * channels)
        self.proj = nn.Linear(channels, channels)
        self.reduce = patch_embed(channels, channels, reduction, reduction) if reduction > 1 else nn.Identity()

    def _heads(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, L, C) -> (N, heads, L, C / heads)."""
        n, length, c = tokens.shape
        return tokens.reshape(n, length, self.heads, c // self.heads).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q = self._heads(self.query(x.flatten(2).transpose(1, 2)))
        k, v = self.key_value(self.reduce(x).flatten(2).transpose(1, 2)).chunk(2, dim=-1)
        out = F.scaled_dot_product_attention(q, self._heads(k), self._heads(v))
        out = self.proj(out.transpose(1, 2).reshape(n, h * w, c))
        return out.transpose(1, 2).reshape(n, c, h, w)


class MixFFN(nn.Module):
    """Mix-FFN (Xie et al. 2021): a 3x3 depthwise conv between the two position-wise linear
    layers (1x1 convs here) gives the positional information that replaces positional
    encodings."""

    def __init__(self, channels: int, expansion: int) -> None:
        super().__init__()
        hidden = channels * expansion
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.depthwise = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.depthwise(self.fc1(x))))


class MiTBlock(nn.Module):
    """Pre-norm transformer block of the Mix Transformer: efficient self-attention, Mix-FFN."""

    def __init__(self, channels: int, heads: int, reduction: int, expansion: int = 4) -> None:
        super().__init__()
        self.norm1 = ChannelNorm(channels)
        self.attention = EfficientSelfAttention(channels, heads, reduction)
        self.norm2 = ChannelNorm(channels)
        self.ffn = MixFFN(channels, expansion)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class MixTransformer(nn.Module):
    """Mix Transformer encoder of SegFormer (Xie et al. 2021), MiT-B0 layout.

    Channels (w, 2w, 5w, 8w) with ``width`` w (32 gives MiT-B0's 32, 64, 160, 256), heads
    (1, 2, 5, 8), spatial reduction (8, 4, 2, 1), two blocks per stage, MLP expansion 4.
    ``forward`` returns four features at strides 4, 8, 16, 32 (widths ``self.channels``).
    """

    def __init__(
        self,
        in_channels: int,
        width: int,
        depths: tuple[int, ...] = (2, 2, 2, 2),
        heads: tuple[int, ...] = (1, 2, 5, 8),
        reductions: tuple[int, ...] = (8, 4, 2, 1),
    ) -> None:
        super().__init__()
        self.channels = tuple(m * width for m in (1, 2, 5, 8))
        self.stages = nn.ModuleList()
        cin = in_channels
        for i, (cout, depth, h, r) in enumerate(zip(self.channels, depths, heads, reductions)):
            kernel, stride = (7, 4) if i == 0 else (3, 2)
            self.stages.append(nn.Sequential(
                patch_embed(cin, cout, kernel, stride),
                *[MiTBlock(cout, h, r) for _ in range(depth)],
                ChannelNorm(cout),
            ))
            cin = cout

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for s in self.stages:
            x = s(x)
            features.append(x)
        return features
