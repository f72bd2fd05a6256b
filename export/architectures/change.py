"""Change architectures: (before, after), each (N, C, H, W) -> (N, K, H, W) change logits.

The change-detection models of the EuroMineNet benchmark, written from their papers and scaled
down (``width``) to at most 1.5 M parameters so they train on a few CPU cores. Where a paper
trains with deep supervision (SNUNet, A2Net), only the final map is returned: the model
contract has one output.
"""
from __future__ import annotations

from itertools import pairwise
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from export.architectures.blocks import BasicBlock, conv_bn_relu, stage, upsample_like
from export.architectures.change_blocks import ChannelAttention, TransformerLayer, halves, siamese
from export.architectures.encoders import MOBILENET_V2, MixTransformer, MobileNetV2Encoder, to_map, to_tokens
from export.architectures.registry import register

# --- FC-EF, FC-Siam-conc, FC-Siam-diff -----------------------------------------------------------

FC_CONVS = (2, 2, 3, 3)  # 3x3 convs per level, shallow to deep (Daudt et al. 2018, Fig. 2)


def _fc_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(conv_bn_relu(cin, cout), nn.Dropout2d(0.2))


class FCEncoder(nn.Module):
    """The four-level encoder of Daudt et al.'s FC networks: conv-BN-ReLU-dropout layers and
    2x2 max pooling. Returns the four skips (before pooling), then the pooled stride-16 bottom."""

    def __init__(self, in_channels: int, width: int) -> None:
        super().__init__()
        self.channels = tuple(width * 2**i for i in range(len(FC_CONVS)))
        self.levels = nn.ModuleList()
        cin = in_channels
        for cout, n in zip(self.channels, FC_CONVS, strict=True):
            self.levels.append(nn.Sequential(_fc_conv(cin, cout), *[_fc_conv(cout, cout) for _ in range(n - 1)]))
            cin = cout

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for level in self.levels:
            x = level(x)
            features.append(x)
            x = F.max_pool2d(x, 2)
        return [*features, x]


