"""The method table: every method the pipeline evaluates or reports, and its kind.

- **trained**: an id of params.yaml ``train.variants``; its checkpoint comes from the
  pretrain / train stages (:func:`pipeline.dag.variant_checkpoint`);
- **first stage** of another: evaluated from that variant's checkpoint, taking its first
  stage's composite (``ic1``: I_c1 of ``full``, Table III);
- **authors' weights** (``authors_weights``): the paper's model with the authors' released
  weights, imported by ``rwgan import-official`` into ``<folder>/<mask set>/model.pt``, one
  folder per dataset in ``evaluate.authors_weights`` (none by default);
- **classical**: :mod:`rwgan.classical`, no training;
- **external**: anyone's method, declared in ``evaluate.external``: per dataset, a folder of
  its outputs named by pair id (:func:`rwgan.external.pair_id`), scored like ours;
- **paper**: run only by the paper (CA, EC, PIC); its numbers, from ``reference/paper/``,
  shown "(reported in paper)".

The authors' weights and the external methods are evaluated on every dataset they declare
(beside ``evaluate.methods``) and shown wherever ours are (:func:`declared`).  Display
names are params.yaml ``report.method_names``, and an external method's ``display_name``
(:func:`pipeline.report.shown_report`).
"""
from __future__ import annotations

from rwgan.classical import CLASSICAL_METHODS
from rwgan.errors import RwganError

FIRST_STAGE = {"ic1": "full"}  # method -> the variant whose checkpoint it reads
CLASSICAL = tuple(key for key, _ in CLASSICAL_METHODS)
AUTHORS_WEIGHTS = "authors_weights"
REPORTED_IN_PAPER = ("ca", "ec", "pic")


def external(params: dict) -> dict:
    """``evaluate.external`` (method id -> its declaration), each id checked to name no other method."""
    declared = params["evaluate"].get("external") or {}
    taken = {*params["train"]["variants"], *FIRST_STAGE, *CLASSICAL, AUTHORS_WEIGHTS, *REPORTED_IN_PAPER}
    for method in declared:
        if method in taken:
            raise RwganError(f"params.yaml: evaluate.external.{method}: the id of another method (expected a new id)")
    return declared


def kind(params: dict, method: str) -> str | None:
    """``trained``, ``first_stage``, ``authors_weights``, ``classical``, ``external``, ``paper``,
    or None for an unknown id."""
    if method in params["train"]["variants"]:
        return "trained"
    if method in FIRST_STAGE:
        return "first_stage"
    if method == AUTHORS_WEIGHTS:
        return "authors_weights"
    if method in CLASSICAL:
        return "classical"
    if method in external(params):
        return "external"
    return "paper" if method in REPORTED_IN_PAPER else None


def declared(params: dict, dataset: str | None = None) -> list[str]:
    """The authors' weights (if given) and the external methods (of ``dataset``): evaluated
    without being listed in ``evaluate.methods``, and shown wherever ours are."""
    section = params["evaluate"]
    weights = section.get("authors_weights") or {}
    ours = [AUTHORS_WEIGHTS] if weights and (dataset is None or dataset in weights) else []
    return ours + [m for m, spec in external(params).items() if dataset is None or dataset in spec["outputs"]]


def evaluable(params: dict) -> list[str]:
    """Every method this profile can evaluate: the trained variants, first stages, classical
    ones, and the declared ones."""
    return sorted(params["train"]["variants"]) + [*FIRST_STAGE, *CLASSICAL, *declared(params)]


def checkpoint_variant(params: dict, method: str) -> str | None:
    """The variant whose checkpoint ``method`` reads (None for a method no variant makes)."""
    return {"trained": method, "first_stage": FIRST_STAGE.get(method)}.get(kind(params, method))

