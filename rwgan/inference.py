"""Trained models for inference: the ``model.pt`` format, loading, and inpainting arrays.

``model.pt`` (written by :func:`save_model` at the end of training) holds the generator's
weights and what is needed to rebuild it without params.yaml: the model kind (a name
of :mod:`rwgan.kinds`), the resolved variant (:class:`rwgan.variants.Variant`),
the training image size, the params hash and the params that made it, and the step.

:func:`load_inpainter` gives an :class:`Inpainter` that works on uint8 arrays in the
file conventions (images (N, H, W, 3); holes bool (N, H, W), True = hole) and returns
the final composite ``I_c = I_g * M + I_p * (1 - M)`` as uint8, so known pixels are the
input's exactly, whatever the kind (it uses only :class:`rwgan.models.InpaintingGenerator`).
Any H and W divisible by 4 are accepted (the networks are fully convolutional), not
only the training size.  Photos of any size, colour mode and
orientation (padding, the crop strategy for large photos): :mod:`rwgan.photo`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from rwgan import io
from rwgan.data import image_to_tensor, mask_to_tensor, tensor_to_image
from rwgan.errors import RwganError
from rwgan.layers import SIZE_MULTIPLE
from rwgan.device import autocast, autocast_dtype, resolve_device
from rwgan.models import InpaintingGenerator, build_generator
from rwgan.variants import Variant

MODEL_FORMAT = "rwgan-model-v1"


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (Table IV), trainable or not."""
    return sum(parameter.numel() for parameter in model.parameters())


def save_model(path: str | os.PathLike, generator: nn.Module, variant: Variant, image_size: int,
               params_hash: str, params: dict, step: int) -> None:
    """Write ``model.pt`` atomically (see the module docstring)."""
    payload = {
        "format": MODEL_FORMAT, "model_kind": variant.model, "variant": variant.to_dict(),
        "image_size": int(image_size), "params_hash": params_hash, "params": params, "step": int(step),
        "state_dict": generator.state_dict(),
    }
    with io.atomic_path(path) as tmp:
        torch.save(payload, tmp)


class InpaintResult(NamedTuple):
    """uint8 (N, H, W, 3) composites: the final I_c2 and the first-stage I_c1 (Table III)."""

    composite: np.ndarray
    coarse: np.ndarray


class Inpainter:
    """A trained generator in eval mode on ``device``; see :meth:`inpaint`."""

    def __init__(self, model: InpaintingGenerator, variant: Variant, image_size: int, device: torch.device,
                 source: str = "model", batch_size: int = 8, amp: str = "none"):
        self.model = model.to(device).eval()
        self.amp_dtype = autocast_dtype(device, amp)  # rwgan.device.AMP_CHOICES
        self.variant = variant
        self.image_size = image_size
        self.device = device
        self.source = source
        self.batch_size = batch_size

    @property
    def model_kind(self) -> str:
        return self.variant.model

    def inpaint(self, images: np.ndarray, holes: np.ndarray, return_coarse: bool = False):
        """Fill the holes of ``images``.

        ``images``: uint8 (N, H, W, 3); ``holes``: bool (N, H, W), True = hole; H and W
        divisible by 4.  Returns the uint8 (N, H, W, 3) final composites, or with
        ``return_coarse`` an :class:`InpaintResult` that adds the first stage's composite
        (I_c1, SINet's; models with a first stage only).  Runs in batches of ``batch_size``.
        """
        images, holes = np.asarray(images), np.asarray(holes)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise RwganError(f"images: expected uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
        if holes.dtype != bool or holes.shape != images.shape[:3]:
            raise RwganError(f"holes: expected bool {images.shape[:3]} matching the images, "
                             f"got {holes.dtype} {holes.shape}")
        height, width = images.shape[1:3]
        if height % SIZE_MULTIPLE or width % SIZE_MULTIPLE:
            raise RwganError(f"images: height and width must be divisible by {SIZE_MULTIPLE} for {self.source}, "
                             f"got {height}x{width}")
        if return_coarse and not self.model.has_first_stage:
            raise RwganError(f"{self.source}: a {self.model_kind} model has no first stage (return_coarse needs a "
                             "model with one)")
        finals, coarses = [], []
        with torch.inference_mode(), autocast(self.device, self.amp_dtype):
            for start in range(0, len(images), self.batch_size):
                image = image_to_tensor(images[start:start + self.batch_size]).to(self.device)
                mask = mask_to_tensor(holes[start:start + self.batch_size]).to(self.device)
                output = self.model(image, mask)
                finals.append(tensor_to_image(output.composite))
                if return_coarse:
                    coarses.append(tensor_to_image(output.coarse_composite))
        final = np.concatenate(finals) if finals else np.zeros_like(images)
        if not return_coarse:
            return final
        return InpaintResult(final, np.concatenate(coarses) if coarses else np.zeros_like(images))


def load_inpainter(checkpoint_path: str | os.PathLike, device: str | torch.device = "cpu",
                   amp: str = "none") -> Inpainter:
    """The :class:`Inpainter` of a ``model.pt`` running in ``amp`` (:data:`rwgan.device.AMP_CHOICES`);
    :class:`RwganError` naming the file if it is
    missing, unreadable, not a model file, or its weights do not fit its own description."""
    path = Path(checkpoint_path)
    if not path.is_file():
        raise RwganError(f"{path}: checkpoint not found (expected a model.pt written by the train stage)")
    device = resolve_device(device)
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises many exception types for a damaged file
        raise RwganError(f"{path}: not a readable checkpoint ({exc.__class__.__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise RwganError(f"{path}: not an rwgan model file (expected format {MODEL_FORMAT}; "
                         "training states last.pt are not model files)")
    variant = Variant.from_dict(payload["variant"], where=f"{path}: variant")
    model = build_generator(variant)
    try:
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, KeyError) as exc:
        raise RwganError(f"{path}: weights do not fit a {variant.model} model "
                         f"({str(exc).splitlines()[0]})") from None
    return Inpainter(model, variant, int(payload["image_size"]), device, source=str(path), amp=amp)
