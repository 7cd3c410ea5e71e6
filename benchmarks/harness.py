"""Measuring on a noisy machine: medians after warm-up, interleaved comparisons, the
machine's description, multiply-accumulate counts and the hardware's limits.

Every figure is the median of ``repeats`` timed calls after ``warmup`` untimed ones.  A
ratio between two implementations comes from :func:`compare`, which runs them in turn
(A, B, A, B, ...) so both see the same background load; a ratio holds on a busy machine
where the absolute figures do not.  The process CPU time is recorded beside the wall time
(on a machine shared with other work, wall time above CPU time / threads is time spent
waiting for a core), and so are the load averages before and after the run.
"""
from __future__ import annotations

import contextlib
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from rwgan.errors import RwganError
from rwgan.layers import GeneratorConv

#: Dense tensor-core peak (FLOP/s) by GPU name fragment, first match wins: bf16 where the
#: GPU has it (fp16 on Turing, which has no bf16).  Vendor datasheets, without sparsity.
GPU_PEAK_FLOPS = (
    ("H100 PCIe", 756e12, "bf16 dense, H100 PCIe datasheet"),
    ("H100", 989e12, "bf16 dense, H100 SXM datasheet"),
    ("H200", 989e12, "bf16 dense, H200 SXM datasheet"),
    ("A100", 312e12, "bf16 dense, A100 datasheet"),
    ("2080 Ti", 107e12, "fp16 tensor core, RTX 2080 Ti (Turing has no bf16)"),
)


@dataclass(frozen=True)
class Settings:
    """How much to measure.  ``image_size``: side of the generator's, the training step's
    and the masks' inputs (the metrics run at 256, :mod:`benchmarks.metrics_bench`);
    ``warmup`` untimed and ``repeats`` timed calls per figure
    (``batch_repeats`` for large batches, ``train_repeats`` for training steps);
    ``cpu_batch`` / ``gpu_batch``: the large inference batch; ``*_train_batch``: the
    training batch; ``metric_images`` per metrics run, ``metric_repeats`` runs;
    ``mask_samples`` masks per type and bin per run, ``mask_repeats`` runs;
    ``matmul_size`` / ``gpu_matmul_size``: side of the matrix product that measures the
    practical peak on CPU / GPU.  The faster options (:mod:`benchmarks.options_bench`):
    ``option_sizes``, batches of ``option_train_pixels`` / ``option_infer_pixels`` pixels
    per call, ``option_repeats`` timed calls after a first one, ``torch.compile`` at
    ``compile_sizes``; loss curves of ``curve_steps`` (phase 1, phase 2) steps at
    ``curve_size`` px, batch ``curve_batch``; ``classical_images`` per classical method and
    size (:mod:`benchmarks.jobs_bench`); ``scoring_images`` for the scoring options
    (:func:`benchmarks.metrics_bench.scoring_options`)."""

    image_size: int = 256
    warmup: int = 1
    repeats: int = 5
    batch_repeats: int = 2
    cpu_batch: int = 8
    gpu_batch: int = 64
    train_repeats: int = 3
    cpu_train_batch: int = 1
    gpu_train_batch: int = 8
    metric_images: int = 8
    metric_repeats: int = 2
    mask_samples: int = 20
    mask_repeats: int = 3
    matmul_size: int = 2048
    gpu_matmul_size: int = 8192
    option_sizes: tuple[int, ...] = (64, 128, 256)
    option_train_pixels: int = 16384
    option_infer_pixels: int = 65536
    option_repeats: int = 1
    compile_sizes: tuple[int, ...] = (64,)
    curve_size: int = 64
    curve_batch: int = 4
    curve_steps: tuple[int, int] = (16, 8)
    classical_images: int = 2
    scoring_images: int = 4


#: ``python -m benchmarks --quick``: the same figures from fewer and smaller runs.
QUICK = Settings(repeats=3, batch_repeats=2, cpu_batch=4, train_repeats=2, metric_images=8, metric_repeats=1,
                 mask_samples=5, mask_repeats=1, matmul_size=1024, option_sizes=(64, 128), curve_steps=(8, 4), scoring_images=2)


@dataclass(frozen=True)
class Timing:
    """Seconds per call: median, min and max of ``repeats`` timed calls after ``warmup``
    untimed ones, and the median process CPU seconds per call (all threads)."""

    median_s: float
    min_s: float
    max_s: float
    cpu_s: float
    warmup: int
    repeats: int

    def to_dict(self) -> dict:
        return asdict(self)


