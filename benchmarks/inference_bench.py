"""Generator inference speed, its cost in multiply-accumulates, and the ratios of Table IV.

- The region-wise generator at ``image_size`` (paper: 256x256), batch 1 and a large batch:
  on CPU fp32 (with torch's threads and with one; the faster options are
  :mod:`benchmarks.options_bench`'s); on
  CUDA fp32 (cuDNN's default TF32 convolutions), bf16 autocast, bf16 + channels-last, and
  bf16 + channels-last + ``torch.compile`` (on CPU, compiling took 74 s and ran slower).
- Its multiply-accumulates: nominal (every conv as the architecture of docs/model.md specifies it, which
  says about 61.8 G at 256) and executed (after the sub-pixel fold of the upsampling
  convs, :mod:`rwgan.layers`), and the achieved fraction of the hardware's peak: the
  executed FLOP rate over a measured large matrix product (CPU and CUDA) and, on CUDA,
  over the GPU's datasheet bf16 peak (:data:`benchmarks.harness.GPU_PEAK_FLOPS`).
- Ratios timed in turn in the same run: ours versus the PC baseline at batch 1 (Table
  IV: 0.03 s versus 0.01 s on an RTX 2080 Ti), and the region-wise convolution
  (eq. 1) versus a naive implementation that runs the two filter sets W and W_hat as two
  convolutions, at the shapes of SINet's rw15 (upsampling) and rw14.

Inputs are seeded random images in [-1, 1] with training masks (M: 1 = known); the
content does not change the cost.
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from benchmarks.harness import (
    Settings,
    compare,
    cpu_threads,
    executed_flops,
    gpu_peak,
    matmul_flops_per_s,
    measure,
    nominal_macs,
)
from rwgan.data import mask_to_tensor
from rwgan.inference import count_parameters
from rwgan.layers import RegionWiseConv2d, resize_mask
from rwgan.masks import random_training_mask
from rwgan.models import pconv_unet, region_wise_generator


@dataclass(frozen=True)
class Case:
    """One way of running the generator."""

    precision: str  # "fp32" or "bf16" (autocast)
    channels_last: bool = False
    compiled: bool = False
    threads: int | None = None  # torch's CPU threads; None: torch's default (one per core)

    @property
    def label(self) -> str:
        parts = [self.precision] + ["channels_last"] * self.channels_last + ["compile"] * self.compiled
        return "+".join(parts) + (f", {self.threads} thread{'s' * (self.threads > 1)}" if self.threads else "")


#: On CPU also one thread (on a machine shared with other work, torch's threads wait for
#: each other at every operation while a core is busy elsewhere, and one thread can win);
#: bf16, channels-last and compile on CPU: :mod:`benchmarks.options_bench`.
CPU_CASES = (Case("fp32"), Case("fp32", threads=1))
CUDA_CASES = (Case("fp32"), Case("bf16"), Case("bf16", channels_last=True),
              Case("bf16", channels_last=True, compiled=True))


def random_inputs(batch: int, size: int, device: torch.device, seed: int = 0,
                  memory_format: torch.memory_format = torch.contiguous_format) -> tuple[Tensor, Tensor]:
    """Images (batch, 3, size, size) in [-1, 1] and training masks M (batch, 1, size, size), 1 = known."""
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(batch, 3, size, size, generator=generator) * 2 - 1
    rng = np.random.default_rng(seed)
    mask = mask_to_tensor(np.stack([random_training_mask(rng, size) for _ in range(batch)]))
    return (image.to(device, memory_format=memory_format), mask.to(device, memory_format=memory_format))


def forward(model: Callable[..., object], inputs: tuple[Tensor, ...], precision: str = "fp32") -> Callable[[], object]:
    """A call of ``model(*inputs)`` without autograd, under bf16 autocast for ``precision="bf16"``."""
    device_type = inputs[0].device.type

    def run():
        with torch.inference_mode(), torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            return model(*inputs)

    return run


def _generator(case: Case, device: torch.device) -> nn.Module:
    model = region_wise_generator(seed=0).eval().to(device)
    if case.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return torch.compile(model) if case.compiled else model


def generator_rows(settings: Settings, device: torch.device, flops_per_image: float,
                   peak_flops: float | None) -> tuple[list[dict], dict[str, float]]:
    """Time every :data:`CPU_CASES` / :data:`CUDA_CASES` entry at batch 1 and the large batch.

    Each row's achieved FLOP rate is divided by a large matrix product's, measured in the
    row's precision with the row's threads, and for bf16 by ``peak_flops`` (the GPU's
    datasheet peak) where known.  Returns the rows and those matrix-product rates.  A case
    that fails (``torch.compile`` without a working compiler, out of memory) gets an
    ``error`` instead of figures."""
    on_cuda = device.type == "cuda"
    cases, large_batch = (CUDA_CASES, settings.gpu_batch) if on_cuda else (CPU_CASES, settings.cpu_batch)
    matmul: dict[str, float] = {}
    rows = []
    for case in cases:
        with cpu_threads(case.threads):
            threads = torch.get_num_threads()
            rate_key = f"{case.precision}, {threads} thread{'s' * (threads > 1)}"
            if rate_key not in matmul:
                dtype = torch.bfloat16 if case.precision == "bf16" else torch.float32
                size = settings.gpu_matmul_size if on_cuda else settings.matmul_size
                matmul[rate_key] = matmul_flops_per_s(device, dtype, size, settings.warmup, settings.repeats)
            for batch, repeats in ((1, settings.repeats), (large_batch, settings.batch_repeats)):
                rows.append(_generator_row(settings, device, case, batch, repeats, flops_per_image,
                                           matmul[rate_key], peak_flops))
                if on_cuda:
                    torch.cuda.empty_cache()
    return rows, matmul


def _generator_row(settings: Settings, device: torch.device, case: Case, batch: int, repeats: int,
                   flops_per_image: float, matmul_rate: float, peak_flops: float | None) -> dict:
    row = {"device": device.type, "case": case.label, "batch": batch, "threads": torch.get_num_threads()}
    try:
        model = _generator(case, device)
        memory_format = torch.channels_last if case.channels_last else torch.contiguous_format
        inputs = random_inputs(batch, settings.image_size, device, memory_format=memory_format)
        timing = measure(forward(model, inputs, case.precision), settings.warmup, repeats, device)
    except Exception as exc:  # a failed case is a result ("does not work here"), not a crash
        message = str(exc).splitlines()[0] if str(exc) else ""
        return {**row, "error": f"{type(exc).__name__}: {message}"[:300]}
    images_per_s = batch / timing.median_s
    achieved = flops_per_image * images_per_s
    row.update(ms_per_image=1e3 * timing.median_s / batch, images_per_s=images_per_s, achieved_flops_per_s=achieved,
               fraction_of_matmul=achieved / matmul_rate, timing=timing.to_dict())
    if case.precision == "bf16" and peak_flops:
        row["fraction_of_peak"] = achieved / peak_flops
    return row


def naive_region_wise(layer: RegionWiseConv2d, decoder: Tensor, skip: Tensor, mask: Tensor) -> Tensor:
    """Eq. 1 as written: W on the known region (decoder and skip), W_hat on the hole
    (decoder), as two convolutions of the nearest-upsampled (if the layer upsamples),
    reflect-padded inputs, summed, plus the bias, then ELU."""
    m = resize_mask(mask, decoder.shape[-2:])
    known, missing = torch.cat([decoder, skip], dim=1) * m, decoder * (1 - m)
    if layer.upsample:
        known, missing = (F.interpolate(x, scale_factor=2, mode="nearest") for x in (known, missing))
    conv = layer.conv.conv
    w, w_hat = conv.weight.split([known.shape[1], missing.shape[1]], dim=1)
    pad = functools.partial(F.pad, pad=(1, 1, 1, 1), mode="reflect")
    return F.elu(F.conv2d(pad(known), w, conv.bias) + F.conv2d(pad(missing), w_hat))


def region_wise_layer_ratios(settings: Settings, device: torch.device) -> dict:
    """Ours over naive, timed in turn, at SINet's rw15 (decoder 128 + skip 64 at half the
    image size, upsampling) and rw14 (the same without upsampling); batch 1, fp32."""
    semantic = region_wise_generator(seed=0).semantic.to(device)
    half = settings.image_size // 2
    generator = torch.Generator().manual_seed(0)
    decoder = torch.randn(1, 128, half, half, generator=generator).to(device)
    skip = torch.randn(1, 64, half, half, generator=generator).to(device)
    _, mask = random_inputs(1, settings.image_size, device)
    results = {}
    for name, layer in (("rw15", semantic.rw15), ("rw14", semantic.rw14)):
        inputs = (decoder, skip, mask)
        with torch.inference_mode():
            difference = (layer(*inputs) - naive_region_wise(layer, *inputs)).abs().max()
        timings = compare({"ours": forward(layer, inputs), "naive": forward(functools.partial(naive_region_wise, layer),
                                                                            inputs)},
                          settings.warmup, settings.repeats, device)
        results[name] = {
            "upsample": layer.upsample, "max_abs_difference": float(difference),
            "ours_ms": 1e3 * timings["ours"].median_s, "naive_ms": 1e3 * timings["naive"].median_s,
            "speedup": timings["naive"].median_s / timings["ours"].median_s,
            "timings": {key: value.to_dict() for key, value in timings.items()},
        }
    return results


def pconv_ratio(settings: Settings, device: torch.device) -> dict:
    """Our generator versus the PC U-Net, batch 1, fp32, timed in turn (Table IV)."""
    ours, pconv = region_wise_generator(seed=0).eval().to(device), pconv_unet(seed=0).eval().to(device)
    image, mask = random_inputs(1, settings.image_size, device)
    timings = compare({"ours": forward(ours, (image, mask)), "pconv": forward(pconv, (image * mask, mask))},
                      settings.warmup, settings.repeats, device)
    return {
        "ours_s": timings["ours"].median_s, "pconv_s": timings["pconv"].median_s,
        "ours_over_pconv": timings["ours"].median_s / timings["pconv"].median_s,
        "parameters": {"ours": count_parameters(ours), "pconv": count_parameters(pconv)},
        "nominal_gmac": {"ours": nominal_macs(ours, image, mask) / 1e9,
                         "pconv": nominal_macs(pconv, image * mask, mask) / 1e9},
        "timings": {key: value.to_dict() for key, value in timings.items()},
    }


@contextlib.contextmanager
def cudnn_autotuning(enabled: bool) -> Iterator[None]:
    """Let cuDNN pick the fastest convolution algorithms for the fixed shapes (as training
    does unless it must be deterministic) inside the block."""
    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = enabled or previous
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = previous


def run(settings: Settings, device: torch.device) -> dict:
    """Every inference figure on ``device`` (see the module docstring); the generator's
    rows on CUDA with cuDNN autotuning."""
    size = settings.image_size
    model = region_wise_generator(seed=0).eval()
    image, mask = random_inputs(1, size, torch.device("cpu"))
    flops = executed_flops(forward(model, (image, mask)))
    limits: dict = {}
    if device.type == "cuda":
        peak = gpu_peak(torch.cuda.get_device_name(device))
        limits["datasheet_peak_flops_per_s"], limits["datasheet_peak"] = peak if peak else (None, "unknown GPU")
    with cudnn_autotuning(device.type == "cuda"):
        rows, limits["matmul_flops_per_s"] = generator_rows(settings, device, flops,
                                                            limits.get("datasheet_peak_flops_per_s"))
    return {
        "device": device.type,
        "cost": {"image_size": size, "nominal_gmac_per_image": nominal_macs(model, image, mask) / 1e9,
                 "executed_gmac_per_image": flops / 2e9},
        "limits": limits,
        "generator": rows,
        "pconv_ratio": pconv_ratio(settings, device),
        "region_wise_layer": region_wise_layer_ratios(settings, device),
    }
