"""The region-wise GAN's objective: Algorithm 1 with the losses of eq. 2-7 (paper Sec. III-C/D).

Phase 1 minimises ``L_r + lambda1 L_c + lambda2 L_s`` (eq. 7 with lambda3 = 0; the paper's
first 20 epochs); phase 2 adds ``lambda3 L_adv`` and, after each generator step, updates
the discriminators on eq. 6 from the same forward pass's detached composites (Algorithm 1,
lines 14-15; the paper's 9 further epochs).  A variant without ``adversarial_phase``
(RED) stops after phase 1 (:mod:`rwgan.kinds`); one without discriminators (Fig. 8's
"no D") runs phase 2 as more reconstruction-only training.

L_c is taken on pool2 of the composite of ``variant.correlation_on``, L_s on pool1-3 of
``variant.style_on`` (I_c1 / I_c2 by default), with the loss network the config names
(``vgg_weights``, ``vgg_feature_scale``, ``vgg_resize``; :class:`rwgan.vgg.VGGFeatures`).
Each discriminator judges the *composites* of the stages it lists: for the region-wise D
they equal eq. 6's ``I_p * (1 - M)`` (it sees the hole only); for the standard whole-image
D the composite keeps the known region real, so only the hole can give a fake away.  Its
real label is all ones; the region-wise D's is M'.  A loss whose lambda is 0 is not
computed.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from rwgan import losses
from rwgan.models.discriminator import region_wise_discriminator, standard_discriminator
from rwgan.models.generator import GeneratorOutput
from rwgan.objectives import TrainingObjective
from rwgan.vgg import VGGFeatures

STYLE_LAYERS = ("pool1", "pool2", "pool3")
CORRELATION_LAYER = "pool2"
#: Discriminator kind (a variant's ``discriminators[k].kind``) -> its builder.
DISCRIMINATORS = {"region_wise": region_wise_discriminator, "standard": standard_discriminator}


class RegionWiseObjective(TrainingObjective):
    """See the module docstring.  Discriminator k starts from ``config.seed + 1 + k``."""

    terms = ("reconstruction", "correlation", "style", "adversarial")
    has_discriminators = True

    def __init__(self, config, autocast):
        super().__init__(config, autocast)
        variant = self.variant
        self.discriminators = [DISCRIMINATORS[spec.kind](seed=config.seed + 1 + k)
                               for k, spec in enumerate(variant.discriminators)]
        layers = ((CORRELATION_LAYER,) if variant.lambda_correlation > 0 else ()) + (
            STYLE_LAYERS if variant.lambda_style > 0 else ())
        if layers:
            self.vgg = VGGFeatures(tuple(sorted(set(layers))), resize=config.vgg_resize, weights=config.vgg_weights,
                                   feature_scale=config.vgg_feature_scale)

    def loss_weights(self, phase: int) -> dict[str, float]:
        variant = self.variant
        return {"reconstruction": 1.0, "correlation": variant.lambda_correlation, "style": variant.lambda_style,
                "adversarial": variant.lambda_adversarial if self.trains_discriminators(phase) else 0.0}

    def trains_discriminators(self, phase: int) -> bool:
        return phase == 2 and bool(self.discriminators)

    @staticmethod
    def stage_composites(output: GeneratorOutput) -> dict[str, Tensor]:
        """The composites keyed by stage: ``coarse`` I_c1, ``refined`` I_c2."""
        return {"coarse": output.coarse_composite, "refined": output.composite}

    def preview(self, output: GeneratorOutput) -> Tensor:
        return output.coarse_composite  # I_c1

    def generator_loss(self, output: GeneratorOutput, image: Tensor, mask: Tensor, phase: int) -> dict[str, Tensor]:
        """Eq. 2-7; lambda3 = 0 in phase 1 (Algorithm 1)."""
        variant = self.variant
        composites = self.stage_composites(output)
        terms = {"reconstruction": losses.reconstruction_loss(output.coarse, output.refined, image)}
        total = terms["reconstruction"]
        if self.vgg is not None:
            features, target = self._vgg_features(image, composites)
            if variant.lambda_correlation > 0:
                terms["correlation"] = losses.correlation_loss(features[variant.correlation_on][CORRELATION_LAYER],
                                                               target[CORRELATION_LAYER])
                total = total + variant.lambda_correlation * terms["correlation"]
            if variant.lambda_style > 0:
                terms["style"] = losses.style_loss([features[variant.style_on][name] for name in STYLE_LAYERS],
                                                   [target[name] for name in STYLE_LAYERS])
                total = total + variant.lambda_style * terms["style"]
        if self.trains_discriminators(phase):
            adversarial = 0
            for discriminator, spec in zip(self.discriminators, variant.discriminators):  # frozen: no DDP needed
                scores = self._judge(discriminator, [composites[stage] for stage in spec.judges], mask)
                label = self._real_label(spec.kind, mask, scores[0])
                adversarial = adversarial + losses.generator_adversarial_loss(scores, label)
            terms["adversarial"] = adversarial
            total = total + variant.lambda_adversarial * adversarial
        terms["total"] = total
        return terms

    def discriminator_loss(self, image: Tensor, mask: Tensor, output: GeneratorOutput,
                           discriminators: list[nn.Module]) -> Tensor:
        """Eq. 6 summed over the discriminators (real: ``image``; fakes: the composites of
        the stages each judges)."""
        composites = self.stage_composites(output)
        loss = 0
        for wrapped, spec in zip(discriminators, self.variant.discriminators):
            real, *fakes = self._judge(wrapped, [image] + [composites[stage].detach() for stage in spec.judges], mask)
            loss = loss + losses.discriminator_loss(real, fakes, self._real_label(spec.kind, mask, real),
                                                    self.config.alpha)
        return loss

    def _vgg_features(self, image: Tensor, composites: dict[str, Tensor]) -> tuple[dict, dict]:
        """VGG features of the needed composites (one forward) and of the target (no grad)."""
        variant = self.variant
        stages = list(dict.fromkeys(
            ([variant.correlation_on] if variant.lambda_correlation > 0 else [])
            + ([variant.style_on] if variant.lambda_style > 0 else [])))
        with self.autocast():
            with torch.no_grad():
                target = {k: v.float() for k, v in self.vgg(image).items()}
            batched = self.vgg(torch.cat([composites[stage] for stage in stages]))
        split = {name: value.float().chunk(len(stages)) for name, value in batched.items()}
        return {stage: {name: parts[k] for name, parts in split.items()} for k, stage in enumerate(stages)}, target

    def _judge(self, discriminator: nn.Module, images: list[Tensor], mask: Tensor) -> list[Tensor]:
        """Scores of ``images`` (all with ``mask``), from one batched forward pass."""
        with self.autocast():
            scores = discriminator(torch.cat(images), mask.repeat(len(images), 1, 1, 1)).float()
        return list(scores.chunk(len(images)))

    @staticmethod
    def _real_label(kind: str, mask: Tensor, scores: Tensor) -> Tensor:
        """M' (eq. 6) for the region-wise D; all ones for the standard whole-image D."""
        if kind == "region_wise":
            return losses.hole_label_map(mask, tuple(scores.shape[-2:]))
        return torch.ones_like(scores[:, :1])