def synchronizer(device: torch.device | str) -> Callable[[], None]:
    """Waits for queued work on ``device`` (CUDA kernels run asynchronously); no-op on CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def compare(functions: dict[str, Callable[[], object]], warmup: int, repeats: int,
            device: torch.device | str = "cpu") -> dict[str, Timing]:
    """Time each of ``functions`` ``repeats`` times, in turn, after ``warmup`` untimed
    rounds; returns a :class:`Timing` per name."""
    if warmup < 0 or repeats < 1:
        raise RwganError(f"timing: expected warmup >= 0 and repeats >= 1, got {warmup} and {repeats}")
    synchronize = synchronizer(device)
    wall: dict[str, list[float]] = {name: [] for name in functions}
    cpu: dict[str, list[float]] = {name: [] for name in functions}
    for round_index in range(warmup + repeats):
        for name, function in functions.items():
            synchronize()
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            function()
            synchronize()
            if round_index >= warmup:
                wall[name].append(time.perf_counter() - start_wall)
                cpu[name].append(time.process_time() - start_cpu)
    return {
        name: Timing(statistics.median(wall[name]), min(wall[name]), max(wall[name]), statistics.median(cpu[name]),
                     warmup, repeats)
        for name in functions
    }


def measure(function: Callable[[], object], warmup: int, repeats: int, device: torch.device | str = "cpu") -> Timing:
    """:func:`compare` for one function."""
    return compare({"only": function}, warmup, repeats, device)["only"]


@contextlib.contextmanager
def cpu_threads(count: int | None) -> Iterator[None]:
    """Run the block with torch using ``count`` CPU threads (``None``: leave the setting)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count or previous)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def nominal_macs(model: nn.Module, *inputs) -> int:
    """Multiply-accumulates of one forward pass with every convolution counted as the
    architecture specifies it: an upsampling :class:`~rwgan.layers.GeneratorConv` as a
    3x3 conv at its output resolution (nearest x2 then conv), whatever the layer computes.
    Counts ``nn.Conv2d`` modules (partial convs included) and generator convs; other
    operations are not counted."""
    inner = {id(module.conv) for module in model.modules() if isinstance(module, GeneratorConv)}
    total = 0

    def count(module: nn.Module, _inputs, output) -> None:
        nonlocal total
        conv = module.conv if isinstance(module, GeneratorConv) else module
        output = output[0] if isinstance(output, tuple) else output
        total += output.numel() * conv.in_channels // conv.groups * math.prod(conv.kernel_size)

    hooks = [module.register_forward_hook(count) for module in model.modules()
             if isinstance(module, GeneratorConv) or (isinstance(module, nn.Conv2d) and id(module) not in inner)]
    try:
        with torch.inference_mode():
            model(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return total


def executed_flops(function: Callable[[], object]) -> int:
    """Floating-point operations of the convolutions and matrix products ``function``
    actually runs (torch's FLOP counter: 2 per multiply-accumulate)."""
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        function()
    return int(counter.get_total_flops())


def matmul_flops_per_s(device: torch.device | str, dtype: torch.dtype, size: int, warmup: int, repeats: int) -> float:
    """FLOP/s of a ``size`` x ``size`` matrix product in ``dtype`` on ``device``: the
    practical peak of the hardware for dense arithmetic (same threads as the models)."""
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=generator).to(device=device, dtype=dtype) for _ in range(2))
    timing = measure(lambda: torch.mm(a, b), warmup, repeats, device)
    return 2 * size**3 / timing.median_s


def gpu_peak(name: str) -> tuple[float, str] | None:
    """(FLOP/s, what it is) of the first :data:`GPU_PEAK_FLOPS` entry in ``name``, or ``None``."""
    for fragment, flops, label in GPU_PEAK_FLOPS:
        if fragment in name:
            return flops, label
    return None


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (``None`` where the OS has none)."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def machine() -> dict:
    """What the figures were measured on: CPU, cores, GPU, software versions."""
    description = {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cuda_available": torch.cuda.is_available(),
        "gpu": None,
    }
    if torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        description.update(gpu=properties.name, gpu_memory_gib=round(properties.total_memory / 2**30, 1),
                           cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
    return description
