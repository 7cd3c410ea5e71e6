"""The torch device a params value (``auto``, ``cpu``, ``cuda``, ``cuda:N``) names, and the
arithmetic it runs the networks in (``amp``: ``auto``, ``bf16``, ``none``).

bf16 autocast (``torch.autocast(device_type, dtype=torch.bfloat16)``) runs convolutions and
matrix products in bfloat16 and keeps reductions, losses and metrics in float32.  CUDA GPUs
from Ampere on and x86 CPUs with AVX-512 BF16 or AMX have bf16 units; elsewhere torch
emulates it (slower than float32).  ``auto`` is bf16 on CUDA and float32 on the CPU: on this
project's CPU bf16 is faster but rounds the generator's outputs visibly
(reports/benchmarks/benchmarks.md, "Faster options"), so it is the user's choice there.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from rwgan.errors import RwganError

#: Values of ``amp`` (params.yaml ``train.amp``, ``evaluate.amp``).
AMP_CHOICES = ("auto", "bf16", "none")
#: /proc/cpuinfo flags of x86 CPUs with bfloat16 arithmetic units.
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def resolve_device(request: str | torch.device) -> torch.device:
    """``auto`` -> ``cuda`` when available, else ``cpu``; ``cpu``/``cuda``/``cuda:N`` as given."""
    if str(request) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(request)
    except RuntimeError:
        raise RwganError(f"device: expected auto, cpu, cuda or cuda:N, got {request!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RwganError(f"device: {request!r} requested but CUDA is not available")
    return device


def cpu_has_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Whether this CPU has bfloat16 units (AVX-512 BF16 or AMX; :data:`CPU_BF16_FLAGS`)."""
    path = Path(cpuinfo)
    if not path.is_file():
        return False
    flags = next((line.split(":", 1)[1].split() for line in path.read_text().splitlines()
                  if line.startswith("flags")), [])
    return any(flag in flags for flag in CPU_BF16_FLAGS)


def autocast_dtype(device: str | torch.device, amp: str) -> torch.dtype | None:
    """The autocast dtype of ``amp`` on ``device``: ``torch.bfloat16`` or ``None`` (float32).

    ``none``: float32; ``bf16``: bf16 on any device (a CPU without bf16 units is refused,
    torch would emulate it slower than float32); ``auto``: bf16 on CUDA, float32 on the CPU.
    """
    device = torch.device(device)
    if amp not in AMP_CHOICES:
        raise RwganError(f"amp: expected one of {', '.join(AMP_CHOICES)}, got {amp!r}")
    if amp == "none" or (amp == "auto" and device.type != "cuda"):
        return None
    if device.type == "cpu" and not cpu_has_bf16():
        raise RwganError(f"amp: bf16 requested on a CPU without bf16 units ({' or '.join(CPU_BF16_FLAGS)}); "
                         "use amp: none or auto")
    return torch.bfloat16


def autocast(device: str | torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """``torch.autocast`` on ``device`` in ``dtype`` (from :func:`autocast_dtype`); nothing for ``None``."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)
