"""The issue's performance targets, checked against a benchmark run, and the Markdown summary.

A target is ``met`` or ``missed`` when its figure was measured and ``not measured`` (with
the reason: no GPU, section not run, no profile record, weights missing) otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from pipeline import config
from pipeline.tables import read_paper


class NotMeasured(Exception):
    """A figure that the run did not produce; the message says why."""


def _section(results: dict, name: str, device: str | None = None) -> dict:
    if name not in results:
        raise NotMeasured(f"section {name} not run")
    section = results[name]
    if device is not None:
        section = section[device]
    if "not_measured" in section:
        raise NotMeasured(section["not_measured"])
    return section


def _number(section: dict, *keys: str) -> float:
    for key in keys:
        if key not in section:
            skipped = [value for name, value in section.items() if name.endswith("_skipped")]
            raise NotMeasured(skipped[0] if skipped else f"{key} missing")
        section = section[key]
    return section


def cpu_inference_s(results: dict) -> float:
    """The fastest fp32 batch-1 case: torch's default threads or one thread."""
    rows = [row for row in _section(results, "inference", "cpu")["generator"]
            if row["batch"] == 1 and row["case"].startswith("fp32") and "error" not in row]
    if not rows:
        raise NotMeasured("no fp32 batch-1 row")
    return min(row["ms_per_image"] for row in rows) / 1e3


def gpu_bf16_images_per_s(results: dict) -> float:
    rows = [row for row in _section(results, "inference", "cuda")["generator"]
            if row["case"].startswith("bf16") and "error" not in row]
    if not rows:
        raise NotMeasured("every bf16 case failed")
    return max(row["images_per_s"] for row in rows)


def fid_s_per_1000(results: dict) -> float:
    """Inception features of 1,000 images plus the FID statistics of one pair of sets."""
    metrics = _section(results, "metrics")
    return _number(metrics, "fid_features_s_per_1000_images") + _number(metrics, "fid_statistics_s")


def profile_minutes(profile: str) -> Callable[[dict], float]:
    return lambda results: _number(_section(results, "profiles", profile), "minutes")


@dataclass(frozen=True)
class Target:
    """A goal on one figure; ``measure`` takes it from the results or raises :class:`NotMeasured`."""

    name: str
    unit: str
    limit: float
    higher_is_better: bool
    measure: Callable[[dict], float]

    @property
    def goal(self) -> str:
        return f"{'>=' if self.higher_is_better else '<='} {self.limit:g} {self.unit}"


TARGETS = (
    Target("CPU: generator inference, 256x256, batch 1, fp32 (best thread count)", "s/image", 1.0, False,
           cpu_inference_s),
    Target("CPU: metrics without FID (L1, L2, PSNR, SSIM)", "images/s", 50, True,
           lambda results: _number(_section(results, "metrics"), "pixel_metrics_images_per_s")),
    Target("CPU: FID", "s per 1,000 images", 60, False, fid_s_per_1000),
    Target("CPU: smoke profile end to end", "min", 5, False, profile_minutes("smoke")),
    Target("CPU: demo profile end to end", "min", 30, False, profile_minutes("demo")),
    Target("GPU: generator inference, 256x256, bf16", "images/s", 2000, True, gpu_bf16_images_per_s),
    Target("GPU: training, adversarial phase", "images/s", 150, True,
           lambda results: _number(_section(results, "train", "cuda"), "phase2", "images_per_s")),
)


def evaluate_targets(results: dict) -> list[dict]:
    """Each target with its measured value and status (``met``, ``missed``, ``not measured``)."""
    rows = []
    for target in TARGETS:
        row = {"target": target.name, "goal": target.goal}
        try:
            value = target.measure(results)
        except NotMeasured as reason:
            rows.append({**row, "measured": None, "status": f"not measured ({reason})"})
            continue
        met = value >= target.limit if target.higher_is_better else value <= target.limit
        rows.append({**row, "measured": value, "unit": target.unit, "status": "met" if met else "missed"})
    return rows


# --- Markdown --------------------------------------------------------------------------

def _f(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(_f(cell) if not isinstance(cell, str) else cell for cell in row) + " |" for row in rows]


def _not_measured(section: dict) -> str | None:
    return section.get("not_measured")


