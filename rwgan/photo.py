"""Inpainting photos as people have them: any size, any colour mode, EXIF orientation, folders.

The networks take 8-bit RGB with H and W divisible by 4 (:class:`rwgan.inference.Inpainter`).
This module turns a user's photo into that and back, and is what ``rwgan inpaint`` and
``rwgan serve`` call.

**Reading** (:func:`read_photo`): the photo is turned upright by its EXIF orientation
(as ``PIL.ImageOps.exif_transpose`` does; the output is written upright, without EXIF)
and kept at the precision of its file, as one of :data:`MODES`:

=========== ==================================================== =======================
mode        files                                                 written back as
=========== ==================================================== =======================
``RGB``     8-bit colour; CMYK, YCbCr, LAB, HSV (converted)        8-bit RGB PNG
``RGBA``    8-bit colour with alpha; palette with transparency   8-bit RGBA PNG
``L``       8-bit grey; 1-bit                                    8-bit grey PNG
``LA``      8-bit grey with alpha                                8-bit grey+alpha PNG
``I;16``    16-bit grey (PNG, TIFF); 32-bit int within 0-65535   16-bit grey PNG
``RGB;16``  16-bit colour PNG / TIFF (decoded with OpenCV)       16-bit RGB PNG
``RGBA;16`` 16-bit colour with alpha                             16-bit RGBA PNG
=========== ==================================================== =======================

A palette image without transparency is ``RGB`` (a palette cannot hold the new colours).
32-bit float images are refused.  The model sees :attr:`Photo.rgb`: grey replicated to
three channels, 16-bit values rounded to 8 bits (``round(v / 257)``), alpha dropped
(the colour stored under transparent pixels is what it sees).

**Writing back** (:func:`merge`): the output has the photo's mode and size, and **every
known pixel (mask black) is the input's value exactly**, in every channel and at full
bit depth; only hole pixels (mask white) change.  Alpha is copied unchanged everywhere,
the hole included.  In grey modes a hole pixel is the luma of the model's RGB
(ITU-R 601, as Pillow's ``convert("L")``; for 16 bits ``round(luma * 257)``); 16-bit
colour holes are the model's 8-bit values times 257.  Results are always PNG (lossless).

**Sizes** (:func:`inpaint_image`, IOPaint's HD strategies, chosen by ``strategy``):

- ``crop`` (default): a photo whose longer side is at most the model's training size
  (``model.pt`` records it) is inpainted whole at its own resolution.  A larger one is
  inpainted box by box: the hole's 8-connected parts, each box grown by ``margin``
  pixels of context (clipped to the photo), overlapping boxes merged; a box whose
  longer side is at most the training size runs at full resolution (grown to a multiple
  of 4, padded by mirroring at the photo's border), a larger one is resized (Pillow
  bicubic, antialiased) so its longer side is the training size, inpainted, and the
  result resized back.  Context far from the hole is never seen, so cost grows with
  the hole, not the photo.
- ``resize``: the whole photo resized so its longer side is the training size, inpainted,
  resized back (fast, blurry fill on big photos).
- ``original``: the whole photo at full resolution (padded to a multiple of 4); best on
  photos near the training size, slow and poor on big ones (the holes are then far
  larger, in pixels, than anything the model saw in training).

Whatever the strategy, only hole pixels are pasted back: a resized hole is grown (any
low-resolution pixel touching the hole is hole), so every hole pixel gets model output.

**Folders** (:func:`plan`): ``--image DIR --mask DIR --out DIR`` pairs files by name
stem (``cat.jpg`` with ``cat.png``); an image without a mask, a mask without an image,
or two files with one stem is an error naming the file.  ``--mask FILE`` with an image
folder uses that one mask for every image.  :func:`inpaint_files` checks every pair
before running the model and writes all results or none.
"""
from __future__ import annotations

import contextlib
import io as _bytes_io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from rwgan import io
from rwgan.errors import RwganError
from rwgan.layers import SIZE_MULTIPLE

MODES = ("RGB", "RGBA", "L", "LA", "I;16", "RGB;16", "RGBA;16")
STRATEGIES = ("crop", "resize", "original")
DEFAULT_MARGIN = 128
MAX_BOXES = 256  # more separate hole parts than this: one box around all of them
EXIF_ORIENTATION = 0x0112

