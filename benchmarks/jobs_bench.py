"""The fixed costs of the pipeline's jobs, for the planner (:mod:`pipeline.plan`), in CPU
seconds (user + system, all threads: the work, whatever else the machine runs).

- ``stage_start_s``: CPU seconds of ``python -m pipeline.<stage> --help`` for every stage of
  :data:`pipeline.dag.STAGES` (the interpreter, torch and the stage's imports: what every job
  pays before it does any work; train jobs are ``pipeline.train`` for both phases);
- ``workflow_start_s``: ``snakemake -n`` on the smoke profile (Snakemake's start, the
  Snakefile and the DAG), paid once per ``snakemake`` run;
- ``classical_s_per_image``: each classical method (:data:`rwgan.classical.CLASSICAL_METHODS`)
  on ``classical_images`` embedded photo crops with 30-40% contiguous holes, per size of
  ``Settings.option_sizes``;
- ``prepare_s_per_image``: decode an embedded JPEG/PNG photo and resize it to 256 px (the
  prepare stage's work per image, :func:`rwgan.data.resize_image`).

The starts are the median of :data:`STARTS` runs; the rest the median of ``Settings.repeats``
runs after a warm-up (classical methods: one run).
"""
from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.harness import Settings, measure
from rwgan import io
from rwgan.classical import CLASSICAL_METHODS, inpaint_classical
from rwgan.data import EMBEDDED_PHOTOS, embedded_crops, embedded_photo_path, resize_image
from rwgan.masks import generate_binned

REPO_ROOT = Path(__file__).resolve().parents[1]
HOLE_BIN = "30-40%"
STARTS = 2  # timed starts per stage (the first is as cold as a job's)


def _cpu_s(command: list[str], repeats: int) -> float:
    """Median CPU seconds (user + system) of ``repeats`` runs of ``command``."""
    seconds = []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(command, cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(seconds)


def stage_start_s(settings: Settings) -> dict[str, float]:
    from pipeline.dag import STAGES

    modules = {stage: "train" if stage == "pretrain" else stage for stage in STAGES}
    return {stage: _cpu_s([sys.executable, "-m", f"pipeline.{module}", "--help"], STARTS)
            for stage, module in modules.items()}


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
        "stage_start_s": stage_start_s(settings),
        "workflow_start_s": _cpu_s([sys.executable, "-m", "snakemake", "-n", "--quiet", "--config", "profile=smoke"],
                                   1),
        "classical_s_per_image": classical_s_per_image(settings),
        "classical_images": settings.classical_images,
        "prepare_s_per_image": prepare_s_per_image(settings),
    }
    results["wall_s"] = time.perf_counter() - start
    return results