def _machine(results: dict) -> list[str]:
    machine = results["machine"]
    gpu = machine["gpu"] or "none"
    if machine["gpu"]:
        gpu += f" ({machine['gpu_memory_gib']} GiB, CUDA {machine['cuda']})"
    return [
        f"- CPU: {machine['cpu']}, {machine['logical_cpus']} logical CPUs, torch threads {machine['torch_threads']}",
        f"- GPU: {gpu}",
        f"- torch {machine['torch']}, Python {machine['python']}, {machine['platform']}",
        f"- load average (1, 5, 15 min) before: {results['load_average_before']}, after: "
        f"{results.get('load_average_after')}. Other work on the machine slows the absolute figures; "
        "the ratios, both sides measured in the same run, are steadier.",
    ]


def _inference(results: dict) -> list[str]:
    sections = results["inference"]
    cpu = sections["cpu"]
    if _not_measured(cpu):
        return [f"Not measured: {cpu['not_measured']}", ""]
    cost = cpu["cost"]
    lines = [
        f"{cost['image_size']}x{cost['image_size']}: {cost['nominal_gmac_per_image']:.2f} GMAC per image as the "
        "architecture specifies it (about 61.8 at 256), "
        f"{cost['executed_gmac_per_image']:.2f} GMAC executed (upsampling convs computed at the input "
        "resolution, `rwgan/layers.py`). 'of matmul': achieved FLOP rate over a large matrix product's in the same "
        "precision and threads; 'of peak': over the GPU's datasheet peak.", "",
    ]
    rows = []
    for device in ("cpu", "cuda"):
        section = sections[device]
        if _not_measured(section):
            rows.append([device, "not measured (" + section["not_measured"] + ")", "-", "-", "-", "-", "-"])
            continue
        for row in section["generator"]:
            if "error" in row:
                rows.append([device, row["case"], row["batch"], "failed: " + row["error"], "-", "-", "-"])
                continue
            peak = row.get("fraction_of_peak")
            rows.append([device, row["case"], row["batch"], row["ms_per_image"], row["images_per_s"],
                         f"{row['fraction_of_matmul']:.0%}", f"{peak:.1%}" if peak is not None else "-"])
    lines += _table(["device", "case", "batch", "ms/image", "images/s", "of matmul", "of peak"], rows) + [
        "", "'1 thread': with other work on the machine, torch's threads wait for each other at every operation "
        "while a core is busy elsewhere, and one thread can beat two. CPU bf16, channels-last and compile: "
        "'Faster options' below.", ""]
    for device in ("cpu", "cuda"):
        limits = sections[device].get("limits")
        if limits:
            rates = ", ".join(f"{name}: {rate / 1e9:,.0f} GFLOP/s"
                              for name, rate in limits["matmul_flops_per_s"].items())
            peak = limits.get("datasheet_peak_flops_per_s")
            lines.append(f"- {device} matrix product: {rates}" + (
                f"; datasheet peak {peak / 1e12:,.0f} TFLOP/s ({limits['datasheet_peak']})" if peak else ""))
    return lines + [""]