Source = str | os.PathLike | bytes


@dataclass(frozen=True)
class Photo:
    """An upright photo at its file's precision.

    ``pixels``: uint8 or uint16 (H, W) or (H, W, C) as :data:`MODES` describes;
    ``mode``: one of :data:`MODES`; ``name``: the file, for messages; ``orientation``:
    the EXIF orientation that was applied (1 = none).
    """

    pixels: np.ndarray
    mode: str
    name: str
    orientation: int = 1

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) after EXIF orientation."""
        return self.pixels.shape[:2]

    @property
    def has_alpha(self) -> bool:
        return self.mode in ("RGBA", "LA", "RGBA;16")

    @property
    def rgb(self) -> np.ndarray:
        """What the model sees: uint8 (H, W, 3) (grey replicated, 16 bits rounded to 8)."""
        pixels = self.pixels
        if pixels.dtype == np.uint16:
            pixels = ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)  # round(v / 257)
        if pixels.ndim == 2:
            return np.repeat(pixels[..., None], 3, axis=2)
        if pixels.shape[2] == 2:  # LA
            return np.repeat(pixels[..., :1], 3, axis=2)
        return np.ascontiguousarray(pixels[..., :3])

    @property
    def preview(self) -> np.ndarray:
        """uint8 (H, W, 3) or (H, W, 4) for display: :attr:`rgb` plus 8-bit alpha if any."""
        if not self.has_alpha:
            return self.rgb
        alpha = self.pixels[..., -1]
        if alpha.dtype == np.uint16:
            alpha = ((alpha.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
        return np.concatenate([self.rgb, alpha[..., None]], axis=2)


# ------------------------------------------------------------------------ reading

def orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an (H, W, ...) array, as ``ImageOps.exif_transpose``."""
    if orientation == 2:
        array = array[:, ::-1]
    elif orientation == 3:
        array = array[::-1, ::-1]
    elif orientation == 4:
        array = array[::-1]
    elif orientation == 5:
        array = array.swapaxes(0, 1)
    elif orientation == 6:
        array = np.rot90(array, -1)
    elif orientation == 7:
        array = array[::-1, ::-1].swapaxes(0, 1)
    elif orientation == 8:
        array = np.rot90(array, 1)
    return np.ascontiguousarray(array)


def _name(source: Source, name: str | None) -> str:
    if name is not None:
        return name
    return "upload" if isinstance(source, bytes) else str(source)


