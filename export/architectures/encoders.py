"""Encoders beyond the plain ResNet: a dilated ResNet (PSPNet, DeepLab), MobileNetV2 (also in
the layouts of TinyCD and A2Net) and the Mix Transformer of SegFormer and ChangeFormer, with
their blocks, multi-head attention and the token/map reshapes of the transformers.

Each returns a list of feature maps from ``forward`` and lists their widths in
``self.channels``: the ResNets five maps as ``ResNetEncoder`` (strides 2 to 32, or less where
dilated), MobileNetV2 one per stage of its layout (strides 2 to 32 in its own), the Mix
Transformer four (strides 4 to 32).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from export.architectures.blocks import ResNetEncoder, conv_bn, stage


def _stage_outputs(stages: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
    """The output of every stage, each stage fed the previous one's."""
    features = []
    for s in stages:
        x = s(x)
        features.append(x)
    return features


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


def conv_bn_relu6(
    cin: int, cout: int, kernel: int = 1, stride: int = 1, dilation: int = 1, groups: int = 1
) -> nn.Sequential:
    """Conv + BatchNorm + ReLU6, MobileNetV2's activation."""
    # Not in-place: an in-place ReLU6 (hardtanh_) doubles MobileNetV2's ONNX export time.
    return nn.Sequential(*conv_bn(cin, cout, kernel, stride, dilation, groups), nn.ReLU6())


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
MOBILENET_V2 = (
    ((1, 16, 1, 1),),                                  # stride 2
    ((6, 24, 2, 2),),                                  # stride 4
    ((6, 32, 3, 2),),                                  # stride 8
    ((6, 64, 4, 2), (6, 96, 3, 1)),                    # stride 16
    ((6, 160, 3, 2), (6, 320, 1, 1)),                  # stride 32
)


class MobileNetV2Encoder(nn.Module):
    """MobileNetV2 (Sandler et al. 2018) without its 1280-channel head and classifier: a
    stride-2 3x3 stem conv, then stages of inverted residuals.

    ``layout`` lists the stages, each a tuple of rows (expansion t, channels c, repeats n,
    stride s) with channels at stem width ``layout_width``; the default is the paper's body
    (``MOBILENET_V2``, multiplier 1.0 at 32). ``width`` is the stem's channel count, and every
    channel count scales by ``width`` / ``layout_width``. ``forward`` returns every stage's
    output (widths ``self.channels``): in the paper's layout five features at strides 2, 4, 8,
    16 and ``output_stride`` (16 or 32; 16 replaces the last stride by dilation 2, as
    DeepLabV3+ does).
    """

    def __init__(
        self,
        in_channels: int,
        width: int,
        output_stride: int = 32,
        layout: tuple[tuple[tuple[int, int, int, int], ...], ...] = MOBILENET_V2,
        layout_width: int = 32,
    ) -> None:
        super().__init__()
        if output_stride not in (16, 32):
            raise ValueError(f"output_stride must be 16 or 32, got {output_stride}")
        self.stem = conv_bn_relu6(in_channels, width, 3, 2)
        self.stages = nn.ModuleList()
        channels = []
        cin, stride, dilation = width, 2, 1
        for rows in layout:
            blocks = []
            for t, c, n, s in rows:
                cout = c * width // layout_width
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
        return _stage_outputs(self.stages, self.stem(x))


def to_tokens(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) map -> (N, H·W, C) tokens."""
    return x.flatten(2).transpose(1, 2)


def to_map(tokens: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(N, H·W, C) tokens -> (N, C, H, W) map.

    Explicit sizes rather than ``unflatten``: exported from an N = 1 sample, ``unflatten``
    leaves N = 1 baked into the ONNX Reshape. Contiguous: the reshape alone is a channels-last
    view, and a view of its batch axis (``halves`` of a Siamese batch) makes torch.export
    specialise the batch size.
    """
    n, _, c = tokens.shape
    return tokens.transpose(1, 2).contiguous().reshape(n, c, h, w)


