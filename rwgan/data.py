"""Images and masks as tensors, the training dataset, and the embedded default dataset.

Conventions (DEVELOPING.md):

- uint8 RGB images (H, W, 3) <-> float32 tensors (N, 3, H, W) in [-1, 1]
  (:func:`image_to_tensor`, :func:`tensor_to_image`);
- bool holes (H, W), True = hole (the file convention, white = hole) -> the paper's
  mask ``M`` (Sec. III-A: 1 = known pixel, 0 = hole) as float32 (N, 1, H, W):
  :func:`mask_to_tensor` is the one place where the two conventions meet.

Resizing (:func:`resize_image`) is Pillow's ``BILINEAR`` filter: a triangle filter
whose support widens with the downscaling factor, so it antialiases like area
averaging when shrinking (the paper resizes every image to 256x256; the official
code uses a bilinear resize).  Pillow computes it in fixed point on 8-bit images.
"""
from __future__ import annotations

import importlib.util
import io as _stdio
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from rwgan import io
from rwgan.errors import RwganError

SPLITS = ("train", "test")

# Real photographs bundled inside installed packages (not downloaded on demand):
# name -> (package, path inside the package).  All are RGB photos of natural scenes,
# people, animals or objects (the packages' own sample images).
EMBEDDED_PHOTOS = {
    "astronaut": ("skimage", "data/astronaut.png"),
    "chelsea": ("skimage", "data/chelsea.png"),
    "coffee": ("skimage", "data/coffee.png"),
    "hubble_deep_field": ("skimage", "data/hubble_deep_field.jpg"),
    "motorcycle_left": ("skimage", "data/motorcycle_left.png"),
    "rocket": ("skimage", "data/rocket.jpg"),
    "china": ("sklearn", "datasets/images/china.jpg"),
    "flower": ("sklearn", "datasets/images/flower.jpg"),
    "grace_hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
}


# ------------------------------------------------------------------ conversions


def image_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) or (N, H, W, 3) -> float32 (N, 3, H, W) in [-1, 1] (``x / 127.5 - 1``)."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim not in (3, 4) or images.shape[-1] != 3:
        raise RwganError(f"images: expected uint8 (H, W, 3) or (N, H, W, 3), got {images.dtype} {images.shape}")
    batch = torch.tensor(images.reshape((-1,) + images.shape[-3:]))  # a copy: decoded images may be read-only
    return batch.permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1.0


def tensor_to_image(tensor: torch.Tensor) -> np.ndarray:
    """float (N, 3, H, W) or (3, H, W) in [-1, 1] -> uint8 (N, H, W, 3).

    Values are clamped to [-1, 1], mapped to [0, 255] and rounded half to even
    (``torch.round``); the exact inverse of :func:`image_to_tensor` on uint8 images.
    """
    if tensor.ndim == 3:
        tensor = tensor[None]
    if tensor.ndim != 4 or tensor.shape[1] != 3:
        raise RwganError(f"tensor: expected (N, 3, H, W) or (3, H, W), got {tuple(tensor.shape)}")
    scaled = torch.round((tensor.detach().to("cpu", torch.float32).clamp(-1.0, 1.0) + 1.0) * 127.5)
    return scaled.to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def mask_to_tensor(holes: np.ndarray) -> torch.Tensor:
    """bool (H, W) or (N, H, W), True = hole -> the paper's M: float32 (N, 1, H, W), 1 = known, 0 = hole."""
    holes = np.asarray(holes)
    if holes.dtype != bool or holes.ndim not in (2, 3):
        raise RwganError(
            f"holes: expected a bool (H, W) or (N, H, W) array (True = hole), got {holes.dtype} {holes.shape}"
        )
    known = ~holes.reshape((-1,) + holes.shape[-2:])
    return torch.from_numpy(known).to(torch.float32)[:, None]


# ----------------------------------------------------------- decoding, resizing


def decode_image(data: bytes, name: str) -> np.ndarray:
    """Decode encoded image bytes fully (a truncated file fails) to uint8 RGB (H, W, 3).

    ``name`` is the file or archive member named in the error.
    """
    try:
        with Image.open(_stdio.BytesIO(data)) as image:
            image.load()
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise RwganError(f"{name}: not a readable image ({exc.__class__.__name__}: {exc})") from None


def center_square(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """The centred square crop (top, left, side) of an image of ``shape`` (H, W, ...)."""
    side = min(shape[0], shape[1])
    return (shape[0] - side) // 2, (shape[1] - side) // 2, side


def resize_image(image: np.ndarray, size: int, crop: tuple[int, int, int] | None = None) -> np.ndarray:
    """uint8 (H, W, 3) -> uint8 (size, size, 3) with Pillow's BILINEAR filter (see module doc).

    ``crop`` (top, left, side) resizes that square of the image instead of the whole
    (non-square images are otherwise stretched, as the paper resizes to 256x256).
    """
    if crop is not None:
        top, left, side = crop
        image = image[top : top + side, left : left + side]
    if image.shape[:2] == (size, size):
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))


