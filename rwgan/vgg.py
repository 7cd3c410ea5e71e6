"""The loss network of the perceptual losses: frozen VGG16 pooled features (eqs. 3-5; PC's losses).

The weights come from the local cache (:mod:`rwgan.assets`: ``rwgan fetch-weights``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rwgan.assets import (CAFFE_MEAN_BGR, IMAGENET_MEAN, IMAGENET_STD, VGG16_POOL_INDICES, vgg16_caffe_features,
                          vgg16_features)
from rwgan.errors import RwganError

#: The two VGG16 weight sets the perceptual losses can use (see :class:`VGGFeatures`).
VGG_WEIGHTS = ("torchvision", "caffe")


class VGGFeatures(nn.Module):
    """Frozen ImageNet VGG16 pooled features for the perceptual losses (eq. 3-5; PC's losses).

    Input: images (N, 3, H, W) in [-1, 1], optionally resized to ``resize`` x ``resize``
    (bilinear, as the official code resizes composites to 224 before VGG), then fed as the
    ``weights`` expect:

    - ``"caffe"``, the official code's network (tensorflow-vgg's Caffe port): BGR, 0-255
      minus Caffe's ImageNet mean, no division by a std (:func:`rwgan.assets.import_caffe_vgg16`);
    - ``"torchvision"`` (obtainable offline): [0, 1] normalised by the ImageNet mean and
      std.  Its features are ~50-60x smaller than Caffe's, which would make the Gram terms
      of L_c and L_s ~3,000x smaller than the paper's lambdas assume; ``feature_scale``
      multiplies every output to restore Caffe's scale (the losses use
      :data:`rwgan.assets.CAFFE_INPUT_SCALE` = 255 x mean std = 57.6: Caffe's input is that many times
      the normalised input, and a network of convolutions, ReLUs and max-pools is
      positively homogeneous up to its biases, so its features scale alike and each Gram
      term by the square).

    Output: ``{name: (N, C, h, w)}`` for the requested names among pool1 (C=64, h=H'/2),
    pool2 (128, H'/4), pool3 (256, H'/8), H' the (resized) height.  The weights are frozen;
    gradients flow to the input.
    """

    def __init__(self, layers: tuple[str, ...] = ("pool1", "pool2", "pool3"), resize: int | None = 224,
                 weights: str = "torchvision", feature_scale: float = 1.0):
        super().__init__()
        unknown = [name for name in layers if name not in VGG16_POOL_INDICES]
        if unknown or not layers:
            raise RwganError(f"VGGFeatures layers: expected names among {sorted(VGG16_POOL_INDICES)}, got {layers}")
        if weights not in VGG_WEIGHTS:
            raise RwganError(f"VGGFeatures weights: expected one of {', '.join(VGG_WEIGHTS)}, got {weights!r}")
        self.layers, self.resize, self.weights, self.feature_scale = tuple(layers), resize, weights, feature_scale
        self.taps = {VGG16_POOL_INDICES[name]: name for name in layers}
        network = vgg16_caffe_features() if weights == "caffe" else vgg16_features()
        self.body = network[: max(self.taps) + 1]
        if weights == "caffe":  # x in [-1, 1] -> 255 x [0, 1] - mean, channels reversed to BGR
            scale, shift = (127.5,) * 3, tuple(127.5 - m for m in CAFFE_MEAN_BGR[::-1])
        else:  # x in [-1, 1] -> ([0, 1] - mean) / std
            scale = tuple(0.5 / s for s in IMAGENET_STD)
            shift = tuple((0.5 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD))
        self.register_buffer("scale", torch.tensor(scale).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", torch.tensor(shift).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = images
        if self.resize is not None:
            x = F.interpolate(x, size=(self.resize, self.resize), mode="bilinear", align_corners=False)
        x = x * self.scale + self.shift
        if self.weights == "caffe":
            x = x.flip(1)
        outputs = {}
        for index, layer in enumerate(self.body):
            x = layer(x)
            if index in self.taps:
                outputs[self.taps[index]] = x * self.feature_scale if self.feature_scale != 1 else x
        return outputs
