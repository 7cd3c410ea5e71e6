"""Patch discriminators (paper Sec. III-D, eq. 6; SPEC.md "Region-wise discriminator").

Six 5x5 stride-2 convs with padding 2, widths 64, 128, 256, 256, 256, 256, spectral
norm (one power iteration) on every conv, LeakyReLU 0.2 after all but the last
(5,946,816 parameters).  The output is a raw patch map N x 256 x ceil(H/64) x ceil(W/64)
(4 x 4 for a 256 input), compared by the losses with M' = 1 - M resized to that grid.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from rwgan.layers import check_image_and_mask, seeded_init

WIDTHS = (64, 128, 256, 256, 256, 256)


class PatchDiscriminator(nn.Module):
    """forward(image, mask) -> N x 256 x H/64 x W/64 patch scores.

    ``image``: N x 3 x H x W in [-1, 1]; ``mask`` M: N x 1 x H x W, 1 = known, 0 = hole.
    ``region_wise=True`` (the paper's D) sees concat(image * (1 - M), M): the hole
    content and the mask only, so known pixels cannot influence it.
    ``region_wise=False`` (Fig. 8's standard D) sees the whole image, concat(image, M).
    """

    def __init__(self, region_wise: bool = True):
        super().__init__()
        self.region_wise = region_wise
        layers: list[nn.Module] = []
        in_channels = 4
        for index, width in enumerate(WIDTHS):
            layers.append(spectral_norm(nn.Conv2d(in_channels, width, 5, stride=2, padding=2), n_power_iterations=1))
            if index < len(WIDTHS) - 1:
                layers.append(nn.LeakyReLU(0.2))
            in_channels = width
        self.layers = nn.Sequential(*layers)

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        check_image_and_mask(image, mask)
        content = image * (1 - mask) if self.region_wise else image
        return self.layers(torch.cat([content, mask], dim=1))


def region_wise_discriminator(*, seed: int = 0) -> PatchDiscriminator:
    """The paper's region-wise D, initial weights drawn from ``seed``."""
    with seeded_init(seed):
        return PatchDiscriminator(region_wise=True)


def standard_discriminator(*, seed: int = 0) -> PatchDiscriminator:
    """The whole-image D of Fig. 8's variants, initial weights drawn from ``seed``."""
    with seeded_init(seed):
        return PatchDiscriminator(region_wise=False)
