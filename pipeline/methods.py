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

from pathlib import Path

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


def method_sets(params: dict, method: str) -> list[str]:
    """The mask sets ``method`` is scored on: ``evaluate.sets`` plus the extra sets listing it."""
    sets = list(params["evaluate"]["sets"])
    extra = params["evaluate"].get("extra_sets") or {}
    return sets + [name for name, methods in extra.items() if method in (methods or []) and name not in sets]


def exported_sets(params: dict) -> list[str]:
    """``evaluate.sets`` then the sets of ``evaluate.extra_sets``: every set some method is scored on
    (the export stage's sets)."""
    section = params["evaluate"]
    return list(dict.fromkeys([*section["sets"], *(section.get("extra_sets") or {})]))


def authors_checkpoint(params: dict, dataset: str, set_name: str) -> Path:
    """The authors' weights that inpaint ``set_name`` on ``dataset``: ``<folder>/<set>/model.pt`` of
    ``evaluate.authors_weights.<dataset>``; :class:`RwganError` naming the file when it is absent."""
    path = Path(params["evaluate"]["authors_weights"][dataset]) / set_name / "model.pt"
    if not path.is_file():
        raise RwganError(f"{path}: the authors' weights for {set_name} masks not found (expected from "
                         f"`rwgan import-official --dataset {dataset} --mask-type {set_name} --out {path}`)")
    return path


def check_declared(params: dict, datasets: list[str]) -> None:
    """Raise :class:`RwganError` naming the first absent input of a declared method on ``datasets``:
    an authors' ``model.pt`` of a set it is scored on, or an external method's outputs folder."""
    for dataset in datasets:
        if dataset in (params["evaluate"].get("authors_weights") or {}):
            for set_name in method_sets(params, AUTHORS_WEIGHTS):
                authors_checkpoint(params, dataset, set_name)
        for method, spec in external(params).items():
            folder = Path(spec["outputs"].get(dataset, "."))
            if dataset in spec["outputs"] and not folder.is_dir():
                raise RwganError(f"{folder}: outputs of {method} not found (params.yaml evaluate.external.{method}"
                                 f".outputs.{dataset}: expected a folder of <pair id>.png)")