class Attention(nn.Module):
    """Multi-head scaled dot-product attention (Vaswani et al. 2017) of (N, L, C) query tokens
    over (N, L', C) context tokens, in ``heads`` heads of ``head_channels`` each (C / ``heads``
    unless given); self-attention when the context is the queries themselves."""

    def __init__(self, channels: int, heads: int, head_channels: int | None = None) -> None:
        super().__init__()
        self.heads = heads
        inner = channels if head_channels is None else heads * head_channels
        self.query = nn.Linear(channels, inner)
        self.key_value = nn.Linear(channels, 2 * inner)
        self.proj = nn.Linear(inner, channels)

    def _split_heads(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, L, inner) -> (N, heads, L, head_channels)."""
        return tokens.unflatten(2, (self.heads, -1)).transpose(1, 2)

    def forward(self, tokens: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        k, v = self.key_value(context).chunk(2, dim=-1)
        q, k, v = (self._split_heads(t) for t in (self.query(tokens), k, v))
        # The fused op also exports faster than spelled-out matmuls (fewer symbolic views to prove).
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).flatten(2))


class EfficientSelfAttention(Attention):
    """Multi-head self-attention whose keys and values come from the map shrunk by a strided
    ``reduction`` x ``reduction`` conv and LayerNorm (Xie et al. 2021, after PVT), cutting the
    cost by ``reduction``². ``forward`` takes the tokens' map height and width in place of a
    context."""

    def __init__(self, channels: int, heads: int, reduction: int) -> None:
        super().__init__(channels, heads)
        self.reduce = nn.Conv2d(channels, channels, reduction, reduction) if reduction > 1 else None
        self.reduce_norm = nn.LayerNorm(channels) if reduction > 1 else None

    def forward(self, tokens: torch.Tensor, h: int, w: int) -> torch.Tensor:
        context = tokens
        if self.reduce is not None:
            context = self.reduce_norm(to_tokens(self.reduce(to_map(tokens, h, w))))
        return super().forward(tokens, context)


class MixFFN(nn.Module):
    """Mix-FFN (Xie et al. 2021): a 3x3 depthwise conv between the two linear layers gives the
    positional information that replaces positional encodings."""

    def __init__(self, channels: int, expansion: int) -> None:
        super().__init__()
        hidden = channels * expansion
        self.fc1 = nn.Linear(channels, hidden)
        self.depthwise = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, tokens: torch.Tensor, h: int, w: int) -> torch.Tensor:
        return self.fc2(F.gelu(to_tokens(self.depthwise(to_map(self.fc1(tokens), h, w)))))


class MiTBlock(nn.Module):
    """Pre-norm transformer block of the Mix Transformer: efficient self-attention, Mix-FFN."""

    def __init__(self, channels: int, heads: int, reduction: int, expansion: int = 4) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(channels)
        self.attention = EfficientSelfAttention(channels, heads, reduction)
        self.norm2 = nn.LayerNorm(channels)
        self.ffn = MixFFN(channels, expansion)

    def forward(self, tokens: torch.Tensor, h: int, w: int) -> torch.Tensor:
        tokens = tokens + self.attention(self.norm1(tokens), h, w)
        return tokens + self.ffn(self.norm2(tokens), h, w)


class MiTStage(nn.Module):
    """One Mix Transformer stage: overlapping patch embedding (a strided conv whose kernel is
    larger than its stride, then LayerNorm), transformer blocks, LayerNorm."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, depth: int, heads: int, reduction: int) -> None:
        super().__init__()
        self.embed = nn.Conv2d(cin, cout, kernel, stride, kernel // 2)
        self.embed_norm = nn.LayerNorm(cout)
        self.blocks = nn.ModuleList(MiTBlock(cout, heads, reduction) for _ in range(depth))
        self.norm = nn.LayerNorm(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x)
        h, w = x.shape[2], x.shape[3]
        tokens = self.embed_norm(to_tokens(x))
        for block in self.blocks:
            tokens = block(tokens, h, w)
        return to_map(self.norm(tokens), h, w)


class MixTransformer(nn.Module):
    """Mix Transformer encoder of SegFormer (Xie et al. 2021), by default in the MiT-B0 layout.

    Channels ``multipliers`` x ``width`` (by default (w, 2w, 5w, 8w): 32 gives MiT-B0's 32, 64,
    160, 256), heads (1, 2, 5, 8), spatial reduction (8, 4, 2, 1), two blocks per stage, MLP
    expansion 4; patch embeddings 7x7 stride 4, then 3x3 stride 2. ``forward`` returns four
    features at strides 4, 8, 16, 32 (widths ``self.channels``).
    """

    def __init__(
        self,
        in_channels: int,
        width: int,
        depths: tuple[int, ...] = (2, 2, 2, 2),
        heads: tuple[int, ...] = (1, 2, 5, 8),
        reductions: tuple[int, ...] = (8, 4, 2, 1),
        multipliers: tuple[int, ...] = (1, 2, 5, 8),
    ) -> None:
        super().__init__()
        self.channels = tuple(m * width for m in multipliers)
        cins = (in_channels, *self.channels[:-1])
        patches = ((7, 4), (3, 2), (3, 2), (3, 2))
        self.stages = nn.ModuleList(
            MiTStage(cin, cout, kernel, stride, depth, h, r)
            for cin, cout, (kernel, stride), depth, h, r
            in zip(cins, self.channels, patches, depths, heads, reductions, strict=True)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return _stage_outputs(self.stages, x)
