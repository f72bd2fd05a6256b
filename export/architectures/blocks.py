"""Building blocks shared by the architectures: conv-norm-activation, residual stages, a
ResNet-style encoder that returns features at strides 2, 4, 8, 16 and 32, and the pooling
modules of the segmentation heads."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn(cin: int, cout: int, kernel: int = 3, stride: int = 1, dilation: int = 1, groups: int = 1) -> nn.Sequential:
    """Conv (no bias) + BatchNorm, no activation, 'same' padding for odd kernels."""
    pad = dilation * (kernel // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, pad, dilation=dilation, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    )


def conv_bn_relu(
    cin: int, cout: int, kernel: int = 3, stride: int = 1, dilation: int = 1, groups: int = 1
) -> nn.Sequential:
    """Conv (no bias) + BatchNorm + ReLU, 'same' padding for odd kernels."""
    return nn.Sequential(*conv_bn(cin, cout, kernel, stride, dilation, groups), nn.ReLU(inplace=True))


def separable_conv_bn_relu(cin: int, cout: int, dilation: int = 1) -> nn.Sequential:
    """Atrous depthwise-separable 3x3 conv as in DeepLabV3+ (Chen et al. 2018): depthwise
    3x3 + BN + ReLU, then pointwise 1x1 + BN + ReLU."""
    return nn.Sequential(conv_bn_relu(cin, cin, 3, dilation=dilation, groups=cin), conv_bn_relu(cin, cout, 1))


class BasicBlock(nn.Module):
    """The ResNet-18/34 residual block (He et al. 2016); ``dilation`` > 1 gives the atrous
    variant of dilated ResNets (Yu & Koltun 2016)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = conv_bn_relu(cin, cout, 3, stride, dilation)
        self.conv2 = conv_bn(cout, cout, 3, dilation=dilation)
        self.skip = nn.Identity() if stride == 1 and cin == cout else conv_bn(cin, cout, 1, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv2(self.conv1(x)) + self.skip(x))


def stage(cin: int, cout: int, blocks: int, stride: int, dilation: int = 1) -> nn.Sequential:
    """``blocks`` BasicBlocks, the first one changing width and stride."""
    return nn.Sequential(
        BasicBlock(cin, cout, stride, dilation), *[BasicBlock(cout, cout, 1, dilation) for _ in range(blocks - 1)]
    )


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
            stage(cin, cout, d, 2) for cin, cout, d in zip(self.channels[:-1], self.channels[1:], depths, strict=True)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = [self.stem(x)]
        for s in self.stages:
            features.append(s(features[-1]))
        return features


def upsample_like(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Bilinear resize of ``x`` to ``ref``'s height and width."""
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)


def _bin_weights(length: int, bins: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """(sum(bins), length) averaging weights of PyTorch's adaptive pooling, the rows of every
    grid in ``bins`` stacked: row i of a b-bin grid spans [floor(i·L/b), ceil((i+1)·L/b))."""
    i = torch.tensor([k for b in bins for k in range(b)], device=like.device).unsqueeze(1)
    n = torch.tensor([b for b in bins for _ in range(b)], device=like.device).unsqueeze(1)
    j = torch.arange(length, device=like.device).unsqueeze(0)
    start = i * length // n
    end = ((i + 1) * length + n - 1) // n
    inside = (j >= start) & (j < end)
    return inside.to(like.dtype) / (end - start).to(like.dtype)


def adaptive_avg_pools(x: torch.Tensor, bins: tuple[int, ...]) -> list[torch.Tensor]:
    """``[F.adaptive_avg_pool2d(x, b) for b in bins]``, written as two matrix products.

    The exporter bakes the sample's H and W into ``AdaptiveAvgPool2d``: for bins that divide
    the sample it writes an AveragePool with a fixed kernel (silently wrong at other sizes), for
    other bins index gathers that fail in onnxruntime at other sizes. Bin weights computed from
    the run-time H and W export as Range/compare/MatMul and hold for any size. All grids come
    from one product (the diagonal blocks of a sum(bins)² grid) because every symbolic-shape op
    costs export time.
    """
    grid = _bin_weights(x.shape[-2], bins, x) @ x @ _bin_weights(x.shape[-1], bins, x).transpose(0, 1)
    offsets = [sum(bins[:k]) for k in range(len(bins))]
    return [grid[..., o:o + b, o:o + b] for o, b in zip(offsets, bins, strict=True)]


class PyramidPooling(nn.Module):
    """Pyramid pooling module of PSPNet (Zhao et al. 2017).

    Average-pools the input into each of ``bins`` x ``bins`` grids, reduces each with a 1x1
    conv, upsamples bilinearly back and concatenates them with the input:
    ``out_channels`` = ``cin`` + len(bins) · ``branch_channels``.
    """

    def __init__(self, cin: int, branch_channels: int, bins: tuple[int, ...] = (1, 2, 3, 6)) -> None:
        super().__init__()
        self.bins = bins
        self.branches = nn.ModuleList(conv_bn_relu(cin, branch_channels, 1) for _ in bins)
        self.out_channels = cin + len(bins) * branch_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = adaptive_avg_pools(x, self.bins)
        branches = (upsample_like(branch(p), x) for branch, p in zip(self.branches, pooled, strict=True))
        return torch.cat([x, *branches], dim=1)
