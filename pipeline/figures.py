"""Figures 4-11 of the paper and metric-versus-hole-ratio plots, as PNG (matplotlib, Agg).

Inputs, all under ``work/<profile>/`` (written by earlier stages):
``masks/<set>/<bin>/<mask>.png`` (white = hole), ``data/<dataset>/test/*.png`` and the
evaluate stage's composites ``eval/<dataset>/<method>/composites/<set>/<bin>/<mask>.png``.
The (mask, test image) pairs and the composite paths are the evaluate stage's
(:func:`rwgan.evaluation.evaluation_pairs`, :func:`rwgan.evaluation.composite_path`),
imported here, not re-implemented.

Grids read: one row per example (a mask and its paired test image), columns
"Input" (the image with its hole painted white, as the paper shows it), one per method,
"GT". A method evaluated on the dataset but lacking one composite shows a grey tile.
Figures carry no timestamps and no software-version metadata, so the same inputs give
the same bytes.
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from rwgan import io
from rwgan.evaluation import Pair, composite_path, evaluation_pairs
from pipeline.tables import Display, Results, PaperReference
from rwgan.metrics import METRIC_TABLE
from rwgan.training import VALIDATION_LABELS

MISSING_TILE = 128  # grey: the method ran on this dataset but this composite is absent
TILE_INCHES_MIN = 1.1  # small images (64 px) are drawn at least this large so labels fit
DPI = 100


def set_pairs(masks_dir: Path, test_images: list[Path], mask_set: str) -> list[Pair]:
    """Every (mask, test image) pair of a mask set, bins in manifest order, as the evaluate
    stage scores them; none when the set or the test images are absent."""
    if not test_images or not (masks_dir / mask_set / "manifest.csv").is_file():
        return []
    return evaluation_pairs(masks_dir, [mask_set], test_images)


def select_examples(
    masks_dir: Path, test_images: list[Path], sets: list[str], bins: list[str] | None, per_bin: int
) -> list[Pair]:
    """The first ``per_bin`` pairs of each requested bin (None: every bin) of each set."""
    examples = []
    for mask_set in sets:
        pairs = set_pairs(masks_dir, test_images, mask_set)
        for bin_label in bins if bins is not None else list(dict.fromkeys(p.bin for p in pairs)):
            examples += [p for p in pairs if p.bin == bin_label][:per_bin]
    return examples


def sweep_examples(masks_dir: Path, test_images: list[Path], mask_set: str) -> list[Pair]:
    """Fig. 10: one test image under a mask of every bin of ``mask_set`` (0% to 100%).

    The image is the one paired with the set's first mask; each bin contributes its first
    mask paired with that same image (a bin without one is left out).
    """
    pairs = set_pairs(masks_dir, test_images, mask_set)
    if not pairs:
        return []
    chosen: dict[str, Pair] = {}
    for pair in pairs:
        if pair.image == pairs[0].image:
            chosen.setdefault(pair.bin, pair)
    return list(chosen.values())


def with_hole(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The input as the paper shows it: uint8 (H, W, 3) with hole pixels (True) white."""
    shown = image.copy()
    shown[hole] = 255
    return shown


def comparison_tiles(examples: list[Pair], method_dirs: list[Path]) -> list[list[np.ndarray]]:
    """Rows of [input with hole, each method's composite, ground truth] tiles (uint8 RGB)."""
    rows = []
    for example in examples:
        image = io.read_image(example.image)
        hole = io.read_mask(example.mask, size=image.shape[:2], allow_full=True)
        row = [with_hole(image, hole)]
        for method_dir in method_dirs:
            path = composite_path(method_dir / "composites", example)
            row.append(io.read_image(path) if path.is_file() else np.full_like(image, MISSING_TILE))
        rows.append(row + [image])
    return rows


