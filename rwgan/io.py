"""File input and output with validation and atomic writes.

Conventions (docs/model.md "Conventions"):
- images on disk are 8-bit RGB; in memory ``uint8`` arrays of shape (H, W, 3);
- mask files on disk are 8-bit grey PNGs, **white (255) = hole**, black (0) = known;
  :func:`read_mask` returns a boolean array with ``True`` = hole.  The networks'
  convention (M = 1 for known pixels) is applied by :func:`rwgan.data.mask_to_tensor`,
  the one place the two meet;
- every write goes to a temporary file in the destination folder and is renamed
  into place, so an interrupted run never leaves a half-written file.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from rwgan.errors import RwganError

_UMASK = os.umask(0o022)
os.umask(_UMASK)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    tmp.chmod(0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the mode a plain open() would
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_png(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write a uint8 (H, W) or (H, W, 3) array as PNG, atomically and byte-reproducibly."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise RwganError(f"{path}: expected a uint8 array to save as PNG, got {array.dtype}")
    with atomic_path(path) as tmp:
        # Fixed compression settings and no metadata: the same array gives the same bytes.
        Image.fromarray(array).save(tmp, format="PNG", optimize=False, compress_level=6)


def sha256_json(value) -> str:
    """sha256 of ``value`` as JSON with sorted keys: equal values, equal hash."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _open_image(path: Path) -> Image.Image:
    if not path.is_file():
        raise RwganError(f"{path}: file not found")
    try:
        image = Image.open(path)
        image.load()  # forces a full decode: catches truncated files
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise RwganError(f"{path}: not a readable image ({exc.__class__.__name__}: {exc})") from None
    return image


def read_image(path: str | os.PathLike, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """Read an image as uint8 RGB (H, W, 3).

    ``size`` (an int for square, or (H, W)) is a check, not a resize: a different
    size raises :class:`RwganError` naming the file and both sizes.
    """
    path = Path(path)
    array = np.asarray(_open_image(path).convert("RGB"))
    _check_size(path, array.shape[:2], size)
    return array


def mask_hole(grey: np.ndarray, name: str, allow_full: bool = False) -> np.ndarray:
    """The hole (True = white) of an 8-bit grey mask that must be binary (only 0 and 255)
    and hold a hole pixel and, unless ``allow_full``, a known one; errors name ``name``."""
    values = np.unique(grey)
    if not np.all(np.isin(values, (0, 255))):
        shown = ", ".join(str(v) for v in values[:6]) + (", ..." if len(values) > 6 else "")
        raise RwganError(f"{name}: mask is not binary (expected only 0 and 255, found {shown})")
    hole = grey == 255
    if not hole.any():
        raise RwganError(f"{name}: mask has no hole (expected white = hole, found an all-black mask)")
    if hole.all() and not allow_full:
        raise RwganError(f"{name}: mask is all hole (expected some black = known pixels)")
    return hole


def read_mask(
    path: str | os.PathLike, size: int | tuple[int, int] | None = None, allow_full: bool = False
) -> np.ndarray:
    """Read a mask PNG (white = hole) as a bool array (H, W), ``True`` = hole.

    The file must be binary (only values 0 and 255 after conversion to grey) and
    must contain at least one hole pixel; an all-hole mask is refused unless
    ``allow_full`` (Fig. 10 sweeps up to 100% hole).
    """
    path = Path(path)
    image = _open_image(path)
    grey = np.asarray(image.convert("L"))
    _check_size(path, grey.shape, size)
    return mask_hole(grey, str(path), allow_full)


def _check_size(path: Path, shape: tuple[int, int], size) -> None:
    if size is None:
        return
    expected = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(shape) != expected:
        raise RwganError(
            f"{path}: expected an image of {expected[1]}x{expected[0]} (WxH), got {shape[1]}x{shape[0]}"
        )


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RwganError(f"{folder}: dataset folder not found")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
