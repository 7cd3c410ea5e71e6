"""The benchmark suite behind ``python -m benchmarks``: runs the sections, writes
``benchmarks.json`` and ``benchmarks.md``.

Sections (:data:`SECTIONS`):

- ``inference``: :mod:`benchmarks.inference_bench` on CPU and, where available, CUDA;
- ``train``: :mod:`benchmarks.train_bench`, same devices;
- ``options``: :mod:`benchmarks.options_bench`, same devices: fp32 against bf16,
  channels-last and ``torch.compile`` at 64, 128 and 256 px, and the fp32 / bf16 loss curves
  (plotted into ``loss_curves.png`` beside the report);
- ``metrics``: :func:`benchmarks.metrics_bench.run` ``metric_repeats`` times, the median
  of each figure, plus the multiply-accumulates per image of LPIPS (VGG16 on both
  images) and of FID's Inception network, which bound their rates, and
  :func:`benchmarks.metrics_bench.scoring_options` (LPIPS and Inception in bf16, channels-last,
  other batch sizes, with their differences from fp32);
- ``masks``: :func:`benchmarks.masks_bench.per_type_rates`, median of ``mask_repeats`` runs
  after a one-mask warm-up;
- ``jobs``: :mod:`benchmarks.jobs_bench`, for the planner (:mod:`pipeline.plan`): every job
  of a smallest profile (each stage's fixed cost), classical methods, image preparation;
- ``profiles``: the recorded end-to-end runs of the smoke and demo profiles
  (:mod:`benchmarks.timed_run`); with ``run_smoke`` every job of the smoke profile is run
  and timed first.

A section that cannot run here (missing pretrained weights, no GPU) records why instead
of figures; :mod:`benchmarks.report` turns that into "not measured".
"""
from __future__ import annotations

import datetime
import os
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torchvision

from benchmarks import inference_bench, jobs_bench, masks_bench, metrics_bench, options_bench, report, train_bench
from benchmarks.harness import Settings, load_average, machine, nominal_macs
from benchmarks.timed_run import read_runtime, timed_run
from rwgan import io
from rwgan.assets import fid_feature_extractor
from rwgan.errors import RwganError
from rwgan.metrics import LPIPS

SECTIONS = ("inference", "train", "options", "metrics", "masks", "jobs", "profiles")
PROFILES = ("smoke", "demo")
REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_FORMAT = "rwgan-benchmarks-v1"


def devices() -> list[torch.device]:
    """CPU, and the first CUDA device where there is one."""
    return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])


def _per_device(run, settings: Settings) -> dict:
    results = {device.type: run(settings, device) for device in devices()}
    results.setdefault("cuda", {"not_measured": "no GPU"})
    return results


def median_of_runs(runs: list[dict]) -> dict:
    """Per key: the median of the runs' numbers, or the first run's value if not a number
    or the same in every run."""
    merged = {}
    for key, value in runs[0].items():
        values = [run[key] for run in runs if key in run]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        merged[key] = statistics.median(values) if numeric and len(set(values)) > 1 else value
    return merged


def metric_costs() -> dict:
    """Multiply-accumulates per evaluated 256x256 image: LPIPS runs VGG16's convolutions on
    the composite and the ground truth; FID runs Inception v3 (at 299x299) on the composite."""
    costs = {"lpips_gmac_per_image": 2 * nominal_macs(torchvision.models.vgg16().features,
                                                      torch.zeros(1, 3, 256, 256)) / 1e9}
    try:
        costs["inception_gmac_per_image"] = nominal_macs(
            fid_feature_extractor(), torch.zeros(1, 3, 256, 256, dtype=torch.uint8)) / 1e9
    except RwganError as exc:
        costs["inception_skipped"] = str(exc)
    return costs


def metrics_section(settings: Settings) -> dict:
    runs = [metrics_bench.run(settings.metric_images) for _ in range(settings.metric_repeats)]
    results = {**median_of_runs(runs), "runs": len(runs), **metric_costs()}
    try:
        results["scoring_options"] = metrics_bench.scoring_options(settings.scoring_images, LPIPS(),
                                                                   fid_feature_extractor(features=("2048",)))
    except RwganError as exc:
        results["scoring_options_skipped"] = str(exc)
    return results


