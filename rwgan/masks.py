"""Hole masks: the training-time sampler and the fixed, binned test mask sets.

Convention: every function here returns a ``bool`` array of shape (H, W) with
``True`` = hole (the file convention; white = hole in PNGs).  The networks' mask
``M`` (1 = known, paper Sec. III-A) is made from it by :func:`rwgan.data.mask_to_tensor`.

Two irregular mask types (paper Sec. IV, Tables I-II; docs/model.md "Training masks"):

- **contiguous** (:func:`brush_stroke_mask`): one brush random walk from a random
  start point; each stroke is a segment of length <= 32 px drawn with a round brush
  of width <= 50 px (docs/model.md, from the official code; the minimum width, 10 px, is
  ours), sizes given at 256x256 and scaled with the image.  The union is ONE
  4-connected hole;
- **discontiguous** (:func:`shapes_mask`): thick line segments, discs and thick
  elliptical arcs at random places.  A shape that would touch an earlier hole (even
  diagonally) is redrawn, up to :data:`SEPARATION_TRIES` times in a row, so the
  mask has several separate holes (dozens at 20-50%; at large ratios, where no
  free place is left, some shapes merge).

Both generators aim at a hole area drawn uniformly from a requested range and add
strokes or shapes until the area reaches it; a piece that would overshoot the
range is discarded and another is drawn.  So every mask's hole ratio lies in its
bin without rejecting whole masks, and ratios spread over the bin.  (The official
code draws up to 60 strokes and keeps the area it gets; here the number of strokes
follows from the target area.)

Reproducibility: all randomness comes from the ``numpy.random.Generator`` passed
in, and rasterisation is integer-exact (pixel centres tested with integer
inequalities, no trigonometry or floating-point library calls), so the same seed
gives the same mask on every platform (numpy's generator streams are stable within
the pinned numpy version).  Bins are half-open percent ranges
``(lo, hi]`` compared in integers: ``lo * H * W < 100 * holes <= hi * H * W``.
"""
from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from scipy import ndimage

from rwgan.errors import RwganError

KINDS = ("contiguous", "discontiguous")
STREAMS = KINDS + ("regular",)  # the random streams of the test mask sets (:func:`mask_rng`)

# Geometry at the 256x256 reference size, scaled linearly with min(H, W).
# Brush random walk (docs/model.md, official code): stroke length <= 32, width <= 50.
BRUSH_MAX_LENGTH = 32
BRUSH_WIDTH = (10, 50)
# Discontiguous shapes (lines, circles, ellipse arcs, as in the official code).
LINE_LENGTH = (16, 96)
LINE_WIDTH = (4, 16)
DISC_RADIUS = (4, 20)
ARC_SEMI_AXIS = (8, 48)
ARC_THICKNESS = (4, 12)
# Angular resolution of random directions: integer vectors of this length.
DIRECTION_RADIUS = 64

# A piece that overshoots the range or touches an earlier shape is redrawn; after
# this many redraws in a row the mask is restarted (with the same generator).
MAX_REDRAWS = 200
MAX_RESTARTS = 50
# A discontiguous shape touching an earlier hole is redrawn up to this many times in a
# row, then accepted: a trade between separate holes and speed at large ratios.
SEPARATION_TRIES = 5

STRUCTURE_4 = ndimage.generate_binary_structure(2, 1)
STRUCTURE_8 = ndimage.generate_binary_structure(2, 2)

Bin = tuple[int, int]


@dataclass(frozen=True)
class Piece:
    """A rasterised stroke or shape: ``patch`` (bool) placed with its top-left at (top, left)."""

    top: int
    left: int
    patch: np.ndarray

    def window(self, canvas: np.ndarray, margin: int = 0) -> np.ndarray:
        """The view of ``canvas`` under the patch, grown by ``margin`` and clipped."""
        height, width = self.patch.shape
        return canvas[
            max(self.top - margin, 0) : self.top + height + margin,
            max(self.left - margin, 0) : self.left + width + margin,
        ]


