"""Faster options side by side: float32 against bf16 autocast, channels-last memory, both,
and ``torch.compile``, for one training step and for generator inference, at several sizes.

For each size of ``Settings.option_sizes`` (64, 128 and 256 px):

- **training**: one step of phase 1 and one of phase 2 of the full model
  (:func:`benchmarks.train_bench.trainer` with the demo profile's hyper-parameters: VGG16
  of L_c and L_s at the image's own size, as the CPU profiles run it), batch
  ``option_train_pixels / size^2`` (at least 1);
- **inference**: the generator's forward pass, batch ``option_infer_pixels / size^2``,
  on embedded photo crops (real content, :func:`rwgan.data.embedded_crops`) with training masks.

Every option of a size is timed in turn with fp32 (:func:`benchmarks.harness.compare`),
so the speed-ups (fp32 time / option time) hold on a busy machine.  The first call of
each option is timed apart (``first_call_s``: for ``torch.compile`` it is the compilation),
which is why ``torch.compile`` runs only at ``compile_sizes`` and for inference: each new
input shape compiles again, and a training step compiles its backward pass too.  An option that fails records its error.

**Closeness**: the PSNR (dB, values in [-1, 1], so a peak-to-peak range of 2) between each
option's raw GPNet prediction ``I_p2`` and fp32's, the weights and inputs being the same
(the composites would add the known pixels, equal by construction).  **Loss curves**:
``curve_steps`` (phase 1, phase 2) training steps at ``curve_size`` px of the full model in
fp32 and in bf16 from the same seed and batches; the plot (``loss_curves.png`` beside the
report) shows both, and the PSNR between the two trained models' predictions and between
the fp32-trained model's bf16 and fp32 predictions measure what bf16 changes.  Losses are
float32 in every option (:class:`rwgan.training.Trainer`).
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.harness import Settings, compare
from benchmarks.inference_bench import Case
from benchmarks.train_bench import PHASES, trainer
from rwgan import io
from rwgan.data import EMBEDDED_PHOTOS, embedded_crops, image_to_tensor, mask_to_tensor
from rwgan.device import autocast, autocast_dtype, cpu_has_bf16
from rwgan.masks import random_training_mask
from rwgan.models import region_wise_generator

#: The options measured against fp32 (the first); ``compile`` only at ``Settings.compile_sizes``
#: and for inference (its first call there shows what compiling costs on this CPU).
OPTIONS = (Case("fp32"), Case("bf16"), Case("fp32", channels_last=True), Case("bf16", channels_last=True),
           Case("fp32", compiled=True))
TRAIN_OPTIONS = tuple(case for case in OPTIONS if not case.compiled)
AMP = {"fp32": "none", "bf16": "bf16"}
CURVE_PLOT = "loss_curves.png"
TRAIN_PROFILE = "demo"  # hyper-parameters of the timed training steps and of the loss curves


@dataclass(frozen=True)
class Batch:
    image: Tensor  # float32 (N, 3, S, S) in [-1, 1]
    mask: Tensor  # float32 (N, 1, S, S), 1 = known


def photo_batch(count: int, size: int, seed: int) -> Batch:
    """``count`` crops of the embedded photos at ``size`` px with training masks, from ``seed``."""
    crops = embedded_crops(sorted(EMBEDDED_PHOTOS), count, size, seed, "train", min_crop_fraction=0.6)
    rng = np.random.default_rng(seed)
    holes = np.stack([random_training_mask(rng, size) for _ in range(count)])
    return Batch(image_to_tensor(np.stack([image for _, image, _ in crops])), mask_to_tensor(holes))


def psnr(a: Tensor, b: Tensor) -> float:
    """PSNR (dB) between two tensors of values in [-1, 1] (peak-to-peak 2); inf if equal."""
    mse = float((a.float() - b.float()).square().mean())
    return math.inf if mse == 0 else 10 * math.log10(4 / mse)


def _format(case: Case) -> torch.memory_format:
    return torch.channels_last if case.channels_last else torch.contiguous_format


def _error(exc: Exception) -> str:
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {message}"[:300]


def _timed_first_call(function) -> tuple[object, float]:
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def inference_cases(settings: Settings, size: int, device: torch.device) -> list[dict]:
    """One row per option at ``size``: ms/image, speed-up over fp32, PSNR to fp32."""
    batch = max(1, settings.option_infer_pixels // size**2)
    data = photo_batch(batch, size, seed=0)
    calls, rows, predictions = {}, {}, {}
    for case in OPTIONS:
        if case.compiled and size not in settings.compile_sizes:
            continue
        row = rows[case.label] = {"case": case.label, "size": size, "batch": batch}
        try:
            model = region_wise_generator(seed=0).eval().to(device, memory_format=_format(case))
            if case.compiled:
                model.compile()
            inputs = (data.image.to(device, memory_format=_format(case)), data.mask.to(device, memory_format=_format(case)))
            dtype = autocast_dtype(device, AMP[case.precision])

            def call(model=model, inputs=inputs, dtype=dtype):
                with torch.inference_mode(), autocast(device, dtype):
                    return model(*inputs).refined

            predictions[case.label], row["first_call_s"] = _timed_first_call(call)
        except Exception as exc:  # a failed option is a result ("does not work here"), not a crash
            row["error"] = _error(exc)
            continue
        calls[case.label] = call
    timings = compare(calls, 0, settings.option_repeats, device)
    reference = timings.get(OPTIONS[0].label)
    for label, timing in timings.items():
        rows[label].update(ms_per_image=1e3 * timing.median_s / batch, timing=timing.to_dict(),
                           psnr_to_fp32_db=psnr(predictions[label], predictions[OPTIONS[0].label]))
        if reference is not None:
            rows[label]["speedup"] = reference.median_s / timing.median_s
    return list(rows.values())


def training_cases(settings: Settings, size: int, device: torch.device) -> list[dict]:
    """One row per option at ``size``: seconds per step of each phase and speed-ups over fp32;
    for fp32 also the FLOPs per image of each phase's step (torch's counter: convolutions and
    matrix products, forward and backward)."""
    batch = max(1, settings.option_train_pixels // size**2)
    data = photo_batch(batch, size, seed=1)
    calls, rows = {}, {}
    for case in TRAIN_OPTIONS:
        row = rows[case.label] = {"case": case.label, "size": size, "batch": batch}
        try:
            steps = trainer(size, batch, device, amp=AMP[case.precision], channels_last=case.channels_last,
                            profile=TRAIN_PROFILE)
            for phase in PHASES:
                call = functools.partial(steps.train_step, data.image, data.mask, phase)
                _, row[f"phase{phase}_first_call_s"] = _timed_first_call(call)
                calls[(case.label, phase)] = call
                if case == OPTIONS[0]:  # the arithmetic of a step, forward and backward (the planner's GPU figures)
                    with FlopCounterMode(display=False) as counter:
                        call()
                    row[f"phase{phase}_gflop_per_image"] = counter.get_total_flops() / 1e9 / batch
        except Exception as exc:
            row["error"] = _error(exc)
            for phase in PHASES:
                calls.pop((case.label, phase), None)
    timings = compare(calls, 0, settings.option_repeats, device)
    for (label, phase), timing in timings.items():
        rows[label][f"phase{phase}_s_per_step"] = timing.median_s
        rows[label][f"phase{phase}_timing"] = timing.to_dict()
        reference = timings.get((OPTIONS[0].label, phase))
        if reference is not None:
            rows[label][f"phase{phase}_speedup"] = reference.median_s / timing.median_s
    return list(rows.values())


def loss_curves(settings: Settings, device: torch.device) -> dict:
    """fp32 and bf16 training of the full model from the same seed on the same batches."""
    size, batch = settings.curve_size, settings.curve_batch
    phase1, phase2 = settings.curve_steps
    batches = [photo_batch(batch, size, seed=100 + step) for step in range(phase1 + phase2)]
    held_out = photo_batch(8, size, seed=10_000)
    runs, models = {}, {}
    for precision in ("fp32", "bf16"):
        steps = trainer(size, batch, device, amp=AMP[precision], profile=TRAIN_PROFILE)
        start = time.perf_counter()
        runs[precision] = [steps.train_step(b.image, b.mask, 1 if step < phase1 else 2)["total"]
                           for step, b in enumerate(batches)]
        runs[f"{precision}_wall_s"] = time.perf_counter() - start
        models[precision] = steps.generator.eval()
    with torch.inference_mode():
        fp32_prediction = models["fp32"](held_out.image, held_out.mask).refined
        bf16_trained_prediction = models["bf16"](held_out.image, held_out.mask).refined
        with autocast(device, autocast_dtype(device, "bf16")):
            bf16_inference = models["fp32"](held_out.image, held_out.mask).refined
    ratios = [b / f for f, b in zip(runs["fp32"], runs["bf16"])]
    return {
        "image_size": size, "batch": batch, "steps": [phase1, phase2], "loss": "total generator loss (float32)",
        "fp32": runs["fp32"], "bf16": runs["bf16"],
        "wall_s": {"fp32": runs["fp32_wall_s"], "bf16": runs["bf16_wall_s"]},
        "median_abs_log_ratio": float(np.median(np.abs(np.log(ratios)))),
        "max_abs_log_ratio": float(np.max(np.abs(np.log(ratios)))),
        "psnr_trained_models_db": psnr(bf16_trained_prediction, fp32_prediction),
        "psnr_bf16_inference_of_fp32_model_db": psnr(bf16_inference, fp32_prediction),
    }


def plot_curves(path: Path, curves: dict) -> None:
    """The fp32 and bf16 loss curves on one log-scale axis; a dashed line where phase 2 starts."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3))
    axis = fig.subplots()
    for precision, style in (("fp32", "-"), ("bf16", "--")):
        axis.plot(range(1, len(curves[precision]) + 1), curves[precision], style, linewidth=1, label=precision)
    axis.axvline(curves["steps"][0] + 0.5, color="grey", linestyle=":", linewidth=0.8)
    axis.set_yscale("log")
    axis.set_xlabel("step (phase 2 after the dotted line)")
    axis.set_ylabel(curves["loss"], fontsize=8)
    axis.set_title(f"full model, {curves['image_size']} px, batch {curves['batch']}, same seed and batches",
                   fontsize=9)
    axis.legend(fontsize=8)
    fig.tight_layout()
    with io.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def run(settings: Settings, device: torch.device) -> dict:
    """Every option at every size, and the loss curves (see the module docstring)."""
    results: dict = {"device": device.type, "options": [case.label for case in OPTIONS],
                     "compile_sizes": list(settings.compile_sizes), "training": [], "inference": []}
    if device.type == "cpu" and not cpu_has_bf16():
        results["bf16_unavailable"] = "this CPU has no bf16 units (rwgan.device.cpu_has_bf16)"
    for size in settings.option_sizes:
        results["inference"] += inference_cases(settings, size, device)
        results["training"] += training_cases(settings, size, device)
    if "bf16_unavailable" not in results:
        results["loss_curves"] = loss_curves(settings, device)
    return results