def masks_section(settings: Settings) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        masks_bench.per_type_rates(settings.image_size, 1, Path(tmp) / "warmup")
        runs = [masks_bench.per_type_rates(settings.image_size, settings.mask_samples, Path(tmp) / f"run{index}")
                for index in range(settings.mask_repeats)]
    rates = {kind: median_of_runs([run[kind] for run in runs]) for kind in runs[0]}
    return {"image_size": settings.image_size, "samples_per_bin": settings.mask_samples, "runs": len(runs),
            "masks_per_cpu_s": rates}


def profile_command(profile: str) -> list[str]:
    """Every job of ``profile``'s pipeline, up to date or not (``--forceall``): the time of a
    run from scratch, not of whatever an earlier run left to do."""
    return ["snakemake", "--cores", "all", "--forceall", "--config", f"profile={profile}"]


def profiles_section(reports_dir: Path, run_smoke: bool) -> dict:
    results: dict = {}
    if run_smoke:
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        status = timed_run("smoke", [sys.executable, "-m", *profile_command("smoke")], reports_dir, cwd=REPO_ROOT,
                           env=env)
        if status != 0:
            results["smoke_run_failed"] = f"exit status {status}"
    for profile in PROFILES:
        record = read_runtime(reports_dir, profile)
        folder = Path(os.path.relpath(reports_dir / profile, REPO_ROOT))
        results[profile] = record if record is not None else {
            "not_measured": f"no record in {folder}: run `python -m benchmarks.timed_run "
                            f"--profile {profile} -- {shlex.join(profile_command(profile))}`"}
    return results


def run(settings: Settings, sections: tuple[str, ...] = SECTIONS, run_smoke: bool = False,
        reports_dir: Path = REPO_ROOT / "reports", command: str = "python -m benchmarks") -> dict:
    """Run ``sections`` and return every figure (the content of ``benchmarks.json``)."""
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise RwganError(f"--only: unknown section {', '.join(unknown)} (expected some of {', '.join(SECTIONS)})")
    start, load_before = time.perf_counter(), load_average()
    results = {"format": RESULTS_FORMAT, "command": command,
               "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "settings": asdict(settings), "sections": list(sections), "machine": machine(),
               "load_average_before": load_before}
    runners = {
        "inference": lambda: _per_device(inference_bench.run, settings),
        "train": lambda: _per_device(train_bench.run, settings),
        "options": lambda: _per_device(options_bench.run, settings),
        "metrics": lambda: metrics_section(settings),
        "masks": lambda: masks_section(settings),
        "jobs": lambda: jobs_bench.run(settings),
        "profiles": lambda: profiles_section(reports_dir, run_smoke),
    }
    for section in SECTIONS:
        if section not in sections:
            continue
        section_start = time.perf_counter()
        try:
            results[section] = runners[section]()
        except RwganError as exc:  # e.g. pretrained weights not fetched: the section is not measured
            results[section] = {"not_measured": str(exc)}
        results[section]["section_wall_s"] = time.perf_counter() - section_start
    results.update(load_average_after=load_average(), wall_s=time.perf_counter() - start)
    results["targets"] = report.evaluate_targets(results)
    return results


def write(results: dict, out_dir: Path) -> tuple[Path, Path]:
    """Write ``benchmarks.json``, ``benchmarks.md`` and, with the options section's loss
    curves, ``loss_curves.png`` into ``out_dir`` (atomically)."""
    json_path, markdown_path = Path(out_dir) / "benchmarks.json", Path(out_dir) / "benchmarks.md"
    curves = results.get("options", {}).get("cpu", {}).get("loss_curves")
    if curves:
        options_bench.plot_curves(Path(out_dir) / options_bench.CURVE_PLOT, curves)
    io.write_json(json_path, results)
    io.write_text(markdown_path, report.markdown(results))
    return json_path, markdown_path
