"""What every pipeline stage shares: ``--profile``, the stage log, error exits, and
three helpers (:func:`worker_map`, :func:`replacing_folder`, :func:`write_csv`).

A stage module looks like::

    def main(argv=None):
        args = stage_parser(__doc__).parse_args(argv)
        params = config.load(args.profile)
        log = stage_logger(params["profile"], "prepare", args.dataset)
        ...

    if __name__ == "__main__":
        run(main)

The log goes to ``logs/<profile>/<stage>[-<extra>].log`` and to stderr (through
``tqdm.write`` so that progress bars stay intact).  :func:`run` turns a
:class:`RwganError` into ``error: <message>`` and exit status 2.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io as _stdio
import logging
import multiprocessing
import os
import shutil
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator

from tqdm import tqdm

from pipeline import paths
from rwgan import io
from rwgan.errors import RwganError

LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"
STAGE_LOGGER = "rwgan.stage"  # one stage runs per process


class _TqdmHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(self.format(record), file=sys.stderr)


def stage_parser(description: str | None) -> argparse.ArgumentParser:
    """An argument parser with ``--profile`` (default: params.yaml's ``profile``)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default=None, help="params.yaml profile (default: the file's `profile` key)")
    return parser


def _stderr_is(path: Path) -> bool:
    """Whether this process's stderr is the file ``path``."""
    try:
        ours, theirs = os.fstat(sys.stderr.fileno()), os.stat(path)
    except (OSError, ValueError, AttributeError):
        return False
    return (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino)


def stage_logger(profile: str, stage: str, extra: str | None = None) -> logging.Logger:
    """The logger of one stage run, writing ``logs/<profile>/<stage>[-<extra>].log`` and stderr
    (the log once, when stderr already is the log)."""
    path = Path(paths.log_file(profile, stage, extra))
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(STAGE_LOGGER)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    # Under the workflow (`cmd > log 2>&1`) stderr already is the log: it gets every line once.
    handlers = [_TqdmHandler()] + ([] if _stderr_is(path) else [logging.FileHandler(path, mode="w")])
    for handler in handlers:
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
    return logger


@contextlib.contextmanager
def worker_map(workers: int) -> Iterator[Callable]:
    """An ordered, lazy ``imap(function, items, chunksize=1)`` over ``workers`` processes.

    Processes are spawned (the same behaviour on every OS) and stopped on exit, even
    if the results were not all consumed; ``workers <= 1`` maps in this process.
    """
    if workers <= 1:
        yield lambda function, items, chunksize=1: map(function, items)
        return
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield pool.imap


@contextlib.contextmanager
def replacing_folder(final: str | Path) -> Iterator[Path]:
    """A fresh folder beside ``final`` to build into; it replaces ``final`` on success.

    On any exception it is removed and ``final`` is left as it was, so a stage never
    leaves a half-written output folder.
    """
    final = Path(final)
    partial = final.with_name(f".{final.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        yield partial
        shutil.rmtree(final, ignore_errors=True)
        partial.rename(final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def write_csv(path: str | Path, columns: Iterable[str], rows: Iterable[dict]) -> None:
    """Write ``rows`` (dicts keyed by ``columns``) as CSV with a header, atomically."""
    buffer = _stdio.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    io.write_text(path, buffer.getvalue())


def dataset_stage_main(description: str | None, stage: str, function: Callable, argv: list[str] | None) -> None:
    """The ``main`` of a per-dataset stage: ``--profile P --dataset D``, then
    ``function(params, dataset, logger)`` with the stage's log ``logs/<P>/<stage>-<D>.log``."""
    from pipeline import config

    parser = stage_parser(description)
    parser.add_argument("--dataset", required=True, help="a name under params.yaml data.datasets")
    args = parser.parse_args(argv)
    params = config.load(args.profile)
    function(params, args.dataset, stage_logger(params["profile"], stage, args.dataset))


def run(main: Callable[[], object]) -> None:
    """Call ``main()`` and exit: 0 on success, 2 with ``error: <message>`` on :class:`RwganError`.

    The error line also goes to the stage's log file, if the stage opened one.
    """
    try:
        main()
    except RwganError as exc:
        message = f"error: {exc}"
        for handler in logging.getLogger(STAGE_LOGGER).handlers:
            if isinstance(handler, logging.FileHandler):
                handler.stream.write(message + "\n")
                handler.flush()
        print(message, file=sys.stderr)
        sys.exit(2)
    sys.exit(0)
