# rwgan: the reproduction DAG for Snakemake.
#
#   snakemake --cores all                                   # demo profile (params.yaml `profile`)
#   snakemake --cores all --config profile=smoke            # another profile
#   snakemake --profile profiles/slurm --config profile=paper   # on a slurm cluster
#
# Every job (its command, inputs, params and outputs) comes from pipeline/dag.py: the DAG
# is defined once (tests/test_dag.py checks the hand-written dvc.yaml runs the same jobs).
# A rule's `params.values` are the params.yaml keys the job reads, so a changed value
# re-runs exactly the affected jobs. A job's stdout and
# stderr, tracebacks included, go to its log.

from pathlib import Path

from snakemake.utils import min_version

from pipeline import config as rwgan_config
from pipeline import dag, methods, paths

min_version("9.0")


configfile: "params.yaml"


report: "docs/report/workflow.rst"  # snakemake --report report.html: tables, figures, curves, provenance


PROFILE = config["profile"]
P = rwgan_config.load(PROFILE)  # checks every profile against pipeline/params.schema.yaml
dag.check_overrides(config)  # --config may choose the profile only
methods.check_declared(P, dag.datasets(P))  # the authors' weights and external outputs it declares exist
JOBS = dag.jobs_by_key(P)


wildcard_constraints:
    profile=PROFILE,
    dataset="|".join(dag.datasets(P)),
    mask_type="|".join(dag.train_mask_types(P)),
    variant="|".join(P["train"]["variants"]),
    group="|".join(P["train"]["variants"]),
    method="|".join(dag.methods(P)),


def job(stage, *wildcards):
    """The pipeline.dag job of ``stage`` for a rule's wildcard values."""
    return lambda wc: JOBS[(stage, *(getattr(wc, name) for name in wildcards))]


def inputs(stage, *wildcards):
    return lambda wc: dag.input_files(job(stage, *wildcards)(wc))


def values(stage, *wildcards):
    return lambda wc: dag.param_values(job(stage, *wildcards)(wc))


def command(stage, *wildcards):
    return lambda wc: job(stage, *wildcards)(wc).cmd


def outputs(declared):
    """Outputs as declared in pipeline/paths.py: a Folder is a Snakemake directory()."""
    return [directory(p) if isinstance(p, paths.Folder) else p for p in declared]


def run_outputs(declared):
    """A training run's outputs; its loss and validation curves (PNG) go in `snakemake --report`."""
    return [report(p, category="Training curves", subcategory="{dataset} {mask_type}", caption="docs/report/curves.rst")
            if p.endswith(".png") else p for p in declared]


def report_items(declared):
    """The report stage's outputs; its tables (CSV), figures and index go in `snakemake --report`."""
    shown = {
        "tables": lambda p: report(directory(p), patterns=["{name}.csv"], category="Tables",
                                   caption="docs/report/tables.rst"),
        "figures": lambda p: report(directory(p), patterns=["{name}.png"], category="Figures",
                                    caption="docs/report/figures.rst"),
        "README.md": lambda p: report(p, category="Provenance", caption="docs/report/provenance.rst"),
    }
    return [shown[Path(p).name](p) if Path(p).name in shown else p for p in declared]


def cluster(stage):
    """Resources of a stage's jobs for cluster executors (params.yaml `cluster`)."""
    spec = P["cluster"][stage]
    resources = {"mem_mb": spec["mem_mb"], "runtime": spec["runtime_min"], "cpus_per_task": spec["threads"]}
    if spec.get("gpus"):
        resources["gpu"] = spec["gpus"]
    return resources


rule all:
    input:
        paths.report_outputs(PROFILE),
        [paths.export_dir(PROFILE, dataset) for dataset in dag.datasets(P)],


rule download:
    output:
        paths.download_marker(PROFILE, "{dataset}"),
    input:
        inputs("download", "dataset"),
    params:
        values=values("download", "dataset"),
        cmd=command("download", "dataset"),  # python -m pipeline.download --profile P --dataset D
    log:
        paths.log_file(PROFILE, "download", "{dataset}"),
    conda:
        "environment.yaml"
    resources:
        **cluster("download"),
    shell:
        "{params.cmd} > {log} 2>&1"