def save_grid(
    path: Path, tiles: list[list[np.ndarray]], row_labels: list[str], column_labels: list[str], title: str
) -> None:
    """Write a grid of equally sized uint8 RGB tiles with row and column labels as PNG."""
    n_rows, n_cols = len(tiles), len(tiles[0])
    height, width = tiles[0][0].shape[:2]
    tile_w = max(width / DPI, TILE_INCHES_MIN)
    tile_h = tile_w * height / width
    left, top, gap = 0.9, 0.75, 0.04
    fig_w = left + n_cols * tile_w + (n_cols - 1) * gap + 0.1
    fig_h = top + n_rows * tile_h + (n_rows - 1) * gap + 0.1
    figure = Figure(figsize=(fig_w, fig_h), dpi=DPI)
    figure.subplots_adjust(
        left=left / fig_w, right=1 - 0.1 / fig_w, top=1 - top / fig_h, bottom=0.1 / fig_h,
        wspace=gap / tile_w, hspace=gap / tile_h,
    )
    axes = figure.subplots(n_rows, n_cols, squeeze=False)
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            axis = axes[r][c]
            axis.imshow(tile, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if r == 0:
                axis.set_title(textwrap.fill(column_labels[c], 14), fontsize=7)
            if c == 0:
                axis.set_ylabel(row_labels[r], fontsize=7)
    figure.suptitle(title, fontsize=9, y=1 - 0.12 / fig_h, va="top")
    _save(figure, path)


def comparison_figure(
    path: Path, title: str, examples: list[Pair], method_dirs: list[Path], method_labels: list[str]
) -> None:
    """Figs. 4-9: rows of examples (labelled set and bin), columns Input | methods | GT."""
    tiles = comparison_tiles(examples, method_dirs)
    save_grid(path, tiles, [f"{e.set}\n{e.bin}" for e in examples], ["Input", *method_labels, "GT"], title)


def sweep_figure(path: Path, title: str, examples: list[Pair], method_dir: Path, method_label: str) -> None:
    """Fig. 10: columns are the bins (0% to 100%), rows Input and the method's result."""
    rows = comparison_tiles(examples, [method_dir])
    tiles = [[row[0] for row in rows], [row[1] for row in rows]]
    save_grid(path, tiles, ["Input", method_label], [e.bin for e in examples], title)


def object_removal_figure(path: Path, title: str, checkpoint: Path, items: list[tuple[Path, Path]]) -> None:
    """Fig. 11: rows of (a) the photo, (b) the user mask shown as a white hole, (c) the result
    of ``rwgan.inference.load_inpainter(checkpoint)``. A mask of another size than its image
    is scaled to it (nearest neighbour), so one drawn mask serves every profile's image size."""
    from rwgan.inference import load_inpainter  # torch: only imported when the figure is made

    inpainter = load_inpainter(checkpoint)
    tiles = []
    for image_path, mask_path in items:
        image = io.read_image(image_path)
        hole = io.read_mask(mask_path)
        if hole.shape != image.shape[:2]:
            scaled = Image.fromarray(hole).resize(image.shape[1::-1], Image.Resampling.NEAREST)
            hole = np.asarray(scaled, dtype=bool)
        result = inpainter.inpaint(image[None], hole[None])[0]
        tiles.append([image, with_hole(image, hole), result])
    save_grid(path, tiles, [p.stem for p, _ in items], ["(a) input", "(b) mask", "(c) result"], title)


def curves_figure(path: Path, **curves) -> None:
    """Write :func:`curves_plot` of ``curves`` (its keyword arguments) to ``path`` as PNG."""
    _save(curves_plot(**curves), path)


def curves_plot(
    title: str,
    results: Results,
    paper: PaperReference,
    dataset: str,
    mask_types: list[str],
    metrics: list[str],
    methods: list[str],
    bins: list[str],
    display: Display,
) -> Figure:
    """Metric versus hole-ratio bin: one panel per (mask type, metric), one line per method;
    ours solid with dots, under ``display.protocol``, on the metric table's display scale, with
    a shaded band for each bin's bootstrap 95% interval; the paper's dashed with crosses in the
    same colour. FID/KID flagged unreliable are drawn with hollow markers. Missing values leave
    gaps (never drawn as 0)."""
    figure = Figure(figsize=(2.6 * len(metrics), 2.3 * len(mask_types) + 0.9), dpi=DPI)
    axes = figure.subplots(len(mask_types), len(metrics), squeeze=False)
    x = np.arange(len(bins))
    handles = {}
    for r, mask_type in enumerate(mask_types):
        for c, metric in enumerate(metrics):
            axis = axes[r][c]
            shown = METRIC_TABLE[metric].shown
            for i, method in enumerate(methods):
                colour = f"C{i % 10}"
                measures = [results.get(dataset, method, mask_type, b, metric, display.protocol) for b in bins]
                ours = [shown(m.value) if m else math.nan for m in measures]
                low = [shown(m.low) if m and m.low is not None else math.nan for m in measures]
                high = [shown(m.high) if m and m.high is not None else math.nan for m in measures]
                theirs = [
                    _or_nan(paper.main.get((mask_type, metric, b, display.dataset(dataset), display.method(method))))
                    for b in bins
                ]
                if not all(math.isnan(v) for v in ours):
                    hollow = any(m is not None and not m.reliable for m in measures)
                    (line,) = axis.plot(x, ours, "-o", color=colour, markersize=3, linewidth=1.2,
                                        markerfacecolor="none" if hollow else colour)
                    handles.setdefault(display.method(method), line)
                    if not all(math.isnan(v) for v in low):
                        axis.fill_between(x, low, high, color=colour, alpha=0.2, linewidth=0)
                if not all(math.isnan(v) for v in theirs):
                    (line,) = axis.plot(x, theirs, "--x", color=colour, markersize=3, linewidth=0.9)
                    handles.setdefault(f"{display.method(method)} (paper)", line)
            if not axis.lines:
                axis.text(0.5, 0.5, "no values", ha="center", va="center", transform=axis.transAxes, fontsize=7)
            axis.set_xticks(x, bins, rotation=45, fontsize=6)
            axis.tick_params(axis="y", labelsize=6)
            axis.grid(alpha=0.3)
            if r == 0:
                axis.set_title(METRIC_TABLE[metric].label, fontsize=8)
            if c == 0:
                axis.set_ylabel(mask_type, fontsize=8)
    if handles:
        figure.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(len(handles), 6), fontsize=6)
    figure.suptitle(f"{title} ({display.protocol} protocol; bands: bootstrap 95% intervals; "
                    "hollow markers: FID/KID over too few images)", fontsize=9)
    figure.tight_layout(rect=(0, 0.07 if handles else 0, 1, 0.95))
    return figure


