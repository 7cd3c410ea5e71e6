"""The method table: every method the pipeline evaluates or reports, and its kind.

- **trained**: an id of params.yaml ``train.variants``; its checkpoint comes from the
  pretrain / train stages (:func:`pipeline.dag.variant_checkpoint`);
- **first stage** of another: evaluated from that variant's checkpoint, taking its first
  stage's composite (``ic1``: I_c1 of ``full``, Table III);
- **classical**: :mod:`rwgan.classical`, no training;
- **external**: run by the paper from released weights; only its numbers, from
  ``reference/paper/``, shown "(reported in paper)".

Display names are params.yaml ``report.method_names``.
"""
from __future__ import annotations

from rwgan.classical import CLASSICAL_METHODS

FIRST_STAGE = {"ic1": "full"}  # method -> the variant whose checkpoint it reads
CLASSICAL = tuple(key for key, _ in CLASSICAL_METHODS)
EXTERNAL = ("ca", "ec", "pic")


def kind(params: dict, method: str) -> str | None:
    """``trained``, ``first_stage``, ``classical``, ``external``, or None for an unknown id."""
    if method in params["train"]["variants"]:
        return "trained"
    if method in FIRST_STAGE:
        return "first_stage"
    if method in CLASSICAL:
        return "classical"
    return "external" if method in EXTERNAL else None


def evaluable(params: dict) -> list[str]:
    """Every method this profile can evaluate: the trained variants, first stages, classical ones."""
    return sorted(params["train"]["variants"]) + [*FIRST_STAGE, *CLASSICAL]


def checkpoint_variant(method: str) -> str | None:
    """The variant whose checkpoint ``method`` reads (None for classical and external methods)."""
    if method in CLASSICAL or method in EXTERNAL:
        return None
    return FIRST_STAGE.get(method, method)
