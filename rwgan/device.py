"""The torch device a params value (``auto``, ``cpu``, ``cuda``, ``cuda:N``) names."""
from __future__ import annotations

import torch

from rwgan.errors import RwganError


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
