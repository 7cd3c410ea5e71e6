"""The networks: region-wise generator, patch discriminators, and the PC baseline.

Every trained generator implements :class:`InpaintingGenerator`; which kinds exist, how
each is built and trained, is the registry :mod:`rwgan.kinds`.  Builders take a keyword
``seed`` so initial weights never depend on global RNG state.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from rwgan.kinds import get_model_kind
from rwgan.models.base import InpaintingGenerator, composite
from rwgan.models.discriminator import PatchDiscriminator, region_wise_discriminator, standard_discriminator
from rwgan.models.generator import (
    GeneratorOutput,
    GlobalPerceivingNet,
    RegionWiseGenerator,
    SemanticInferringNet,
    region_wise_generator,
)
from rwgan.models.pconv import PartialConv2d, PConvOutput, PConvUNet, pconv_unet

if TYPE_CHECKING:
    from rwgan.variants import Variant


def build_generator(variant: Variant, seed: int = 0) -> InpaintingGenerator:
    """The network a variant trains (its kind's builder, :mod:`rwgan.kinds`, with the
    switches it takes); initial weights drawn from ``seed``."""
    return get_model_kind(variant.model).build(variant, seed)


__all__ = [
    "GeneratorOutput",
    "GlobalPerceivingNet",
    "InpaintingGenerator",
    "PConvOutput",
    "PConvUNet",
    "PartialConv2d",
    "PatchDiscriminator",
    "RegionWiseGenerator",
    "SemanticInferringNet",
    "build_generator",
    "composite",
    "pconv_unet",
    "region_wise_discriminator",
    "region_wise_generator",
    "standard_discriminator",
]
