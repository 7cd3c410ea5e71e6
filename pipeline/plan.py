"""The price of a profile before it runs: every job's expected time, on this machine's CPU
and on a named GPU.

    python -m pipeline.plan --profile paper [--gpu H100] [--gpus 8] [--utilisation 0.2]
                            [--benchmarks reports/benchmarks/benchmarks.json]

The jobs are :func:`pipeline.dag.jobs`' (those Snakemake and DVC run).  Each job's work
comes from params.yaml as the stages compute it (training steps:
:func:`pipeline.train.scheduled_steps`; masks: :func:`pipeline.masks.plan`; scored pairs:
one per mask of each set the method is scored on, :func:`pipeline.evaluate.method_sets`),
and its cost from the figures ``python -m benchmarks`` measured on this machine
(``benchmarks.json``):

- **CPU**: a job's fixed cost plus its work at the measured fp32 rates (CPU seconds, so that
  other work on the machine while the benchmark ran does not inflate them).  The fixed cost of
  a stage's job is what its job costs whatever its size: the interpreter, imports, params,
  building and loading networks, checkpoints and plots.  It is the measured wall time of that
  stage's job in the benchmark's smallest profile (:data:`benchmarks.jobs_bench.SMALLEST_PROFILE`:
  one training step, one mask per bin) less this planner's estimate of that job's work
  (:func:`fixed_costs`).  The work:
  training seconds per image of each phase of the full model at the nearest measured size,
  scaled by the pixels (a phase 2 by the images its discriminators judge, PC by its measured
  inference time over ours), validations, generator inference, the metrics (LPIPS and the
  pixel metrics scaled by the pixels; Inception, which resizes to 299 px, per image), the
  classical methods, masks and image preparation.  A job's wall time is its fixed cost plus its
  work over the measured speed-up of torch's threads (:func:`alone_s`); the total is
  ``snakemake --cores all``'s, the jobs one after another (:func:`cpu_wall_s`).
- **GPU** (stated, not measured: no GPU was available): the FLOPs the benchmark counted per
  image (training steps, generator, LPIPS, Inception) at the GPU's datasheet bf16 peak
  (:data:`benchmarks.harness.GPU_PEAK_FLOPS`; the metrics in TF32 at half of it) times an
  assumed ``--utilisation``; a job's fixed cost and its CPU work (classical methods) as on this
  machine.  Download, prepare, masks and report run on the CPU.  GPU-hours are the sum over
  the GPU jobs; the wall time on N GPUs schedules every job, in DAG order, on the first free GPU
  once its inputs exist (each job on one GPU).

Downloads from the network are not estimated (their size is not in params.yaml).  Errors
(unknown profile, missing or incomplete benchmark figures) are one line naming the file or
option.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.harness import GPU_PEAK_FLOPS, gpu_peak
from pipeline import config, dag
from pipeline import masks as masks_stage
from pipeline.methods import checkpoint_variant, exported_sets, kind, method_sets
from pipeline.train import scheduled_steps
from rwgan.errors import RwganError

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO_ROOT / "reports" / "benchmarks" / "benchmarks.json"
DEFAULT_GPU = "H100"
#: Assumed fraction of the datasheet peak a job achieves on a GPU (not measured; the
#: generator's convolutions have 32 to 128 channels, far from filling tensor cores).
DEFAULT_UTILISATION = 0.2
GPU_STAGES = ("pretrain", "train", "evaluate")
REFERENCE_SIZE = 256  # the size the metrics and masks figures are measured at


def _figure(results: dict, *keys: str, where: Path):
    value = results
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise RwganError(f"{where}: no figure {'.'.join(keys)} (run `python -m benchmarks` with every section)")
        value = value[key]
    return value


@dataclass(frozen=True)
class Rates:
    """This machine's measured costs, in CPU seconds (all threads: the work, whatever else the
    machine ran meanwhile; fp32), the statistics' in wall seconds, and the FLOPs per image,
    keyed by image size where they depend on it."""

    train_s: dict  # (size, phase) -> seconds per image of a full-model training step
    train_gflop: dict  # (size, phase) -> GFLOP per image of that step (forward and backward)
    infer_s: dict  # size -> seconds per image of generator inference
    infer_gflop_256: float
    pconv_over_ours: float  # PC's inference time over ours
    pixel_metrics_s_256: float
    lpips_s_256: float
    lpips_gflop_256: float
    inception_s: float
    inception_gflop: float
    fid_statistics_s_2000: float
    kid_statistics_s_1000: float   # KID's subsets of 1,000 samples (rwgan.metrics.KID_SUBSET_SIZE)
    masks_per_s_256: float
    prepare_s: float
    classical_s: dict  # method -> size -> seconds per image
    smallest_params: dict  # the resolved params of the benchmark's smallest profile
    smallest_jobs: list  # its jobs: {"name", "stage", "key", "wall_s"}
    workflow_start_s: float
    cores: int  # this machine's logical CPUs (torch's threads)
    thread_speedup: float  # generator inference on every core over one thread (wall time)
    source: str = ""

    @classmethod
    def from_benchmarks(cls, path: Path) -> "Rates":
        path = Path(path)
        try:
            results = json.loads(path.read_text())
        except FileNotFoundError:
            raise RwganError(f"{path}: no benchmark figures (run `python -m benchmarks` first)") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise RwganError(f"{path}: unreadable benchmark figures ({exc})") from None
        options = _figure(results, "options", "cpu", where=path)
        fp32_train = [row for row in _figure(options, "training", where=path) if row["case"] == "fp32" and "error" not in row]
        fp32_infer = [row for row in _figure(options, "inference", where=path) if row["case"] == "fp32" and "error" not in row]
        if not fp32_train or not fp32_infer:
            raise RwganError(f"{path}: no fp32 training or inference figures in the options section")
        metrics = _figure(results, "metrics", where=path)
        pixel_s = _figure(metrics, "pixel_metrics_cpu_s_per_image", where=path)
        jobs = _figure(results, "jobs", where=path)
        batch_one = {row["case"]: row["ms_per_image"] for row in _figure(results, "inference", "cpu", "generator",
                                                                          where=path)
                     if row["batch"] == 1 and "error" not in row}
        if not {"fp32", "fp32, 1 thread"} <= set(batch_one):
            raise RwganError(f"{path}: no fp32 batch-1 inference with all threads and with one")
        return cls(
            train_s={(row["size"], phase): row[f"phase{phase}_timing"]["cpu_s"] / row["batch"]
                     for row in fp32_train for phase in (1, 2)},
            train_gflop={(row["size"], phase): row[f"phase{phase}_gflop_per_image"] for row in fp32_train
                         for phase in (1, 2)},
            infer_s={row["size"]: row["timing"]["cpu_s"] / row["batch"] for row in fp32_infer},
            infer_gflop_256=2 * _figure(results, "inference", "cpu", "cost", "executed_gmac_per_image", where=path)
            * (REFERENCE_SIZE / _figure(results, "inference", "cpu", "cost", "image_size", where=path)) ** 2,
            pconv_over_ours=1 / _figure(results, "inference", "cpu", "pconv_ratio", "ours_over_pconv", where=path),
            pixel_metrics_s_256=pixel_s,
            lpips_s_256=_figure(metrics, "pixel_metrics_with_lpips_cpu_s_per_image", where=path) - pixel_s,
            lpips_gflop_256=2 * _figure(metrics, "lpips_gmac_per_image", where=path),
            inception_s=_figure(metrics, "fid_features_cpu_s_per_image", where=path),
            inception_gflop=2 * _figure(metrics, "inception_gmac_per_image", where=path),
            fid_statistics_s_2000=_figure(metrics, "fid_statistics_s", where=path),
            kid_statistics_s_1000=_figure(metrics, "kid_statistics_s", where=path),
            masks_per_s_256=_figure(results, "masks", "masks_per_cpu_s", "contiguous", "all", where=path),
            prepare_s=_figure(jobs, "prepare_s_per_image", where=path),
            classical_s={method: {int(size): s for size, s in by_size.items()}
                         for method, by_size in _figure(jobs, "classical_s_per_image", where=path).items()},
            smallest_params=_figure(jobs, "smallest_jobs", "params", where=path),
            smallest_jobs=_figure(jobs, "smallest_jobs", "jobs", where=path),
            workflow_start_s=_figure(jobs, "workflow_start_s", where=path),
            cores=int(_figure(results, "machine", "torch_threads", where=path)),
            thread_speedup=batch_one["fp32, 1 thread"] / batch_one["fp32"],
            source=f"{path} ({results.get('created_at', '?')}, load average {results.get('load_average_before')})",
        )

    # --- per image at any size: the nearest measured size, scaled by the pixels ----------------
    @staticmethod
    def _scaled(by_size: dict, size: int) -> float:
        nearest = min(by_size, key=lambda measured: (abs(math.log(measured / size)), -measured))
        return by_size[nearest] * (size / nearest) ** 2

    def train_image_s(self, size: int, phase: int) -> float:
        return self._scaled({s: v for (s, p), v in self.train_s.items() if p == phase}, size)

    def train_image_gflop(self, size: int, phase: int) -> float:
        return self._scaled({s: v for (s, p), v in self.train_gflop.items() if p == phase}, size)

    def infer_image_s(self, size: int) -> float:
        return self._scaled(self.infer_s, size)

    def classical_image_s(self, method: str, size: int) -> float:
        return self._scaled(self.classical_s[method], size)


@dataclass
class Estimate:
    """One job: what it does, its seconds on this machine (its fixed cost in wall seconds, then
    its work in CPU seconds) and, for GPU stages, its expected seconds on one GPU."""

    job: dag.Job
    work: str
    fixed_s: float
    work_s: float | None  # None: not estimated (see ``work``)
    gpu_s: float | None = None
    ready_after: list[str] = field(default_factory=list)  # names of the jobs whose outputs it reads

    @property
    def cpu_s(self) -> float | None:
        return None if self.work_s is None else self.fixed_s + self.work_s


@dataclass(frozen=True)
class Gpu:
    name: str
    bf16_flops: float  # datasheet dense peak
    label: str
    utilisation: float

    def seconds(self, gflop: float, tf32: bool = False) -> float:
        """Seconds for ``gflop`` at the assumed utilisation of the bf16 (or TF32, half) peak."""
        return gflop * 1e9 / (self.bf16_flops * (0.5 if tf32 else 1.0) * self.utilisation)


def _train_images(spec: dict) -> int:
    return int(spec["train"]) if spec["source"] == "embedded" else int(spec["expected"]["train"])


def _test_images(spec: dict) -> int:
    if spec["source"] == "embedded":
        return int(spec["test"])
    return min(int(spec["expected"]["test"]), int((spec.get("limit") or {}).get("test") or spec["expected"]["test"]))


def _judged_images(variant) -> int:
    """Images the discriminators of ``variant`` judge per training image (the full model: 2)."""
    return sum(len(spec.judges) for spec in variant.discriminators)


class Planner:
    """Estimates of every job of one resolved profile (``params``) from ``rates``; ``fixed``:
    each stage's fixed cost per job (default: :func:`fixed_costs`)."""

    def __init__(self, params: dict, rates: Rates, gpu: Gpu, fixed: dict[str, float] | None = None):
        self.params, self.rates, self.gpu = params, rates, gpu
        self.size = int(params["image_size"])
        self.variants = dag.resolved_variants(params)
        self.fixed = fixed_costs(rates, gpu) if fixed is None else fixed

    def fixed_cost(self, stage: str) -> float:
        if stage not in self.fixed:
            raise RwganError(f"benchmarks: no job of the {stage} stage in jobs.smallest_jobs (re-run "
                             "`python -m benchmarks --only jobs` after adding a stage)")
        return self.fixed[stage]

    def estimate(self, job: dag.Job) -> Estimate:
        return getattr(self, f"_{job.stage}")(job)

    def _download(self, job: dag.Job) -> Estimate:
        spec = self.params["data"]["datasets"][job.key["dataset"]]
        if spec["source"] == "download":
            return Estimate(job, "download from the network: not estimated", self.fixed_cost("download"), None)
        return Estimate(job, f"{spec['source']} data: nothing to fetch", self.fixed_cost("download"), 0.0)

    def _prepare(self, job: dag.Job) -> Estimate:
        spec = self.params["data"]["datasets"][job.key["dataset"]]
        images = _train_images(spec) + _test_images(spec)
        workers = int(self.params["data"]["workers"])
        return Estimate(job, f"{images:,} images", self.fixed_cost("prepare"), images * self.rates.prepare_s / workers)

    def _masks(self, job: dag.Job) -> Estimate:
        section = self.params["masks"]
        count = sum(len(masks_stage.plan(self.params, name, Path("masks"))) for name in section["sets"]
                    if name != "nvidia")
        rate = self.rates.masks_per_s_256 * (REFERENCE_SIZE / self.size) ** 2 * int(section["workers"])
        return Estimate(job, f"{count:,} masks", self.fixed_cost("masks"), count / rate)

    def _export(self, job: dag.Job) -> Estimate:
        """Each exported pair reads an image and a mask and writes four PNGs: costed as two
        prepared images (the prepare stage's measured rate)."""
        sets = [name for name in exported_sets(self.params) if name != "nvidia"]
        pairs = sum(len(masks_stage.plan(self.params, name, Path("masks"))) for name in sets)
        return Estimate(job, f"{pairs:,} pairs", self.fixed_cost("export"), 2 * pairs * self.rates.prepare_s)

    def _training(self, job: dag.Job, phase: int) -> Estimate:
        section, size = self.params["train"], self.size
        variant = self.variants[job.key["variant"]]
        dataset = self.params["data"]["datasets"][job.key["dataset"]]
        steps = scheduled_steps(section, variant.model, _train_images(dataset))[phase - 1]
        images = steps * int(section["batch_size"])
        cpu_image, gflop_image = self.rates.train_image_s(size, 1), self.rates.train_image_gflop(size, 1)
        if variant.model == "pconv":
            cpu_image, gflop_image = cpu_image * self.rates.pconv_over_ours, gflop_image * self.rates.pconv_over_ours
        elif phase == 2:  # phase 1's step plus the adversarial part, per image a discriminator judges
            share = _judged_images(variant) / 2
            cpu_image += share * (self.rates.train_image_s(size, 2) - self.rates.train_image_s(size, 1))
            gflop_image += share * (self.rates.train_image_gflop(size, 2) - self.rates.train_image_gflop(size, 1))
        validation = section["validation"]
        validations = (steps // validation["every"] if validation["every"] else 0) + 2 if validation["images"] else 0
        scored = validations * int(validation["images"])
        lpips = self.rates.lpips_s_256 * (size / REFERENCE_SIZE) ** 2
        cpu = images * cpu_image + scored * (self.rates.infer_image_s(size) + lpips)
        gpu = self.fixed_cost(job.stage) + self.gpu.seconds(images * gflop_image + scored * self._infer_gflop()) \
            + self.gpu.seconds(scored * self._lpips_gflop(), tf32=True)
        return Estimate(job, f"{steps:,} steps x {section['batch_size']} images at {size} px, {scored} validation "
                             "images", self.fixed_cost(job.stage), cpu, gpu)

    def _pretrain(self, job: dag.Job) -> Estimate:
        return self._training(job, 1)

    def _train(self, job: dag.Job) -> Estimate:
        return self._training(job, 2)

    def _infer_gflop(self) -> float:
        return self.rates.infer_gflop_256 * (self.size / REFERENCE_SIZE) ** 2

    def _lpips_gflop(self) -> float:
        return self.rates.lpips_gflop_256 * (self.size / REFERENCE_SIZE) ** 2

    def _evaluate(self, job: dag.Job) -> Estimate:
        section, size, method = self.params["evaluate"], self.size, job.key["method"]
        sets = [name for name in method_sets(self.params, method) if name != "nvidia"]
        planned = {name: masks_stage.plan(self.params, name, Path("masks")) for name in sets}
        per_set = {name: len(masks) for name, masks in planned.items()}
        pairs = sum(per_set.values())
        bins = sum(len({mask.bin for mask in masks}) for masks in planned.values())
        metrics = set(section["metrics"])
        test_images = _test_images(self.params["data"]["datasets"][job.key["dataset"]])
        truths = min(max(per_set.values()), test_images)  # Inception features of each test image, cached
        scale = (size / REFERENCE_SIZE) ** 2
        cpu_scoring = pairs * self.rates.pixel_metrics_s_256 * scale
        gpu_flops = 0.0
        if "LPIPS" in metrics:
            cpu_scoring += pairs * self.rates.lpips_s_256 * scale
            gpu_flops += pairs * self._lpips_gflop()
        if metrics & {"FID", "KID"}:
            cpu_scoring += (pairs + truths) * self.rates.inception_s
            gpu_flops += (pairs + truths) * self.rates.inception_gflop
        per_bin = pairs / max(bins, 1)
        statistics = bins * self.rates.fid_statistics_s_2000 * (per_bin / 2000) ** 2 if metrics & {"FID"} else 0.0
        kid_size = section.get("kid_subset_size")
        if "KID" in metrics and (kid_size is None or per_bin >= kid_size):
            subset = per_bin if kid_size is None else kid_size  # each subset's kernels cost its size squared
            statistics += bins * self.rates.kid_statistics_s_1000 * (subset / 1000) ** 2
        timing = section["timing"]
        timed = timing["warmup"] + min(timing["repeats"], per_set[sets[0]])  # Table IV, on the first set
        if kind(self.params, method) == "classical":
            inpaint_cpu = (pairs + timed) * self.rates.classical_image_s(method, size)
            cpu = inpaint_cpu + cpu_scoring + statistics
            gpu = self.fixed_cost("evaluate") + inpaint_cpu + self.gpu.seconds(gpu_flops, tf32=True) + statistics
        else:
            factor = self.rates.pconv_over_ours if checkpoint_variant(self.params, method) == "pconv" else 1.0
            cpu = (pairs + timed) * factor * self.rates.infer_image_s(size) + cpu_scoring + statistics
            gpu = self.fixed_cost("evaluate") + self.gpu.seconds((pairs + timed) * factor * self._infer_gflop()) \
                + self.gpu.seconds(gpu_flops, tf32=True) + statistics
        return Estimate(job, f"{pairs:,} pairs in {bins} bins of {', '.join(sets)}", self.fixed_cost("evaluate"), cpu, gpu)

    def _report(self, job: dag.Job) -> Estimate:
        return Estimate(job, "tables and figures", self.fixed_cost("report"), 0.0)

    def plan(self, jobs: list[dag.Job]) -> list[Estimate]:
        """Every job's estimate, with the jobs whose outputs it reads."""
        producer = {out: job.name for job in jobs for out in job.outs}
        estimates = []
        for job in jobs:
            estimate = self.estimate(job)
            estimate.ready_after = sorted({producer[dep] for dep in job.deps if dep in producer})
            if job.stage not in GPU_STAGES:
                estimate.gpu_s = None
            estimates.append(estimate)
        return estimates


def fixed_costs(rates: Rates, gpu: Gpu) -> dict[str, float]:
    """Each stage's fixed wall seconds per job: the measured wall time of its jobs in the
    benchmark's smallest profile less this planner's estimate of their work (mean over a stage's
    jobs, at least 0)."""
    smallest = Planner(rates.smallest_params, rates, gpu, fixed={row["stage"]: 0.0 for row in rates.smallest_jobs})
    by_stage: dict[str, list[float]] = {}
    for row in rates.smallest_jobs:
        job = dag.Job(stage=row["stage"], key=row["key"], cmd="", deps=(), outs=(), params=(), log="")
        work = alone_s(smallest.estimate(job), rates) or 0.0
        by_stage.setdefault(row["stage"], []).append(max(0.0, row["wall_s"] - work))
    return {stage: statistics.mean(seconds) for stage, seconds in by_stage.items()}


def alone_s(estimate: Estimate, rates: Rates) -> float | None:
    """Wall seconds of one job on this machine, otherwise idle: its fixed cost and its work on
    every core (its CPU seconds over ``thread_speedup``)."""
    return None if estimate.work_s is None else estimate.fixed_s + estimate.work_s / rates.thread_speedup


def cpu_wall_s(estimates: list[Estimate], rates: Rates) -> float:
    """Wall seconds of ``snakemake --cores all`` on this machine, otherwise idle: one workflow
    start, then the jobs one after another (training and evaluation declare as many threads
    as a core count, ``cluster.<stage>.threads``, and the rest mostly wait for each other)."""
    return rates.workflow_start_s + sum(alone_s(e, rates) or 0.0 for e in estimates)


def gpu_wall_s(estimates: list[Estimate], gpus: int) -> float:
    """Wall seconds on ``gpus`` GPUs: in DAG order, each GPU job on the first free GPU once
    the jobs it reads have finished; CPU jobs (GPU time ``None``) beside them at their CPU time."""
    if gpus < 1:
        raise RwganError(f"--gpus: expected at least 1, got {gpus}")
    free, finish = [0.0] * gpus, {}
    for estimate in estimates:
        ready = max((finish[name] for name in estimate.ready_after), default=0.0)
        if estimate.gpu_s is None:
            finish[estimate.job.name] = ready + (estimate.cpu_s or 0.0)
            continue
        index = min(range(gpus), key=lambda k: max(free[k], ready))
        free[index] = max(free[index], ready) + estimate.gpu_s
        finish[estimate.job.name] = free[index]
    return max(finish.values(), default=0.0)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:,.1f} h"


