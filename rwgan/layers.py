"""Building blocks shared by the networks (docs/model.md "Generator"; paper Sec. III-B).

Conventions: images are float NCHW in [-1, 1]; the mask ``M`` is float N x 1 x H x W with
1 = known pixel and 0 = hole (the paper's M).

Generator convolutions follow the authors' code: reflect padding, then the convolution,
then ELU (after every generator convolution, the last one included).  Reflect padding
needs ``pad < feature size``; at small inputs that fails for wide dilations (the
dilation-16 layer at 1/4 resolution of a 64 px input has a 16 px feature map), so
wherever ``pad >= min(H, W)`` of the actual feature map that convolution zero-pads
instead.  At 256 px input every layer reflects, as in the code.

Upsampling convolutions (nearest x2, then a 3x3 conv: the code's ``deconv``) are computed
at the input's resolution (:meth:`GeneratorConv.forward` with ``upsample=True``): each of
the four output phases of the upsampled map sees only a 2 x 2 window of the input, so the
3x3 kernel folds into four 2x2 kernels and the layer costs 4/9 of the multiply-adds, with
the same result up to float rounding.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rwgan.errors import RwganError

#: Every network halves the resolution twice, so inputs must be multiples of this.
SIZE_MULTIPLE = 4


def check_image_and_mask(image: Tensor, mask: Tensor) -> None:
    """Raise :class:`RwganError` unless ``image`` is N x 3 x H x W, ``mask`` N x 1 x H x W,
    both floating point, with H and W divisible by :data:`SIZE_MULTIPLE`."""
    if image.dim() != 4 or image.shape[1] != 3 or not image.is_floating_point():
        raise RwganError(f"image: expected a float tensor of shape (N, 3, H, W), got {image.dtype} {tuple(image.shape)}")
    n, _, h, w = image.shape
    if tuple(mask.shape) != (n, 1, h, w) or not mask.is_floating_point():
        raise RwganError(
            f"mask: expected a float tensor of shape {(n, 1, h, w)} matching the image, "
            f"got {mask.dtype} {tuple(mask.shape)}"
        )
    if h % SIZE_MULTIPLE or w % SIZE_MULTIPLE:
        raise RwganError(f"image: height and width must be divisible by {SIZE_MULTIPLE}, got {h}x{w}")


def _aligned_nearest_indices(size_in: int, size_out: int, device) -> Tensor:
    """Source indices of TF1 ``resize_nearest_neighbor(align_corners=True)``: round(i (in-1)/(out-1))."""
    if size_out == 1:
        return torch.zeros(1, dtype=torch.long, device=device)
    scale = (size_in - 1) / (size_out - 1)
    return torch.floor(torch.arange(size_out, device=device, dtype=torch.float64) * scale + 0.5).long().clamp_(
        max=size_in - 1
    )


def _legacy_nearest_indices(size_in: int, size_out: int, device) -> Tensor:
    """Source indices of TF1 ``resize_nearest_neighbor(align_corners=False)``: floor(i in / out)."""
    return (torch.arange(size_out, device=device, dtype=torch.long) * size_in // size_out).clamp_(max=size_in - 1)


def resize_mask_legacy(mask: Tensor, size: tuple[int, int] | torch.Size) -> Tensor:
    """Nearest-neighbour resize of a mask (N x C x H x W) to ``size`` = (h, w), as TF1's
    ``tf.image.resize_nearest_neighbor(mask, size)`` with its default
    ``align_corners=False`` (and no half-pixel centres): output row i takes input row
    floor(i H / h), so a 256 -> 4 resize samples rows 0, 64, 128, 192.  The official code
    resizes the discriminator's label map M' this way (eq. 6), unlike the masks of the
    region-wise convolutions (:func:`resize_mask`)."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    rows = _legacy_nearest_indices(mask.shape[-2], size[0], mask.device)
    cols = _legacy_nearest_indices(mask.shape[-1], size[1], mask.device)
    return mask.index_select(-2, rows).index_select(-1, cols)