def _open(source: Source, name: str, max_side: int | None) -> tuple[Image.Image, bytes | None]:
    """Open and fully decode ``source``; check ``max_side`` before decoding."""
    data = None
    if isinstance(source, bytes):
        data, handle = source, _bytes_io.BytesIO(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise RwganError(f"{name}: file not found")
        handle = path
    try:
        image = Image.open(handle)
        width, height = image.size
        if max_side is not None and max(width, height) > max_side:
            raise RwganError(f"{name}: image is {width}x{height}, over the limit of {max_side} pixels a side")
        image.load()  # a full decode: catches truncated files
    except RwganError:
        raise
    except Image.DecompressionBombError:
        raise RwganError(f"{name}: image has too many pixels to decode safely") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        detail = exc.__class__.__name__ if data is not None else f"{exc.__class__.__name__}: {exc}"
        raise RwganError(f"{name}: not a readable image ({detail})") from None
    return image, data


def _orientation(image: Image.Image) -> int:
    try:
        value = int(image.getexif().get(EXIF_ORIENTATION, 1))
    except Exception:  # a damaged EXIF block: treat the photo as upright
        return 1
    return value if 1 <= value <= 8 else 1


def _is_16bit_colour(image: Image.Image, header: bytes) -> bool:
    """True for 16-bit-per-channel colour PNG/TIFF, which Pillow would read at 8 bits
    (``header``: at least the file's first 26 bytes, for PNG)."""
    if image.format == "PNG":
        # IHDR follows the 8-byte signature: length, type, width, height, bit depth, colour type.
        return len(header) > 25 and header[24] == 16 and header[25] in (2, 4, 6)
    if image.format == "TIFF" and image.mode in ("RGB", "RGBA", "RGBX"):
        bits = image.tag_v2.get(258, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        return any(b == 16 for b in bits)
    return False


def _decode_16bit_colour(data: bytes, name: str) -> tuple[np.ndarray, str]:
    import cv2

    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16 or array.ndim != 3 or array.shape[2] not in (3, 4):
        raise RwganError(f"{name}: 16-bit colour image that could not be decoded")
    if array.shape[2] == 3:
        return np.ascontiguousarray(array[..., ::-1]), "RGB;16"
    return np.ascontiguousarray(array[..., [2, 1, 0, 3]]), "RGBA;16"


def _pixels(image: Image.Image, name: str) -> tuple[np.ndarray, str]:
    mode = image.mode
    if mode == "P":
        mode = "RGBA" if "transparency" in image.info else "RGB"
        image = image.convert(mode)
    elif mode in ("PA", "RGBa"):
        mode, image = "RGBA", image.convert("RGBA")
    elif mode == "La":
        mode, image = "LA", image.convert("LA")
    elif mode == "1":
        mode, image = "L", image.convert("L")
    elif mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16), "I;16"
    elif mode == "I":
        values = np.asarray(image)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise RwganError(f"{name}: 32-bit integer image with values outside 0-65535 "
                             "(expected 8- or 16-bit)")
        return values.astype(np.uint16), "I;16"
    elif mode == "F":
        raise RwganError(f"{name}: 32-bit float images are not supported (save it as 8- or 16-bit)")
    elif mode not in ("RGB", "RGBA", "L", "LA"):
        try:
            mode, image = "RGB", image.convert("RGB")
        except (ValueError, OSError):
            raise RwganError(f"{name}: colour mode {image.mode} cannot be converted to RGB") from None
    return np.asarray(image), mode


def read_photo(source: Source, name: str | None = None, max_side: int | None = None) -> Photo:
    """Read an image file (a path, or its bytes with ``name`` for messages) as an upright
    :class:`Photo` (see the module docstring); :class:`RwganError` naming it if it cannot
    be read, or a side is over ``max_side``."""
    name = _name(source, name)
    image, data = _open(source, name, max_side)
    orientation = _orientation(image)
    if data is None and image.format == "PNG":
        with open(source, "rb") as handle:
            header = handle.read(26)
    else:
        header = data or b""
    if _is_16bit_colour(image, header):
        if data is None:
            data = Path(source).read_bytes()
        pixels, mode = _decode_16bit_colour(data, name)
    else:
        pixels, mode = _pixels(image, name)
    return Photo(orient(pixels, orientation), mode, name, orientation)


def read_hole(source: Source, shape: tuple[int, int] | None = None, name: str | None = None,
              image_name: str = "the image", max_side: int | None = None, stored_shape=None) -> np.ndarray:
    """Read a mask file (white = hole, black = keep; any colour mode, EXIF orientation
    applied) as bool (H, W), True = hole.

    It must be binary (only 0 and 255 after conversion to 8-bit grey), hold at least one
    hole pixel and one known pixel, and, given ``shape`` (H, W), be that size.
    """
    name = _name(source, name)
    image, _ = _open(source, name, max_side)
    orientation = _orientation(image)
    if image.mode.startswith("I"):  # 16- or 32-bit integer masks: 0 = keep, 65535 = hole
        values = np.asarray(image).astype(np.int64)
        grey = np.where(values == 65535, 255, np.clip(values >> 8, 0, 254)).astype(np.uint8)
    elif image.mode == "F":
        grey = np.clip(np.round(np.asarray(image)), 0, 255).astype(np.uint8)
    else:
        grey = np.asarray(image.convert("L"))
    grey = orient(grey, orientation)
    if shape is not None and grey.shape != tuple(shape):
        hint = ""
        if stored_shape is not None and grey.shape == tuple(stored_shape) and tuple(stored_shape) != tuple(shape):
            hint = " (the photo is turned upright by its EXIF orientation: draw the mask on the upright photo)"
        raise RwganError(f"{name}: mask is {grey.shape[1]}x{grey.shape[0]} but {image_name} is "
                         f"{shape[1]}x{shape[0]} (expected the same size){hint}")
    return io.mask_hole(grey, name)


def read_pair(image: Source, mask: Source, image_name: str | None = None, mask_name: str | None = None,
              max_side: int | None = None) -> tuple[Photo, np.ndarray]:
    """A :class:`Photo` and its hole (bool (H, W), True = hole), checked to be the same size."""
    photo = read_photo(image, image_name, max_side)
    stored = photo.shape[::-1] if photo.orientation in (5, 6, 7, 8) else None
    hole = read_hole(mask, photo.shape, mask_name, image_name=photo.name, max_side=max_side, stored_shape=stored)
    return photo, hole


# ------------------------------------------------------------------------ writing

def merge(photo: Photo, filled: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The output pixels: ``photo.pixels`` with only the ``hole`` pixels replaced by the
    model's uint8 RGB ``filled`` (H, W, 3), converted to the photo's mode; alpha kept."""
    out = photo.pixels.copy()
    if photo.mode in ("RGB", "RGBA"):
        out[..., :3][hole] = filled[hole]
    elif photo.mode in ("RGB;16", "RGBA;16"):
        out[..., :3][hole] = filled[hole].astype(np.uint16) * 257
    elif photo.mode in ("L", "LA"):
        grey = np.asarray(Image.fromarray(np.ascontiguousarray(filled)).convert("L"))
        if photo.mode == "L":
            out[hole] = grey[hole]
        else:
            out[..., 0][hole] = grey[hole]
    elif photo.mode == "I;16":
        rgb = filled[hole].astype(np.float64)
        luma = rgb @ np.array([0.299, 0.587, 0.114])
        out[hole] = np.clip(np.round(luma * 257), 0, 65535).astype(np.uint16)
    else:
        raise RwganError(f"{photo.name}: unknown mode {photo.mode}")
    return out


def encode_png(pixels: np.ndarray, mode: str) -> bytes:
    """PNG bytes of ``pixels`` in ``mode`` (:data:`MODES`); fixed settings, no metadata."""
    if mode in ("RGB;16", "RGBA;16"):
        import cv2

        bgr = pixels[..., [2, 1, 0]] if mode == "RGB;16" else pixels[..., [2, 1, 0, 3]]
        ok, encoded = cv2.imencode(".png", np.ascontiguousarray(bgr), [cv2.IMWRITE_PNG_COMPRESSION, 6])
        if not ok:
            raise RwganError("could not encode a 16-bit PNG")
        return encoded.tobytes()
    buffer = _bytes_io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


# ------------------------------------------------------------------------ inpainting

Box = tuple[int, int, int, int]  # y0, y1, x0, x1 (half-open)


def hole_boxes(hole: np.ndarray, margin: int) -> list[Box]:
    """Boxes covering every hole pixel: each 8-connected part's bounding box grown by
    ``margin`` (clipped to the image), overlapping boxes merged until none overlap.
    More than :data:`MAX_BOXES` parts give one box around all of them."""
    from scipy import ndimage

    height, width = hole.shape
    labels, count = ndimage.label(hole, structure=np.ones((3, 3), bool))
    slices = ndimage.find_objects(labels)
    if count > MAX_BOXES:
        rows, cols = np.nonzero(hole)
        slices = [(slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))]
    boxes = [(max(0, r.start - margin), min(height, r.stop + margin), max(0, c.start - margin),
              min(width, c.stop + margin)) for r, c in slices]
    merged = True
    while merged:
        merged, result = False, []
        for box in sorted(boxes):
            for i, other in enumerate(result):
                if box[0] < other[1] and other[0] < box[1] and box[2] < other[3] and other[2] < box[3]:
                    result[i] = (min(box[0], other[0]), max(box[1], other[1]),
                                 min(box[2], other[2]), max(box[3], other[3]))
                    merged = True
                    break
            else:
                result.append(box)
        boxes = result
    return sorted(boxes)


def _grow_to_multiple(lo: int, hi: int, limit: int) -> tuple[int, int]:
    """Grow [lo, hi) inside [0, limit) to a length divisible by SIZE_MULTIPLE, if it fits."""
    target = -(-(hi - lo) // SIZE_MULTIPLE) * SIZE_MULTIPLE
    if target > limit:
        return lo, hi
    extra = target - (hi - lo)
    new_hi = min(limit, hi + extra)
    return lo - (extra - (new_hi - hi)), new_hi


def _resize(array: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(array).resize((width, height), Image.Resampling.BICUBIC))


def _run_box(inpainter, image: np.ndarray, hole: np.ndarray, limit: int | None) -> np.ndarray:
    """Inpaint one uint8 (h, w, 3) crop at full resolution or, if its longer side is over
    ``limit``, resized to it; returns uint8 (h, w, 3) (only its hole pixels are used)."""
    height, width = hole.shape
    if limit is not None and max(height, width) > limit:
        scale = limit / max(height, width)
        small_h = max(SIZE_MULTIPLE, int(round(height * scale / SIZE_MULTIPLE)) * SIZE_MULTIPLE)
        small_w = max(SIZE_MULTIPLE, int(round(width * scale / SIZE_MULTIPLE)) * SIZE_MULTIPLE)
        small_image = _resize(image, small_w, small_h)
        # Grow the hole: any low-resolution pixel that sees a hole pixel is hole.
        small_hole = np.asarray(Image.fromarray(hole.astype(np.uint8) * 255).resize(
            (small_w, small_h), Image.Resampling.BILINEAR)) > 0
        if small_hole.all():
            small_hole[0, 0] = False  # the model needs some context; the fill is pasted only into the hole
        filled = inpainter.inpaint(small_image[None], small_hole[None])[0]
        return _resize(filled, width, height)
    pad_h, pad_w = (-height) % SIZE_MULTIPLE, (-width) % SIZE_MULTIPLE
    if pad_h or pad_w:
        image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")
        hole = np.pad(hole, ((0, pad_h), (0, pad_w)), mode="constant", constant_values=False)
    return inpainter.inpaint(image[None], hole[None])[0][:height, :width]


def inpaint_image(inpainter, image: np.ndarray, hole: np.ndarray, strategy: str = "crop",
                  margin: int = DEFAULT_MARGIN) -> np.ndarray:
    """Fill the hole of an image of any size (see the module docstring for ``strategy``).

    ``inpainter``: an :class:`rwgan.inference.Inpainter` (its ``image_size`` is the
    training size); ``image``: uint8 (H, W, 3); ``hole``: bool (H, W), True = hole.
    Returns uint8 (H, W, 3) equal to ``image`` at every known pixel, exactly.
    """
    image, hole = np.asarray(image), np.asarray(hole)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise RwganError(f"image: expected uint8 (H, W, 3), got {image.dtype} {image.shape}")
    if hole.dtype != bool or hole.shape != image.shape[:2]:
        raise RwganError(f"hole: expected bool {image.shape[:2]}, got {hole.dtype} {hole.shape}")
    if strategy not in STRATEGIES:
        raise RwganError(f"strategy: expected one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if margin < 0:
        raise RwganError(f"margin: expected 0 or more pixels, got {margin}")
    height, width = hole.shape
    limit = int(inpainter.image_size)
    out = image.copy()
    if not hole.any():
        return out
    if strategy == "original":
        boxes, box_limit = [(0, height, 0, width)], None
    elif strategy == "resize" or max(height, width) <= limit:
        boxes, box_limit = [(0, height, 0, width)], limit
    else:
        boxes, box_limit = hole_boxes(hole, margin), limit
    for y0, y1, x0, x1 in boxes:
        if box_limit is None or max(y1 - y0, x1 - x0) <= box_limit:
            y0, y1 = _grow_to_multiple(y0, y1, height)
            x0, x1 = _grow_to_multiple(x0, x1, width)
        box_hole = hole[y0:y1, x0:x1]
        filled = _run_box(inpainter, image[y0:y1, x0:x1], box_hole, box_limit)
        out[y0:y1, x0:x1][box_hole] = filled[box_hole]
    return out


def inpaint_photo(inpainter, photo: Photo, hole: np.ndarray, strategy: str = "crop",
                  margin: int = DEFAULT_MARGIN) -> np.ndarray:
    """The output pixels for ``photo`` (its mode and size; known pixels and alpha exact)."""
    return merge(photo, inpaint_image(inpainter, photo.rgb, hole, strategy, margin), hole)


# ------------------------------------------------------------------------ files and folders

@dataclass(frozen=True)
class Job:
    image: Path
    mask: Path
    out: Path


def _images_by_stem(folder: Path) -> dict[str, Path]:
    by_stem: dict[str, Path] = {}
    for path in io.list_images(folder):
        if path.name.startswith("."):
            continue
        if path.stem in by_stem:
            raise RwganError(f"{folder}: {by_stem[path.stem].name} and {path.name} have the same name stem "
                             "(expected one file per stem)")
        by_stem[path.stem] = path
    return by_stem


def plan(image: str | os.PathLike, mask: str | os.PathLike, out: str | os.PathLike) -> list[Job]:
    """The (image, mask, output) triples of one call: three files, or an image folder, a
    mask folder (pairs by name stem) or one mask file, and an output folder
    (``<out>/<stem>.png``).  Checks names only; :class:`RwganError` naming the problem."""
    image, mask, out = Path(image), Path(mask), Path(out)
    if not image.is_dir():
        if mask.is_dir():
            raise RwganError(f"{mask}: a folder of masks needs --image to be a folder too")
        if out.is_dir():
            raise RwganError(f"{out}: is a folder (expected a .png file name for one image)")
        if out.suffix.lower() != ".png":
            raise RwganError(f"{out}: results are written as PNG (lossless, so known pixels stay exact); "
                             "expected a .png name")
        return [Job(image, mask, out)]
    if out.exists() and not out.is_dir():
        raise RwganError(f"{out}: exists and is not a folder (expected an output folder for --image {image})")
    images = _images_by_stem(image)
    if not images:
        raise RwganError(f"{image}: no images found (expected {', '.join(io.IMAGE_SUFFIXES)} files)")
    resolved_out = out.resolve()
    for folder in (image, mask):
        if folder.is_dir() and folder.resolve() == resolved_out:
            raise RwganError(f"{out}: is the input folder {folder} (expected a separate output folder)")
    if mask.is_dir():
        masks = _images_by_stem(mask)
        for stem, path in images.items():
            if stem not in masks:
                raise RwganError(f"{path}: no mask named {stem}.* in {mask} (masks pair with images by name stem)")
        for stem, path in masks.items():
            if stem not in images:
                raise RwganError(f"{path}: no image named {stem}.* in {image} (masks pair with images by name stem)")
        return [Job(path, masks[stem], out / f"{stem}.png") for stem, path in sorted(images.items())]
    if not mask.is_file():
        raise RwganError(f"{mask}: file not found (expected a mask file or a folder of masks)")
    return [Job(path, mask, out / f"{stem}.png") for stem, path in sorted(images.items())]


def inpaint_files(inpainter_or_loader, jobs: Sequence[Job], strategy: str = "crop", margin: int = DEFAULT_MARGIN,
                  progress: bool | None = None) -> None:
    """Inpaint every job and write ``job.out`` (PNG in the photo's mode).

    Every pair is read and checked first (sizes, binary masks), then the model runs
    (``inpainter_or_loader``: an ``Inpainter`` or a function returning one, called only
    after the check), with a tqdm bar for more than one job.  Results are written to
    temporary files and renamed into place together at the end: on any error no output
    file is written.
    """
    from tqdm import tqdm

    if strategy not in STRATEGIES:
        raise RwganError(f"strategy: expected one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if margin < 0:
        raise RwganError(f"margin: expected 0 or more pixels, got {margin}")
    outs = [job.out.resolve() for job in jobs]
    for job in jobs:
        if job.out.resolve() in (job.image.resolve(), job.mask.resolve()):
            raise RwganError(f"{job.out}: would overwrite an input (expected another output name)")
    if len(set(outs)) != len(outs):
        raise RwganError("--out: two images would be written to the same file")
    for job in jobs:
        read_pair(job.image, job.mask, str(job.image), str(job.mask))
    inpainter = inpainter_or_loader() if callable(inpainter_or_loader) else inpainter_or_loader
    show = len(jobs) > 1 if progress is None else progress
    with contextlib.ExitStack() as stack:
        for job in tqdm(jobs, desc="inpaint", unit="image", disable=not show):
            photo, hole = read_pair(job.image, job.mask, str(job.image), str(job.mask))
            pixels = inpaint_photo(inpainter, photo, hole, strategy, margin)
            tmp = stack.enter_context(io.atomic_path(job.out))
            tmp.write_bytes(encode_png(pixels, photo.mode))
