"""Evaluate any method on the paper's protocol: export the fixed test sets, score its results.

A researcher runs three steps (README "Evaluate your own method"):

1. :func:`export_testset` (``rwgan export-testset``) writes every (image, mask) pair of
   the chosen mask sets, paired exactly as rwgan pairs them for its own evaluation
   (:func:`rwgan.evaluation.evaluation_pairs`), as plain files;
2. their method, in any framework, writes one ``<pair id>.png`` per pair into a folder;
3. :func:`score_outputs` (``rwgan score``) checks that folder and scores it with the code
   that scores rwgan's own composites (:func:`rwgan.evaluation.score_composites` and
   :func:`rwgan.evaluation.summarize`), under both metric protocols
   (:data:`rwgan.metrics.PROTOCOLS`).  :func:`score_callable` does steps 2-3 for an
   in-process :data:`rwgan.evaluation.Inpaint`.

**Export layout** (``<export>/``; every PNG 8-bit, all of the test images' size):

- ``image/<pair id>.png``: the test image, whole (for methods that take an image and a
  mask and blank the hole themselves; its hole pixels ARE the ground truth);
- ``mask/<pair id>.png``: the mask, white (255) = hole, byte-identical to the mask set's file;
- ``masked/<pair id>.png``: the test image with the hole painted white (255, 255, 255);
- ``truth/<test image file>``: the ground truth, byte-identical to the prepared test
  image, one file per test image (pairs share it; the manifest says which);
- ``manifest.csv`` (:data:`EXPORT_COLUMNS`): per pair, in scoring order, its id, set, bin,
  source mask (relative to the masks folder), hole pixels, exact hole ratio, and each
  file's path (relative to the export) and sha256;
- ``export.json``: dataset name, image size (H, W), sets, number of pairs.

A pair id is ``<set>-<bin without %>-<mask stem>``, e.g. ``contiguous-10-20-00042``.

**Scores** (``<out>/``): ``per_image.csv`` (:data:`SCORE_PER_IMAGE_COLUMNS`: protocol,
pair, then the rest of :data:`rwgan.evaluation.PER_IMAGE_COLUMNS`), ``summary.csv``
(:data:`SCORE_SUMMARY_COLUMNS`, the evaluate stage's: with the bootstrap 95% interval of
every per-image mean and whether the number is reliable, see :mod:`rwgan.uncertainty`) and
``score.json`` (inputs, and whether outputs were composited).  LPIPS, FID and KID are
computed on RGB and do not depend on the protocol: their rows carry protocol ``rwgan``.  Every file is written atomically, after every check
passed, so an error leaves earlier scores as they were.
"""
from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from rwgan import io
from rwgan.errors import RwganError
from rwgan.evaluation import (
    METRICS,
    PER_IMAGE_COLUMNS,
    SUMMARY_COLUMNS,
    Inpaint,
    Pair,
    composite_path,
    evaluation_pairs,
    generate_composites,
    score_composites,
    summarize,
)
from rwgan.uncertainty import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED

FILES = ("image", "mask", "masked", "truth")
EXPORT_COLUMNS = ("pair", "set", "bin", "source_mask", "hole_pixels", "hole_ratio") + tuple(
    column for name in FILES for column in (name, f"{name}_sha256")
)
MASKED_FILL = 255  # the hole's colour in masked/ (white, as the masks)
SCORE_PER_IMAGE_COLUMNS = ("protocol", "pair") + PER_IMAGE_COLUMNS[1:]
SCORE_SUMMARY_COLUMNS = SUMMARY_COLUMNS
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]+")


def pair_id(pair: Pair) -> str:
    """``<set>-<bin without %>-<mask stem>``: the name of a pair's files in an export."""
    return f"{pair.set}-{pair.bin.replace('%', '')}-{pair.mask.stem}"


# ----------------------------------------------------------------------------- export