def _ratios(results: dict) -> list[str]:
    table_iv = read_paper(config.load()["report"]["paper_dir"]).complexity  # Table IV (RTX 2080 Ti)
    (paper_ours, paper_ours_m), (paper_pconv, paper_pconv_m) = (
        (table_iv[name]["seconds_per_image"], table_iv[name]["params_M"]) for name in ("Ours", "PC"))
    rows, parameters = [], None
    inference = results.get("inference", {})
    for device in ("cpu", "cuda"):
        section = inference.get(device, {})
        if not section or _not_measured(section):
            continue
        for name, layer in section["region_wise_layer"].items():
            rows.append([f"{device}: region-wise conv {name} ({'upsampling' if layer['upsample'] else 'same size'}) "
                         "vs naive two convolutions (eq. 1 as written)", f"{layer['ours_ms']:.1f} ms",
                         f"{layer['naive_ms']:.1f} ms", f"speed-up {layer['speedup']:.2f}x", "-"])
        pc = section["pconv_ratio"]
        rows.append([f"{device}: our generator vs PC U-Net, batch 1 (Table IV)", f"{pc['ours_s'] * 1e3:.1f} ms",
                     f"{pc['pconv_s'] * 1e3:.1f} ms", f"time ratio {pc['ours_over_pconv']:.2f}x",
                     f"time ratio {paper_ours / paper_pconv:.1f}x ({paper_ours} vs {paper_pconv} s)"])
        parameters = pc["parameters"]
    if parameters:
        rows.append(["parameters, ours vs PC", f"{parameters['ours'] / 1e6:.2f} M",
                     f"{parameters['pconv'] / 1e6:.2f} M", "-", f"{paper_ours_m} M vs {paper_pconv_m} M"])
    metrics = results.get("metrics", {})
    if "batched_speedup_over_skimage" in metrics:
        rows.append(["batched metrics vs scikit-image loop (L1, L2, PSNR, SSIM)",
                     f"{metrics['pixel_metrics_images_per_s']:.1f} images/s",
                     f"{metrics['skimage_loop_images_per_s']:.1f} images/s",
                     f"speed-up {metrics['batched_speedup_over_skimage']:.2f}x", "-"])
    if not rows:
        return []
    return ["## Ratios (both sides measured in the same run)", ""] + _table(
        ["comparison", "ours", "other", "ratio", "paper"], rows) + [""]


def _training(results: dict) -> list[str]:
    rows = []
    for device, section in results["train"].items():
        if not isinstance(section, dict):
            continue
        if _not_measured(section):
            rows.append([device, "not measured (" + section["not_measured"] + ")", "-", "-", "-", "-", "-"])
            continue
        rows.append([device, f"{section['image_size']} px, batch {section['batch']}", section["precision"],
                     section["phase1"]["s_per_step"], section["phase1"]["images_per_s"],
                     section["phase2"]["s_per_step"], section["phase2"]["images_per_s"]])
    return _table(
        ["device", "input", "precision", "phase 1 s/step", "phase 1 images/s", "phase 2 s/step",
         "phase 2 images/s"], rows) + [""]


def _ratio(value) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _options(results: dict) -> list[str]:
    lines = ["Each option timed in turn with fp32 at the same size (speed-up = fp32 time / option time); "
             "'first call' is the untimed warm-up (for compile: the compilation). PSNR: the option's GPNet "
             "prediction against fp32's, same weights and inputs (values in [-1, 1]).", ""]
    for device, section in results["options"].items():
        if not isinstance(section, dict):
            continue
        if _not_measured(section):
            lines += [f"- {device}: not measured ({section['not_measured']})", ""]
            continue
        if "bf16_unavailable" in section:
            lines += [f"- {device}: {section['bf16_unavailable']}", ""]
        rows = []
        for row in section["training"]:
            head = [device, row["size"], row["batch"], row["case"]]
            if "error" in row:
                rows.append(head + ["failed: " + row["error"], "-", "-", "-", "-"])
                continue
            rows.append(head + [row["phase1_s_per_step"], _ratio(row.get("phase1_speedup")), row["phase2_s_per_step"],
                                _ratio(row.get("phase2_speedup")),
                                f"{row['phase1_first_call_s']:.1f} / {row['phase2_first_call_s']:.1f}"])
        lines += ["### Training step (full model)", ""] + _table(
            ["device", "px", "batch", "option", "phase 1 s/step", "speed-up", "phase 2 s/step", "speed-up",
             "first call s (phase 1 / 2)"], rows) + [""]
        rows = []
        for row in section["inference"]:
            head = [device, row["size"], row["batch"], row["case"]]
            if "error" in row:
                rows.append(head + ["failed: " + row["error"], "-", "-", "-"])
                continue
            rows.append(head + [row["ms_per_image"], _ratio(row.get("speedup")), f"{row['psnr_to_fp32_db']:.1f}",
                                f"{row['first_call_s']:.1f}"])
        lines += ["### Generator inference", ""] + _table(
            ["device", "px", "batch", "option", "ms/image", "speed-up", "PSNR to fp32 (dB)", "first call s"],
            rows) + [""]
        curves = section.get("loss_curves")
        if curves:
            phase1, phase2 = curves["steps"]
            lines += ["### bf16 against fp32 training (loss curves)", "",
                      f"The full model trained {phase1} + {phase2} steps (phase 1 + phase 2) at {curves['image_size']} "
                      f"px, batch {curves['batch']}, in fp32 and in bf16 autocast from the same seed and batches "
                      f"(`{device}`; {curves['wall_s']['fp32']:.0f} s and {curves['wall_s']['bf16']:.0f} s): "
                      f"the {curves['loss']} of the bf16 run differs from fp32's by a median factor of "
                      f"{math.exp(curves['median_abs_log_ratio']):.3f} (at most {math.exp(curves['max_abs_log_ratio']):.3f}). "
                      f"The two trained models' predictions on 8 held-out crops are {curves['psnr_trained_models_db']:.1f} dB "
                      f"apart; the fp32-trained model run in bf16 is {curves['psnr_bf16_inference_of_fp32_model_db']:.1f} dB "
                      "from itself in fp32.", "", "![fp32 and bf16 loss curves](loss_curves.png)", ""]
    return lines


