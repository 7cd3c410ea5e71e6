"""Stage: a dataset's train and test images, decoded, checked and resized to the image size.

    python -m pipeline.prepare --profile P --dataset D

Writes ``work/<profile>/data/<D>/{train,test}/<name>.png`` (uint8 RGB, image_size
square) and ``work/<profile>/data/<D>/manifest.csv`` (file, split, source, sha256).
The folder is built beside its final place and renamed into it when complete.

Sources (``data.datasets.<D>.source``; ``python -m pipeline.download`` runs first):

- ``embedded``: square crops of photographs bundled in installed packages
  (:func:`rwgan.data.embedded_crops`); the ``test_photos`` give the test crops, the
  other photos the train crops, so no test pixel was ever seen in training;
- ``download``: one archive per split (``urls.train``, ``urls.test``) from ``downloads/<D>/``;
- ``local``: ``path``, a folder (searched recursively) or a .zip / .tar[.gz] archive,
  split by ``split.method``:
  ``lists`` (``split.train`` / ``split.test``: files of names, a path or ``{url, sha256}``;
  names match by ``split.key``: ``stem`` (default), or ``number``, the first integer in
  the name plus ``split.number_offset``), ``folders`` (``split.train`` / ``split.test``:
  sub-folders) or ``count`` (``split.test`` images drawn with the seed, the rest train).

Checks, each reported by file name: every image decodes completely (truncated or
corrupt files fail) and its shorter side is at least ``min_side`` (default: the image
size); the split sizes equal ``expected`` when given.  Then ``limit`` keeps the first
images of each split (in list, or else name, order).  Images are resized with
Pillow's bilinear filter (:func:`rwgan.data.resize_image`), after a centred square
crop when ``crop: center`` (default ``none``: stretched to a square, as the paper).
"""
from __future__ import annotations

import re
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator, Protocol

import numpy as np
from tqdm import tqdm

from pipeline import paths
from pipeline.cli_common import dataset_stage_main, replacing_folder, run, worker_map, write_csv
from pipeline.download import check_local, dataset_params, local_copy
from rwgan import data, io
from rwgan.errors import RwganError

MANIFEST_COLUMNS = ("file", "split", "source", "sha256")
SHOWN_ERRORS = 5


# ----------------------------------------------------------------- source readers


class Reader(Protocol):
    """A source of images: a folder or an archive."""

    label: str  # the path, as named in messages and manifests

    def names(self) -> list[str]:
        """The image files or members, sorted."""

    def items(self, names: list[str]) -> Iterator[tuple[str, bytes]]:
        """(name, encoded bytes) of ``names``, in the order cheapest for the source."""


