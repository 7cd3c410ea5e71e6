"""The Snakefile and dvc.yaml describe the same DAG (both are made from pipeline/dag.py)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from pipeline import config, dag

SNAKEMAKE = Path(sys.executable).with_name("snakemake")
PROFILES = sorted(config.read_params_file(ROOT / "params.yaml")["profiles"])


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def snakemake(*args: str) -> str:
    env = dict(os.environ, PATH=f"{SNAKEMAKE.parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run([str(SNAKEMAKE), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def snakemake_jobs(profile: str, *extra: str) -> dict[str, dict]:
    """Every job of a dry run, keyed by its shell command: inputs, outputs, resources."""
    text = snakemake("-n", "-p", "--forceall", "--config", f"profile={profile}", *extra)
    jobs = {}
    for block in re.split(r"\n(?=\[.*\]\nrule )", text):
        rule = re.search(r"^rule (\w+):", block, re.M)
        command = re.search(r"^Shell command: (.*)$", block, re.M)
        if not rule or rule.group(1) == "all":
            continue
        fields = {k: [p.strip() for p in v.split(",")] for k, v in re.findall(r"^\s+(input|output|resources): (.*)$", block, re.M)}
        shell, log = re.fullmatch(r"(.*) > (\S+) 2>&1", command.group(1)).groups()  # output to the log
        jobs[shell] = {
            "log": log,
            "rule": rule.group(1),
            "input": set(fields.get("input", [])),
            "output": set(fields.get("output", [])),
            "resources": dict(r.split("=", 1) for r in fields.get("resources", [])),
        }
    return jobs


def expand(paths) -> set[str]:
    out = set()
    for path in paths:
        p = Path(path)
        is_code = p.parts[0] in ("rwgan", "pipeline")
        out |= {str(f) for f in sorted(p.rglob("*.py"))} if is_code and p.is_dir() else {path}
    return out


@pytest.mark.parametrize("profile", PROFILES)
def test_committed_dvc_yaml_is_generated_from_the_dag(profile):
    path = dag.dvc_yaml_path(profile)
    assert path.is_file(), f"{path} missing: run `python -m pipeline.dag --write`"
    assert path.read_text() == dag.render_dvc_yaml(profile), f"{path} is stale: run `python -m pipeline.dag --write`"


@pytest.mark.parametrize("profile", ["smoke", "demo"])
def test_snakefile_and_dvc_yaml_agree_on_stages_inputs_and_outputs(profile):
    stages = yaml.safe_load(dag.dvc_yaml_path(profile).read_text())["stages"]
    jobs = snakemake_jobs(profile)
    assert sorted(jobs) == sorted(stage["cmd"] for stage in stages.values())
    for name, stage in stages.items():
        job = jobs[stage["cmd"]]
        assert name.split("-")[0] == job["rule"]
        assert expand(stage["deps"]) == job["input"], name
        outs = {next(iter(o)) if isinstance(o, dict) else o for o in stage["outs"]}
        outs |= {next(iter(m)) for m in stage.get("metrics", [])}
        assert outs == job["output"], name


def test_snakemake_jobs_log_their_output_and_read_the_dvc_params():
    params = config.load("smoke")
    jobs = {job.cmd: job for job in dag.jobs_of(params)}
    for command, found in snakemake_jobs("smoke").items():
        assert found["log"] == jobs[command].log
    train = next(job for job in jobs.values() if job.stage == "train")
    values = dag.param_values(train)
    assert list(values) == list(train.params)
    assert values["profiles.smoke.train.batch_size"] == 2 and values["defaults.train.lr"] == 1e-4


def test_config_overrides_other_than_the_profile_are_refused():
    env = dict(os.environ, PATH=f"{SNAKEMAKE.parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run([str(SNAKEMAKE), "-n", "--config", "profile=smoke", "seed=3"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "--config seed: only profile=<name> can be set on the command line" in done.stdout + done.stderr


def test_every_dvc_param_key_exists_in_params_yaml():
    raw = config.read_params_file(ROOT / "params.yaml")
    for profile in PROFILES:
        for stage in yaml.safe_load(dag.dvc_yaml_path(profile).read_text())["stages"].values():
            for key in stage.get("params", []):
                node = raw
                for part in key.split("."):
                    assert isinstance(node, dict) and part in node, f"{key} not in params.yaml"
                    node = node[part]


def test_one_variant_change_touches_only_its_training_job():
    """dvc re-runs a stage when one of its params changes: a variant's entry belongs to its job only."""
    trains = [j for j in dag.jobs("demo") if j.stage == "train"]
    owners = [j.key["variant"] for j in trains if "defaults.train.variants.no_correlation" in j.params]
    assert owners == ["no_correlation"]


def test_slurm_profile_gives_each_paper_job_its_resources():
    params = config.load("paper")
    jobs = snakemake_jobs("paper", "--profile", "profiles/slurm")
    trains = [j for j in jobs.values() if j["rule"] in ("pretrain", "train")]
    runs = len(dag.phase1_groups(params)) + len(dag.phase2_variants(params))
    assert len(trains) == len(dag.datasets(params)) * len(dag.train_mask_types(params)) * runs == 3 * 1 * 15
    spec = params["cluster"]["train"]
    for job in trains:
        assert job["resources"]["gpu"] == str(spec["gpus"])
        assert job["resources"]["mem_mb"] == str(spec["mem_mb"])
        assert job["resources"]["runtime"] == str(spec["runtime_min"])
        assert job["resources"]["cpus_per_task"] == str(spec["threads"])


def test_several_gpus_launch_training_with_torchrun():
    params = config.load("paper")
    params["cluster"]["train"]["gpus"] = 4
    cmd = dag.command(params, "train", dataset="celebahq", mask_type="mixed", variant="full")
    assert cmd.startswith("torchrun --standalone --nproc_per_node=4 -m pipeline.train --profile paper")


def test_snakemake_lint_is_clean():
    assert "Congratulations, your workflow is in a good condition!" in snakemake("--lint", "--config", "profile=smoke")

