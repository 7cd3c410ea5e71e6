"""The region-wise generators (paper Sec. III-A/B; docs/model.md "Generator").

Two encoder-decoders with the same encoder (DeepFill v1's coarse net): the semantic
inferring network (SINet, decoder of region-wise convolutions, eq. 1) and the global
perceiving network (GPNet, a plain U-Net decoder), chained as in Sec. III-A:

    I_p1 = SINet([I_g * M, M]);  I_c1 = I_g * M + I_p1 * (1 - M)
    I_p2 = GPNet([I_c1, M]);     I_c2 = I_g * M + I_p2 * (1 - M)

Images are N x 3 x H x W in [-1, 1]; M is N x 1 x H x W, 1 = known, 0 = hole; H and W
must be divisible by 4.  Every conv ends in ELU and each network's output is clamped
to [-1, 1] (authors' code).

Decoder skips mirror the encoder: e4 (1/4 resolution, 128 ch) feeds layer 13,
e3 and e2 (1/2 resolution, 64 ch) feed layers 14 and 15, e1 (full resolution, 32 ch)
feeds GPNet's layer 16; these widths give the exact parameter counts of docs/model.md.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from rwgan.layers import (
    GeneratorConv,
    GeneratorUpConv,
    RegionWiseConv2d,
    check_image_and_mask,
    glorot_init,
    seeded_init,
)
from rwgan.models.base import InpaintingGenerator, composite


class EncoderFeatures(NamedTuple):
    """Encoder outputs a decoder uses: the skips e1..e4 and the bottleneck e12."""

    e1: Tensor  # N x 32 x H x W
    e2: Tensor  # N x 64 x H/2 x W/2
    e3: Tensor  # N x 64 x H/2 x W/2
    e4: Tensor  # N x 128 x H/4 x W/4
    e12: Tensor  # N x 128 x H/4 x W/4


class InpaintingEncoder(nn.Module):
    """The shared encoder e1..e12 (docs/model.md "Generator"): N x 4 x H x W -> :class:`EncoderFeatures`.

    e11 and e12 see the U-Net skips concat[e10, e6] and concat[e11, e5].
    """

    def __init__(self):
        super().__init__()
        self.e1 = GeneratorConv(4, 32, kernel_size=5)
        self.e2 = GeneratorConv(32, 64, stride=2)
        self.e3 = GeneratorConv(64, 64)
        self.e4 = GeneratorConv(64, 128, stride=2)
        self.e5 = GeneratorConv(128, 128)
        self.e6 = GeneratorConv(128, 128)
        self.dilated = nn.Sequential(*(GeneratorConv(128, 128, dilation=d) for d in (2, 4, 8, 16)))  # e7..e10
        self.e11 = GeneratorConv(256, 128)
        self.e12 = GeneratorConv(256, 128)

    def forward(self, x: Tensor) -> EncoderFeatures:
        e1 = self.e1(x)
        e2 = self.e2(e1)
        e3 = self.e3(e2)
        e4 = self.e4(e3)
        e5 = self.e5(e4)
        e6 = self.e6(e5)
        e10 = self.dilated(e6)
        e11 = self.e11(torch.cat([e10, e6], dim=1))
        e12 = self.e12(torch.cat([e11, e5], dim=1))
        return EncoderFeatures(e1, e2, e3, e4, e12)


class SemanticInferringNet(nn.Module):
    """SINet (2,830,083 parameters): encoder, region-wise convs rw13 (up), rw14, rw15 (up),
    then plain convs to 32, 16, 3 channels.

    ``standard_conv=True`` is Table III's "standard conv" ablation: rw13-15 become plain
    3x3 convs of the same input width (see :class:`RegionWiseConv2d`), same parameter count.

    forward(image, mask): ``image`` is the masked input I_g * M (N x 3 x H x W, [-1, 1]),
    ``mask`` M (N x 1 x H x W, 1 = known); returns I_p1, N x 3 x H x W in [-1, 1].
    """

    def __init__(self, standard_conv: bool = False):
        super().__init__()
        region_wise = not standard_conv
        self.encoder = InpaintingEncoder()
        self.rw13 = RegionWiseConv2d(128, 128, 128, upsample=True, region_wise=region_wise)
        self.rw14 = RegionWiseConv2d(128, 64, 128, region_wise=region_wise)
        self.rw15 = RegionWiseConv2d(128, 64, 128, upsample=True, region_wise=region_wise)
        self.head = nn.Sequential(GeneratorConv(128, 32), GeneratorConv(32, 16), GeneratorConv(16, 3))  # d16..d18

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        check_image_and_mask(image, mask)
        features = self.encoder(torch.cat([image, mask], dim=1))
        x = self.rw13(features.e12, features.e4, mask)
        x = self.rw14(x, features.e3, mask)
        x = self.rw15(x, features.e2, mask)
        return self.head(x).clamp(-1, 1)


class GlobalPerceivingNet(nn.Module):
    """GPNet (1,875,971 parameters): encoder, then a U-Net decoder with widths 64 (up),
    64, 32 (up), 16, 3, each layer fed concat[previous, skip].

    forward(image, mask): ``image`` is the coarse composite I_c1 (N x 3 x H x W, [-1, 1]),
    ``mask`` M (N x 1 x H x W, 1 = known); returns I_p2, N x 3 x H x W in [-1, 1].
    """

    def __init__(self):
        super().__init__()
        self.encoder = InpaintingEncoder()
        self.g13 = GeneratorUpConv(128 + 128, 64)
        self.g14 = GeneratorConv(64 + 64, 64)
        self.g15 = GeneratorUpConv(64 + 64, 32)
        self.g16 = GeneratorConv(32 + 32, 16)
        self.g17 = GeneratorConv(16, 3)

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        check_image_and_mask(image, mask)
        features = self.encoder(torch.cat([image, mask], dim=1))
        x = self.g13(torch.cat([features.e12, features.e4], dim=1))
        x = self.g14(torch.cat([x, features.e3], dim=1))
        x = self.g15(torch.cat([x, features.e2], dim=1))
        x = self.g16(torch.cat([x, features.e1], dim=1))
        return self.g17(x).clamp(-1, 1)


class GeneratorOutput(NamedTuple):
    """The four images of the stage chaining, each N x 3 x H x W in [-1, 1]."""

    coarse: Tensor  # I_p1, SINet's prediction
    coarse_composite: Tensor  # I_c1 = I_g * M + I_p1 * (1 - M)
    refined: Tensor  # I_p2, GPNet's prediction
    composite: Tensor  # I_c2 = I_g * M + I_p2 * (1 - M), the inpainting result


class RegionWiseGenerator(InpaintingGenerator):
    """SINet followed by GPNet (4,706,054 parameters; Sec. III-A).

    forward(image, mask) as :class:`~rwgan.models.base.InpaintingGenerator`: ``image`` is
    the ground truth I_g (N x 3 x H x W, [-1, 1]), ``mask`` M (N x 1 x H x W, 1 = known,
    0 = hole), H and W divisible by 4.  The network masks the input itself (I_g * M), so
    hole pixels of ``image`` never affect the result.  Returns :class:`GeneratorOutput`
    (I_p1, I_c1, I_p2, I_c2).
    """

    has_first_stage = True

    def __init__(self, standard_conv: bool = False):
        super().__init__()
        self.semantic = SemanticInferringNet(standard_conv=standard_conv)
        self.perceiving = GlobalPerceivingNet()

    def forward(self, image: Tensor, mask: Tensor) -> GeneratorOutput:
        check_image_and_mask(image, mask)
        masked = image * mask
        coarse = self.semantic(masked, mask)
        coarse_composite = composite(masked, coarse, mask)
        refined = self.perceiving(coarse_composite, mask)
        return GeneratorOutput(coarse, coarse_composite, refined, composite(masked, refined, mask))


def region_wise_generator(standard_conv: bool = False, *, seed: int = 0) -> RegionWiseGenerator:
    """Build the generator with initial weights drawn from ``seed``: Glorot-uniform
    kernels and zero biases, the official code's TF1 defaults (:func:`glorot_init`)."""
    with seeded_init(seed):
        return glorot_init(RegionWiseGenerator(standard_conv=standard_conv))