def _is_image(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in io.IMAGE_SUFFIXES and not PurePosixPath(name).name.startswith(".")


class FolderReader:
    """Image files under a folder, named by their relative POSIX path."""

    def __init__(self, path: Path):
        self.path, self.label = path, str(path)

    def names(self) -> list[str]:
        files = (p for p in self.path.rglob("*") if p.is_file() and _is_image(p.name))
        return sorted(p.relative_to(self.path).as_posix() for p in files)

    def items(self, names: list[str]) -> Iterator[tuple[str, bytes]]:
        for name in names:
            yield name, (self.path / name).read_bytes()


class ZipReader:
    """Image members of a zip archive."""

    def __init__(self, path: Path):
        self.path, self.label = path, str(path)
        try:
            self.archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise RwganError(f"{path}: not a readable zip archive ({exc})") from None

    def names(self) -> list[str]:
        members = self.archive.infolist()
        return sorted(m.filename for m in members if not m.is_dir() and _is_image(m.filename))

    def items(self, names: list[str]) -> Iterator[tuple[str, bytes]]:
        for name in names:
            try:
                yield name, self.archive.read(name)
            except (zipfile.BadZipFile, OSError) as exc:
                raise RwganError(f"{self.path}:{name}: cannot read from the archive ({exc})") from None


class TarReader:
    """Image members of a tar archive (optionally compressed), read in archive order."""

    def __init__(self, path: Path):
        self.path, self.label = path, str(path)
        try:
            with tarfile.open(path) as archive:
                self.members = sorted(m.name for m in archive.getmembers() if m.isfile() and _is_image(m.name))
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise RwganError(f"{path}: not a readable tar archive ({exc})") from None

    def names(self) -> list[str]:
        return self.members

    def items(self, names: list[str]) -> Iterator[tuple[str, bytes]]:
        wanted = set(names)
        try:
            with tarfile.open(self.path, "r|*") as archive:
                for member in archive:
                    if member.name in wanted:
                        yield member.name, archive.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise RwganError(f"{self.path}: archive ends early or is corrupt ({exc})") from None


def open_reader(path: Path) -> Reader:
    if path.is_dir():
        return FolderReader(path)
    if zipfile.is_zipfile(path):
        return ZipReader(path)
    if tarfile.is_tarfile(path):
        return TarReader(path)
    raise RwganError(f"{path}: expected a folder, a .zip or a .tar[.gz] archive of images")


# ------------------------------------------------------------------- the split


@dataclass
class Split:
    """The source images of one split: which reader, which member names (in order)."""

    reader: Reader
    names: list[str]


def _read_list(dataset: str, entry, key: str) -> list[str]:
    if isinstance(entry, dict):
        path = local_copy(dataset, entry["url"])
        if not path.is_file():
            raise RwganError(
                f"{path}: split list not downloaded (run `python -m pipeline.download --dataset {dataset}`)"
            )
    elif isinstance(entry, str):
        path = Path(entry)
    else:
        raise RwganError(f"params.yaml {key}: expected a file of names or {{url, sha256}}, got {entry!r}")
    if not path.is_file():
        raise RwganError(f"{path}: split list not found (params.yaml {key})")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _key_function(split: dict, where: str):
    key = split.get("key", "stem")
    offset = int(split.get("number_offset", 0))
    if key == "stem":
        return lambda name: PurePosixPath(name).stem
    if key == "number":

        def number(name: str):
            found = re.search(r"\d+", PurePosixPath(name).stem)
            return int(found.group()) + offset if found else None

        return number
    raise RwganError(f"params.yaml {where}.key: expected stem or number, got {key!r}")


def local_splits(dataset: str, spec: dict, seed: int, log) -> dict[str, Split]:
    """Split the images of a ``local`` dataset's ``path`` by ``split.method``."""
    path, _ = check_local(dataset, spec)
    reader = open_reader(path)
    names = reader.names()
    if not names:
        raise RwganError(f"{path}: no images found (expected {', '.join(io.IMAGE_SUFFIXES)} files)")
    split = spec.get("split") or {}
    where = f"data.datasets.{dataset}.split"
    method = split.get("method")
    if method == "count":
        test_count = split.get("test")
        if not isinstance(test_count, int) or not 0 < test_count < len(names):
            raise RwganError(f"params.yaml {where}.test: expected 1..{len(names) - 1} test images, got {test_count!r}")
        order = np.random.default_rng(np.random.SeedSequence([seed])).permutation(len(names))
        test = set(order[:test_count].tolist())
        return {
            "train": Split(reader, [n for i, n in enumerate(names) if i not in test]),
            "test": Split(reader, [n for i, n in enumerate(names) if i in test]),
        }
    if method == "folders":
        result = {}
        for name in data.SPLITS:
            folder = str(split.get(name) or "").strip("/")
            if not folder:
                raise RwganError(f"params.yaml {where}.{name}: expected a sub-folder of {path}")
            result[name] = Split(reader, [n for n in names if n.startswith(folder + "/")])
        return result
    if method == "lists":
        key = _key_function(split, where)
        by_key: dict = {}
        for name in names:
            if key(name) is None:
                continue
            other = by_key.setdefault(key(name), name)
            if other != name:
                raise RwganError(
                    f"{path}: {other} and {name} have the same {split.get('key', 'stem')} (expected unique names)"
                )
        result = {}
        for name in data.SPLITS:
            listed = _read_list(dataset, split.get(name), f"{where}.{name}")
            found = [by_key[key(entry)] for entry in listed if key(entry) in by_key]
            missing = [entry for entry in listed if key(entry) not in by_key]
            if missing:
                log.warning("%s %s: %d of %d listed images not in %s (e.g. %s)", dataset, name, len(missing),
                            len(listed), path, ", ".join(missing[:SHOWN_ERRORS]))
            result[name] = Split(reader, found)
        return result
    raise RwganError(f"params.yaml {where}.method: expected lists, folders or count, got {method!r}")


def download_splits(dataset: str, spec: dict) -> dict[str, Split]:
    """Each split is one downloaded archive (``urls.<split>``)."""
    result = {}
    for name in data.SPLITS:
        path = local_copy(dataset, spec["urls"][name]["url"])
        if not path.is_file():
            raise RwganError(f"{path}: not downloaded (run `python -m pipeline.download --dataset {dataset}`)")
        reader = open_reader(path)
        result[name] = Split(reader, reader.names())
    return result


def output_names(names: list[str]) -> list[str]:
    """PNG file names for member ``names``: the path below their common folder, '/' -> '_'."""
    parts = [PurePosixPath(name).parts for name in names]
    common = 0
    while parts and all(len(p) > common + 1 and p[common] == parts[0][common] for p in parts):
        common += 1
    return ["_".join(p[common:-1] + (PurePosixPath(p[-1]).stem,)) + ".png" for p in parts]


# -------------------------------------------------------------------- writing


def _prepare_one(task: tuple) -> tuple[str, str, str]:
    """Decode, check, resize and save one image: (member, "ok", sha256) or (member, "error", message)."""
    member, label, payload, out, size, crop, min_side = task
    try:
        image = data.decode_image(payload, label)
        if min(image.shape[:2]) < min_side:
            raise RwganError(f"{label}: {image.shape[1]}x{image.shape[0]} is smaller than min_side {min_side}")
        io.save_png(out, data.resize_image(image, size, data.center_square(image.shape) if crop else None))
    except RwganError as exc:
        return member, "error", str(exc)
    return member, "ok", io.sha256_file(out)


def _check_counts(dataset: str, spec: dict, splits: dict[str, Split]) -> None:
    expected = spec.get("expected") or {}
    for name, split in splits.items():
        if name in expected and len(split.names) != expected[name]:
            raise RwganError(
                f"{split.reader.label}: {dataset} {name} split has {len(split.names)} images, "
                f"expected {expected[name]} (params.yaml data.datasets.{dataset}.expected.{name})"
            )
        if not split.names:
            raise RwganError(f"{split.reader.label}: {dataset} {name} split is empty (expected at least one image)")


def _write_sources(
    dataset: str, spec: dict, splits: dict[str, Split], root: Path, size: int, workers: int
) -> list[dict]:
    """Decode, check, resize and save every image of ``splits`` under ``root``; return manifest rows.

    All bad images are collected and reported together, by name."""
    crop = spec.get("crop", "none")
    if crop not in ("none", "center"):
        raise RwganError(f"params.yaml data.datasets.{dataset}.crop: expected none or center, got {crop!r}")
    min_side = int(spec.get("min_side") or size)
    limit = spec.get("limit") or {}
    rows, errors = [], []
    with worker_map(workers) as imap:
        for name, split in splits.items():
            members = split.names[: limit[name]] if limit.get(name) else split.names
            files = dict(zip(members, output_names(members)))
            if len(set(files.values())) != len(files):
                raise RwganError(f"{split.reader.label}: two {name} images map to the same output name")
            tasks = (
                (member, f"{split.reader.label}:{member}", payload, root / name / files[member], size,
                 crop == "center", min_side)
                for member, payload in split.reader.items(members)
            )
            results = imap(_prepare_one, tasks, chunksize=8)
            for member, status, value in tqdm(results, total=len(members), desc=f"{dataset} {name}"):
                if status == "error":
                    errors.append(value)
                else:
                    source = f"{split.reader.label}:{member}"
                    rows.append({"file": f"{name}/{files[member]}", "split": name, "source": source, "sha256": value})
    if errors:
        more = f" (and {len(errors) - SHOWN_ERRORS} more)" if len(errors) > SHOWN_ERRORS else ""
        raise RwganError(f"{len(errors)} bad source image(s): " + "; ".join(errors[:SHOWN_ERRORS]) + more)
    return rows


def _write_embedded(spec: dict, root: Path, size: int, seed: int) -> list[dict]:
    photos = spec.get("photos") or list(data.EMBEDDED_PHOTOS)
    test_photos = spec.get("test_photos") or []
    if not set(test_photos) < set(photos) or not test_photos:
        raise RwganError(
            f"params.yaml data.datasets.embedded.test_photos: expected some but not all of {', '.join(photos)}, "
            f"got {test_photos!r}"
        )
    fraction = float(spec.get("min_crop_fraction", 1.0))
    rows = []
    for name in data.SPLITS:
        chosen = [p for p in photos if (p in test_photos) == (name == "test")]
        count = spec.get(name)
        if not isinstance(count, int) or count < 1:
            raise RwganError(
                f"params.yaml data.datasets.embedded.{name}: expected a positive number of crops, got {count!r}"
            )
        for stem, image, source in data.embedded_crops(chosen, count, size, seed, name, fraction):
            path = root / name / f"{stem}.png"
            io.save_png(path, image)
            digest = io.sha256_file(path)
            rows.append({"file": f"{name}/{stem}.png", "split": name, "source": source, "sha256": digest})
    return rows


def prepare(params: dict, dataset: str, log) -> Path:
    """Build ``<workdir>/data/<dataset>`` (see the module doc); return its path."""
    spec = dataset_params(params, dataset)
    size, seed = int(params["image_size"]), int(params["seed"])
    workers = int((params.get("data") or {}).get("workers") or 1)
    final = Path(paths.data_dir(params["profile"], dataset))
    with replacing_folder(final) as root:
        if spec["source"] == "embedded":
            rows = _write_embedded(spec, root, size, seed)
        else:
            if spec["source"] == "local":
                splits = local_splits(dataset, spec, seed, log)
            else:
                splits = download_splits(dataset, spec)
            _check_counts(dataset, spec, splits)
            for name, split in splits.items():
                log.info("%s %s: %d images from %s", dataset, name, len(split.names), split.reader.label)
            rows = _write_sources(dataset, spec, splits, root, size, workers)
        rows.sort(key=lambda row: (data.SPLITS.index(row["split"]), row["file"]))
        write_csv(root / "manifest.csv", MANIFEST_COLUMNS, rows)
    counts = {name: sum(row["split"] == name for row in rows) for name in data.SPLITS}
    log.info("%s: wrote %s (train %d, test %d) at %d px", dataset, final, counts["train"], counts["test"], size)
    return final


def main(argv: list[str] | None = None) -> None:
    dataset_stage_main(__doc__, "prepare", prepare, argv)


if __name__ == "__main__":
    run(main)
