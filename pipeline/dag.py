"""The pipeline's DAG, defined once for both workflow tools.

    download -> prepare -> masks -> pretrain (phase 1, shared) -> train (phase 2, per variant) -> evaluate -> report

This module is the single description of every job of a profile: its command, the
code, data and params it depends on, and what it writes (its paths from
:mod:`pipeline.paths`).  The Snakefile builds its rules from the functions below;
``dvc.yaml`` is generated from :func:`jobs` (``python -m pipeline.dag --write``) and a
test checks that the committed file, the generator and the Snakefile agree.

Command-line::

    python -m pipeline.dag --profile demo            # list the jobs
    python -m pipeline.dag --write                   # regenerate dvc.yaml and pipelines/<profile>/dvc.yaml
"""
from __future__ import annotations

import argparse
import functools
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline import config, paths
from pipeline.methods import checkpoint_variant
from rwgan.errors import RwganError
from rwgan.variants import SWITCHES, Variant, phase2_runs, resolve_variant, shared_phase1

STAGES = ("download", "prepare", "masks", "pretrain", "train", "evaluate", "report")

# Code each stage runs; a change to any of these files re-runs the stage. (pipeline/paths.py and
# pipeline/params.schema.yaml are left out: neither can change what a stage writes, only where, which
# changes the declared outputs, or whether params.yaml loads.)
_COMMON = ["rwgan/errors.py", "rwgan/io.py", "pipeline/config.py", "pipeline/cli_common.py"]
_NETWORKS = ["rwgan/layers.py", "rwgan/models", "rwgan/device.py", "rwgan/inference.py"]
_TRAIN_CODE = (_COMMON + _NETWORKS
               + ["rwgan/assets.py", "rwgan/data.py", "rwgan/losses.py", "rwgan/masks.py", "rwgan/metrics.py",
                  "rwgan/training.py", "rwgan/variants.py", "rwgan/vgg.py", "pipeline/train.py"])
CODE = {
    "download": _COMMON + ["rwgan/data.py", "pipeline/download.py"],
    "prepare": _COMMON + ["rwgan/data.py", "pipeline/prepare.py"],
    "masks": _COMMON + ["rwgan/masks.py", "pipeline/masks.py"],
    "pretrain": _TRAIN_CODE,
    "train": _TRAIN_CODE,
    "evaluate": _COMMON
    + _NETWORKS
    + ["rwgan/assets.py", "rwgan/classical.py", "rwgan/data.py", "rwgan/evaluation.py", "rwgan/metrics.py",
       "rwgan/masks.py", "rwgan/uncertainty.py", "rwgan/variants.py", "pipeline/methods.py", "pipeline/evaluate.py"],
    "report": _COMMON
    + _NETWORKS
    + ["rwgan/classical.py", "rwgan/evaluation.py", "rwgan/masks.py", "rwgan/metrics.py", "rwgan/uncertainty.py",
       "rwgan/variants.py", "pipeline/report.py", "pipeline/tables.py", "pipeline/figures.py", "pipeline/methods.py"],
}



# --- what a profile runs -------------------------------------------------------------------
def datasets(params: dict) -> list[str]:
    return list(params["datasets"])


def train_mask_types(params: dict) -> list[str]:
    return list(params["train"]["mask_types"])


def variants(params: dict, dataset: str | None = None) -> list[str]:
    """The trained variants (of ``dataset``): every entry of ``train.variants`` unless
    ``train.run`` picks some, or ``train.run_by_dataset.<dataset>`` picks them for one dataset."""
    chosen = params["train"].get("run") or sorted(params["train"]["variants"])
    own = (params["train"].get("run_by_dataset") or {}).get(dataset)
    return list(chosen if own is None else own)


def resolved_variants(params: dict) -> dict[str, Variant]:
    """Every variant of ``train.variants``, resolved over the full model's switches, in table order."""
    train = params["train"]
    base = {key: train[key] for key in SWITCHES if key in train}
    return {name: resolve_variant(name, train["variants"], base, where="params.yaml: train")
            for name in train["variants"]}