# --------------------------------------------------------------------------- bins


def bin_label(hole_bin: Bin) -> str:
    """``(10, 20)`` -> ``"10-20%"``."""
    return f"{hole_bin[0]}-{hole_bin[1]}%"


def parse_bin(value, name: str = "bin") -> Bin:
    """A bin from ``[lo, hi]`` or ``"lo-hi%"``: integer percents with 0 <= lo < hi <= 100."""
    try:
        if isinstance(value, str):
            lo, hi = value.rstrip("%").split("-")
        else:
            lo, hi = value
        lo, hi = int(lo), int(hi)
    except (TypeError, ValueError):
        raise RwganError(f"{name}: expected a bin as [lo, hi] or 'lo-hi%' in percent, got {value!r}") from None
    if not 0 <= lo < hi <= 100:
        raise RwganError(f"{name}: expected 0 <= lo < hi <= 100 percent, got {value!r}")
    return lo, hi


def in_bin(holes: int, total: int, hole_bin: Bin) -> bool:
    """Whether ``holes / total`` lies in ``(lo, hi]`` percent (exact integer comparison)."""
    lo, hi = hole_bin
    return lo * total < 100 * holes <= hi * total


def _bin_counts(hole_bin: Bin, total: int) -> tuple[int, int]:
    """The smallest and largest hole pixel counts inside ``hole_bin`` for ``total`` pixels."""
    lo, hi = hole_bin
    smallest, largest = lo * total // 100 + 1, hi * total // 100
    if smallest > largest:
        raise RwganError(f"bin {bin_label(hole_bin)}: holds no pixel count for an image of {total} pixels")
    return smallest, largest


def count_components(hole: np.ndarray, connectivity: int = 8) -> int:
    """Number of connected hole components (8- or 4-connectivity)."""
    structure = STRUCTURE_8 if connectivity == 8 else STRUCTURE_4
    return int(ndimage.label(hole, structure=structure)[1])


# ----------------------------------------------------------------- rasterisation


def _size(size, minimum: int = 16) -> tuple[int, int]:
    """(H, W) from an int or a pair; irregular masks need at least 16x16 pixels."""
    height, width = (size, size) if isinstance(size, (int, np.integer)) else size
    if height < minimum or width < minimum:
        raise RwganError(f"mask size: expected at least {minimum}x{minimum} pixels, got {width}x{height}")
    return int(height), int(width)


