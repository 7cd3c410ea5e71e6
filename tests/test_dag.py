"""The Snakefile (made from pipeline/dag.py) and the hand-written dvc.yaml describe the same DAG."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dvc.dependency.param import ParamsDependency

from conftest import ROOT
from pipeline import config, dag, paths
from rwgan.errors import RwganError

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


def expand(entries) -> set[str]:
    """``entries`` with code folders replaced by their .py files (as the Snakefile lists them)."""
    out = set()
    for path in entries:
        p = Path(path)
        is_code = p.parts[0] in ("rwgan", "pipeline")
        out |= {str(f) for f in sorted(p.rglob("*.py"))} if is_code and p.is_dir() else {path}
    return out


def dvc_stages(profile: str, tmp_path: Path) -> dict:
    """dvc.yaml's stages for ``profile`` keyed by command, as DVC itself reads them: a copy of
    dvc.yaml and params.yaml beside that profile's generated dvc-vars.yaml, in a new DVC repo."""
    from dvc.repo import Repo

    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / dag.DVC_VARS).write_text(dag.render_dvc_vars(profile))
    with Repo.init(tmp_path, no_scm=True) as repo:
        return {stage.cmd: stage for stage in repo.index.stages}


def data_deps(stage) -> set[str]:
    return {str(dep.def_path) for dep in stage.deps if not isinstance(dep, ParamsDependency)}


def params_of(stage) -> list[str]:
    return [key for dep in stage.deps if isinstance(dep, ParamsDependency) for key in dep.params]


def covers(folder: str, path: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def test_committed_dvc_vars_are_the_default_profile():
    default = config.read_params_file(ROOT / "params.yaml")["profile"]
    path = ROOT / dag.DVC_VARS
    assert path.is_file(), f"{path} missing: run `python -m pipeline.dag --write`"
    assert path.read_text() == dag.render_dvc_vars(default), f"{path} is stale: run `python -m pipeline.dag --write`"


def test_dvc_yaml_stays_hand_writable():
    assert len((ROOT / "dvc.yaml").read_text().splitlines()) + len((ROOT / dag.DVC_VARS).read_text().splitlines()) < 300


@pytest.mark.parametrize("profile", ["smoke", "demo"])
def test_snakefile_and_dvc_yaml_run_the_same_jobs_on_the_same_inputs_and_outputs(profile, tmp_path):
    stages = dvc_stages(profile, tmp_path)
    jobs = snakemake_jobs(profile)
    assert sorted(jobs) == sorted(stages)
    for command, stage in stages.items():
        job = jobs[command]
        assert stage.name.split("@")[0].split("-")[0] == job["rule"]
        assert {str(out.def_path) for out in stage.outs} == job["output"], stage.name
        deps = expand(data_deps(stage))
        # A dependency is one of Snakemake's inputs or a folder of them (the report's).
        uncovered = [i for i in job["input"] if not any(covers(d, i) for d in deps)]
        assert not uncovered, f"{stage.name}: Snakemake inputs missing from dvc.yaml: {uncovered}"
        unused = [d for d in deps if not any(covers(d, i) for i in job["input"])]
        assert not unused, f"{stage.name}: dvc.yaml deps Snakemake does not list: {unused}"


@pytest.mark.parametrize("profile", PROFILES)
def test_dvc_tracks_every_params_key_each_job_reads(profile, tmp_path):
    """Every key the job reads (pipeline.dag, the Snakefile's params) is, or is under, a key DVC
    tracks for it, and every key DVC tracks exists in params.yaml."""
    raw = config.read_params_file(ROOT / "params.yaml")
    jobs = {job.cmd: job for job in dag.jobs(profile)}
    for command, stage in dvc_stages(profile, tmp_path).items():
        tracked = params_of(stage)
        for key in tracked:
            node = raw
            for part in key.split("."):
                assert isinstance(node, dict) and part in node, f"{stage.name}: {key} not in params.yaml"
                node = node[part]
        untracked = [key for key in jobs[command].params if not any(covers(t.replace(".", "/"), key.replace(".", "/"))
                                                                     for t in tracked)]
        assert not untracked, f"{stage.name}: dvc.yaml does not track {untracked}"


def test_one_variant_change_touches_only_its_training_jobs(tmp_path):
    """dvc re-runs a stage when one of its params changes: a variant's entry belongs to its runs only."""
    stages = dvc_stages("demo", tmp_path).values()
    owners = sorted(s.name for s in stages if "defaults.train.variants.no_correlation" in params_of(s))
    assert owners == ["pretrain@embedded-mixed-no_correlation", "train@embedded-mixed-no_correlation"]


def test_dvc_vars_refuse_a_profile_dvc_yaml_cannot_express():
    params = config.load("demo")
    params["train"]["mask_types"] = ["contiguous", "discontiguous"]
    with pytest.raises(RwganError, match=r"^params.yaml: profiles.demo.train.mask_types: dvc.yaml runs one "):
        dag.dvc_vars(params)


def test_snakemake_jobs_log_their_output_and_read_their_params():
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



def _stand_in(root: Path, out: str) -> None:
    """A placeholder for a job's output under ``root``: a folder holding one file, a 1-pixel PNG
    or a text file."""
    from PIL import Image

    path = root / out
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(out, paths.Folder):
        path.mkdir()
        (path / "stand-in.txt").write_text("stand-in\n")
    elif path.suffix == ".png":
        Image.new("RGB", (1, 1)).save(path)
    else:
        path.write_text("stand-in\n")


def test_snakemake_report_holds_the_tables_figures_curves_and_provenance(tmp_path):
    """`snakemake --report` of the demo profile in a copy of the workflow whose report-stage
    outputs are the committed reports/demo/ (the one profile whose report is in git; running its
    DAG takes ~50 min) and whose other outputs are stand-ins: the HTML report embeds files, so
    every file a rule flags with report() must be in it, the tables byte for byte."""
    import base64

    for name in ("Snakefile", "params.yaml", "environment.yaml", "pipeline", "rwgan", "reference", "examples",
                 "docs/report"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    committed = ROOT / "reports" / "demo"
    for job in dag.jobs("demo"):
        for out in job.outs:
            if job.stage == "report" or out.endswith("masks.sha256"):
                source, target = ROOT / out, tmp_path / out
                target.parent.mkdir(parents=True, exist_ok=True)
                (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
            else:
                _stand_in(tmp_path, out)
    env = dict(os.environ, PATH=f"{SNAKEMAKE.parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run([str(SNAKEMAKE), "--report", "report.html", "--config", "profile=demo"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    html = (tmp_path / "report.html").read_text()
    embedded = {name: base64.b64decode(data) for name, data in
                re.findall(r"data:[^;\"']+;charset=[^;\"']+;filename=([^;\"']+);base64,([A-Za-z0-9+/=]+)", html)}
    for table in sorted((committed / "tables").glob("*.csv")):
        assert embedded.get(table.name) == table.read_bytes(), f"{table.name} not in the report"
    figures = {path.name for path in (committed / "figures").glob("*.png")}
    assert figures and figures <= set(embedded)
    assert {"README.md", "masks.sha256", "loss_curve.png", "validation.png"} <= set(embedded)
    assert embedded["README.md"] == (committed / "README.md").read_bytes()