def resize_mask(mask: Tensor, size: tuple[int, int] | torch.Size) -> Tensor:
    """Nearest-neighbour resize of a mask (N x C x H x W) to ``size`` = (h, w); stays binary.

    Aligned corners, as the official code resizes masks everywhere
    (``tf.image.resize_nearest_neighbor(..., align_corners=True)``): output row i takes
    input row round(i (H - 1) / (h - 1)), so corner pixels map onto corner cells.
    """
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    rows = _aligned_nearest_indices(mask.shape[-2], size[0], mask.device)
    cols = _aligned_nearest_indices(mask.shape[-1], size[1], mask.device)
    return mask.index_select(-2, rows).index_select(-1, cols)


def tf_same_padding(size: int, kernel_size: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding of TensorFlow's ``padding='SAME'`` along one axis of ``size``.

    The output has ceil(size / stride) entries; the total pad is what that needs and TF puts
    the odd pixel *after*: a 5x5 stride-2 conv pads (1, 2) on an even size and (2, 2) on an
    odd one, where a symmetric ``padding=2`` would shift every layer's sampling grid.
    """
    effective = dilation * (kernel_size - 1) + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def glorot_init(module: nn.Module) -> nn.Module:
    """TF1's ``tf.layers.conv2d`` / ``get_variable`` defaults on every convolution of
    ``module``: Glorot-uniform kernels (limit sqrt(6 / (fan_in + fan_out)), fans counting
    the kernel's area, as :func:`torch.nn.init.xavier_uniform_`) and zero biases, the
    official code's initialisation.  Returns ``module``."""
    for conv in module.modules():
        if isinstance(conv, nn.Conv2d):
            nn.init.xavier_uniform_(conv.weight)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
    return module


@contextlib.contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Run the block (typically a network's construction) with torch's CPU RNG seeded to
    ``seed``, restoring the caller's RNG state afterwards: initial weights depend on
    ``seed`` alone."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


#: Row (and column) taps of a 3x3 kernel after nearest x2 upsampling: output row 2a + p
#: sees input rows a - 1 + p and a + p, so phase 0 takes (w0, w1 + w2), phase 1 (w0 + w1, w2).
_SUBPIXEL_FOLD = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]],
                               [[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])


def subpixel_kernels(weight: Tensor) -> Tensor:
    """Fold the 3x3 kernels of a conv that follows nearest x2 upsampling into the 2x2
    kernels of its four output phases: (O, C, 3, 3) -> (4 O, C, 2, 2), ordered by phase
    (row, column) = (0, 0), (0, 1), (1, 0), (1, 1), then output channel."""
    fold = _SUBPIXEL_FOLD.to(weight)
    kernels = torch.einsum("pik,ockl,qjl->pqocij", fold, weight, fold)
    return kernels.reshape(4 * weight.shape[0], weight.shape[1], 2, 2)


class GeneratorConv(nn.Module):
    """Generator convolution: 'same' padding (reflect; zero where the pad would reach
    the feature size, see the module docstring), ``k x k`` conv, ELU.

    (N, in_channels, H, W) -> (N, out_channels, ceil(H / stride), ceil(W / stride)).
    ``upsample=True`` (3x3, stride 1, dilation 1 only) returns
    ``self(F.interpolate(x, scale_factor=2, mode="nearest"))``, (N, out_channels, 2H, 2W),
    computed at the input's resolution (module docstring).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.pad = dilation * (kernel_size - 1) // 2
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, dilation=dilation)

    def forward(self, x: Tensor, upsample: bool = False) -> Tensor:
        if upsample:
            return F.elu(self._upsampled_conv(x), inplace=True)
        mode = "reflect" if self.pad < min(x.shape[-2:]) else "constant"
        x = F.pad(x, (self.pad,) * 4, mode=mode)
        return F.elu(self.conv(x), inplace=True)

    def _upsampled_conv(self, x: Tensor) -> Tensor:
        """The 3x3 conv (before ELU) of the nearest x2 upsampled ``x``, as four 2x2 convs.

        The upsampled map is at least 2 px wide, so it is always reflect-padded, and
        reflecting it by one pixel equals replicating ``x`` by one pixel.  One conv with
        the four phases' kernels over the replicated ``x`` gives (N, 4 O, H + 1, W + 1);
        phase (p, q) is its window starting at (p, q), written to rows p::2, columns q::2.
        """
        if self.conv.kernel_size != (3, 3) or self.conv.stride != (1, 1) or self.conv.dilation != (1, 1):
            raise RwganError(f"upsample: expected a 3x3 conv with stride 1 and dilation 1, got {self.conv}")
        n, _, height, width = x.shape
        out_channels = self.conv.out_channels
        channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        layout = torch.channels_last if channels_last else torch.contiguous_format
        padded = F.pad(x, (1, 1, 1, 1), mode="replicate").contiguous(memory_format=layout)
        kernels = subpixel_kernels(self.conv.weight).contiguous(memory_format=layout)
        phases = F.conv2d(padded, kernels, self.conv.bias.repeat(4)).view(n, 2, 2, out_channels, height + 1, width + 1)
        if channels_last:  # the output keeps the caller's memory format
            out = phases.new_empty(n, height, 2, width, 2, out_channels).permute(0, 5, 1, 2, 3, 4)
        else:
            out = phases.new_empty(n, out_channels, height, 2, width, 2)
        for p in range(2):
            for q in range(2):
                out[:, :, :, p, :, q] = phases[:, p, q, :, p:p + height, q:q + width]
        return out.view(n, out_channels, 2 * height, 2 * width)


class GeneratorUpConv(nn.Module):
    """Up block: nearest-neighbour x2, then a 3x3 :class:`GeneratorConv`.

    (N, in_channels, H, W) -> (N, out_channels, 2H, 2W).
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = GeneratorConv(in_channels, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x, upsample=True)


class RegionWiseConv2d(nn.Module):
    """Region-wise convolution (paper eq. 1; authors' region_conv.py), a 3x3 generator conv.

    With ``m`` = the mask resized (nearest) to the decoder features' resolution:
    ``known = concat(decoder, skip) * m``, ``missing = decoder * (1 - m)``, and one 3x3
    conv runs over ``concat(known, missing)``.  Its kernel splits into ``W`` (the
    ``decoder + skip`` input channels) and ``W_hat`` (the last ``decoder`` channels), so
    the output is ``W * known + W_hat * missing + b``: the known region is filtered by
    ``W``, the hole by ``W_hat`` (eq. 1; the code's single bias stands for b and b_hat),
    and only the known region sees the encoder skip.

    ``upsample=True`` is the code's ``region_deconv``: the split is made at the input
    resolution, then the fused features are upsampled (nearest x2) before the conv.

    ``region_wise=False`` is the "standard conv" ablation (Table III): the conv runs
    over ``concat(decoder, skip, decoder)`` with no mask split, so the input width and
    parameter count are unchanged and the only difference is the region-wise split.

    forward(decoder (N, Cd, H, W), skip (N, Cs, H, W), mask (N, 1, H0, W0), 1 = known)
    -> (N, out_channels, H, W), or (N, out_channels, 2H, 2W) with ``upsample``.
    """

    def __init__(self, decoder_channels: int, skip_channels: int, out_channels: int,
                 upsample: bool = False, region_wise: bool = True):
        super().__init__()
        self.upsample = upsample
        self.region_wise = region_wise
        self.conv = GeneratorConv(2 * decoder_channels + skip_channels, out_channels)

    def forward(self, decoder: Tensor, skip: Tensor, mask: Tensor) -> Tensor:
        if self.region_wise:
            m = resize_mask(mask, decoder.shape[-2:])
            fused = torch.cat([torch.cat([decoder, skip], dim=1) * m, decoder * (1 - m)], dim=1)
        else:
            fused = torch.cat([decoder, skip, decoder], dim=1)
        return self.conv(fused, upsample=self.upsample)
