"""The fixed costs of the pipeline's jobs and the per-image costs of its CPU-only work, for the
planner (:mod:`pipeline.plan`): the smallest jobs in wall seconds, the rest in CPU seconds
(user + system, all threads: the work, whatever else the machine runs).

- ``smallest_jobs``: the wall seconds of every job of :data:`SMALLEST_PROFILE` (one training
  step of one image, one mask per bin, the full model and Telea), run one after another
  as Snakemake runs them (``python -m pipeline.<stage> ...`` from the repository root, in
  ``work/smallest_jobs``, removed afterwards), with that profile's resolved params: what a job of
  each stage costs whatever its size (the interpreter, imports, params, building and loading
  models and networks, checkpoints, plots), which the planner finds by taking its own
  estimate of these jobs' work from their measured time;
- ``workflow_start_s``: ``snakemake -n`` on the smoke profile (Snakemake's start, the
  Snakefile and the DAG), paid once per ``snakemake`` run;
- ``classical_s_per_image``: each classical method (:data:`rwgan.classical.CLASSICAL_METHODS`)
  on ``classical_images`` embedded photo crops with 30-40% contiguous holes, per size of
  ``Settings.option_sizes``;
- ``prepare_s_per_image``: decode an embedded JPEG/PNG photo and resize it to 256 px (the
  prepare stage's work per image, :func:`rwgan.data.resize_image`).

The workflow start is one run; image preparation the median of ``Settings.repeats`` runs after a
warm-up; classical methods one run.
"""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.harness import Settings, measure
from pipeline import config, dag
from pipeline.paths import work_dir
from rwgan import io
from rwgan.classical import CLASSICAL_METHODS, inpaint_classical
from rwgan.data import EMBEDDED_PHOTOS, embedded_crops, embedded_photo_path, resize_image
from rwgan.errors import RwganError
from rwgan.masks import generate_binned

REPO_ROOT = Path(__file__).resolve().parents[1]
HOLE_BIN = "30-40%"
#: The smallest profile that has a job of every stage: the smoke profile cut to one training
#: step of one image, one validation image, one mask per bin, the full model and Telea.
SMALLEST_PROFILE = "smallest_jobs"
SMALLEST_OVERRIDES = {
    "data": {"datasets": {"embedded": {"train": 2, "test": 2}}},
    "masks": {"per_bin": 1, "regular": {"per_bin": 1}},
    "train": {"batch_size": 1, "max_steps_phase1": 1, "max_steps_phase2": 1, "validation": {"images": 1, "every": 0},
              "checkpoint_every": 1, "sample_every": 1, "sample_count": 1, "variants": {"full": {}}},
    "evaluate": {"methods": ["full", "telea"], "extra_sets": {}, "timing": {"warmup": 0, "repeats": 1}},
    "report": {"object_removal": {"items": []}},
    "replace": ["train.variants", "evaluate.methods", "evaluate.extra_sets"],
}


def _cpu_s(command: list[str]) -> float:
    """CPU seconds (user + system) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def smallest_params_file(folder: Path, params_file: Path = REPO_ROOT / "params.yaml") -> Path:
    """``params_file`` with :data:`SMALLEST_PROFILE` added (the smoke profile and
    :data:`SMALLEST_OVERRIDES`), written into ``folder``."""
    raw = config.read_params_file(params_file)
    raw["profiles"][SMALLEST_PROFILE] = config.deep_merge(raw["profiles"]["smoke"], SMALLEST_OVERRIDES)
    path = Path(folder) / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _run_job(job: dag.Job, env: dict, log: Path) -> float:
    """Wall seconds of ``job``'s command, run as Snakemake runs it; a failure is one line naming the job."""
    start = time.perf_counter()
    with open(log, "w") as out:
        status = subprocess.run(job.cmd, shell=True, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if status.returncode:
        last = (log.read_text().strip().splitlines() or ["(no output)"])[-1]
        raise RwganError(f"benchmarks: job {job.name} of the {SMALLEST_PROFILE} profile failed ({last}); log {log}")
    return seconds


def smallest_jobs() -> dict:
    """Every job of :data:`SMALLEST_PROFILE` with its wall seconds, and the profile's resolved params."""
    folders = [REPO_ROOT / work_dir(SMALLEST_PROFILE), REPO_ROOT / "reports" / SMALLEST_PROFILE]
    with tempfile.TemporaryDirectory() as scratch:
        params_file = smallest_params_file(Path(scratch))
        params = config.load(SMALLEST_PROFILE, params_file)
        env = {**os.environ, "RWGAN_PARAMS": str(params_file), "OMP_WAIT_POLICY": "PASSIVE"}
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        try:
            jobs = [{"name": job.name, "stage": job.stage, "key": job.key,
                     "wall_s": _run_job(job, env, Path(scratch) / f"{job.name}.log")}
                    for job in dag.jobs_of(params, params_file)]
        finally:
            for folder in folders:
                shutil.rmtree(folder, ignore_errors=True)
    return {"params": params, "jobs": jobs}


def classical_s_per_image(settings: Settings) -> dict[str, dict[int, float]]:
    results: dict[str, dict[int, float]] = {}
    for size in settings.option_sizes:
        crops = [image for _, image, _ in embedded_crops(sorted(EMBEDDED_PHOTOS), settings.classical_images, size,
                                                         seed=0, split="test", min_crop_fraction=0.6)]
        holes = generate_binned("contiguous", HOLE_BIN, len(crops), seed=0, size=size)
        for method, _ in CLASSICAL_METHODS:
            def run(method=method):
                for image, hole in zip(crops, holes):
                    inpaint_classical(image, hole, method)

            results.setdefault(method, {})[size] = measure(run, 0, 1).cpu_s / len(crops)
    return results


def prepare_s_per_image(settings: Settings) -> float:
    paths = [embedded_photo_path(name) for name in sorted(EMBEDDED_PHOTOS)]

    def run():
        for path in paths:
            resize_image(io.read_image(path), 256)

    return measure(run, settings.warmup, settings.repeats).cpu_s / len(paths)


def run(settings: Settings) -> dict:
    start = time.perf_counter()
    results = {
        "smallest_jobs": smallest_jobs(),
        "workflow_start_s": _cpu_s([sys.executable, "-m", "snakemake", "-n", "--quiet", "--config", "profile=smoke"]),
        "classical_s_per_image": classical_s_per_image(settings),
        "classical_images": settings.classical_images,
        "prepare_s_per_image": prepare_s_per_image(settings),
    }
    results["wall_s"] = time.perf_counter() - start
    return results
