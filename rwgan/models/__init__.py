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
from rwgan.variants import Variant

#: Model kind (a variant's ``model``) -> builder of the generator it trains, from the variant and a seed.
GENERATORS = {
    "region_wise": lambda variant, seed: region_wise_generator(variant.standard_conv, seed=seed),
    "pconv": lambda variant, seed: pconv_unet(seed=seed),
}


def build_generator(variant: Variant, seed: int = 0):
    """The network a variant trains (:data:`GENERATORS`; ``standard_conv`` as the variant says);
    initial weights drawn from ``seed``."""
    return GENERATORS[variant.model](variant, seed)


__all__ = [
    "GENERATORS",
    "GeneratorOutput",
    "GlobalPerceivingNet",
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