class FCDecoder(nn.Module):
    """The mirrored decoder of Daudt et al.'s FC networks: transposed-conv upsampling,
    concatenation with the (fused) skip of ``skip_factor`` x the level's width, then the
    level's convs, down to class logits."""

    def __init__(self, channels: tuple[int, ...], skip_factor: int, num_classes: int) -> None:
        super().__init__()
        self.ups = nn.ModuleList()
        self.levels = nn.ModuleList()
        for i in reversed(range(len(channels))):
            c, n = channels[i], FC_CONVS[i]
            self.ups.append(nn.ConvTranspose2d(c, c, 3, stride=2, padding=1, output_padding=1))
            last = _fc_conv(c, channels[i - 1]) if i else nn.Conv2d(c, num_classes, 3, padding=1)
            self.levels.append(nn.Sequential(
                _fc_conv(c * (1 + skip_factor), c), *[_fc_conv(c, c) for _ in range(n - 2)], last
            ))

    def forward(self, x: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        for up, level, skip in zip(self.ups, self.levels, reversed(skips), strict=True):
            x = level(torch.cat([up(x), skip], dim=1))
        return x


class FullyConvolutionalCD(nn.Module):
    """FC-EF, FC-Siam-conc and FC-Siam-diff (Daudt, Le Saux & Boulch 2018).

    ``fusion="early"`` stacks both images as one input to a U-Net-like network; "concat" and
    "diff" run a shared-weight (Siamese) encoder on each image and feed the decoder the
    concatenated skips or their absolute difference. As in the paper, the Siamese decoder
    starts from the *after* image's bottom features, so even FC-Siam-diff is not symmetric.
    """

    def __init__(
        self, in_channels: int, num_classes: int, width: int, fusion: Literal["early", "concat", "diff"]
    ) -> None:
        super().__init__()
        self.fusion = fusion
        self.encoder = FCEncoder(2 * in_channels if fusion == "early" else in_channels, width)
        self.decoder = FCDecoder(self.encoder.channels, 2 if fusion == "concat" else 1, num_classes)

    def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        if self.fusion == "early":
            *skips, bottom = self.encoder(torch.cat([before, after], dim=1))
            return self.decoder(bottom, skips)
        (*skips_a, _), (*skips_b, bottom) = siamese(self.encoder, before, after)
        if self.fusion == "concat":
            skips = [torch.cat([a, b], dim=1) for a, b in zip(skips_a, skips_b, strict=True)]
        else:
            skips = [(a - b).abs() for a, b in zip(skips_a, skips_b, strict=True)]
        return self.decoder(bottom, skips)


FC_PAPER = "Daudt, Le Saux & Boulch 2018, Fully Convolutional Siamese Networks for Change Detection"


@register("fc_ef", "change", "FC-EF, fully convolutional early fusion", FC_PAPER, width=16)
def build_fc_ef(in_channels: int, num_classes: int, width: int) -> nn.Module:
    return FullyConvolutionalCD(in_channels, num_classes, width, "early")


@register("fc_siam_conc", "change", "FC-Siam-conc, Siamese encoder, concatenated skips", FC_PAPER,
          width=15)  # the paper's width 16 is 1.55 M parameters
def build_fc_siam_conc(in_channels: int, num_classes: int, width: int) -> nn.Module:
    return FullyConvolutionalCD(in_channels, num_classes, width, "concat")


@register("fc_siam_diff", "change", "FC-Siam-diff, Siamese encoder, skip differences", FC_PAPER, width=16)
def build_fc_siam_diff(in_channels: int, num_classes: int, width: int) -> nn.Module:
    return FullyConvolutionalCD(in_channels, num_classes, width, "diff")


# --- SNUNet-CD -------------------------------------------------------------------------------------

class SNUNet(nn.Module):
    """SNUNet-CD (Fang et al. 2021): a Siamese encoder, a NestedUNet (U-Net++) decoder whose
    nodes densely take both images' same-level features and all earlier nodes of the level,
    and the ensemble channel attention module (ECAM) over the full-resolution outputs.

    ``depth`` levels (the paper has 5; 4 keeps the model small). Node (i, j) sits at level i
    (stride 2**i), column j; its upsampled input comes from node (i+1, j-1), where column 0 is
    the *after* image's encoder, as in the paper.
    """

    def __init__(self, in_channels: int, num_classes: int, width: int, depth: int = 4) -> None:
        super().__init__()
        self.depth = depth
        ch = [width * 2**i for i in range(depth)]
        self.encoder = nn.ModuleList(BasicBlock(cin, cout) for cin, cout in pairwise([in_channels, *ch]))
        self.up = nn.ModuleDict()
        self.nodes = nn.ModuleDict()
        for j in range(1, depth):
            for i in range(depth - j):
                self.up[f"{i + 1}_{j - 1}"] = nn.ConvTranspose2d(ch[i + 1], ch[i + 1], 2, stride=2)
                self.nodes[f"{i}_{j}"] = BasicBlock(ch[i] * (j + 1) + ch[i + 1], ch[i])
        outputs = depth - 1
        self.intra = ChannelAttention(width, ratio=4)
        self.inter = ChannelAttention(width * outputs, ratio=16)
        self.head = nn.Conv2d(width * outputs, num_classes, 1)

    def _encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = [self.encoder[0](x)]
        for block in self.encoder[1:]:
            features.append(block(F.max_pool2d(features[-1], 2)))
        return features

    def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        xa, xb = siamese(self._encode, before, after)
        node: dict[tuple[int, int], torch.Tensor] = {(i, 0): x for i, x in enumerate(xb)}
        for j in range(1, self.depth):
            for i in range(self.depth - j):
                up = self.up[f"{i + 1}_{j - 1}"](node[(i + 1, j - 1)])
                dense = [node[(i, k)] for k in range(1, j)]
                node[(i, j)] = self.nodes[f"{i}_{j}"](torch.cat([xa[i], xb[i], *dense, up], dim=1))
        outs = [node[(0, j)] for j in range(1, self.depth)]
        # ECAM: the channel attention of the outputs' sum (intra) is added to every output, and
        # the channel attention of their concatenation (inter) weighs the result.
        ensemble = torch.cat(outs, dim=1)
        intra = self.intra(torch.stack(outs).sum(0)).repeat(1, len(outs), 1, 1)
        return self.head(self.inter(ensemble) * (ensemble + intra))


@register("snunet", "change", "SNUNet-CD, Siamese nested U-Net with ECAM (4 levels)",
          "Fang, Li, Shi & Jiang 2021, SNUNet-CD: A Densely Connected Siamese Network for Change "
          "Detection of VHR Images", width=16)
def build_snunet(in_channels: int, num_classes: int, width: int) -> nn.Module:
    return SNUNet(in_channels, num_classes, width)


# --- BIT -------------------------------------------------------------------------------------------

BIT_POSITION_GRID = 40  # the stride-4 grid of a 160-pixel benchmark patch


class BIT(nn.Module):
    """Bitemporal Image Transformer (Chen, Qi & Shi 2021).

    A ResNet-18-layout backbone (stride 8, upsampled to stride 4) gives per-image features;
    a semantic tokenizer turns each into ``tokens`` tokens by spatial attention; a transformer
    encoder models context over both images' tokens concatenated (with learned positions, which
    tell the two dates apart); a transformer decoder lets every pixel attend to its image's
    tokens; the prediction head classifies |f_before - f_after| at full resolution.

    The decoder's learned positional map is bilinearly resized to the feature size, so any H, W
    multiple of 32 works (it is used unresized on a 160-pixel patch).
    """

    def __init__(
        self, in_channels: int, num_classes: int, width: int, tokens: int = 4,
        encoder_depth: int = 1, decoder_depth: int = 8, heads: int = 8, head_dim: int = 16,
    ) -> None:
        super().__init__()
        w, dim = width, width
        self.backbone = nn.Sequential(
            conv_bn_relu(in_channels, w, 3, 2), stage(w, w, 2, 2), stage(w, 2 * w, 2, 2), stage(2 * w, 4 * w, 2, 1)
        )
        self.project = nn.Conv2d(4 * w, dim, 3, padding=1)
        self.tokenizer = nn.Conv2d(dim, tokens, 1)
        self.token_position = nn.Parameter(torch.randn(1, 2 * tokens, dim))
        self.pixel_position = nn.Parameter(torch.randn(1, dim, BIT_POSITION_GRID, BIT_POSITION_GRID))
        self.encoder = nn.ModuleList(TransformerLayer(dim, heads, head_dim, 2 * dim) for _ in range(encoder_depth))
        self.decoder = nn.ModuleList(TransformerLayer(dim, heads, head_dim, 2 * dim) for _ in range(decoder_depth))
        self.head = nn.Sequential(conv_bn_relu(dim, dim), nn.Conv2d(dim, num_classes, 3, padding=1))

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(F.interpolate(self.backbone(x), scale_factor=2.0, mode="nearest"))

    def _tokenize(self, f: torch.Tensor) -> torch.Tensor:
        attention = self.tokenizer(f).flatten(2).softmax(-1)  # (N, L, HW), softmax over pixels
        return attention @ to_tokens(f)  # (N, L, C)

    def _decode(self, f: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        x = to_tokens(f + upsample_like(self.pixel_position, f))
        for layer in self.decoder:
            x = layer(x, tokens)
        return to_map(x, f.shape[2], f.shape[3])

    def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        # Both dates run as one batch of 2N wherever they are processed alike.
        f = self._features(torch.cat([before, after]))
        tokens = torch.cat(halves(self._tokenize(f)), dim=1) + self.token_position  # (N, 2L, C)
        for layer in self.encoder:
            tokens = layer(tokens)
        fa, fb = halves(upsample_like(self._decode(f, torch.cat(tokens.chunk(2, dim=1))), before))
        return self.head((fa - fb).abs())


@register("bit", "change", "BIT, bitemporal image transformer",
          "Chen, Qi & Shi 2021, Remote Sensing Image Change Detection with Transformers", width=32)
def build_bit(in_channels: int, num_classes: int, width: int) -> nn.Module:
    return BIT(in_channels, num_classes, width)


# --- TinyCD ----------------------------------------------------------------------------------------

def _interleave(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Channels a0, b0, a1, b1, ...: a grouped conv then sees each channel's two dates together."""
    return torch.stack([a, b], dim=2).flatten(1, 2)


class MixingBlock(nn.Module):
    """TinyCD's mixing block (Codegoni et al. 2022): a grouped 3x3 conv over the interleaved
    channels of both dates, PReLU, batch norm."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.mix = nn.Sequential(
            nn.Conv2d(2 * channels, channels, 3, padding=1, groups=channels), nn.PReLU(), nn.BatchNorm2d(channels)
        )

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.mix(_interleave(a, b))


def _pixelwise_mlp(cin: int, cout: int) -> nn.Sequential:
    """TinyCD's PW-MLP: three 1x1 convs, halving the width twice, with PReLU between them."""
    widths = (cin, max(cin // 2, 1), max(cin // 4, 1), cout)
    layers: list[nn.Module] = []
    for a, b in pairwise(widths):
        layers += [nn.Conv2d(a, b, 1), nn.PReLU()]
    return nn.Sequential(*layers[:-1])


class MixAttentionMask(nn.Module):
    """TinyCD's mix-and-attention-mask block (MAMB): mix both dates, then a pixel-wise MLP and a
    sigmoid give a one-channel spatial attention mask for the decoder."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.mixing = MixingBlock(channels)
        self.mlp = _pixelwise_mlp(channels, 1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.mlp(self.mixing(a, b)))


class UpMask(nn.Module):
    """TinyCD's decoder step: upsample to the mask's size, multiply by the mask, then a
    depthwise 3x3 and a pointwise conv (each PReLU + batch norm)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(cin, cin, 3, padding=1, groups=cin), nn.PReLU(), nn.BatchNorm2d(cin),
            nn.Conv2d(cin, cout, 1), nn.PReLU(), nn.BatchNorm2d(cout),
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.conv(upsample_like(x, mask) * mask)


# The first stages of EfficientNet-B4 (Tan & Le 2019, B0 scaled by width 1.4 and depth 1.8) as
# MobileNetV2 rows (expansion, channels at stem width 48, repeats, stride), with 3x3 depthwise
# convs throughout and no squeeze-excitation.
EFFICIENTNET_B4_STAGES = (((1, 24, 2, 1),), ((6, 32, 4, 2),), ((6, 56, 4, 2),))


class TinyCD(nn.Module):
    """TinyCD (Codegoni, Lombardi & Ferrari 2022).

    A small Siamese MBConv encoder to stride 8 (the layout of EfficientNet-B4's first stages,
    trained from scratch here), mix-and-attention-mask blocks that mix the two dates channel-wise
    into spatial masks at strides 1 (on the raw bands), 2 and 4, a mixing block on the stride-8
    features, an upsampling decoder that applies the masks, and a pixel-wise MLP classifier.

    Departs from the paper in one place: its mixing blocks and decoder steps use instance norm,
    which normalizes over the whole image, so every output pixel depends on the whole scene; the
    model then has no finite receptive field and the engine cannot tile it exactly. Batch norm,
    whose statistics are fixed at inference, keeps every pixel's field local.
    """

    def __init__(self, in_channels: int, num_classes: int, width: int) -> None:
        super().__init__()
        # EfficientNet-B4's stem 48 and stages 24, 32, 56 at width 24.
        self.encoder = MobileNetV2Encoder(in_channels, 2 * width, layout=EFFICIENTNET_B4_STAGES, layout_width=48)
        channels = self.encoder.channels
        decoder = (width * 8 // 3, width * 8 // 3, width * 4 // 3)
        self.masks = nn.ModuleList(MixAttentionMask(c) for c in (in_channels, *channels[:-1]))
        self.mix = MixingBlock(channels[-1])
        self.up = nn.ModuleList(UpMask(cin, cout) for cin, cout in pairwise((channels[-1], *decoder)))
        self.classify = _pixelwise_mlp(decoder[-1], num_classes)

    def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        fa, fb = siamese(lambda x: [x, *self.encoder(x)], before, after)
        masks = [block(a, b) for block, a, b in zip(self.masks, fa[:-1], fb[:-1], strict=True)]  # the deepest: mix
        x = self.mix(fa[-1], fb[-1])
        for up, mask in zip(self.up, reversed(masks), strict=True):
            x = up(x, mask)
        return self.classify(x)


@register("tinycd", "change", "TinyCD, mix-and-attention-mask Siamese network",
          "Codegoni, Lombardi & Ferrari 2022, TINYCD: A (Not So) Deep Learning Model for Change Detection",
          width=24)
def build_tinycd(in_channels: int, num_classes: int, width: int) -> nn.Module:
    return TinyCD(in_channels, num_classes, width)


# --- ChangeFormer ----------------------------------------------------------------------------------

class ChangeFormer(nn.Module):
    """ChangeFormer (Bandara & Patel 2022).

    A Siamese hierarchical transformer encoder (MiT: four stages at strides 4, 8, 16, 32 with
    overlapping patch embeddings, spatial-reduction attention and Mix-FFN), a difference module
    per scale (3x3 conv over both dates' concatenated features, ReLU, BN), and the MLP decoder:
    per-scale projection to one width, upsampling to stride 4, fusion, a stride-4 transposed
    conv back to full resolution and a pixel-wise classifier.
    """

    def __init__(
        self, in_channels: int, num_classes: int, width: int, depths: tuple[int, ...] = (2, 2, 2, 2)
    ) -> None:
        super().__init__()
        self.encoder = MixTransformer(in_channels, width, depths, heads=(1, 2, 4, 8), multipliers=(1, 2, 4, 8))
        dims = self.encoder.channels
        embed = 4 * width
        self.differences = nn.ModuleList(
            nn.Sequential(nn.Conv2d(2 * d, d, 3, padding=1), nn.ReLU(inplace=True), nn.BatchNorm2d(d)) for d in dims
        )
        self.project = nn.ModuleList(nn.Conv2d(d, embed, 1) for d in dims)
        self.fuse = conv_bn_relu(len(dims) * embed, embed, 1)
        self.up = nn.Sequential(
            nn.ConvTranspose2d(embed, embed, 4, stride=4), nn.BatchNorm2d(embed), nn.ReLU(inplace=True)
        )
        self.classify = nn.Conv2d(embed, num_classes, 1)

    def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        diffs = [
            difference(torch.cat([a, b], dim=1))
            for difference, a, b in zip(self.differences, *siamese(self.encoder, before, after), strict=True)
        ]
        projected = [upsample_like(project(d), diffs[0]) for project, d in zip(self.project, diffs, strict=True)]
        x = torch.cat(projected, dim=1)
        return self.classify(self.up(self.fuse(x)))


@register("changeformer", "change", "ChangeFormer, Siamese hierarchical transformer",
          "Bandara & Patel 2022, A Transformer-Based Siamese Network for Change Detection", width=16)
def build_changeformer(in_channels: int, num_classes: int, width: int) -> nn.Module:
    return ChangeFormer(in_channels, num_classes, width)


# --- A2Net -----------------------------------------------------------------------------------------

class NeighborAggregation(nn.Module):
    """A2Net's neighbor aggregation module (NAM): a backbone level fused with its neighbours,
    each brought to ``mid`` channels, the finer one by a stride-2 conv and the coarser one
    upsampled."""

    def __init__(self, finer: int, own: int, coarser: int | None, mid: int) -> None:
        super().__init__()
        # A stride-2 conv, not pooling: its output size is the backbone's own expression for
        # this level, so torch.export needs no guard relating the two.
        self.finer = conv_bn_relu(finer, mid, 3, 2)
        self.own = conv_bn_relu(own, mid)
        self.coarser = conv_bn_relu(coarser, mid) if coarser else None
        self.fuse = conv_bn_relu((3 if coarser else 2) * mid, mid)

    def forward(self, finer: torch.Tensor, own: torch.Tensor, coarser: torch.Tensor | None) -> torch.Tensor:
        parts = [self.finer(finer), self.own(own)]
        if self.coarser is not None:
            parts.append(upsample_like(self.coarser(coarser), own))
        return self.fuse(torch.cat(parts, dim=1))


class ProgressiveChangeIdentification(nn.Module):
    """A2Net's progressive change identifying module (PCIM): |a - b| passes through 3x3 convs
    of decreasing dilation, each fed the previous result plus a 1x1 projection of |a - b|, so
    the difference is read from a wide context down to a local one."""

    def __init__(self, channels: int, dilations: tuple[int, ...] = (7, 5, 3, 1)) -> None:
        super().__init__()
        self.dilated = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels, channels, 3, padding=d, dilation=d, bias=False), nn.BatchNorm2d(channels))
            for d in dilations
        )
        self.inject = nn.ModuleList(nn.Conv2d(channels, channels, 1) for _ in dilations)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        d = (a - b).abs()
        y = self.dilated[0](d)
        for inject, conv in zip(self.inject[:-1], self.dilated[1:], strict=True):
            y = conv(F.relu(inject(d) + y))
        return F.relu(self.inject[-1](d) + y)


class SupervisedAttention(nn.Module):
    """A2Net's supervised attention module (SAM): a 1x1 conv predicts a change map from the
    features, a 1x1 conv and a sigmoid turn its change / no-change probabilities into
    per-channel weights that re-weight the features, and a 3x3 conv refines them. (A2Net
    supervises these side maps; here they are learnt end to end through the final output.)"""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.predict = nn.Conv2d(channels, 1, 1)
        # No BatchNorm here: early in training p is nearly constant, and normalising its tiny
        # variance would amplify rounding noise (float32 vs float64 logits differed by 5e-4).
        self.context = nn.Sequential(nn.Conv2d(2, channels, 1), nn.Sigmoid())
        self.refine = conv_bn_relu(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid(self.predict(x))
        return self.refine(x * self.context(torch.cat([p, 1 - p], dim=1)))


# A2Net's backbone: MobileNetV2 without its last, 320-channel row (torchvision's features[:17]),
# so the stride-32 stage ends at 160 channels.
A2NET_MOBILENET = (*MOBILENET_V2[:-1], MOBILENET_V2[-1][:1])


class A2Net(nn.Module):
    """A2Net (Li et al. 2023).

    A shared lightweight MobileNetV2-layout backbone (strides 2-32), NAM on the strides 4-32
    of each date, PCIM on each level's pair, and a decoder that adds each finer difference to
    the upsampled coarser one, with a SAM after each fusion, to a stride-4 map classified and
    upsampled to the input. Every temporal fusion is |a - b|: the model is symmetric in
    (before, after).
    """

    def __init__(self, in_channels: int, num_classes: int, width: int) -> None:
        super().__init__()
        # Width 16 is MobileNetV2's multiplier 1.0 (stem 32, stages 16, 24, 32, 96, 160); the default
        # width 8 halves them.
        self.encoder = MobileNetV2Encoder(in_channels, 2 * width, layout=A2NET_MOBILENET)
        channels = self.encoder.channels
        mid = 4 * width
        self.aggregate = nn.ModuleList(
            NeighborAggregation(channels[i - 1], channels[i], channels[i + 1] if i + 1 < len(channels) else None, mid)
            for i in range(1, len(channels))
        )
        levels = len(self.aggregate)
        self.changes = nn.ModuleList(ProgressiveChangeIdentification(mid) for _ in range(levels))
        self.merge = nn.ModuleList(conv_bn_relu(mid, mid) for _ in range(levels - 1))
        self.attend = nn.ModuleList(SupervisedAttention(mid) for _ in range(levels))
        self.classify = nn.Conv2d(mid, num_classes, 1)

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        f = [*self.encoder(x), None]
        return [nam(f[i], f[i + 1], f[i + 2]) for i, nam in enumerate(self.aggregate)]

    def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        diffs = [pcim(a, b) for pcim, a, b in zip(self.changes, *siamese(self._features, before, after), strict=True)]
        x = self.attend[-1](diffs[-1])
        for d, merge, sam in zip(reversed(diffs[:-1]), reversed(self.merge), reversed(self.attend[:-1]), strict=True):
            x = sam(merge(d + upsample_like(x, d)))
        return upsample_like(self.classify(x), before)


@register("a2net", "change", "A2Net, lightweight progressive aggregation and supervised attention",
          "Li, Tang, Liu, Zhang, Dou, Wang & Zomaya 2023, Lightweight Remote Sensing Change Detection "
          "with Progressive Feature Aggregation and Supervised Attention", width=8)
def build_a2net(in_channels: int, num_classes: int, width: int) -> nn.Module:
    return A2Net(in_channels, num_classes, width)