def report(params: dict, estimates: list[Estimate], rates: Rates, gpu: Gpu, gpus: int) -> str:
    """The plan as text: one line per job, then the totals."""
    width = max(len(e.job.name) for e in estimates)
    lines = [f"profile {params['profile']}: {len(estimates)} jobs; CPU = this machine, fp32, measured rates "
             f"({rates.source}); GPU = {gpu.name}, stated: {gpu.label} x assumed utilisation {gpu.utilisation:g} "
             "(no GPU measured)", "",
             f"{'job':{width}}  {'CPU':>10}  {'1 GPU':>10}  work"]
    for e in estimates:
        lines.append(f"{e.job.name:{width}}  {duration(alone_s(e, rates)):>10}  {duration(e.gpu_s):>10}  {e.work}")
    cpu_total = cpu_wall_s(estimates, rates)
    gpu_hours = sum(e.gpu_s for e in estimates if e.gpu_s is not None) / 3600
    missing = [e.job.name for e in estimates if e.cpu_s is None]
    lines += ["",
              f"CPU, `snakemake --cores all` on this machine ({rates.cores} cores): {duration(cpu_total)} "
              f"({cpu_total / 3600:,.1f} h)",
              f"GPU-hours ({gpu.name}, training and evaluation): {gpu_hours:,.1f}",
              f"wall time on 1 {gpu.name}: {duration(gpu_wall_s(estimates, 1))}; "
              f"on {gpus}: {duration(gpu_wall_s(estimates, gpus))}"]
    if missing:
        lines.append(f"not estimated: {', '.join(missing)} (network downloads)")
    return "\n".join(lines)


