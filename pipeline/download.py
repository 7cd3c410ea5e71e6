"""Stage: fetch or check the source of one dataset.

    python -m pipeline.download --profile P --dataset D

By ``data.datasets.<D>.source``:

- ``download``: fetch every archive of ``urls`` (and split lists given as
  ``{url, sha256}``) into ``downloads/<D>/``, resuming an interrupted download with
  an HTTP ``Range`` request and checking each file's sha256 against params.yaml.  A
  ``null`` sha256 is computed on first download, recorded beside the file
  (``<file>.sha256``) with a warning, and checked on later runs;
- ``local`` (license-gated sets, any folder or archive of your own images): check
  that ``path`` exists (and its sha256, if given); when it is not set, say where to
  obtain the data;
- ``embedded``: check that the bundled photos are installed.

Writes ``work/<profile>/downloads/<D>.complete`` ("sha256  file" lines of what was fetched or
checked) when everything is in place.  ``http(s)://`` and ``file://`` URLs work.
"""
from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tqdm import tqdm

from pipeline import paths
from pipeline.cli_common import dataset_stage_main, run
from rwgan import data, io
from rwgan.errors import RwganError

CHUNK = 1 << 20


def dataset_params(params: dict, dataset: str) -> dict:
    """``data.datasets.<dataset>`` of the resolved params, checked for a known ``source``."""
    datasets = (params.get("data") or {}).get("datasets") or {}
    if dataset not in datasets:
        raise RwganError(f"params.yaml data.datasets: no dataset {dataset!r} (expected one of {', '.join(datasets)})")
    spec = datasets[dataset] or {}
    if spec.get("source") not in ("embedded", "download", "local"):
        raise RwganError(
            f"params.yaml data.datasets.{dataset}.source: expected embedded, download or local, "
            f"got {spec.get('source')!r}"
        )
    return spec


def local_copy(dataset: str, url: str) -> Path:
    """Where the download of ``url`` for ``dataset`` lives: ``downloads/<dataset>/<file name>``."""
    name = Path(urllib.parse.urlparse(url).path).name
    if not name:
        raise RwganError(f"{url}: expected a URL ending in a file name")
    return paths.DOWNLOADS / dataset / name


def remote_files(dataset: str, spec: dict) -> list[tuple[str, str | None, str]]:
    """(url, expected sha256 or None, params key) of every file the dataset downloads."""
    entries = []
    if spec["source"] == "download":
        urls = spec.get("urls") or {}
        if set(urls) != set(data.SPLITS):
            raise RwganError(
                f"params.yaml data.datasets.{dataset}.urls: expected one archive per split ({', '.join(data.SPLITS)})"
            )
        entries += [(f"data.datasets.{dataset}.urls.{split}", urls[split]) for split in data.SPLITS]
    split = spec.get("split") or {}
    if split.get("method") == "lists":
        entries += [
            (f"data.datasets.{dataset}.split.{name}", split[name])
            for name in data.SPLITS
            if isinstance(split.get(name), dict)
        ]
    files = []
    for key, entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise RwganError(f"params.yaml {key}: expected {{url: ..., sha256: ...}}, got {entry!r}")
        files.append((entry["url"], entry.get("sha256"), key))
    return files


