"""Patch discriminators (paper Sec. III-D, eq. 6; docs/model.md "Discriminator").

Six 5x5 stride-2 convs, widths 64, 128, 256, 256, 256, 256, spectral norm (one power
iteration) on every conv, each followed by LeakyReLU 0.2 (5,946,816 parameters), as the
official code builds it (``inpaint_ops.dis_conv`` and ``RW_discriminator``):

- padding is TensorFlow's ``'SAME'`` (:func:`rwgan.layers.tf_same_padding`): 1 pixel
  before and 2 after on an even size, 2 and 2 on an odd one, so each layer's output has
  ceil(size / 2) entries sampled on TF's grid;
- the last conv is followed by LeakyReLU too: in the code's default adversarial mode
  (the L1 patch-label loss of eq. 6 that :mod:`rwgan.losses` implements) the activation
  is applied after every layer, the last included;
- weights start Glorot-uniform with zero biases (TF1's defaults, :func:`rwgan.layers.glorot_init`).

The output is a patch map N x 256 x ceil(H/64) x ceil(W/64) (4 x 4 for a 256 input,
2 x 2 for 128, 1 x 1 for 64), compared by the losses with M' = 1 - M resized to that grid.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from rwgan.layers import check_image_and_mask, glorot_init, seeded_init, tf_same_padding

WIDTHS = (64, 128, 256, 256, 256, 256)
KERNEL_SIZE, STRIDE, NEGATIVE_SLOPE = 5, 2, 0.2


class SameConv2d(nn.Module):
    """A 5x5 stride-2 spectral-norm conv with TF's ``'SAME'`` padding, then LeakyReLU 0.2."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        conv = glorot_init(nn.Conv2d(in_channels, out_channels, KERNEL_SIZE, stride=STRIDE))
        self.conv = spectral_norm(conv, n_power_iterations=1)

    def forward(self, x: Tensor) -> Tensor:
        top, bottom = tf_same_padding(x.shape[-2], KERNEL_SIZE, STRIDE)
        left, right = tf_same_padding(x.shape[-1], KERNEL_SIZE, STRIDE)
        return F.leaky_relu(self.conv(F.pad(x, (left, right, top, bottom))), NEGATIVE_SLOPE)


class PatchDiscriminator(nn.Module):
    """forward(image, mask) -> N x 256 x ceil(H/64) x ceil(W/64) patch scores.

    ``image``: N x 3 x H x W in [-1, 1]; ``mask`` M: N x 1 x H x W, 1 = known, 0 = hole.
    ``region_wise=True`` (the paper's D) sees concat(image * (1 - M), M): the hole
    content and the mask only, so known pixels cannot influence it.
    ``region_wise=False`` (Fig. 8's standard D) sees the whole image, concat(image, M).
    """

    def __init__(self, region_wise: bool = True):
        super().__init__()
        self.region_wise = region_wise
        widths = (4, *WIDTHS)
        self.layers = nn.Sequential(*(SameConv2d(a, b) for a, b in zip(widths, widths[1:])))

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
