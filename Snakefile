# rwgan: the reproduction DAG for Snakemake.
#
#   snakemake --cores all                                   # demo profile (params.yaml `profile`)
#   snakemake --cores all --config profile=smoke            # another profile
#   snakemake --profile profiles/slurm --config profile=paper   # on a slurm cluster
#
# Paths, commands and code dependencies come from pipeline/dag.py, which also
# generates dvc.yaml: the DAG is defined once (tests/test_dag.py keeps both in step).
# params.yaml is the one source of parameters; each rule's `params` holds the
# resolved values it reads, so a changed value re-runs exactly the affected jobs.

from snakemake.utils import min_version

from pipeline import config as rwgan_config
from pipeline import dag, paths

min_version("9.0")


configfile: "params.yaml"


PROFILE = config["profile"]
P = rwgan_config.load(PROFILE)  # checks every profile against pipeline/params.schema.yaml


wildcard_constraints:
    profile=PROFILE,
    dataset="|".join(dag.datasets(P)),
    mask_type="|".join(dag.train_mask_types(P)),
    variant="|".join(P["train"]["variants"]),
    group="|".join(P["train"]["variants"]),
    method="|".join(dag.methods(P)),


def outputs(declared):
    """Outputs as declared in pipeline/paths.py: a Folder is a Snakemake directory()."""
    return [directory(p) if isinstance(p, paths.Folder) else p for p in declared]


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


rule download:
    output:
        paths.download_marker(PROFILE, "{dataset}"),
    input:
        dag.code_files("download"),
    params:
        values=lambda wc: P["data"]["datasets"][wc.dataset],
        cmd=lambda wc: dag.command(P, "download", dataset=wc.dataset),
    log:
        paths.log_file(PROFILE, "download", "{dataset}"),
    conda:
        "environment.yaml"
    resources:
        **cluster("download"),
    shell:
        "{params.cmd}"


rule prepare:
    output:
        outputs([paths.data_dir(PROFILE, "{dataset}")]),
    input:
        paths.download_marker(PROFILE, "{dataset}"),
        dag.code_files("prepare"),
    params:
        values=lambda wc: [P["image_size"], P["seed"], P["data"]["datasets"][wc.dataset]],
        cmd=lambda wc: dag.command(P, "prepare", dataset=wc.dataset),
    log:
        paths.log_file(PROFILE, "prepare", "{dataset}"),
    conda:
        "environment.yaml"
    resources:
        **cluster("prepare"),
    shell:
        "{params.cmd}"


rule masks:
    output:
        outputs([paths.masks_dir(PROFILE), paths.masks_checksums(PROFILE)]),
    input:
        dag.code_files("masks"),
    params:
        values=[P["image_size"], P["seed"], P["masks"]],
        cmd=dag.command(P, "masks"),
    log:
        paths.log_file(PROFILE, "masks"),
    conda:
        "environment.yaml"
    resources:
        **cluster("masks"),
    shell:
        "{params.cmd}"


rule pretrain:
    output:
        dag.pretrain_outputs(P, "{dataset}", "{mask_type}", "{group}"),
    input:
        paths.data_dir(PROFILE, "{dataset}"),
        dag.code_files("pretrain"),
    params:
        values=lambda wc: dag.train_values(P, wc.group),
        cmd=lambda wc: dag.command(P, "train", dataset=wc.dataset, mask_type=wc.mask_type, variant=wc.group,
                                   phase="1"),
    log:
        paths.log_file(PROFILE, "pretrain", "{dataset}-{mask_type}-{group}"),
    conda:
        "environment.yaml"
    threads: P["cluster"]["train"]["threads"]
    resources:
        **cluster("train"),
    shell:
        "{params.cmd}"


rule train:
    output:
        dag.train_outputs(P, "{dataset}", "{mask_type}", "{variant}"),
    input:
        lambda wc: paths.phase1_checkpoint(PROFILE, wc.dataset, wc.mask_type, dag.phase1_group(P, wc.variant)),
        paths.data_dir(PROFILE, "{dataset}"),
        dag.code_files("train"),
    params:
        values=lambda wc: dag.train_values(P, wc.variant),
        cmd=lambda wc: dag.command(P, "train", dataset=wc.dataset, mask_type=wc.mask_type, variant=wc.variant,
                                   phase="2"),
    log:
        paths.log_file(PROFILE, "train", "{dataset}-{mask_type}-{variant}"),
    conda:
        "environment.yaml"
    threads: P["cluster"]["train"]["threads"]
    resources:
        **cluster("train"),
    shell:
        "{params.cmd}"


rule evaluate:
    output:
        outputs(paths.evaluate_outputs(PROFILE, "{dataset}", "{method}")),
    input:
        paths.data_dir(PROFILE, "{dataset}"),
        paths.masks_dir(PROFILE),
        lambda wc: dag.method_checkpoints(P, wc.dataset, wc.method),
        dag.code_files("evaluate"),
    params:
        values=[P["image_size"], P["evaluate"]],
        cmd=lambda wc: dag.command(P, "evaluate", dataset=wc.dataset, method=wc.method),
    log:
        paths.log_file(PROFILE, "evaluate", "{dataset}-{method}"),
    conda:
        "environment.yaml"
    threads: P["cluster"]["evaluate"]["threads"]
    resources:
        **cluster("evaluate"),
    shell:
        "{params.cmd}"


rule report:
    output:
        outputs(paths.report_outputs(PROFILE)),
        paths.report_metrics(PROFILE),
    input:
        dag.report_inputs(P, [j for j in dag.jobs_of(P) if j.stage == "evaluate"]),
        dag.code_files("report"),
    params:
        values=[P["evaluate"], P["report"]],
        cmd=dag.command(P, "report"),
    log:
        paths.log_file(PROFILE, "report"),
    conda:
        "environment.yaml"
    resources:
        **cluster("report"),
    shell:
        "{params.cmd}"
