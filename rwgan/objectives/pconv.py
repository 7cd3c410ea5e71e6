"""The PC baseline's objective (Liu et al. 2018, retrained): :func:`rwgan.losses.pconv_loss`.

Phase 1 is the initial training, phase 2 the fine-tuning with the encoder's batch norms
frozen (Liu et al. Sec. 4), each with its own learning rate (the config's).  The loss
weights are ``config.pconv_weights`` (Liu et al.: 1, 6, 0.05, 120, 0.1); the loss
network is torchvision's VGG16 at the images' native size, unscaled, as Liu et al. (the
config's ``vgg_*`` settings are the region-wise objective's).  No discriminators.
"""
from __future__ import annotations

from torch import Tensor

from rwgan.losses import pconv_loss
from rwgan.models.pconv import PConvOutput, PConvUNet
from rwgan.objectives import TrainingObjective
from rwgan.vgg import VGGFeatures


class PConvObjective(TrainingObjective):
    """See the module docstring."""

    terms = ("valid", "hole", "perceptual", "style", "tv")
    min_batch_size = 2
    min_batch_reason = "batch norm at 1 x 1"

    def __init__(self, config, autocast):
        super().__init__(config, autocast)
        self.vgg = VGGFeatures(resize=None)

    def loss_weights(self, phase: int) -> dict[str, float]:
        return {name: getattr(self.config.pconv_weights, name) for name in self.terms}

    def enter_phase(self, generator: PConvUNet, phase: int) -> bool:
        """Phase 2 (fine-tuning) freezes the encoder's batch norms."""
        if phase == 2 and not generator.encoder_bn_frozen:
            generator.freeze_encoder_bn()
            return True
        return False

    def generator_loss(self, output: PConvOutput, image: Tensor, mask: Tensor, phase: int) -> dict[str, Tensor]:
        w = self.config.pconv_weights
        return pconv_loss(output.prediction, image, mask, self.vgg, valid_weight=w.valid, hole_weight=w.hole,
                          perceptual_weight=w.perceptual, style_weight=w.style, tv_weight=w.tv)

    def preview(self, output: PConvOutput) -> Tensor:
        return output.prediction  # the raw prediction
