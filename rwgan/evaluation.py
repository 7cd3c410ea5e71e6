"""Scoring an inpainting method on fixed mask sets (paper Sec. IV; Tables I-IV, Figs. 9-10).

Every method is scored on the same mask files and the same test images.

**Pairing rule** (:func:`paired_images`): within each bin of a mask set, the
masks sorted by file name are numbered k = 0, 1, ...; mask k goes with test image
``k mod n`` of the n test images sorted by file name.  The paper tests 2,000 CelebA-HQ
images with 2,000 masks per bin, so every test image meets exactly one mask per bin.

An evaluation runs in four steps, each usable on its own:

1. :func:`generate_composites` runs the method on every (image, mask) pair and saves the
   final composite ``I_c = I_g * M + I_p * (1 - M)`` as a uint8 PNG under
   ``composites/<set>/<bin>/<mask stem>.png`` (:func:`composite_path`);
2. :func:`score_composites` reads those PNGs back and scores them against the ground
   truth: per image l1, l2, PSNR, SSIM, LPIPS under every metric protocol
   (:data:`rwgan.metrics.PROTOCOLS`: rwgan's and the paper's, EdgeConnect's), each row
   naming its protocol; per bin FID and KID (Inception pool3 over the bin's composites
   against the bin's ground-truth images).  Scores can thus be recomputed from the saved
   files without the models;
3. :func:`summarize` turns both into the long-form table the report stage reads
   (:data:`SUMMARY_COLUMNS`): per bin each per-image mean with its number of images and
   seeded bootstrap 95% interval, FID and KID with their reliability flag
   (:mod:`rwgan.uncertainty`); a metric that was not computed has no row, never a 0;
4. :func:`time_inference` measures Table IV's test time per image.

Mask convention: masks are read with :func:`rwgan.io.read_mask` (bool, ``True`` = hole;
all-hole masks are accepted, for the 90-100% bin of Fig. 10's sweep).  A method is any
callable :data:`Inpaint`.  This module knows nothing of params.yaml.
"""
from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from rwgan import io
from rwgan.classical import inpaint_classical
from rwgan.errors import RwganError
from rwgan.masks import mask_bins
from rwgan.metrics import (
    KID_SUBSETS,
    LPIPS,
    METRIC_TABLE,
    PROTOCOLS,
    fid_kid_from_features,
    inception_features,
    protocol_metrics,
)
from rwgan.uncertainty import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, bootstrap_interval, reliable

#: A method: uint8 images (N, H, W, 3) and bool holes (N, H, W), True = hole ->
#: uint8 composites (N, H, W, 3) whose known pixels equal the input's.
Inpaint = Callable[[np.ndarray, np.ndarray], np.ndarray]

#: Metrics :func:`score_composites` can compute (:data:`rwgan.metrics.METRIC_TABLE`): per image, then per bin.
PER_IMAGE_METRICS = tuple(name for name, metric in METRIC_TABLE.items() if metric.per == "image")
PER_BIN_METRICS = tuple(name for name, metric in METRIC_TABLE.items() if metric.per == "bin")
METRICS = PER_IMAGE_METRICS + PER_BIN_METRICS

PER_IMAGE_COLUMNS = ("protocol", "set", "bin", "mask", "image") + PER_IMAGE_METRICS
PER_BIN_COLUMNS = ("set", "bin") + PER_BIN_METRICS + ("n",)
SUMMARY_COLUMNS = (
    "protocol", "dataset", "method", "mask_type", "bin", "metric", "value", "n", "ci95_low", "ci95_high", "reliable"
)
KID_SEED = 0  # KID's random subsets are drawn from this seed, so scores are reproducible


@dataclass(frozen=True)
class Pair:
    """One scored item: a mask of a set's bin and the test image it is paired with."""

    set: str
    bin: str
    mask: Path
    image: Path


def paired_images(masks: Sequence[Path], images: Sequence[Path]) -> list[Path]:
    """The pairing rule: the test image of each mask of one bin, in the order of ``masks``.

    Mask k in file-name order gets image ``k mod n`` of the n ``images`` in file-name order.
    """
    if not images:
        raise RwganError("images: expected at least one test image to pair with the masks, got none")
    images = sorted((Path(image) for image in images), key=lambda path: path.name)
    ranks = sorted(range(len(masks)), key=lambda index: Path(masks[index]).name)
    paired = [Path()] * len(masks)
    for k, index in enumerate(ranks):
        paired[index] = images[k % len(images)]
    return paired