def make_gpu(name: str, utilisation: float) -> Gpu:
    peak = gpu_peak(name)
    if peak is None:
        known = ", ".join(fragment for fragment, _, _ in GPU_PEAK_FLOPS)
        raise RwganError(f"--gpu: no datasheet peak for {name!r} (expected a name containing one of {known})")
    if not 0 < utilisation <= 1:
        raise RwganError(f"--utilisation: expected a fraction in (0, 1], got {utilisation}")
    return Gpu(name, peak[0], peak[1], utilisation)


def plan_profile(profile: str, benchmarks: Path = BENCHMARKS, gpu: str = DEFAULT_GPU,
                 utilisation: float = DEFAULT_UTILISATION, params_file: Path = config.PARAMS_FILE
                 ) -> tuple[dict, list[Estimate], Rates, Gpu]:
    """The estimates of every job of ``profile``."""
    params = config.load(profile, params_file)
    rates, device = Rates.from_benchmarks(benchmarks), make_gpu(gpu, utilisation)
    return params, Planner(params, rates, device).plan(dag.jobs_of(params, params_file)), rates, device


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default=None, help="params.yaml profile (default: the file's `profile`)")
    parser.add_argument("--gpu", default=DEFAULT_GPU, help=f"GPU name (default {DEFAULT_GPU})")
    parser.add_argument("--gpus", type=int, default=8, help="GPUs for the wall-time line (default 8)")
    parser.add_argument("--utilisation", type=float, default=DEFAULT_UTILISATION,
                        help=f"assumed fraction of the GPU's peak (default {DEFAULT_UTILISATION})")
    parser.add_argument("--benchmarks", type=Path, default=BENCHMARKS, help="benchmarks.json to read")
    args = parser.parse_args(argv)
    try:
        params, estimates, rates, gpu = plan_profile(args.profile, args.benchmarks, args.gpu, args.utilisation)
        print(report(params, estimates, rates, gpu, args.gpus))
    except RwganError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
