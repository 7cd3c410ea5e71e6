"""Fixtures shared by several test files."""
from __future__ import annotations

import pytest

from rwgan.inference import build_generator, save_model
from rwgan.variants import DiscriminatorSpec, Variant

#: Side of :func:`checkpoint`'s training images.
CHECKPOINT_SIZE = 32


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """A randomly initialised full-model ``model.pt`` (32 px), for tests of inference and the CLI."""
    variant = Variant(name="full", model="region_wise", standard_conv=False, lambda_correlation=1e-5,
                      lambda_style=1e-3, lambda_adversarial=1.0, correlation_on="coarse", style_on="refined",
                      adversarial_phase=True, discriminators=(DiscriminatorSpec("region_wise", ("coarse", "refined")),))
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    save_model(path, build_generator(variant, seed=1), variant, CHECKPOINT_SIZE, params_hash="x", params={}, step=1)
    return path