def phase1_group(params: dict, variant: str) -> str:
    """The phase-1 run ``variant`` starts from (:func:`rwgan.variants.shared_phase1`)."""
    return shared_phase1(resolved_variants(params))[variant]


def has_phase2(params: dict, variant: str) -> bool:
    return phase2_runs(resolved_variants(params)[variant])


def phase1_groups(params: dict, dataset: str | None = None) -> list[str]:
    """The phase-1 runs the trained variants (of ``dataset``) need, in table order."""
    groups = shared_phase1(resolved_variants(params))
    needed = {groups[v] for v in variants(params, dataset)}
    return [g for g in dict.fromkeys(groups.values()) if g in needed]


def phase2_variants(params: dict, dataset: str | None = None) -> list[str]:
    """The trained variants (of ``dataset``) with a phase 2 of their own (all but RED-like ones)."""
    return [v for v in variants(params, dataset) if has_phase2(params, v)]


def variant_checkpoint(params: dict, dataset: str, mask_type: str, variant: str) -> str:
    """The final model.pt of ``variant``: its phase-2 run's, or for a variant without a
    phase 2 (RED) the shared phase-1 run's."""
    if has_phase2(params, variant):
        return paths.checkpoint(params["profile"], dataset, mask_type, variant)
    return paths.phase1_checkpoint(params["profile"], dataset, mask_type, phase1_group(params, variant))


def variant_command(params: dict, dataset: str, mask_type: str, variant: str) -> str:
    """The command that writes :func:`variant_checkpoint`."""
    if has_phase2(params, variant):
        return command(params, "train", dataset=dataset, mask_type=mask_type, variant=variant, phase="2")
    return command(params, "train", dataset=dataset, mask_type=mask_type, variant=phase1_group(params, variant),
                   phase="1")


def methods(params: dict, dataset: str | None = None) -> list[str]:
    """``evaluate.methods``; for ``dataset``, those whose checkpoint it trains (and every classical one)."""
    listed = list(params["evaluate"]["methods"])
    if dataset is None:
        return listed
    trained = set(variants(params, dataset))
    return [m for m in listed if checkpoint_variant(m) in (None, *trained)]


def method_checkpoints(params: dict, dataset: str, method: str) -> list[str]:
    """The checkpoints an evaluation of ``method`` reads (none for classical methods)."""
    variant = checkpoint_variant(method)
    if variant is None:
        return []
    return [variant_checkpoint(params, dataset, t, variant) for t in train_mask_types(params)]


def validates(params: dict) -> bool:
    """Whether training runs score a held-out batch (``train.validation.images`` > 0)."""
    return bool(params["train"]["validation"]["images"])


def pretrain_outputs(params: dict, dataset: str, mask_type: str, group: str) -> list[str]:
    return paths.run_outputs(paths.phase1_dir(params["profile"], dataset, mask_type, group), validates(params))


def train_outputs(params: dict, dataset: str, mask_type: str, variant: str) -> list[str]:
    return paths.run_outputs(paths.run_dir(params["profile"], dataset, mask_type, variant), validates(params))


def training_runs(params: dict) -> list[str]:
    """Every training run folder of the profile (phase 1 groups, then phase-2 variants)."""
    profile = params["profile"]
    return [paths.phase1_dir(profile, d, t, g) for d in datasets(params) for t in train_mask_types(params)
            for g in phase1_groups(params, d)] + [
            paths.run_dir(profile, d, t, v) for d in datasets(params) for t in train_mask_types(params)
            for v in phase2_variants(params, d)]