def _metrics(results: dict) -> list[str]:
    metrics = results["metrics"]
    figures = [
        ("L1, L2, PSNR, SSIM (batched torch)", "pixel_metrics_images_per_s", "images/s"),
        ("the same plus LPIPS (VGG)", "pixel_metrics_with_lpips_images_per_s", "images/s"),
        ("scikit-image loop (L1, L2, PSNR, SSIM)", "skimage_loop_images_per_s", "images/s"),
        ("FID: Inception features", "fid_features_s_per_1000_images", "s per 1,000 images"),
        ("FID statistics (one pair of sets)", "fid_statistics_s", "s"),
        ("KID statistics (one pair of sets)", "kid_statistics_s", "s"),
        ("LPIPS cost", "lpips_gmac_per_image", "GMAC per image"),
        ("Inception cost", "inception_gmac_per_image", "GMAC per image"),
    ]
    rows = [[name, _f(metrics.get(key)), unit] for name, key, unit in figures if key in metrics]
    skipped = [f"- {key}: {value}" for key, value in metrics.items() if key.endswith("_skipped")]
    return [f"{metrics.get('n_images')} images per run, median of {metrics['runs']} runs.", ""] + _table(
        ["figure", "value", "unit"], rows) + [""] + skipped + ([""] if skipped else []) + _scoring_options(metrics)


def _scoring_options(metrics: dict) -> list[str]:
    options = metrics.get("scoring_options")
    if not options:
        return []
    rows = [["LPIPS", name, row["images_per_s"], f"{row['max_abs_difference']:.2g} (absolute)", "-"]
            for name, row in options["lpips"].items()]
    rows += [["Inception pool3", name, row["images_per_s"], f"{row['max_relative_difference']:.2g} (relative)",
              f"{row['fid_to_fp32']:.3g}"] for name, row in options["inception"].items()]
    return [f"### Scoring options ({options['n_images']} pairs, one batch)", ""] + _table(
        ["network", "option", "images/s", "largest difference from fp32", "FID to fp32 features"], rows) + [""]


def _masks(results: dict) -> list[str]:
    masks = results["masks"]
    rates = masks["masks_per_cpu_s"]
    bins = [key for key in next(iter(rates.values())) if key != "all"]
    rows = [[kind] + [by_bin[label] for label in bins] + [by_bin["all"]] for kind, by_bin in rates.items()]
    return [f"Masks per CPU second at {masks['image_size']}x{masks['image_size']} (generate, count components, "
                    f"write PNG, hash), {masks['samples_per_bin']} per bin, median of {masks['runs']} runs.", ""] + \
        _table(["type"] + bins + ["all"], rows) + [""]


def _jobs(results: dict) -> list[str]:
    jobs = results["jobs"]
    smallest = ", ".join(f"{row['name']} {row['wall_s']:.1f}" for row in jobs["smallest_jobs"]["jobs"])
    lines = [f"- Every job of the smallest profile (one training step, one mask per bin; the planner's fixed "
             f"costs), wall s: {smallest}",
             f"- Start of a workflow (`snakemake -n`, smoke profile): {jobs['workflow_start_s']:.1f} s",
             f"- Preparing one image (decode, resize to 256 px): {1e3 * jobs['prepare_s_per_image']:.1f} ms", ""]
    sizes = sorted({size for by_size in jobs["classical_s_per_image"].values() for size in by_size}, key=int)
    rows = [[method] + [by_size[size] for size in sizes] for method, by_size in jobs["classical_s_per_image"].items()]
    return lines + [f"Classical methods, s per image ({jobs['classical_images']} crops, 30-40% contiguous holes):", ""] \
        + _table(["method"] + [f"{size} px" for size in sizes], rows) + [""]


