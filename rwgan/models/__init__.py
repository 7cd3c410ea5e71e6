"""The networks: region-wise generator, patch discriminators, and the PC baseline.

Builders take a keyword ``seed`` so initial weights never depend on global RNG state.
"""
from rwgan.models.discriminator import PatchDiscriminator, region_wise_discriminator, standard_discriminator
from rwgan.models.generator import (
    GeneratorOutput,
    GlobalPerceivingNet,
    RegionWiseGenerator,
    SemanticInferringNet,
    composite,
    region_wise_generator,
)
from rwgan.models.pconv import PartialConv2d, PConvUNet, pconv_unet

__all__ = [
    "GeneratorOutput",
    "GlobalPerceivingNet",
    "PConvUNet",
    "PartialConv2d",
    "PatchDiscriminator",
    "RegionWiseGenerator",
    "SemanticInferringNet",
    "composite",
    "pconv_unet",
    "region_wise_discriminator",
    "region_wise_generator",
    "standard_discriminator",
]