def report_inputs(params: dict, evaluations: list) -> list[str]:
    """What the report reads: every evaluation's files, the checkpoints, the test images and
    masks the figures show, the paper's tables and the object-removal inputs (Fig. 11)."""
    profile = params["profile"]
    report = params["report"]
    removal = report.get("object_removal", {})
    checkpoints = sorted({d for j in evaluations for d in j.deps if d.endswith("/model.pt")})
    spec = removal.get("checkpoint")
    if removal.get("items") and spec:
        checkpoints = sorted({*checkpoints,
                              variant_checkpoint(params, spec["dataset"], spec["mask_type"], spec["variant"])})
    paper = Path(report["paper_dir"])
    curves = [f"{run}/{name}" for run in training_runs(params)
              for name in (["losses.csv"] + (["validation.csv"] if validates(params) else []))]
    return [
        *[o for j in evaluations for o in j.outs if not o.endswith("composites")],
        *checkpoints,
        *curves,
        *[paths.data_dir(profile, d) for d in datasets(params)],
        paths.masks_dir(profile),
        *[str(paper / name) for name in ("paper_tables_I_II.csv", "paper_table_III.csv", "paper_table_IV.csv")],
        *sorted({item["mask"] for item in removal.get("items", [])}),
    ]


# --- the jobs --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    stage: str
    key: dict  # the wildcard values, e.g. {"dataset": "embedded"}
    cmd: str
    deps: tuple[str, ...]  # data produced by other jobs, then code
    outs: tuple[str, ...]
    params: tuple[str, ...]  # params.yaml keys (dotted) the job reads
    log: str
    metrics: tuple[str, ...] = field(default=())
    plots: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        """A unique name valid for dvc (letters, digits, '-' and '_'): ``train-embedded-mixed-full``."""
        return "-".join([self.stage, *self.key.values()])


def launcher(params: dict, stage: str) -> list[str]:
    """``python`` or, for a stage given several GPUs in ``cluster.<stage>.gpus``, ``torchrun``."""
    gpus = int(params.get("cluster", {}).get(stage, {}).get("gpus", 0) or 0)
    if gpus > 1:
        return ["torchrun", "--standalone", f"--nproc_per_node={gpus}"]
    return ["python"]


def command(params: dict, stage: str, **options: str) -> str:
    """The shell command of one job: ``python -m pipeline.<stage> --profile P --option value ...``."""
    words = [*launcher(params, stage), "-m", f"pipeline.{stage}", "--profile", params["profile"]]
    for option, value in options.items():
        words += [f"--{option.replace('_', '-')}", value]
    return shlex.join(words)


# Sections whose entries belong to one job each: section -> (table key, job wildcard).
_PER_JOB_TABLES = {"train": ("variants", "variant"), "data": ("datasets", "dataset")}


def _param_keys(raw: dict, profile: str, *sections: str, **key: str) -> tuple[str, ...]:
    """Dotted params.yaml keys for dvc: each section in `defaults` and in the profile's overrides.

    A section holding a per-job table (`train.variants`, `data.datasets`) is listed key by key,
    with only the job's own entry of the table, so editing one variant (or one dataset's source)
    re-runs only the jobs that read it.
    """
    keys = []
    for prefix, tree in (("defaults", raw["defaults"]), (f"profiles.{profile}", raw["profiles"][profile] or {})):
        keys += [f"{prefix}.{k}" for k in ("seed", "image_size") if k in tree]
        for section in sections:
            if section not in tree:
                continue
            body = tree[section]
            table, wildcard = _PER_JOB_TABLES.get(section, (None, None))
            if wildcard in key and isinstance(body, dict):
                keys += [f"{prefix}.{section}.{k}" for k in body if k not in (table, "run")]
                if key[wildcard] in (body.get(table) or {}):
                    keys.append(f"{prefix}.{section}.{table}.{key[wildcard]}")
            else:
                keys.append(f"{prefix}.{section}")
    return tuple(keys)


def jobs(profile: str, params_file: str | Path = config.PARAMS_FILE) -> list[Job]:
    """Every job of ``profile`` in a topological order."""
    return jobs_of(config.load(profile, params_file), params_file)


def train_values(params: dict, variant: str) -> dict:
    """The params one training run reads: image size, seed, model, train (its own variant entry only;
    a phase-1 run's is its group's)."""
    train = {k: v for k, v in params["train"].items() if k not in ("variants", "run")}
    return {
        "image_size": params["image_size"],
        "seed": params["seed"],
        "model": params["model"],
        "train": train,
        "variant": params["train"]["variants"][variant],
    }