def _read_rows(path: Path) -> list[dict]:
    import csv

    with open(path, newline="") as handle:
        return [{k: (float(v) if v not in ("", None) else math.nan) for k, v in row.items()}
                for row in csv.DictReader(handle)]


def _stitched(runs: list[Path], name: str) -> list[dict]:
    """The rows of ``name`` in each run folder, in order; a later run's rows replace the
    earlier ones from its first step on (phase 2 continues its phase 1)."""
    rows: list[dict] = []
    for run in runs:
        later = _read_rows(run / name) if (run / name).is_file() else []
        if later:
            rows = [row for row in rows if row["step"] < later[0]["step"]] + later
    return rows


def validation_figure(path: Path, title: str, runs: dict[str, list[Path]]) -> None:
    """Held-out hole L1, PSNR and LPIPS against the training step, one line per trained
    model (``runs``: label -> its run folders, phase 1 first)."""
    panels = tuple(VALIDATION_LABELS.items())
    figure = Figure(figsize=(7.5, 2.1 * len(panels)))
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for label, folders in runs.items():
        rows = _stitched(folders, "validation.csv")
        steps = [row["step"] for row in rows]
        for axis, (column, _) in zip(axes, panels):
            axis.plot(steps, [row[column] for row in rows], marker="o", markersize=2, linewidth=0.8, label=label)
    for axis, (_, name) in zip(axes, panels):
        axis.set_ylabel(name, fontsize=8)
        axis.tick_params(labelsize=7)
    axes[-1].set_xlabel("training step (phase 2 continues its phase 1)", fontsize=8)
    axes[0].legend(fontsize=6, ncol=2)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    _save(figure, path)


def training_table(path: Path, runs: dict[str, list[Path]]) -> None:
    """Markdown: per trained model, its steps, each weighted loss term's share of the
    generator's total at the first and last step (mean of the first / last 10 steps), and
    the held-out hole L1 / LPIPS at the start and end.  ``path``'s stem names the table;
    it is written to the ``tables`` folder beside ``path``'s."""
    terms = ("reconstruction", "correlation", "style", "adversarial", "valid", "hole", "perceptual", "tv")
    lines = ["| model | steps | weighted term shares of the total, first 10 steps -> last 10 | "
             "held-out hole L1 | held-out LPIPS |", "|---|---|---|---|---|"]
    for label, folders in runs.items():
        losses = _stitched(folders, "losses.csv")
        validation = _stitched(folders, "validation.csv")
        if not losses:
            continue

        def shares(rows: list[dict]) -> dict[str, float]:
            return {t: float(np.nanmean([r.get(f"weighted_{t}", math.nan) / r["loss_total"] for r in rows]))
                    for t in terms if any(not math.isnan(r.get(f"weighted_{t}", math.nan)) for r in rows)}

        first, last = shares(losses[:10]), shares(losses[-10:])
        cells = ", ".join(f"{t} {first.get(t, 0):.2%} -> {last.get(t, 0):.2%}" for t in dict.fromkeys([*first, *last]))
        held = [(f"{validation[0][c]:.4f} -> {validation[-1][c]:.4f}" if validation else "--") for c in ("hole_l1", "lpips")]
        lines.append(f"| {label} | {int(losses[-1]['step'])} | {cells} | {held[0]} | {held[1]} |")
    target = path.parent.parent / "tables" / f"{path.stem}.md"
    io.write_text(target, "\n".join(lines) + "\n")


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


def _save(figure: Figure, path: Path) -> None:
    with io.atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