def _scaled(value: int, shape: tuple[int, int]) -> int:
    """``value`` pixels at 256 scaled to min(H, W), rounded, at least 1 (integer arithmetic)."""
    return max(1, (value * min(shape) + 128) // 256)


def _uniform(rng: np.random.Generator, bounds: tuple[int, int], shape: tuple[int, int]) -> int:
    lo, hi = _scaled(bounds[0], shape), _scaled(bounds[1], shape)
    return int(rng.integers(lo, hi + 1))


@functools.lru_cache(maxsize=None)
def _ring(radius: int) -> np.ndarray:
    """Integer offsets (dy, dx) whose length rounds to ``radius``: ``(2r-1)^2 < 4|d|^2 <= (2r+1)^2``."""
    axis = np.arange(-radius - 1, radius + 2)
    dy, dx = np.meshgrid(axis, axis, indexing="ij")
    four_d2 = 4 * (dy * dy + dx * dx)
    keep = ((2 * radius - 1) ** 2 < four_d2) & (four_d2 <= (2 * radius + 1) ** 2)
    return np.stack([dy[keep], dx[keep]], axis=1)


def _direction(rng: np.random.Generator, radius: int = DIRECTION_RADIUS) -> tuple[int, int]:
    """A random integer vector of length ~``radius`` with a near-uniform angle."""
    ring = _ring(radius)
    dy, dx = ring[rng.integers(len(ring))]
    return int(dy), int(dx)


def _grid(top: int, left: int, bottom: int, right: int) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(top, bottom, dtype=np.int64)[:, None], np.arange(left, right, dtype=np.int64)[None, :]


def capsule(start: tuple[int, int], end: tuple[int, int], width: int, shape: tuple[int, int]) -> Piece:
    """Pixels within ``width / 2`` of the segment ``start``-``end`` (points as (row, col)).

    A round-brush stroke; ``start == end`` gives a disc of diameter ``width``.
    Integer-exact: ``4 * distance^2 <= width^2`` tested on pixel centres.
    """
    (y0, x0), (y1, x1) = start, end
    reach = (width + 1) // 2
    top, left = max(min(y0, y1) - reach, 0), max(min(x0, x1) - reach, 0)
    bottom, right = min(max(y0, y1) + reach + 1, shape[0]), min(max(x0, x1) + reach + 1, shape[1])
    ys, xs = _grid(top, left, bottom, right)
    py, px = ys - y0, xs - x0
    w2 = width * width
    inside = 4 * (py * py) + 4 * (px * px) <= w2  # the disc around start (squares on the 1-D axes)
    dy, dx = y1 - y0, x1 - x0
    length2 = dy * dy + dx * dx
    if length2:
        qy, qx = ys - y1, xs - x1
        inside |= 4 * (qy * qy) + 4 * (qx * qx) <= w2  # the disc around end
        along = py * dy + px * dx  # projection on the segment, times its length
        across = px * dy - py * dx  # distance from the segment's line, times its length
        inside |= (along >= 0) & (along <= length2) & (4 * across * across <= w2 * length2)
    return Piece(top, left, inside)


def elliptic_arc(
    centre: tuple[int, int],
    semi_axes: tuple[int, int],
    axis: tuple[int, int],
    thickness: int,
    span: tuple[tuple[int, int], tuple[int, int]],
    shape: tuple[int, int],
) -> Piece:
    """A thick arc of an ellipse: the ring between the ellipse and one ``thickness`` smaller,
    inside the angular sector from direction ``span[0]`` counter-clockwise to ``span[1]``.

    ``axis`` (dy, dx) is the integer direction of the first semi-axis; all vectors
    are integer and every test is an integer inequality.
    """
    (cy, cx), (a, b), (uy, ux) = centre, semi_axes, axis
    norm2 = uy * uy + ux * ux
    # Half extents of the rotated ellipse, rounded up: sqrt((a^2 u_x^2 + b^2 u_y^2) / |u|^2) for x.
    reach_x = math.isqrt((a * a * ux * ux + b * b * uy * uy) // norm2) + 1
    reach_y = math.isqrt((a * a * uy * uy + b * b * ux * ux) // norm2) + 1
    top, left = max(cy - reach_y, 0), max(cx - reach_x, 0)
    bottom, right = min(cy + reach_y + 1, shape[0]), min(cx + reach_x + 1, shape[1])
    ys, xs = _grid(top, left, bottom, right)
    py, px = ys - cy, xs - cx
    along = py * uy + px * ux
    across = px * uy - py * ux
    along2, across2 = along * along, across * across

    def within(p: int, q: int) -> np.ndarray:
        # (along/|u|)^2 / p^2 + (across/|u|)^2 / q^2 <= 1, multiplied out.
        return along2 * (q * q) + across2 * (p * p) <= norm2 * (p * p) * (q * q)

    inside = within(a, b)
    if min(a, b) > thickness:
        inside &= ~within(a - thickness, b - thickness)
    (sy, sx), (ey, ex) = span
    inside &= (sx * py - sy * px >= 0) & (px * ey - py * ex >= 0)
    return Piece(top, left, inside)


def _grown(piece: Piece, shape: tuple[int, int]) -> Piece:
    """``piece`` grown by one pixel in all 8 directions (3x3 dilation), clipped to ``shape``."""
    height, width = piece.patch.shape
    padded = np.zeros((height + 4, width + 4), dtype=bool)
    padded[2:-2, 2:-2] = piece.patch
    rows = padded[:, :-2] | padded[:, 1:-1] | padded[:, 2:]
    grown = rows[:-2] | rows[1:-1] | rows[2:]  # its (0, 0) is one pixel above-left of the patch's
    top, left = piece.top - 1, piece.left - 1
    y0, x0 = max(-top, 0), max(-left, 0)
    y1, x1 = min(grown.shape[0], shape[0] - top), min(grown.shape[1], shape[1] - left)
    return Piece(top + y0, left + x0, grown[y0:y1, x0:x1])


# -------------------------------------------------------------------- generators


def _random_point(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[int, int]:
    return int(rng.integers(shape[0])), int(rng.integers(shape[1]))


class _BrushWalk:
    """Strokes of one random walk; each starts where the previous one ended (clamped to the image)."""

    def __init__(self, rng: np.random.Generator, shape: tuple[int, int]):
        self.rng, self.shape = rng, shape
        self.vertex = _random_point(rng, shape)
        self.next_vertex = self.vertex

    def propose(self, avoid: np.ndarray | None) -> Piece:
        """The next stroke (``avoid`` is ignored: a walk may cross itself)."""
        length = int(self.rng.integers(1, _scaled(BRUSH_MAX_LENGTH, self.shape) + 1))
        dy, dx = _direction(self.rng, length)
        y = min(max(self.vertex[0] + dy, 0), self.shape[0] - 1)
        x = min(max(self.vertex[1] + dx, 0), self.shape[1] - 1)
        self.next_vertex = (y, x)
        return capsule(self.vertex, self.next_vertex, _uniform(self.rng, BRUSH_WIDTH, self.shape), self.shape)

    def accept(self) -> None:
        self.vertex = self.next_vertex


class _Shapes:
    """Lines, discs and elliptic arcs at random places, sizes and orientations."""

    def __init__(self, rng: np.random.Generator, shape: tuple[int, int]):
        self.rng, self.shape = rng, shape

    def propose(self, avoid: np.ndarray | None) -> Piece | None:
        """A random shape, or None when its centre falls on ``avoid`` (a cheap early rejection)."""
        rng, shape = self.rng, self.shape
        kind = rng.integers(3)
        centre = _random_point(rng, shape)
        if avoid is not None and avoid[centre]:
            return None
        if kind == 0:  # line
            dy, dx = _direction(rng, max(1, _uniform(rng, LINE_LENGTH, shape) // 2))
            start, end = (centre[0] - dy, centre[1] - dx), (centre[0] + dy, centre[1] + dx)
            return capsule(start, end, _uniform(rng, LINE_WIDTH, shape), shape)
        if kind == 1:  # disc
            return capsule(centre, centre, 2 * _uniform(rng, DISC_RADIUS, shape), shape)
        semi_axes = (_uniform(rng, ARC_SEMI_AXIS, shape), _uniform(rng, ARC_SEMI_AXIS, shape))
        first, second = _direction(rng), _direction(rng)
        if first[1] * second[0] - first[0] * second[1] < 0:  # make the sector counter-clockwise
            first, second = second, first
        thickness = _uniform(rng, ARC_THICKNESS, shape)
        return elliptic_arc(centre, semi_axes, _direction(rng), thickness, (first, second), shape)

    def accept(self) -> None:
        pass


def _grow(rng: np.random.Generator, shape: tuple[int, int], kind: str, hole_bin: Bin) -> np.ndarray:
    """Add pieces until the hole area reaches a target drawn uniformly inside ``hole_bin``.

    A piece that would overshoot the bin is redrawn.  Discontiguous shapes are
    also redrawn while they touch an earlier hole, up to :data:`SEPARATION_TRIES`
    times in a row; then the touching shape is accepted (at large ratios there is
    no room left to keep every shape apart).  The result is checked: contiguous
    masks are one 4-connected hole, discontiguous ones at least two 8-connected holes.
    """
    total = shape[0] * shape[1]
    smallest, largest = _bin_counts(hole_bin, total)
    separate = kind == "discontiguous"
    for _ in range(MAX_RESTARTS):
        canvas = np.zeros(shape, dtype=bool)
        near = np.zeros(shape, dtype=bool)  # the holes grown by one pixel (8-neighbourhood)
        target = int(rng.integers(smallest, largest + 1))
        source = _BrushWalk(rng, shape) if kind == "contiguous" else _Shapes(rng, shape)
        holes, pieces, redraws = 0, 0, 0
        # Discontiguous masks need at least two shapes; both types stop at the target.
        while (holes < target or (separate and pieces < 2)) and redraws < MAX_REDRAWS:
            keep_apart = separate and redraws < SEPARATION_TRIES
            piece = source.propose(near if keep_apart else None)
            if piece is None or (keep_apart and (piece.window(near) & piece.patch).any()):
                redraws += 1
                continue
            window = piece.window(canvas)
            added = int(np.count_nonzero(piece.patch & ~window))
            if holes + added > largest or (added == 0 and separate):  # a walk may retrace its path
                redraws += 1
                continue
            window |= piece.patch
            if separate:
                halo = _grown(piece, shape)
                halo.window(near)[...] |= halo.patch
            source.accept()
            holes, pieces, redraws = holes + added, pieces + 1, 0
        if smallest <= holes <= largest and _has_type(canvas, kind):
            return canvas
    raise RwganError(
        f"{kind} mask {shape[1]}x{shape[0]}: could not reach bin {bin_label(hole_bin)} "
        f"in {MAX_RESTARTS} attempts (expected a bin the generator can fill)"
    )


def _has_type(hole: np.ndarray, kind: str) -> bool:
    if kind == "contiguous":
        return count_components(hole, connectivity=4) == 1
    return count_components(hole, connectivity=8) >= 2


def brush_stroke_mask(rng: np.random.Generator, size, hole_bin: Bin = (0, 40)) -> np.ndarray:
    """Contiguous mask: ONE 4-connected hole from a brush random walk, ratio in ``hole_bin``.

    ``size``: int or (H, W).  Returns bool (H, W), True = hole.
    """
    return _grow(rng, _size(size), "contiguous", parse_bin(hole_bin))


def shapes_mask(rng: np.random.Generator, size, hole_bin: Bin = (0, 40)) -> np.ndarray:
    """Discontiguous mask: >= 2 separate holes (lines, discs, ellipse arcs), ratio in ``hole_bin``.

    ``size``: int or (H, W).  Returns bool (H, W), True = hole.
    """
    return _grow(rng, _size(size), "discontiguous", parse_bin(hole_bin))


GENERATORS: dict[str, Callable[..., np.ndarray]] = {
    "contiguous": brush_stroke_mask,
    "discontiguous": shapes_mask,
}


def random_training_mask(
    rng: np.random.Generator, size, kind: str = "mixed", max_ratio: float = 0.4
) -> np.ndarray:
    """Training-time mask (paper Sec. IV: irregular, 0-40% hole): bool (H, W), True = hole.

    ``kind``: ``"contiguous"``, ``"discontiguous"`` or ``"mixed"`` (each with
    probability 1/2).  The hole ratio is uniform in (0, ``max_ratio``] (to whole
    pixels; ``max_ratio`` is rounded to whole percent).
    """
    if kind == "mixed":
        kind = KINDS[int(rng.integers(2))]
    if kind not in GENERATORS:
        raise RwganError(f"mask kind: expected 'contiguous', 'discontiguous' or 'mixed', got {kind!r}")
    percent = round(100 * float(max_ratio))
    if not 1 <= percent <= 100:
        raise RwganError(f"max_ratio: expected a hole ratio in (0, 1], got {max_ratio!r}")
    return GENERATORS[kind](rng, size, (0, percent))


def mask_rng(seed: int, stream: str, hole_bin: Bin, index: int) -> np.random.Generator:
    """The generator of test mask ``index`` of (``stream``, ``hole_bin``), independent of every other mask.

    ``stream``: a mask kind or ``"regular"``; seeded from (seed, stream, bin, index) alone.
    """
    if stream not in STREAMS:
        raise RwganError(f"mask stream: expected one of {', '.join(STREAMS)}, got {stream!r}")
    key = [int(seed), STREAMS.index(stream), hole_bin[0], hole_bin[1], int(index)]
    return np.random.default_rng(np.random.SeedSequence(key))


def generate_binned(kind: str, hole_bin, n: int, seed: int, size, start: int = 0) -> list[np.ndarray]:
    """Test masks ``start .. start + n - 1`` of (``kind``, ``hole_bin``) for ``seed``.

    Each mask is seeded from (seed, kind, bin, index) alone, so any subset can be
    generated independently (in parallel) with identical results.
    """
    hole_bin = parse_bin(hole_bin)
    return [GENERATORS[kind](mask_rng(seed, kind, hole_bin, i), size, hole_bin) for i in range(start, start + n)]


def _regular_shape(size, hole_size: int) -> tuple[int, int]:
    shape = _size(size, minimum=1)
    if not 1 <= hole_size <= min(shape):
        raise RwganError(f"hole_size: expected 1..{min(shape)} pixels, got {hole_size}")
    return shape


def regular_mask(size, hole_size: int, position: tuple[int, int] | None = None) -> np.ndarray:
    """One square hole of side ``hole_size`` (Fig. 9): top-left at ``position`` (row, col), or centred."""
    shape = _regular_shape(size, hole_size)
    if position is None:
        position = ((shape[0] - hole_size) // 2, (shape[1] - hole_size) // 2)
    top, left = position
    if not (0 <= top <= shape[0] - hole_size and 0 <= left <= shape[1] - hole_size):
        raise RwganError(f"position: square hole of {hole_size} px at {position} does not fit a {shape} mask")
    hole = np.zeros(shape, dtype=bool)
    hole[top : top + hole_size, left : left + hole_size] = True
    return hole


def random_regular_mask(rng: np.random.Generator, size, hole_size: int) -> np.ndarray:
    """A square hole of side ``hole_size`` at a uniformly random position that fits the image (Fig. 9)."""
    shape = _regular_shape(size, hole_size)
    top = int(rng.integers(shape[0] - hole_size + 1))
    left = int(rng.integers(shape[1] - hole_size + 1))
    return regular_mask(shape, hole_size, (top, left))


# -------------------------------------------------------------------- mask sets

MANIFEST_COLUMNS = ("file", "type", "bin", "hole_pixels", "hole_ratio", "components", "sha256")


def read_mask_manifest(set_dir: str | Path) -> list[dict]:
    """Rows of ``<set_dir>/manifest.csv`` (see :data:`MANIFEST_COLUMNS`), ``file`` relative to ``set_dir``."""
    path = Path(set_dir) / "manifest.csv"
    if not path.is_file():
        raise RwganError(f"{path}: mask manifest not found (run `python -m pipeline.masks` first)")
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or tuple(rows[0]) != MANIFEST_COLUMNS:
        raise RwganError(f"{path}: expected a mask manifest with columns {', '.join(MANIFEST_COLUMNS)}")
    return rows


def mask_bins(set_dir: str | Path) -> dict[str, list[Path]]:
    """The mask files of a set (paths under ``set_dir``), grouped by bin label, in manifest order."""
    set_dir = Path(set_dir)
    bins: dict[str, list[Path]] = {}
    for row in read_mask_manifest(set_dir):
        bins.setdefault(row["bin"], []).append(set_dir / row["file"])
    return bins