rule prepare:
    output:
        outputs([paths.data_dir(PROFILE, "{dataset}")]),
    input:
        inputs("prepare", "dataset"),
    params:
        values=values("prepare", "dataset"),
        cmd=command("prepare", "dataset"),  # python -m pipeline.prepare --profile P --dataset D
    log:
        paths.log_file(PROFILE, "prepare", "{dataset}"),
    conda:
        "environment.yaml"
    resources:
        **cluster("prepare"),
    shell:
        "{params.cmd} > {log} 2>&1"


rule masks:
    output:
        directory(paths.masks_dir(PROFILE)),
        report(paths.masks_checksums(PROFILE), category="Provenance", caption="docs/report/provenance.rst"),
    input:
        inputs("masks"),
    params:
        values=values("masks"),
        cmd=command("masks"),  # python -m pipeline.masks --profile P
    log:
        paths.log_file(PROFILE, "masks"),
    conda:
        "environment.yaml"
    resources:
        **cluster("masks"),
    shell:
        "{params.cmd} > {log} 2>&1"


rule export:
    output:
        outputs([paths.export_dir(PROFILE, "{dataset}")]),
    input:
        inputs("export", "dataset"),
    params:
        values=values("export", "dataset"),
        cmd=command("export", "dataset"),  # python -m pipeline.export --profile P --dataset D
    log:
        paths.log_file(PROFILE, "export", "{dataset}"),
    conda:
        "environment.yaml"
    resources:
        **cluster("export"),
    shell:
        "{params.cmd} > {log} 2>&1"


rule pretrain:
    output:
        run_outputs(dag.pretrain_outputs(P, "{dataset}", "{mask_type}", "{group}")),
    input:
        inputs("pretrain", "dataset", "mask_type", "group"),
    params:
        values=values("pretrain", "dataset", "mask_type", "group"),
        # python -m pipeline.train --profile P --dataset D --mask-type T --variant G --phase 1
        cmd=command("pretrain", "dataset", "mask_type", "group"),
    log:
        paths.log_file(PROFILE, "pretrain", "{dataset}-{mask_type}-{group}"),
    conda:
        "environment.yaml"
    threads: P["cluster"]["train"]["threads"]
    resources:
        **cluster("train"),
    shell:
        "{params.cmd} > {log} 2>&1"


rule train:
    output:
        run_outputs(dag.train_outputs(P, "{dataset}", "{mask_type}", "{variant}")),
    input:
        inputs("train", "dataset", "mask_type", "variant"),
    params:
        values=values("train", "dataset", "mask_type", "variant"),
        # python -m pipeline.train --profile P --dataset D --mask-type T --variant V --phase 2
        cmd=command("train", "dataset", "mask_type", "variant"),
    log:
        paths.log_file(PROFILE, "train", "{dataset}-{mask_type}-{variant}"),
    conda:
        "environment.yaml"
    threads: P["cluster"]["train"]["threads"]
    resources:
        **cluster("train"),
    shell:
        "{params.cmd} > {log} 2>&1"


rule evaluate:
    output:
        outputs(paths.evaluate_outputs(PROFILE, "{dataset}", "{method}")),
    input:
        inputs("evaluate", "dataset", "method"),
    params:
        values=values("evaluate", "dataset", "method"),
        cmd=command("evaluate", "dataset", "method"),  # python -m pipeline.evaluate --profile P --dataset D --method M
    log:
        paths.log_file(PROFILE, "evaluate", "{dataset}-{method}"),
    conda:
        "environment.yaml"
    threads: P["cluster"]["evaluate"]["threads"]
    resources:
        **cluster("evaluate"),
    shell:
        "{params.cmd} > {log} 2>&1"


rule report:
    output:
        report_items(paths.report_outputs(PROFILE)),
        paths.report_metrics(PROFILE),
    input:
        inputs("report"),
    params:
        values=values("report"),
        cmd=command("report"),  # python -m pipeline.report --profile P
    log:
        paths.log_file(PROFILE, "report"),
    conda:
        "environment.yaml"
    resources:
        **cluster("report"),
    shell:
        "{params.cmd} > {log} 2>&1"