def _open(url: str, offset: int, timeout: float):
    """(stream, total size or None, whether the stream starts at ``offset``) for ``url``."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        path = Path(urllib.request.url2pathname(parsed.path))
        if not path.is_file():
            raise RwganError(f"{url}: file not found")
        handle = open(path, "rb")
        handle.seek(offset)
        return handle, path.stat().st_size, True
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:  # the range starts at the end: the partial file is complete
            return None, offset, True
        raise RwganError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise RwganError(f"{url}: cannot connect ({getattr(exc, 'reason', exc)}); run again to resume") from None
    resumed = response.status == 206
    length = response.headers.get("Content-Length")
    total = (offset if resumed else 0) + int(length) if length is not None else None
    return response, total, resumed


def fetch(url: str, dest: Path, sha256: str | None, log, timeout: float = 60.0) -> str:
    """Download ``url`` to ``dest`` (resuming ``dest.part``) and check its sha256; return the digest.

    A complete ``dest`` is not fetched again.  The file reaches ``dest`` only once
    its checksum has been verified; a mismatch removes the partial file and raises.
    """
    record = dest.with_name(dest.name + ".sha256")
    if dest.is_file():
        digest = record.read_text().split()[0] if record.is_file() else io.sha256_file(dest)
        _check_digest(dest, digest, sha256 or digest, "delete it to download it again")
        io.write_text(record, f"{digest}  {dest.name}\n")
        return digest
    part = dest.with_name(dest.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.is_file() else 0
    stream, total, resumed = _open(url, offset, timeout)
    if stream is not None:
        if not resumed:
            offset = 0
        log.info("%s: %s from byte %d", dest, "resuming" if offset else "downloading", offset)
        with stream, open(part, "ab" if offset else "wb") as out, tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, desc=dest.name
        ) as bar:
            try:
                for block in iter(lambda: stream.read(CHUNK), b""):
                    out.write(block)
                    bar.update(len(block))
            except (OSError, http.client.HTTPException) as exc:
                raise RwganError(
                    f"{url}: download interrupted at {out.tell()} bytes ({exc.__class__.__name__}); "
                    "run again to resume"
                ) from None
    size = part.stat().st_size
    if total is not None and size != total:
        raise RwganError(f"{url}: download interrupted at {size} of {total} bytes; run again to resume")
    digest = io.sha256_file(part)
    if sha256 is None:
        log.warning("%s: no sha256 in params.yaml; recorded %s in %s (add it to params.yaml)", dest, digest, record)
    else:
        try:
            _check_digest(dest, digest, sha256, "the download was removed; check the URL and the expected value")
        except RwganError:
            part.unlink()
            raise
    os.replace(part, dest)
    io.write_text(record, f"{digest}  {dest.name}\n")
    return digest


def _check_digest(path: Path, digest: str, expected: str, advice: str) -> None:
    if digest != expected.lower():
        raise RwganError(f"{path}: sha256 mismatch (expected {expected}, got {digest}); {advice}")


def check_local(dataset: str, spec: dict) -> tuple[Path, str | None]:
    """The ``path`` of a ``local`` dataset, checked: (path, its sha256 if ``spec`` gives one to check)."""
    path = spec.get("path")
    if not path:
        where = f"; obtain it from {spec['obtain']}" if spec.get("obtain") else ""
        raise RwganError(
            f"params.yaml data.datasets.{dataset}.path: not set (expected the folder or archive of its images{where})"
        )
    path = Path(path)
    if not path.exists():
        raise RwganError(f"{path}: not found (params.yaml data.datasets.{dataset}.path)")
    if not spec.get("sha256"):
        return path, None
    if not path.is_file():
        raise RwganError(f"{path}: is a folder, but params.yaml data.datasets.{dataset}.sha256 expects an archive")
    digest = io.sha256_file(path)
    _check_digest(path, digest, spec["sha256"], f"expected the archive named by data.datasets.{dataset}.sha256")
    return path, digest


def download(params: dict, dataset: str, log) -> Path:
    """Fetch or check everything ``dataset`` needs; write and return the profile's marker
    ``work/<profile>/downloads/<dataset>.complete`` (the archives themselves stay in the
    shared ``downloads/`` cache: one copy for every profile)."""
    spec = dataset_params(params, dataset)
    lines = []
    if spec["source"] == "embedded":
        for name in spec.get("photos") or list(data.EMBEDDED_PHOTOS):
            path = data.embedded_photo_path(name)  # checks the name
            package, relative = data.EMBEDDED_PHOTOS[name]
            lines.append(f"{io.sha256_file(path)}  {package}:{relative}")
    elif spec["source"] == "local":
        path, digest = check_local(dataset, spec)
        lines.append(f"{digest or (io.sha256_file(path) if path.is_file() else 'folder')}  {path}")
    for url, sha256, key in remote_files(dataset, spec):
        dest = local_copy(dataset, url)
        log.info("%s -> %s (%s)", url, dest, key)
        lines.append(f"{fetch(url, dest, sha256, log)}  {dest}")
    marker = Path(paths.download_marker(params["profile"], dataset))
    io.write_text(marker, "".join(line + "\n" for line in lines))
    log.info("%s: %d source file(s) in place", dataset, len(lines))
    return marker


def main(argv: list[str] | None = None) -> None:
    dataset_stage_main(__doc__, "download", download, argv)


if __name__ == "__main__":
    run(main)
