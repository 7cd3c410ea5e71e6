"""Fixtures shared by several test files."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline import config

from rwgan.inference import save_model
from rwgan.models import build_generator
from rwgan.variants import DiscriminatorSpec, Variant

ROOT = Path(__file__).resolve().parents[1]  # the repository
PARAMS_FILE = ROOT / "params.yaml"

#: Side of :func:`checkpoint`'s training images.
CHECKPOINT_SIZE = 32


def make_variant(model: str = "region_wise", standard_conv: bool = False) -> Variant:
    """The full model's switches (the paper's lambdas), on ``model``; named ``full`` for the
    region-wise model, else after ``model``. Test files import it (``from conftest import make_variant``)."""
    return Variant(name="full" if model == "region_wise" else model, model=model, standard_conv=standard_conv,
                   lambda_correlation=1e-5, lambda_style=1e-3, lambda_adversarial=1.0, correlation_on="coarse",
                   style_on="refined", adversarial_phase=True,
                   discriminators=(DiscriminatorSpec("region_wise", ("coarse", "refined")),))


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """A randomly initialised full-model ``model.pt`` (32 px), for tests of inference and the CLI."""
    variant = make_variant()
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    save_model(path, build_generator(variant, seed=1), variant, CHECKPOINT_SIZE, params_hash="x", params={}, step=1)
    return path


def write_params(folder: Path, **sections) -> Path:
    """A params.yaml in ``folder`` whose one profile ``t`` is the repository's defaults with
    ``sections`` (top-level keys) replaced; returns its path. Test files import it
    (``from conftest import write_params``)."""
    defaults = {**config.read_params_file(ROOT / "params.yaml")["defaults"], **sections}
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump({"profile": "t", "defaults": defaults, "profiles": {"t": {}}}))
    return path
