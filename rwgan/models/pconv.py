"""The PC baseline: partial convolutions in a U-Net (Liu et al., ECCV 2018; docs/model.md "Baselines").

Masks follow the project convention, 1 = valid (known) pixel, 0 = hole.

Architecture: 8 partial-conv encoder layers, stride 2 (7x7 64, 5x5 128, 5x5 256, 3x3 512
x 5), batch norm except on the first, ReLU; a decoder of 8 layers, each upsampling
(nearest) features and mask to the matching skip's spatial size, concatenating the
skip's features and mask channel-wise, then a 3x3 partial conv with batch norm (except
the last) and LeakyReLU 0.2; the last layer, fed the input image and mask as its skip,
gives 3 channels.  Upsampling to the skip's size (rather than x2) lets every size
divisible by 4 run: below 1 x 1 the stride-2 layers stay at 1 x 1.

Output range: the last layer is linear in Liu et al.; here it is followed by ``tanh`` so
the prediction lies in [-1, 1] like the generator's.  ``tanh`` rather than a clamp
because a clamp passes no gradient to out-of-range pixels, so the L1 losses could not
pull them back, while ``tanh`` does and is close to the identity near 0.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rwgan.errors import RwganError
from rwgan.layers import check_image_and_mask, resize_mask, seeded_init
from rwgan.models.base import InpaintingGenerator, composite

#: (out_channels, kernel) of the encoder layers; all stride 2, padding kernel // 2.
ENCODER_LAYERS = ((64, 7), (128, 5), (256, 5), (512, 3), (512, 3), (512, 3), (512, 3), (512, 3))


class PartialConv2d(nn.Conv2d):
    """Partial convolution (Liu et al. eq. 1-2).

    forward(x (N, C, H, W), mask (N, 1, H, W) shared by all channels, or (N, C, H, W)
    per channel; 1 = valid) -> (out, new_mask (N, 1, H', W')).

    Per output window: ``out = W^T (X * M) * sum(1) / sum(M) + b`` where ``sum(M) > 0``,
    else 0, with the sums taken over the window (and the mask channels); zero padding
    counts as hole.  ``new_mask = 1`` where ``sum(M) > 0``, else 0.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        if mask.shape[1] not in (1, x.shape[1]) or mask.shape[-2:] != x.shape[-2:]:
            raise RwganError(
                f"mask: expected shape (N, 1 or {x.shape[1]}, {x.shape[2]}, {x.shape[3]}), got {tuple(mask.shape)}"
            )
        raw = self._conv_forward(x * mask, self.weight, None)
        with torch.no_grad():
            ones = torch.ones(1, mask.shape[1], *self.kernel_size, dtype=mask.dtype, device=mask.device)
            valid_count = F.conv2d(mask, ones, stride=self.stride, padding=self.padding)
            new_mask = (valid_count > 0).to(mask.dtype)
            scale = ones.numel() / valid_count.clamp(min=1e-8) * new_mask
        out = raw * scale
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1) * new_mask
        return out, new_mask


class _PartialConvBlock(nn.Module):
    """Partial conv, optional batch norm, optional activation; carries the mask along."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int,
                 batch_norm: bool, activation: nn.Module | None):
        super().__init__()
        self.conv = PartialConv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2)
        self.norm = nn.BatchNorm2d(out_channels) if batch_norm else None
        self.activation = activation

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        x, mask = self.conv(x, mask)
        if self.norm is not None:
            x = self.norm(x)
        if self.activation is not None:
            x = self.activation(x)
        return x, mask


class PConvOutput(NamedTuple):
    """The PC U-Net's images, each N x 3 x H x W in [-1, 1]."""

    prediction: Tensor  # I_out, the network's raw output
    composite: Tensor  # I_comp = I_g * M + I_out * (1 - M), the inpainting result


class PConvUNet(InpaintingGenerator):
    """Liu et al.'s partial-convolution U-Net (see the module docstring).

    forward(image, mask) as :class:`~rwgan.models.base.InpaintingGenerator`: ``image``
    I_g N x 3 x H x W in [-1, 1] (the network sees I_g * M), ``mask`` M N x 1 x H x W
    (1 = known), H and W divisible by 4.  Returns :class:`PConvOutput` (no first stage).
    """

    def __init__(self):
        super().__init__()
        widths = [3]
        encoder = []
        for index, (width, kernel) in enumerate(ENCODER_LAYERS):
            encoder.append(_PartialConvBlock(widths[-1], width, kernel, 2, batch_norm=index > 0, activation=nn.ReLU()))
            widths.append(width)
        self.encoder = nn.ModuleList(encoder)
        decoder = []
        for level in range(len(ENCODER_LAYERS), 0, -1):  # decoder layer `level` joins encoder output level - 1
            last = level == 1
            decoder.append(_PartialConvBlock(
                widths[level] + widths[level - 1], 3 if last else widths[level - 1], 3, 1,
                batch_norm=not last, activation=None if last else nn.LeakyReLU(0.2),
            ))
        self.decoder = nn.ModuleList(decoder)
        self.encoder_bn_frozen = False

    def freeze_encoder_bn(self) -> None:
        """Fine-tuning phase (Liu et al. Sec. 4): encoder batch norms use their running
        statistics (eval mode, kept across later ``train()`` calls) and their affine
        parameters stop receiving gradients."""
        self.encoder_bn_frozen = True
        for norm in self._encoder_norms():
            norm.eval()
            norm.requires_grad_(False)

    def train(self, mode: bool = True) -> "PConvUNet":
        super().train(mode)
        if self.encoder_bn_frozen:
            for norm in self._encoder_norms():
                norm.eval()
        return self

    def _encoder_norms(self) -> list[nn.BatchNorm2d]:
        return [block.norm for block in self.encoder if block.norm is not None]

    def forward(self, image: Tensor, mask: Tensor) -> PConvOutput:
        check_image_and_mask(image, mask)
        skips = [(image * mask, mask)]
        for block in self.encoder:
            skips.append(block(*skips[-1]))
        x, x_mask = skips.pop()
        for block in self.decoder:
            skip, skip_mask = skips.pop()
            size = skip.shape[-2:]
            x = F.interpolate(x, size=size, mode="nearest")
            x_mask = resize_mask(x_mask, size)
            joined_mask = torch.cat([x_mask.expand(-1, x.shape[1], -1, -1),
                                     skip_mask.expand(-1, skip.shape[1], -1, -1)], dim=1)
            x, x_mask = block(torch.cat([x, skip], dim=1), joined_mask)
        prediction = torch.tanh(x)
        return PConvOutput(prediction, composite(image, prediction, mask))


def pconv_unet(*, seed: int = 0) -> PConvUNet:
    """Build the PC baseline with initial weights drawn from ``seed`` (torch default init)."""
    with seeded_init(seed):
        return PConvUNet()