def _profiles(results: dict) -> list[str]:
    profiles, rows = results["profiles"], []
    for profile, record in profiles.items():
        if not isinstance(record, dict):
            continue
        if "not_measured" in record:
            rows.append([profile, "not measured", record["not_measured"]])
        else:
            where = record["machine"]["gpu"] or record["machine"]["cpu"]
            rows.append([profile, f"{record['minutes']:.1f} min", f"finished {record['finished_at']} on {where}"])
    failed = [f"The smoke run of this benchmark failed ({profiles['smoke_run_failed']}).", ""] \
        if "smoke_run_failed" in profiles else []
    return failed + _table(["profile", "wall time", "record"], rows) + [""]


def _bounds(results: dict) -> list[str]:
    """Floors implied by the cost in FLOPs and the best fp32 matrix-product rate measured."""
    cpu = results.get("inference", {}).get("cpu", {})
    if not cpu or _not_measured(cpu):
        return []
    rates = {name: rate for name, rate in cpu["limits"]["matmul_flops_per_s"].items() if name.startswith("fp32")}
    name, best = max(rates.items(), key=lambda item: item[1])
    flops = 2e9 * cpu["cost"]["executed_gmac_per_image"]
    lines = ["## What bounds the CPU figures", "",
             f"- Generator: {flops / 1e9:.0f} GFLOP per image; at the best fp32 matrix-product rate of this run "
             f"({best / 1e9:,.0f} GFLOP/s, {name}) the arithmetic alone takes {flops / best:.2f} s per image."]
    metrics = results.get("metrics", {})
    if "lpips_gmac_per_image" in metrics:
        lpips = 2e9 * metrics["lpips_gmac_per_image"]
        lines.append(f"- LPIPS: {lpips / 1e9:.0f} GFLOP per image (VGG16 on both images): at that rate "
                     f"{best / lpips:.1f} images/s at most, so the 50 images/s target can hold only without LPIPS.")
    if "inception_gmac_per_image" in metrics:
        inception = 2e9 * metrics["inception_gmac_per_image"]
        lines.append(f"- FID features: {inception / 1e9:.1f} GFLOP per image (Inception v3 at 299x299): at that "
                     f"rate {1000 * inception / best:.0f} s per 1,000 images at least.")
    return lines + [""]


SECTION_RENDERERS = {
    "inference": ("Generator inference", _inference),
    "train": ("Training (one step of the full model)", _training),
    "options": ("Faster options side by side (fp32, bf16 autocast, channels-last, torch.compile)", _options),
    "metrics": ("Evaluation metrics (CPU, 256x256)", _metrics),
    "masks": ("Mask generation (one process)", _masks),
    "jobs": ("Fixed costs of the pipeline's jobs (for `python -m pipeline.plan`)", _jobs),
    "profiles": ("Profiles end to end", _profiles),
}


def markdown(results: dict) -> str:
    """The summary of a run: machine, targets, ratios, each measured section, bounds."""
    lines = ["# Benchmarks", "",
             f"`{results['command']}`, {results['created_at']}, {results['wall_s'] / 60:.1f} min. Each figure is the "
             "median of several timed runs after a warm-up (`benchmarks.json` holds every setting and timing).", "",
             "## Machine", ""] + _machine(results) + ["", "## Targets", ""]
    target_rows = [[row["target"], row["goal"],
                    "-" if row["measured"] is None else f"{row['measured']:,.3g} {row['unit']}", row["status"]]
                   for row in results["targets"]]
    lines += _table(["target", "goal", "measured", "status"], target_rows) + [""]
    lines += _ratios(results)
    for section in results["sections"]:
        title, render = SECTION_RENDERERS[section]
        reason = _not_measured(results[section])
        lines += [f"## {title}", ""] + ([f"Not measured: {reason}", ""] if reason else render(results))
    lines += _bounds(results)
    return "\n".join(lines).rstrip() + "\n"
