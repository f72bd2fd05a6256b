"""Footprint architectures: (N, C, H, W) -> (N, K, H, W) per-year segmentation."""
from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from export.architectures.blocks import (
    PyramidPooling,
    ResNetEncoder,
    conv_bn_relu,
    separable_conv_bn_relu,
    upsample_like,
)
from export.architectures.encoders import DilatedResNetEncoder, MixTransformer, MobileNetV2Encoder
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
        for block, skip in zip(self.blocks, reversed(features[:-1]), strict=True):
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
          "Ronneberger, Fischer & Brox 2015, U-Net: Convolutional Networks for Biomedical Image Segmentation",
          width=16)
def build_unet(in_channels: int, num_classes: int, width: int) -> nn.Module:
    return UNet(in_channels, num_classes, width)


def linknet_decoder_block(cin: int, cout: int) -> nn.Sequential:
    """LinkNet decoder block: 1x1 conv to a quarter of the channels, 3x3 transposed conv
    (stride 2), 1x1 conv to the output channels."""
    mid = cin // 4
    return nn.Sequential(
        conv_bn_relu(cin, mid, 1),
        nn.ConvTranspose2d(mid, mid, 3, stride=2, padding=1, output_padding=1, bias=False),
        nn.BatchNorm2d(mid),
        nn.ReLU(inplace=True),
        conv_bn_relu(mid, cout, 1),
    )


