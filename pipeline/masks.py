"""Stage: the fixed test mask sets, as PNGs (white = hole) with manifests and checksums.

    python -m pipeline.masks --profile P [--set NAME ...]

Writes, for each set named in ``masks.sets`` (or only the ``--set`` ones):

    work/<profile>/masks/<set>/<bin>/<index>.png
    work/<profile>/masks/<set>/manifest.csv   (file, type, bin, hole_pixels, hole_ratio, components, sha256)

and always rebuilds ``reports/<profile>/masks.sha256`` ("sha256  <set>/<file>" lines,
sorted) from the manifests of all configured sets, so that a changed mask set shows
up in review.  Sets:

- ``contiguous``, ``discontiguous``: ``masks.per_bin`` masks in each of ``masks.bins``;
- ``regular``: one square hole of side ``masks.regular.hole_fraction`` x image size
  (Fig. 9), ``masks.regular.per_bin`` masks in each of two bins: ``centred`` (all the
  same mask, so that every test image meets it) and ``random`` (uniform positions);
- ``sweep``: ``masks.sweep.per_bin`` masks of ``masks.sweep.kind`` in each of
  ``masks.sweep.bins`` (0-100% for Fig. 10);
- ``nvidia``: the NVIDIA irregular test masks from ``masks.nvidia.path``, resized
  (nearest) to the image size, binned by their own hole ratio into ``masks.bins``:
  the first ``masks.nvidia.per_bin`` of each bin in file-name order.

Every mask is seeded from (seed, type, bin, index) alone (:func:`rwgan.masks.mask_rng`),
so the files are byte-identical for a seed whatever the number of workers.  Each set
is built in a temporary folder and renamed into place when complete.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from pipeline import config, paths
from pipeline.cli_common import replacing_folder, run, stage_logger, stage_parser, worker_map, write_csv
from rwgan import io, masks
from rwgan.errors import RwganError

SETS = ("contiguous", "discontiguous", "regular", "sweep", "nvidia")
NVIDIA_SOURCE = "https://nv-adlr.github.io/publication/partialconv-inpainting (test mask dataset)"


@dataclass(frozen=True)
class MaskJob:
    """One mask file to write: ``<root>/<bin>/<index>.png``."""

    root: str
    stream: str  # contiguous, discontiguous or regular
    bin: str  # bin label: "10-20%", or "centred" / "random" for regular masks
    index: int
    seed: int
    size: int
    hole_size: int = 0  # regular masks only

    @property
    def file(self) -> str:
        return f"{self.bin}/{self.index:05d}.png"


def build_mask(job: MaskJob) -> np.ndarray:
    """The bool (H, W) hole of ``job`` (True = hole)."""
    if job.stream == "regular":
        if job.bin == "centred":
            return masks.regular_mask(job.size, job.hole_size)
        rng = masks.mask_rng(job.seed, "regular", (0, 100), job.index)
        return masks.random_regular_mask(rng, job.size, job.hole_size)
    (hole,) = masks.generate_binned(job.stream, job.bin, 1, job.seed, job.size, start=job.index)
    return hole


def write_mask(root: Path, file: str, stream: str, hole: np.ndarray, hole_bin: str) -> dict:
    """Save ``hole`` as ``root/file`` (white = hole) and return its manifest row."""
    path = root / file
    io.save_png(path, hole.astype(np.uint8) * 255)
    holes = int(np.count_nonzero(hole))
    return {
        "file": file,
        "type": stream,
        "bin": hole_bin,
        "hole_pixels": holes,
        "hole_ratio": repr(holes / hole.size),
        "components": masks.count_components(hole),
        "sha256": io.sha256_file(path),
    }


def _run_job(job: MaskJob) -> dict:
    return write_mask(Path(job.root), job.file, job.stream, build_mask(job), job.bin)


def _nvidia_hole(args: tuple[str, int, tuple]) -> tuple[str, str | None, bytes]:
    """Read one NVIDIA mask, resize it (nearest) to ``size``; return (name, bin label or None, packed hole)."""
    path, size, bins = args
    hole = io.read_mask(path, allow_full=True)
    if hole.shape != (size, size):
        image = Image.fromarray(hole.astype(np.uint8) * 255).resize((size, size), Image.Resampling.NEAREST)
        hole = np.asarray(image) == 255
    holes = int(np.count_nonzero(hole))
    label = next((masks.bin_label(b) for b in bins if masks.in_bin(holes, hole.size, b)), None)
    return Path(path).stem, label, np.packbits(hole).tobytes()


# ------------------------------------------------------------------ the stage


def _bins(values: list[str], where: str) -> list[masks.Bin]:
    """Bins of params.yaml ``where`` (their form checked by the schema, lo < hi here)."""
    return [masks.parse_bin(v, f"params.yaml {where}") for v in values]


def plan(params: dict, set_name: str, root: Path) -> list[MaskJob]:
    """The jobs that write generated set ``set_name`` into ``root``."""
    section, seed, size = params["masks"], int(params["seed"]), int(params["image_size"])

    def binned(stream: str, bins: list[masks.Bin], per_bin: int) -> list[MaskJob]:
        return [
            MaskJob(str(root), stream, masks.bin_label(b), i, seed, size) for b in bins for i in range(per_bin)
        ]

    if set_name in masks.KINDS:
        return binned(set_name, _bins(section["bins"], "masks.bins"), section["per_bin"])
    if set_name == "sweep":
        sweep = section["sweep"]
        return binned(sweep["kind"], _bins(sweep["bins"], "masks.sweep.bins"), sweep["per_bin"])
    regular = section["regular"]
    hole_size = max(1, round(regular["hole_fraction"] * size))
    count = regular["per_bin"]
    return [
        MaskJob(str(root), "regular", placement, i, seed, size, hole_size)
        for placement in ("centred", "random")
        for i in range(count)
    ]


def generate_set(params: dict, set_name: str, root: Path, imap, log) -> list[dict]:
    """Write generated set ``set_name`` into ``root`` with ``imap`` (:func:`worker_map`); return manifest rows."""
    jobs = plan(params, set_name, root)
    start = time.perf_counter()
    rows = list(tqdm(imap(_run_job, jobs, chunksize=16), total=len(jobs), desc=set_name, unit="mask"))
    elapsed = time.perf_counter() - start
    log.info("%s: %d masks in %.1f s (%.0f masks/s)", set_name, len(rows), elapsed, len(rows) / max(elapsed, 1e-9))
    return rows


def import_nvidia(params: dict, root: Path, workers: int, log) -> list[dict]:
    """Bin the NVIDIA test masks by their own ratio into ``masks.bins``; keep the first ``per_bin`` of each.

    Files are read in name order by workers of their own, stopped once every bin is full.
    """
    section = params["masks"]
    nvidia = section["nvidia"]
    if not nvidia["path"]:
        raise RwganError(
            f"params.yaml masks.nvidia.path: not set (expected the folder of the NVIDIA irregular test masks, "
            f"from {NVIDIA_SOURCE}), or drop 'nvidia' from masks.sets"
        )
    files = io.list_images(nvidia["path"])
    if not files:
        raise RwganError(f"{nvidia['path']}: no mask images found (expected the NVIDIA test masks, PNG)")
    bins, per_bin = _bins(section["bins"], "masks.bins"), nvidia["per_bin"]
    size = int(params["image_size"])
    chosen: dict[str, list[tuple[str, bytes]]] = {masks.bin_label(b): [] for b in bins}
    tasks = ((str(path), size, tuple(bins)) for path in files)
    with worker_map(workers) as imap:
        found = imap(_nvidia_hole, tasks, chunksize=32)
        for name, label, packed in tqdm(found, total=len(files), desc="nvidia"):
            if label is not None and len(chosen[label]) < per_bin:
                chosen[label].append((name, packed))
            if all(len(kept) == per_bin for kept in chosen.values()):
                break
    rows = []
    for label, kept in chosen.items():
        if len(kept) < per_bin:
            log.warning("nvidia: bin %s has only %d masks (wanted %d)", label, len(kept), per_bin)
        for name, packed in kept:
            hole = np.unpackbits(np.frombuffer(packed, np.uint8), count=size * size).reshape(size, size).astype(bool)
            rows.append(write_mask(root, f"{label}/{name}.png", "nvidia", hole, label))
    log.info("nvidia: %d masks from %s", len(rows), nvidia["path"])
    return rows


def write_checksums(masks_dir: Path, set_names: list[str], out: Path, log) -> None:
    """``out``: sorted "sha256  <set>/<file>" lines over the manifests of ``set_names`` present."""
    lines = []
    for name in set_names:
        if not (masks_dir / name / "manifest.csv").is_file():
            log.warning("%s: no manifest yet, left out of %s", masks_dir / name, out)
            continue
        lines += [f"{row['sha256']}  {name}/{row['file']}" for row in masks.read_mask_manifest(masks_dir / name)]
    io.write_text(out, "".join(line + "\n" for line in sorted(lines)))


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--set", action="append", choices=SETS, help="only (re)build this set (repeatable)")
    args = parser.parse_args(argv)
    params = config.load(args.profile)
    log = stage_logger(params["profile"], "masks")
    names = params["masks"]["sets"]
    selected = args.set or names
    for name in selected:
        if name not in names:
            raise RwganError(f"--set {name}: not in params.yaml masks.sets ({', '.join(names)})")
    masks_dir = Path(paths.masks_dir(params["profile"]))
    workers = params["masks"]["workers"]
    log.info("profile %s: mask sets %s at %d px, seed %s", params["profile"], ", ".join(selected),
             params["image_size"], params["seed"])
    generated = [name for name in selected if name != "nvidia"]
    with worker_map(workers if generated else 1) as imap:
        for name in selected:
            with replacing_folder(masks_dir / name) as root:
                if name == "nvidia":
                    rows = import_nvidia(params, root, workers, log)
                else:
                    rows = generate_set(params, name, root, imap, log)
                write_csv(root / "manifest.csv", masks.MANIFEST_COLUMNS, rows)
    checksums = Path(paths.masks_checksums(params["profile"]))
    write_checksums(masks_dir, names, checksums, log)
    log.info("wrote %s", checksums)


if __name__ == "__main__":
    run(main)