def jobs_of(params: dict, params_file: str | Path = config.PARAMS_FILE) -> list[Job]:
    """Every job of the resolved ``params`` (see :func:`pipeline.config.load`) in a topological order."""
    profile = params["profile"]
    raw = config.read_params_file(params_file)
    out: list[Job] = []
    for dataset in datasets(params):
        out.append(Job(
            stage="download", key={"dataset": dataset},
            cmd=command(params, "download", dataset=dataset),
            deps=tuple(CODE["download"]), outs=(paths.download_marker(profile, dataset),),
            params=_param_keys(raw, profile, "data", dataset=dataset), log=paths.log_file(profile, "download", dataset),
        ))
        out.append(Job(
            stage="prepare", key={"dataset": dataset},
            cmd=command(params, "prepare", dataset=dataset),
            deps=(paths.download_marker(profile, dataset), *CODE["prepare"]), outs=(paths.data_dir(profile, dataset),),
            params=_param_keys(raw, profile, "data", dataset=dataset), log=paths.log_file(profile, "prepare", dataset),
        ))
    out.append(Job(
        stage="masks", key={}, cmd=command(params, "masks"),
        deps=tuple(CODE["masks"]), outs=(paths.masks_dir(profile), paths.masks_checksums(profile)),
        params=_param_keys(raw, profile, "masks"), log=paths.log_file(profile, "masks"),
    ))
    for dataset in datasets(params):
        for mask_type in train_mask_types(params):
            for group in phase1_groups(params, dataset):
                outs = pretrain_outputs(params, dataset, mask_type, group)
                out.append(Job(
                    stage="pretrain", key={"dataset": dataset, "mask_type": mask_type, "variant": group},
                    cmd=command(params, "train", dataset=dataset, mask_type=mask_type, variant=group, phase="1"),
                    deps=(paths.data_dir(profile, dataset), *CODE["pretrain"]),
                    outs=tuple(outs),
                    params=_param_keys(raw, profile, "model", "train", variant=group),
                    log=paths.log_file(profile, "pretrain", f"{dataset}-{mask_type}-{group}"),
                    plots=tuple(outs[1:2] + outs[3:4]),
                ))
            for variant in phase2_variants(params, dataset):
                outs = train_outputs(params, dataset, mask_type, variant)
                group = phase1_group(params, variant)
                out.append(Job(
                    stage="train", key={"dataset": dataset, "mask_type": mask_type, "variant": variant},
                    cmd=command(params, "train", dataset=dataset, mask_type=mask_type, variant=variant, phase="2"),
                    deps=(paths.phase1_checkpoint(profile, dataset, mask_type, group), paths.data_dir(profile, dataset),
                          *CODE["train"]),
                    outs=tuple(outs),
                    params=_param_keys(raw, profile, "model", "train", variant=variant),
                    log=paths.log_file(profile, "train", f"{dataset}-{mask_type}-{variant}"),
                    plots=tuple(outs[1:2] + outs[3:4]),
                ))
    for dataset in datasets(params):
        for method in methods(params, dataset):
            out.append(Job(
                stage="evaluate", key={"dataset": dataset, "method": method},
                cmd=command(params, "evaluate", dataset=dataset, method=method),
                deps=(paths.data_dir(profile, dataset), paths.masks_dir(profile),
                      *method_checkpoints(params, dataset, method), *CODE["evaluate"]),
                outs=tuple(paths.evaluate_outputs(profile, dataset, method)),
                params=_param_keys(raw, profile, "evaluate"), log=paths.log_file(profile, "evaluate", f"{dataset}-{method}"),
            ))
    out.append(Job(
        stage="report", key={}, cmd=command(params, "report"),
        deps=(*report_inputs(params, [j for j in out if j.stage == "evaluate"]), *CODE["report"]),
        outs=tuple(paths.report_outputs(profile)),
        params=_param_keys(raw, profile, "evaluate", "report"), log=paths.log_file(profile, "report"),
        metrics=(paths.report_metrics(profile),),
    ))
    return out