def evaluation_pairs(masks_root: str | os.PathLike, sets: Iterable[str], images: Sequence[Path]) -> list[Pair]:
    """Every (set, bin, mask, image) to score, by the pairing rule: the sets under
    ``masks_root`` (each a folder with the manifest.csv of :mod:`rwgan.masks`), their bins
    in manifest order, each bin's masks in file-name order."""
    pairs = []
    for set_name in sets:
        for bin_label, masks in mask_bins(Path(masks_root) / set_name).items():
            masks = sorted(masks, key=lambda path: path.name)
            pairs += [Pair(set_name, bin_label, mask, image) for mask, image in zip(masks, paired_images(masks, images))]
    return pairs


def composite_path(composites_dir: str | os.PathLike, pair: Pair) -> Path:
    """Where the composite of ``pair`` is saved: ``<composites_dir>/<set>/<bin>/<mask stem>.png``."""
    return Path(composites_dir) / pair.set / pair.bin / f"{pair.mask.stem}.png"


def load_pairs(pairs: Sequence[Pair], image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth images uint8 (N, S, S, 3) and holes bool (N, S, S) of ``pairs``; every
    file must be ``image_size`` square (else :class:`RwganError` naming it)."""
    images = np.stack([io.read_image(pair.image, image_size) for pair in pairs])
    holes = np.stack([io.read_mask(pair.mask, image_size, allow_full=True) for pair in pairs])
    return images, holes


def classical_inpainter(method: str) -> Inpaint:
    """:func:`rwgan.classical.inpaint_classical` with ``method``, one image at a time, as an :data:`Inpaint`."""

    def inpaint(images: np.ndarray, holes: np.ndarray) -> np.ndarray:
        return np.stack([inpaint_classical(image, hole, method) for image, hole in zip(images, holes)])

    return inpaint


def _chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    if size < 1:
        raise RwganError(f"batch_size: expected a positive integer, got {size}")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _describe(batch: Sequence[Pair]) -> str:
    more = f" (and {len(batch) - 1} more in its batch)" if len(batch) > 1 else ""
    return f"{batch[0].mask} on {batch[0].image}{more}"


def generate_composites(
    inpaint: Inpaint,
    pairs: Sequence[Pair],
    composites_dir: str | os.PathLike,
    image_size: int,
    batch_size: int = 8,
    method: str = "method",
    reuse_newer_than: float | None = None,
    progress: bool = True,
) -> int:
    """Run ``inpaint`` on ``pairs`` and save each composite (uint8 PNG, atomically).

    The output must be a composite: uint8 (N, S, S, 3) whose known pixels equal the
    ground truth exactly; anything else raises :class:`RwganError` naming ``method`` and
    the mask.  With ``reuse_newer_than`` (a POSIX time, e.g. the checkpoint's mtime), a
    composite already on disk that is newer than that time, its mask and its image is
    kept instead of regenerated (to finish an interrupted run).  Returns how many
    composites were generated.
    """
    def is_current(pair: Pair) -> bool:
        path = composite_path(composites_dir, pair)
        if reuse_newer_than is None or not path.is_file():
            return False
        return path.stat().st_mtime > max(reuse_newer_than, pair.mask.stat().st_mtime, pair.image.stat().st_mtime)

    todo = [pair for pair in pairs if not is_current(pair)]
    with tqdm(total=len(todo), desc=f"inpaint {method}", unit="image", disable=not progress) as bar:
        for batch in _chunks(todo, batch_size):
            images, holes = load_pairs(batch, image_size)
            try:
                composites = np.asarray(inpaint(images, holes))
            except RwganError as exc:
                raise RwganError(f"{method} on {_describe(batch)}: {exc}") from None
            if composites.dtype != np.uint8 or composites.shape != images.shape:
                raise RwganError(
                    f"{method}: returned {composites.dtype} {composites.shape} for {_describe(batch)} "
                    f"(expected uint8 {images.shape})"
                )
            changed = ((composites != images).any(axis=-1) & ~holes).any(axis=(1, 2))
            if changed.any():
                culprit = batch[int(np.argmax(changed))]
                raise RwganError(
                    f"{method}: changed known pixels of {culprit.image} under {culprit.mask} "
                    "(expected a composite: known pixels equal the input)"
                )
            for pair, composite in zip(batch, composites):
                io.save_png(composite_path(composites_dir, pair), composite)
            bar.update(len(batch))
    return len(todo)


def score_composites(
    pairs: Sequence[Pair],
    composites_dir: str | os.PathLike,
    image_size: int,
    metrics: Sequence[str] = METRICS,
    batch_size: int = 16,
    kid_subset_size: int | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
    protocols: Sequence[str] = tuple(PROTOCOLS),
    locate: Callable[[Pair], Path] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score the saved composites of ``pairs`` against their ground-truth images.

    The composite of a pair is read from ``locate(pair)``, by default
    :func:`composite_path` under ``composites_dir``, once for all ``protocols``.
    ``metrics`` is a subset of :data:`METRICS`; each per-image one is computed under each
    of ``protocols`` that defines it (:attr:`rwgan.metrics.Metric.protocols`, by
    :func:`rwgan.metrics.protocol_metrics`): LPIPS under ``"rwgan"`` only.  FID and KID do
    not depend on the protocol.  Returns ``(per_image, per_bin)``: ``per_image`` has
    :data:`PER_IMAGE_COLUMNS`, a row per protocol and pair (protocol by protocol, pairs in
    order; ``mask`` and ``image`` are file names; values as the protocol's function returns
    them), ``per_bin`` has :data:`PER_BIN_COLUMNS` with FID and the KID mean over the bin's
    ``n`` images (:func:`rwgan.metrics.fid_kid_from_features`; subsets of
    ``kid_subset_size``, None: min(1000, n)).  A metric not requested, not defined by the
    row's protocol, or not computable (FID of a bin with fewer than 2 images, KID with a
    subset larger than the bin), is NaN, never 0.  The Inception features of each test
    image are computed once and reused across bins.
    """
    unknown = [name for name in metrics if name not in METRICS]
    if unknown:
        raise RwganError(f"metrics: unknown {', '.join(map(repr, unknown))} (expected some of {', '.join(METRICS)})")
    unknown = [name for name in protocols if name not in PROTOCOLS]
    if unknown or not protocols:
        raise RwganError(f"protocols: expected some of {', '.join(PROTOCOLS)}, got {', '.join(map(repr, protocols))}")
    computed = {
        protocol: [name for name in PER_IMAGE_METRICS if name in metrics and protocol in METRIC_TABLE[name].protocols]
        for protocol in protocols
    }
    locate = locate or (lambda pair: composite_path(composites_dir, pair))
    lpips = LPIPS().to(device) if any("LPIPS" in names for names in computed.values()) else None
    extractor = None
    if any(name in metrics for name in PER_BIN_METRICS):
        from rwgan.assets import fid_feature_extractor

        extractor = fid_feature_extractor(features=("2048",))
    truth_features: dict[Path, np.ndarray] = {}
    rows: dict[str, list[dict]] = {protocol: [] for protocol in protocols}
    bins = []
    groups: dict[tuple[str, str], list[Pair]] = {}
    for pair in pairs:
        groups.setdefault((pair.set, pair.bin), []).append(pair)
    with tqdm(total=len(pairs), desc="score", unit="image", disable=not progress) as bar:
        for (set_name, bin_label), group in groups.items():
            composite_features = []
            for batch in _chunks(group, batch_size):
                composites = np.stack([io.read_image(locate(pair), image_size) for pair in batch])
                truths = np.stack([io.read_image(pair.image, image_size) for pair in batch])
                for protocol, names in computed.items():
                    values = (
                        protocol_metrics(protocol, composites, truths, lpips=lpips if "LPIPS" in names else None,
                                         batch_size=batch_size, device=device)
                        if names else {}
                    )
                    for index, pair in enumerate(batch):
                        row = {"protocol": protocol, "set": set_name, "bin": bin_label,
                               "mask": pair.mask.name, "image": pair.image.name}
                        row.update({name: float(values[name][index]) if name in names else math.nan
                                    for name in PER_IMAGE_METRICS})
                        rows[protocol].append(row)
                if extractor is not None:
                    composite_features.append(inception_features(composites, extractor, batch_size, device))
                    new = [k for k, pair in enumerate(batch) if pair.image not in truth_features]
                    if new:
                        features = inception_features(truths[new], extractor, batch_size, device)
                        truth_features.update((batch[k].image, feature) for k, feature in zip(new, features))
                bar.update(len(batch))
            fid = kid = math.nan
            if extractor is not None and len(group) >= 2:
                scores = fid_kid_from_features(
                    np.stack([truth_features[pair.image] for pair in group]),
                    np.concatenate(composite_features),
                    kid_subset_size=kid_subset_size,
                    kid_subsets=KID_SUBSETS if "KID" in metrics else 0,
                    seed=KID_SEED,
                )
                fid = scores["fid"] if "FID" in metrics else math.nan
                kid = scores["kid_mean"] if "KID" in metrics else math.nan
            bins.append({"set": set_name, "bin": bin_label, "FID": fid, "KID": kid, "n": len(group)})
    per_image = pd.DataFrame([row for protocol in protocols for row in rows[protocol]], columns=list(PER_IMAGE_COLUMNS))
    return per_image, pd.DataFrame(bins, columns=list(PER_BIN_COLUMNS))


def summarize(
    per_image: pd.DataFrame,
    per_bin: pd.DataFrame,
    dataset: str,
    method: str,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> pd.DataFrame:
    """Long-form bin values with their uncertainty (:data:`SUMMARY_COLUMNS`), the report stage's input.

    Per (set = ``mask_type``, bin), in the order of ``per_bin``: for each protocol of
    ``per_image`` (in its order), the mean of each per-image metric over the images that
    have a value (``n`` = their number; stored as computed, the display scale is the
    metric table's) with ``ci95_low``, ``ci95_high``, its percentile-bootstrap 95% interval
    (:func:`rwgan.uncertainty.bootstrap_interval` with ``resamples`` and ``seed``), and
    ``reliable`` True; then FID and KID (``n`` = images in the bin, protocol their
    definition's, ``"rwgan"``; no interval) with ``reliable`` from
    :func:`rwgan.uncertainty.reliable`.  A metric without a finite value has no row.
    """
    rows = []
    for entry in per_bin.itertuples(index=False):
        in_bin = per_image[(per_image["set"] == entry.set) & (per_image["bin"] == entry.bin)]
        for protocol, scored in in_bin.groupby("protocol", sort=False):
            for name in PER_IMAGE_METRICS:
                values = scored[name].dropna()
                if len(values):
                    low, high = bootstrap_interval(values.to_numpy(), resamples, seed=seed)
                    rows.append((protocol, entry.set, entry.bin, name, float(values.mean()), len(values), low, high, True))
        for name in PER_BIN_METRICS:
            value = float(getattr(entry, name))
            if math.isfinite(value):
                rows.append((METRIC_TABLE[name].protocols[0], entry.set, entry.bin, name, value, int(entry.n),
                             math.nan, math.nan, reliable(name, int(entry.n))))
    columns = [column for column in SUMMARY_COLUMNS if column not in ("dataset", "method")]
    summary = pd.DataFrame(rows, columns=columns)
    summary.insert(1, "dataset", dataset)
    summary.insert(2, "method", method)
    return summary


def time_inference(
    inpaint: Inpaint,
    pairs: Sequence[Pair],
    image_size: int,
    warmup: int = 2,
    repeats: int = 10,
    device: str | torch.device = "cpu",
) -> float:
    """Median seconds per image of ``inpaint`` at batch size 1 (Table IV).

    Times ``repeats`` calls on pairs spread evenly over ``pairs`` (so every bin's hole
    sizes count), after ``warmup`` untimed calls.  Inputs are loaded beforehand: the
    time covers the method on in-memory arrays, not file I/O.  On CUDA the device is
    synchronised around each call.
    """
    if warmup < 0 or repeats < 1:
        raise RwganError(f"timing: expected warmup >= 0 and repeats >= 1, got {warmup} and {repeats}")
    if not pairs:
        raise RwganError("pairs: expected at least one pair to time the method on, got none")
    chosen = [pairs[int(k)] for k in np.linspace(0, len(pairs) - 1, warmup + repeats).round()]
    images, holes = load_pairs(chosen, image_size)
    synchronize = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    seconds = []
    for index in range(warmup + repeats):
        synchronize()
        start = time.perf_counter()
        inpaint(images[index : index + 1], holes[index : index + 1])
        synchronize()
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds[warmup:]))


def hardware_name(device: str | torch.device = "cpu") -> str:
    """The processor that ran ``device``: the GPU's name, or the CPU model with the torch thread count."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        model = names[0] if names else model
    return f"{model} ({torch.get_num_threads()} threads)"