def export_testset(
    masks_root: str | os.PathLike,
    images_dir: str | os.PathLike,
    sets: Sequence[str],
    out: str | os.PathLike,
    dataset: str,
    progress: bool = True,
) -> int:
    """Write every pair of ``sets`` (folders of ``masks_root`` with their manifest.csv)
    and the test images of ``images_dir`` into ``out`` (a new or empty folder) in the
    layout of the module docstring; returns the number of pairs.

    The pairs are :func:`rwgan.evaluation.evaluation_pairs` of those masks and images,
    in its order.  Every image and mask must have the first test image's size (else
    :class:`RwganError` naming the file).  Each file is written atomically and the
    manifest last, so an interrupted export has no manifest and cannot be scored.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RwganError(f"{out}: expected a new or empty folder to export into (delete it to export again)")
    images = io.list_images(images_dir)
    if not images:
        raise RwganError(f"{images_dir}: no test images (expected the prepared test split)")
    if not sets:
        raise RwganError("sets: expected at least one mask set to export, got none")
    size = io.read_image(images[0]).shape[:2]
    pairs = evaluation_pairs(masks_root, sets, images)
    ids = [pair_id(pair) for pair in pairs]
    for pair, name in zip(pairs, ids):
        if not _SAFE_ID.fullmatch(name):
            raise RwganError(f"{pair.mask}: pair id {name!r} has characters other than letters, digits, '.', '_', '-'")
    if len(set(ids)) != len(ids):
        duplicate = next(name for name in ids if ids.count(name) > 1)
        raise RwganError(f"{masks_root}: two pairs share the id {duplicate!r} (expected set, bin and mask stem to name one pair)")
    rows, truths = [], {}
    for pair, name in tqdm(list(zip(pairs, ids)), desc="export", unit="pair", disable=not progress):
        image = io.read_image(pair.image, size)
        hole = io.read_mask(pair.mask, size, allow_full=True)
        masked = image.copy()
        masked[hole] = MASKED_FILL
        files = {kind: Path(kind) / f"{name}.png" for kind in ("image", "mask", "masked")}
        files["truth"] = Path("truth") / pair.image.name
        io.save_png(out / files["image"], image)
        io.write_bytes(out / files["mask"], pair.mask.read_bytes())
        io.save_png(out / files["masked"], masked)
        if pair.image.name not in truths:
            io.write_bytes(out / files["truth"], pair.image.read_bytes())
            truths[pair.image.name] = io.sha256_file(out / files["truth"])
        holes = int(np.count_nonzero(hole))
        row = {"pair": name, "set": pair.set, "bin": pair.bin,
               "source_mask": pair.mask.relative_to(masks_root).as_posix(),
               "hole_pixels": holes, "hole_ratio": repr(holes / hole.size)}
        for key, path in files.items():
            row[key] = path.as_posix()
            row[f"{key}_sha256"] = truths[pair.image.name] if key == "truth" else io.sha256_file(out / path)
        rows.append(row)
    io.write_json(out / "export.json", {"dataset": dataset, "image_size": list(size), "sets": list(sets), "pairs": len(rows)})
    frame = pd.DataFrame(rows, columns=list(EXPORT_COLUMNS))
    io.write_text(out / "manifest.csv", frame.to_csv(index=False, lineterminator="\n"))
    return len(rows)


def read_export(export_dir: str | os.PathLike) -> tuple[dict, list[dict], list[Pair]]:
    """(export.json, manifest rows, scoring pairs) of an export; the pairs read the
    export's ``mask/`` and ``truth/`` files, whose sha256 must match the manifest."""
    export_dir = Path(export_dir)
    manifest, info_path = export_dir / "manifest.csv", export_dir / "export.json"
    for path in (manifest, info_path):
        if not path.is_file():
            raise RwganError(f"{path}: not found (expected an export of `rwgan export-testset`, finished)")
    info = json.loads(info_path.read_text())
    with open(manifest, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or tuple(rows[0]) != EXPORT_COLUMNS:
        raise RwganError(f"{manifest}: expected an export manifest with columns {', '.join(EXPORT_COLUMNS)}")
    checked: set[str] = set()
    for row in rows:
        for key in ("mask", "truth"):
            if row[key] not in checked and io.sha256_file(_existing(export_dir / row[key])) != row[f"{key}_sha256"]:
                raise RwganError(f"{export_dir / row[key]}: sha256 differs from {manifest} (the export was changed; export again)")
            checked.add(row[key])
    pairs = [Pair(row["set"], row["bin"], export_dir / row["mask"], export_dir / row["truth"]) for row in rows]
    return info, rows, pairs


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise RwganError(f"{path}: file of the export not found (expected as manifest.csv lists it)")
    return path


# ----------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Scoring:
    """How to score: ``metrics`` (some of :data:`rwgan.evaluation.METRICS`), ``batch_size``,
    ``kid_subset_size`` and ``device`` as :func:`rwgan.evaluation.score_composites` takes
    them; the bootstrap's ``resamples`` and ``seed`` (:func:`rwgan.uncertainty.bootstrap_interval`);
    ``progress`` bars."""

    metrics: Sequence[str] = METRICS
    batch_size: int = 16
    kid_subset_size: int | None = None
    device: str | torch.device = "cpu"
    resamples: int = BOOTSTRAP_RESAMPLES
    seed: int = BOOTSTRAP_SEED
    progress: bool = True


def score_outputs(
    export_dir: str | os.PathLike,
    outputs_dir: str | os.PathLike,
    out: str | os.PathLike,
    method: str | None = None,
    composite: bool = False,
    scoring: Scoring = Scoring(),
) -> pd.DataFrame:
    """Check and score a method's ``<pair id>.png`` outputs of an export; returns the summary.

    ``outputs_dir`` must hold exactly one PNG per pair of the export's manifest (files
    starting with "." are ignored), each of the export's size, whose known pixels (black
    in the mask) equal the input image's; or, with ``composite``, any pixels there: the
    known pixels are pasted back from the ground truth (``I_g * M + I_p * (1 - M)``) and the
    composites saved under ``<out>/composites/`` before scoring.  The first problem raises
    :class:`RwganError` naming the file and its pair, before anything is written.  Scores go
    to ``<out>`` as the module docstring says; ``method`` (default: the folder's name)
    names them in summary.csv.
    """
    info, rows, pairs = read_export(export_dir)
    outputs_dir, out = Path(outputs_dir), Path(out)
    outputs = checked_outputs(outputs_dir, pairs, [row["pair"] for row in rows], tuple(info["image_size"]),
                              composite, f"{Path(export_dir) / 'manifest.csv'}", scoring.progress)
    if composite:
        save_composites(pairs, outputs, out / "composites", tuple(info["image_size"]))
        locate = None
    else:
        locate = dict(zip(pairs, outputs)).__getitem__
    method = method or outputs_dir.name
    provenance = {"export": str(export_dir), "outputs": str(outputs_dir), "composited": composite, "method": method}
    return _score(pairs, out, info, method, provenance, locate, scoring)


def checked_outputs(outputs_dir: str | os.PathLike, pairs: Sequence[Pair], ids: Sequence[str],
                    size: tuple[int, int], composite: bool, source: str, progress: bool = True,
                    optional_ids: Sequence[str] = ()) -> list[Path]:
    """The output ``<id>.png`` of each of ``pairs`` (``ids``: their pair ids) in ``outputs_dir``,
    in order, after checking that the folder holds exactly those (files starting with "." are
    ignored; the outputs of ``optional_ids``, other pairs of the same export, may be there too and
    are neither required nor read), each (H, W) = ``size``, and, unless ``composite``, with the known
    pixels (black in the pair's mask) of the pair's image.  The first problem raises :class:`RwganError` naming
    the file and its pair; ``source`` names where the pairs come from (an export's manifest).
    """
    outputs_dir = Path(outputs_dir)
    if not outputs_dir.is_dir():
        raise RwganError(f"{outputs_dir}: outputs folder not found (expected one <pair id>.png per pair of {source})")
    expected = {f"{name}.png": name for name in ids}
    present = sorted(path.name for path in outputs_dir.iterdir() if not path.name.startswith("."))
    missing = [name for name in expected if name not in present]
    if missing:
        raise RwganError(
            f"{outputs_dir / missing[0]}: output of pair {expected[missing[0]]} not found "
            f"({len(missing)} of {len(expected)} pairs missing)"
        )
    allowed = expected.keys() | {f"{name}.png" for name in optional_ids}
    extra = [name for name in present if name not in allowed]
    if extra:
        raise RwganError(
            f"{outputs_dir / extra[0]}: not an output of any pair of {source} "
            f"({len(extra)} extra files; expected only <pair id>.png)"
        )
    outputs = [outputs_dir / f"{name}.png" for name in ids]
    for path, pair, name in tqdm(list(zip(outputs, pairs, ids)), desc="check", unit="image", disable=not progress):
        output = io.read_image(path)
        if output.shape[:2] != tuple(size):
            raise RwganError(
                f"{path}: pair {name}: output is {output.shape[1]}x{output.shape[0]} "
                f"(expected {size[1]}x{size[0]}, the test images' size)"
            )
        if not composite:
            hole = io.read_mask(pair.mask, size, allow_full=True)
            changed = int(np.count_nonzero((output != io.read_image(pair.image, size)).any(axis=-1) & ~hole))
            if changed:
                raise RwganError(
                    f"{path}: pair {name}: {changed} known pixels differ from the input "
                    "(expected them untouched; or score with --composite to paste them back)"
                )
    return outputs


def save_composites(pairs: Sequence[Pair], outputs: Sequence[Path], composites_dir: str | os.PathLike,
                    size: tuple[int, int]) -> None:
    """Save each output's hole over its pair's known pixels (``I_g * M + I_p * (1 - M)``) as
    the pair's :func:`rwgan.evaluation.composite_path` under ``composites_dir``."""
    for path, pair in zip(outputs, pairs):
        hole = io.read_mask(pair.mask, size, allow_full=True)
        filled = np.where(hole[..., None], io.read_image(path), io.read_image(pair.image, size))
        io.save_png(composite_path(composites_dir, pair), filled)


def score_callable(
    inpaint: Inpaint, export_dir: str | os.PathLike, out: str | os.PathLike, method: str = "method",
    scoring: Scoring = Scoring(),
) -> pd.DataFrame:
    """Run an in-process ``inpaint`` (:data:`rwgan.evaluation.Inpaint`: uint8 images
    (N, H, W, 3) and bool holes (N, H, W), True = hole -> uint8 composites) on every pair
    of an export and score it like :func:`score_outputs`; returns the summary.

    Inputs are the export's ground truth and masks; the composites are checked and saved by
    :func:`rwgan.evaluation.generate_composites` under ``<out>/composites/``.
    """
    info, _, pairs = read_export(export_dir)
    generate_composites(inpaint, pairs, Path(out) / "composites", tuple(info["image_size"]), scoring.batch_size,
                        method, progress=scoring.progress)
    provenance = {"export": str(export_dir), "outputs": None, "composited": False, "method": method}
    return _score(pairs, Path(out), info, method, provenance, None, scoring)


def _score(pairs: list[Pair], out: Path, info: dict, method: str, provenance: dict,
           locate: Callable[[Pair], Path] | None, scoring: Scoring) -> pd.DataFrame:
    """Both protocols' per-image scores and summary, with intervals; writes them to ``out``."""
    per_image, per_bin = score_composites(
        pairs, out / "composites", tuple(info["image_size"]), scoring.metrics, scoring.batch_size,
        scoring.kid_subset_size, scoring.device, scoring.progress, locate=locate,
    )
    summary = summarize(per_image, per_bin, info["dataset"], method, scoring.resamples, scoring.seed)
    per_image.insert(1, "pair", [Path(name).stem for name in per_image["mask"]])  # mask/<pair id>.png
    io.write_text(out / "per_image.csv", per_image.to_csv(index=False, lineterminator="\n"))
    io.write_text(out / "summary.csv", summary.to_csv(index=False, lineterminator="\n"))
    io.write_json(out / "score.json", {**provenance, "dataset": info["dataset"], "pairs": len(pairs),
                                       "bootstrap": {"resamples": scoring.resamples, "seed": scoring.seed}})
    return summary