# --- the Snakefile's view ------------------------------------------------------------------
def check_overrides(snakemake_config: dict, params_file: str | Path = config.PARAMS_FILE) -> None:
    """Refuse ``snakemake --config key=value`` for anything but ``profile``: the jobs read
    params.yaml, so another override would not reach them (set it in a profile instead)."""
    raw = config.read_params_file(params_file)
    ignored = sorted(k for k in {*snakemake_config, *raw} if k != "profile" and snakemake_config.get(k) != raw.get(k))
    if ignored:
        raise RwganError(f"--config {', '.join(ignored)}: only profile=<name> can be set on the command line "
                         f"(the jobs read {params_file}; set other values in a profile there)")


def jobs_by_key(params: dict) -> dict[tuple, Job]:
    """Every job of ``params`` keyed by (stage, *wildcard values), for the Snakefile's rules."""
    return {(j.stage, *j.key.values()): j for j in jobs_of(params)}


def input_files(job: Job) -> list[str]:
    """The job's dependencies as Snakemake inputs: code folders expanded to their .py files."""
    files = []
    for entry in job.deps:
        path = Path(entry)
        files += sorted(str(p) for p in path.rglob("*.py")) if entry in CODE[job.stage] and path.is_dir() else [entry]
    return files


def param_values(job: Job, params_file: str | Path = config.PARAMS_FILE) -> dict:
    """The values of the params.yaml keys ``job`` reads (the keys dvc.yaml lists), by key."""
    raw = _raw(str(params_file))
    values = {}
    for key in job.params:
        node = raw
        for part in key.split("."):
            node = node[part]
        values[key] = node
    return values


@functools.cache
def _raw(params_file: str) -> dict:
    return config.read_params_file(params_file)


# --- dvc.yaml ---------------------------------------------------------------------------------
def dvc_yaml(profile: str) -> dict:
    """The dvc.yaml document for ``profile``: one stage per job, metrics and plots at the top."""
    stages = {}
    plots = []
    metrics = []
    for job in jobs(profile):
        stage = {"cmd": job.cmd, "deps": [str(d) for d in job.deps]}
        if job.params:
            stage["params"] = list(job.params)
        # Reports are versioned in git, not in the DVC cache.
        git_tracked = job.stage == "report" or job.outs[-1] == paths.masks_checksums(profile)
        stage["outs"] = [
            {str(out): {"cache": False}} if git_tracked and out.startswith("reports/") else str(out) for out in job.outs
        ]
        if job.metrics:
            stage["metrics"] = [{m: {"cache": False}} for m in job.metrics]
            metrics += list(job.metrics)
        if job.plots:
            plots += list(job.plots)
        if dvc_yaml_path(profile).parent != Path("."):
            stage["wdir"] = "../.."
        stages[job.name] = stage
    document = {"stages": stages, "metrics": metrics}
    if plots:
        document["plots"] = [{p: {"x": "step", "y": ["loss_total"] if p.endswith("losses.csv") else ["hole_l1"]}}
                             for p in plots]
    return document


def dvc_yaml_path(profile: str) -> Path:
    """Where the profile's dvc.yaml lives: the root for the default profile, else pipelines/<profile>/."""
    default = config.read_params_file()["profile"]
    return Path("dvc.yaml") if profile == default else Path("pipelines") / profile / "dvc.yaml"


def render_dvc_yaml(profile: str) -> str:
    header = (
        "# Generated by `python -m pipeline.dag --write` from pipeline/dag.py (the one definition of the DAG,\n"
        "# shared with the Snakefile). Do not edit by hand: tests/test_dag.py checks it is up to date.\n"
    )
    return header + yaml.safe_dump(dvc_yaml(profile), sort_keys=False, width=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.dag", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default=None, help="default: params.yaml's `profile`")
    parser.add_argument("--write", action="store_true", help="write every profile's dvc.yaml")
    args = parser.parse_args(argv)
    if args.write:
        from rwgan import io

        for profile in sorted(config.read_params_file()["profiles"]):
            io.write_text(dvc_yaml_path(profile), render_dvc_yaml(profile))
            print(f"wrote {dvc_yaml_path(profile)}")
        return 0
    for job in jobs(args.profile or config.read_params_file()["profile"]):
        print(f"{job.name:60s} {job.cmd}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