class LinkNet(nn.Module):
    """LinkNet (Chaurasia & Culurciello 2017) on a ResNet-18-layout encoder.

    Each decoder block doubles the resolution and its output is added to the encoder feature
    of that stride. The encoder's stem is at stride 2 (the paper's is at 4), so the decoder
    ends at stride 2 and the paper's final block without its first upsampling (3x3 conv, 2x2
    transposed conv to the classes) takes it to full size.
    """

    def __init__(self, in_channels: int, num_classes: int, width: int) -> None:
        super().__init__()
        self.encoder = ResNetEncoder(in_channels, width)
        deep = list(reversed(self.encoder.channels))  # stride 32 first
        self.decoder = nn.ModuleList(linknet_decoder_block(cin, cout) for cin, cout in pairwise(deep))
        self.final = nn.Sequential(
            conv_bn_relu(deep[-1], deep[-1]),
            nn.ConvTranspose2d(deep[-1], num_classes, 2, stride=2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.encoder(x)
        y = features[-1]
        for block, skip in zip(self.decoder, reversed(features[:-1]), strict=True):
            y = block(y) + skip
        return self.final(y)


class PSPNet(nn.Module):
    """PSPNet (Zhao et al. 2017): pyramid pooling (bins 1, 2, 3, 6) on the stride-8 feature of
    a dilated ResNet-18-layout encoder, a 3x3 conv, a 1x1 classifier, bilinear upsampling.

    Branches and the final conv have a quarter of the encoder's last width, as in the paper.
    The paper's auxiliary loss head is a training aid and is left out.
    """

    def __init__(self, in_channels: int, num_classes: int, width: int) -> None:
        super().__init__()
        self.encoder = DilatedResNetEncoder(in_channels, width, output_stride=8)
        deepest = self.encoder.channels[-1]
        self.pool = PyramidPooling(deepest, deepest // 4)
        self.head = nn.Sequential(
            conv_bn_relu(self.pool.out_channels, deepest // 4), nn.Conv2d(deepest // 4, num_classes, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upsample_like(self.head(self.pool(self.encoder(x)[-1])), x)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling of DeepLabV3/V3+ (Chen et al. 2017, 2018): a 1x1 conv,
    three atrous separable 3x3 convs and image-level pooling, concatenated and fused by 1x1."""

    def __init__(self, cin: int, cout: int, dilations: tuple[int, int, int] = (6, 12, 18)) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [conv_bn_relu(cin, cout, 1), *[separable_conv_bn_relu(cin, cout, d) for d in dilations]]
        )
        self.image_pool = conv_bn_relu(cin, cout, 1)
        self.project = conv_bn_relu((len(dilations) + 2) * cout, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        image = self.image_pool(x.mean(dim=(2, 3), keepdim=True)).expand(-1, -1, x.shape[2], x.shape[3])
        return self.project(torch.cat([*(b(x) for b in self.branches), image], dim=1))


class DeepLabV3Plus(nn.Module):
    """DeepLabV3+ (Chen et al. 2018) on any encoder with ``channels`` whose features list holds
    the stride-4 map second and the stride-16 map last.

    ASPP on the stride-16 feature, upsampled x4 and concatenated with the stride-4 feature
    reduced by a 1x1 conv, two separable 3x3 convs, a 1x1 classifier, bilinear x4.
    """

    def __init__(self, encoder: nn.Module, num_classes: int, channels: int, low_level_channels: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.aspp = ASPP(encoder.channels[-1], channels)
        self.low_level = conv_bn_relu(encoder.channels[1], low_level_channels, 1)
        self.decoder = nn.Sequential(
            separable_conv_bn_relu(channels + low_level_channels, channels),
            separable_conv_bn_relu(channels, channels),
            nn.Conv2d(channels, num_classes, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.encoder(x)
        low = self.low_level(features[1])
        y = torch.cat([upsample_like(self.aspp(features[-1]), low), low], dim=1)
        return upsample_like(self.decoder(y), x)


class UPerNet(nn.Module):
    """UPerNet (Xiao et al. 2018) on a ResNet-18-layout encoder.

    Pyramid pooling on the stride-32 feature heads an FPN top-down path over strides 32 to 4
    (``4 * width`` channels); the four FPN maps are upsampled to stride 4, concatenated, fused
    by a 3x3 conv and classified, then upsampled bilinearly to the input.
    """

    def __init__(self, in_channels: int, num_classes: int, width: int) -> None:
        super().__init__()
        self.encoder = ResNetEncoder(in_channels, width)
        dim = 4 * width
        levels = self.encoder.channels[1:-1]  # strides 4, 8, 16
        self.pool = PyramidPooling(self.encoder.channels[-1], dim)
        self.top = conv_bn_relu(self.pool.out_channels, dim)
        self.lateral = nn.ModuleList(conv_bn_relu(c, dim, 1) for c in levels)
        self.smooth = nn.ModuleList(conv_bn_relu(dim, dim) for _ in levels)
        self.fuse = nn.Sequential(conv_bn_relu(4 * dim, dim), nn.Conv2d(dim, num_classes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.encoder(x)[1:]
        y = self.top(self.pool(features[-1]))
        pyramid = [y]
        levels = zip(reversed(features[:-1]), reversed(self.lateral), reversed(self.smooth), strict=True)
        for feature, lateral, smooth in levels:
            y = lateral(feature) + upsample_like(y, feature)
            pyramid.append(smooth(y))
        finest = pyramid[-1]
        fused = torch.cat([finest, *(upsample_like(p, finest) for p in pyramid[-2::-1])], dim=1)
        return upsample_like(self.fuse(fused), x)


class SegFormer(nn.Module):
    """SegFormer (Xie et al. 2021): Mix Transformer encoder and the all-MLP decoder.

    Each stage's feature is projected to ``8 * width`` channels (MiT-B0's 256 at width 32),
    upsampled to stride 4, concatenated, fused by a 1x1 conv and classified; the logits are
    upsampled bilinearly to the input.
    """

    def __init__(self, in_channels: int, num_classes: int, width: int) -> None:
        super().__init__()
        self.encoder = MixTransformer(in_channels, width)
        dim = 8 * width
        self.project = nn.ModuleList(nn.Conv2d(c, dim, 1) for c in self.encoder.channels)
        self.fuse = nn.Sequential(conv_bn_relu(len(self.project) * dim, dim, 1), nn.Conv2d(dim, num_classes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.encoder(x)
        finest = features[0]
        y = torch.cat([upsample_like(p(f), finest) for p, f in zip(self.project, features, strict=True)], dim=1)
        return upsample_like(self.fuse(y), x)


@register("linknet", "footprint", "LinkNet, ResNet-18-layout encoder",
          "Chaurasia & Culurciello 2017, "
          "LinkNet: Exploiting Encoder Representations for Efficient Semantic Segmentation",
          width=16)
def build_linknet(in_channels: int, num_classes: int, width: int) -> nn.Module:
    return LinkNet(in_channels, num_classes, width)


@register("pspnet", "footprint", "PSPNet, dilated ResNet-18-layout encoder (output stride 8)",
          "Zhao, Shi, Qi, Wang & Jia 2017, Pyramid Scene Parsing Network", width=16)
def build_pspnet(in_channels: int, num_classes: int, width: int) -> nn.Module:
    return PSPNet(in_channels, num_classes, width)


@register("deeplabv3plus", "footprint", "DeepLabV3+, dilated ResNet-18-layout encoder (output stride 16)",
          "Chen, Zhu, Papandreou, Schroff & Adam 2018, Encoder-Decoder with Atrous Separable Convolution "
          "for Semantic Image Segmentation", width=16)
def build_deeplabv3plus(in_channels: int, num_classes: int, width: int) -> nn.Module:
    encoder = DilatedResNetEncoder(in_channels, width, output_stride=16)
    return DeepLabV3Plus(encoder, num_classes, channels=8 * width, low_level_channels=3 * width // 2)


@register("deeplabv3plus_mobilenet", "footprint", "DeepLabV3+, MobileNetV2 encoder (output stride 16)",
          "Chen et al. 2018 (DeepLabV3+) on Sandler, Howard, Zhu, Zhmoginov & Chen 2018, "
          "MobileNetV2: Inverted Residuals and Linear Bottlenecks", width=16)
def build_deeplabv3plus_mobilenet(in_channels: int, num_classes: int, width: int) -> nn.Module:
    encoder = MobileNetV2Encoder(in_channels, width, output_stride=16)
    return DeepLabV3Plus(encoder, num_classes, channels=8 * width, low_level_channels=3 * width // 2)


@register("upernet", "footprint", "UPerNet, ResNet-18-layout encoder",
          "Xiao, Liu, Zhou, Jiang & Sun 2018, Unified Perceptual Parsing for Scene Understanding", width=16)
def build_upernet(in_channels: int, num_classes: int, width: int) -> nn.Module:
    return UPerNet(in_channels, num_classes, width)


@register("segformer", "footprint", "SegFormer, MiT-B0-layout Mix Transformer encoder",
          "Xie, Wang, Yu, Anandkumar, Alvarez & Luo 2021, SegFormer: Simple and Efficient Design for "
          "Semantic Segmentation with Transformers", width=16)
def build_segformer(in_channels: int, num_classes: int, width: int) -> nn.Module:
    return SegFormer(in_channels, num_classes, width)