# --------------------------------------------------------------- embedded photos


def embedded_photo_path(name: str) -> Path:
    """Where the installed package keeps photo ``name`` (without importing the package)."""
    if name not in EMBEDDED_PHOTOS:
        raise RwganError(f"embedded photo {name!r}: expected one of {', '.join(EMBEDDED_PHOTOS)}")
    package, relative = EMBEDDED_PHOTOS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise RwganError(f"embedded photo {name!r}: package {package} is not installed (run `make setup`)")
    path = Path(spec.origin).parent / relative
    if not path.is_file():
        raise RwganError(f"{path}: embedded photo {name!r} missing from the installed {package}")
    return path


def embedded_crops(
    photos: list[str], count: int, size: int, seed: int, split: str, min_crop_fraction: float
) -> list[tuple[str, np.ndarray, str]]:
    """``count`` square crops of ``photos``, resized to ``size``: (file stem, uint8 image, source).

    Crop k comes from photo ``k mod len(photos)``; its side is uniform in
    [``min_crop_fraction``, 1] x the photo's shorter side (integer pixels) and its
    position uniform where it fits.  Seeded by (seed, split) alone.
    """
    if not photos or count < 1:
        raise RwganError(f"embedded {split}: expected at least one photo and one crop, got {photos} x {count}")
    if not 0 < min_crop_fraction <= 1:
        raise RwganError(f"min_crop_fraction: expected a number in (0, 1], got {min_crop_fraction!r}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), SPLITS.index(split)]))
    images = {name: io.read_image(embedded_photo_path(name)) for name in photos}
    crops = []
    for k in range(count):
        name = photos[k % len(photos)]
        image = images[name]
        shorter = min(image.shape[:2])
        side = int(rng.integers(max(1, int(np.ceil(min_crop_fraction * shorter))), shorter + 1))
        top = int(rng.integers(image.shape[0] - side + 1))
        left = int(rng.integers(image.shape[1] - side + 1))
        package, relative = EMBEDDED_PHOTOS[name]
        source = f"{package}:{relative} crop top={top} left={left} side={side}"
        crops.append((f"{name}_{k:04d}", resize_image(image, size, (top, left, side)), source))
    return crops


# ---------------------------------------------------------------- datasets


MaskSampler = Callable[[np.random.Generator], np.ndarray]


class InpaintingDataset(torch.utils.data.Dataset):
    """Images of a folder (all ``size`` x ``size``) with a hole mask each, for training.

    ``masks`` is either a sampler ``rng -> bool (H, W)`` (True = hole), e.g.
    ``functools.partial(rwgan.masks.random_training_mask, size=256)``, or a folder
    of mask PNGs (white = hole) from which one is drawn.  Sample ``index`` of
    epoch ``e`` draws from ``numpy.random.default_rng([seed, e, index])`` alone,
    so it is the same whatever the worker or batch order; call
    :meth:`set_epoch` before each epoch (DataLoader workers copy the dataset when
    an epoch starts, unless ``persistent_workers``).

    Items: ``{"image": float32 (3, H, W) in [-1, 1], "mask": float32 (1, H, W), M = 1 known}``.
    """

    def __init__(self, folder: str | os.PathLike, size: int, masks: MaskSampler | str | os.PathLike, seed: int = 0):
        self.images = io.list_images(folder)
        if not self.images:
            raise RwganError(f"{folder}: no images found (expected PNG or JPEG files)")
        self.size, self.seed, self.epoch = int(size), int(seed), 0
        if callable(masks):
            self.mask_files, self.sampler = None, masks
        else:
            self.mask_files = io.list_images(masks)
            if not self.mask_files:
                raise RwganError(f"{masks}: no mask images found (expected PNG files, white = hole)")
            self.sampler = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.images)

    def hole(self, index: int) -> np.ndarray:
        """The bool (H, W) hole of sample ``index`` in the current epoch (True = hole)."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, int(index)]))
        if self.sampler is not None:
            hole = np.asarray(self.sampler(rng))
            if hole.shape != (self.size, self.size) or hole.dtype != bool:
                raise RwganError(
                    f"mask sampler: expected a bool ({self.size}, {self.size}) hole, got {hole.dtype} {hole.shape}"
                )
            return hole
        path = self.mask_files[int(rng.integers(len(self.mask_files)))]
        return io.read_mask(path, self.size, allow_full=True)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        image = io.read_image(self.images[index], self.size)
        return {"image": image_to_tensor(image)[0], "mask": mask_to_tensor(self.hole(index))[0]}
