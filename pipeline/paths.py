"""Every path the pipeline reads or writes, in one place (relative to the repository root).

The DAG (:mod:`pipeline.dag`), the stages, the report, the regression check and the
loggers all take their paths from here.  A profile's outputs live under ``work/<profile>/``
(data, masks, runs, evaluations), ``reports/<profile>/`` and ``logs/<profile>/``, so
profiles never overwrite each other; downloaded archives are shared in ``downloads/``.

Outputs that are folders are typed :class:`Folder` where they are made here, so the
workflow tools declare them as folders (Snakemake's ``directory()``) without guessing.
"""
from __future__ import annotations

from pathlib import Path

DOWNLOADS = Path("downloads")  # archives, shared by every profile


class Folder(str):
    """A path (a ``str``) that names a folder output."""


def work_dir(profile: str) -> str:
    return f"work/{profile}"


def download_marker(profile: str, dataset: str) -> str:
    """Per profile (each dvc.yaml owns its outputs); the archives are shared in :data:`DOWNLOADS`."""
    return f"{work_dir(profile)}/downloads/{dataset}.complete"


def data_dir(profile: str, dataset: str) -> Folder:
    return Folder(f"{work_dir(profile)}/data/{dataset}")


def masks_dir(profile: str) -> Folder:
    return Folder(f"{work_dir(profile)}/masks")


def run_dir(profile: str, dataset: str, mask_type: str, variant: str) -> str:
    return f"{work_dir(profile)}/runs/{dataset}/{mask_type}/{variant}"


def checkpoint(profile: str, dataset: str, mask_type: str, variant: str) -> str:
    return f"{run_dir(profile, dataset, mask_type, variant)}/model.pt"


def phase1_dir(profile: str, dataset: str, mask_type: str, group: str) -> str:
    """The shared phase-1 run ``group`` (a variant id: see :func:`pipeline.dag.phase1_group`)."""
    return f"{work_dir(profile)}/runs/{dataset}/{mask_type}/phase1/{group}"


def phase1_checkpoint(profile: str, dataset: str, mask_type: str, group: str) -> str:
    return f"{phase1_dir(profile, dataset, mask_type, group)}/model.pt"


def run_outputs(run: str, validates: bool) -> list[str]:
    """What a training run (phase 1 or 2) in folder ``run`` declares."""
    names = ["model.pt", "losses.csv", "loss_curve.png"] + (["validation.csv", "validation.png"] if validates else [])
    return [f"{run}/{name}" for name in names]


def eval_dir(profile: str, dataset: str, method: str) -> str:
    return f"{work_dir(profile)}/eval/{dataset}/{method}"


def evaluate_outputs(profile: str, dataset: str, method: str) -> list[str]:
    target = eval_dir(profile, dataset, method)
    return [f"{target}/summary.csv", f"{target}/per_image.csv", f"{target}/timing.json",
            Folder(f"{target}/composites")]


def export_dir(profile: str, dataset: str) -> Folder:
    """The dataset's fixed test pairs as files, for methods run outside rwgan (pipeline/export.py)."""
    return Folder(f"{work_dir(profile)}/export/{dataset}")


def report_dir(profile: str) -> str:
    return f"reports/{profile}"


def masks_checksums(profile: str) -> str:
    return f"{report_dir(profile)}/masks.sha256"


def metrics_csv(profile: str) -> str:
    return f"{report_dir(profile)}/metrics.csv"


def report_metrics(profile: str) -> str:
    """The report's metrics.json (DVC's `metrics`)."""
    return f"{report_dir(profile)}/metrics.json"


def report_outputs(profile: str) -> list[str]:
    reports = report_dir(profile)
    return [Folder(f"{reports}/tables"), Folder(f"{reports}/figures"), metrics_csv(profile), f"{reports}/README.md"]


def log_file(profile: str, stage: str, extra: str | None = None) -> str:
    return f"logs/{profile}/{stage if extra is None else f'{stage}-{extra}'}.log"
