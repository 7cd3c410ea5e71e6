"""Benchmark: test-mask generation rate (generate, count components, write PNG, hash).

    python -m benchmarks.masks_bench [--size 256] [--per-bin 2000] [--workers 2] [--sample 100]

1. Per type and bin, one process: masks per CPU second of the mask stage's job
   (:func:`pipeline.masks.write_mask` of :func:`pipeline.masks.build_mask`) over
   ``--sample`` masks;
2. the whole paper set, ``--per-bin`` masks x 5 bins x 2 types, through the stage's
   own code with ``--workers`` processes, into a temporary folder: wall seconds and
   CPU seconds (all processes; on an otherwise idle machine the wall time is about
   CPU / workers).

The issue's target: 2,000 masks per bin, both types, five bins in under 2 minutes on
2 CPU cores at 256x256.
"""
from __future__ import annotations

import argparse
import logging
import resource
import tempfile
import time
from pathlib import Path

from pipeline.cli_common import worker_map
from pipeline.masks import MaskJob, _run_job, generate_set
from rwgan import masks

BINS = ["0-10%", "10-20%", "20-30%", "30-40%", "40-50%"]


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished child processes (user + system)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def per_type_rates(size: int, sample: int, root: Path) -> dict[str, dict[str, float]]:
    """Masks per CPU second of one process for each type and bin (and ``all``: over the five bins)."""
    rates: dict[str, dict[str, float]] = {}
    for kind in masks.KINDS:
        rates[kind] = {}
        total_time = 0.0
        for label in BINS:
            jobs = [MaskJob(str(root), kind, label, i, 0, size) for i in range(sample)]
            start = time.process_time()
            for job in jobs:
                _run_job(job)
            elapsed = time.process_time() - start
            total_time += elapsed
            rates[kind][label] = sample / elapsed
        rates[kind]["all"] = sample * len(BINS) / total_time
    return rates


def full_run(size: int, per_bin: int, workers: int, root: Path) -> tuple[float, float]:
    """(wall, CPU) seconds for ``per_bin`` x 5 bins x 2 types through the mask stage with ``workers`` processes."""
    params = {"seed": 0, "image_size": size, "masks": {"bins": BINS, "per_bin": per_bin}}
    log = logging.getLogger("masks_bench")
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    with worker_map(workers) as imap:
        for kind in masks.KINDS:
            generate_set(params, kind, root / kind, imap, log)
    return time.perf_counter() - start, _cpu_seconds() - cpu_start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--per-bin", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sample", type=int, default=100, help="masks per type and bin for the rates")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        rates = per_type_rates(args.size, args.sample, Path(tmp) / "rates")
        print(f"masks per CPU second, one process, {args.size}x{args.size}, with PNG write, hash and component count:")
        print(f"{'type':14s}" + "".join(f"{label:>9s}" for label in BINS) + f"{'all':>9s}")
        for kind, by_bin in rates.items():
            print(f"{kind:14s}" + "".join(f"{by_bin[label]:9.0f}" for label in BINS) + f"{by_bin['all']:9.0f}")
        wall, cpu = full_run(args.size, args.per_bin, args.workers, Path(tmp) / "full")
    count = args.per_bin * len(BINS) * len(masks.KINDS)
    print(f"full set: {count} masks ({args.per_bin} x {len(BINS)} bins x 2 types) with {args.workers} workers: "
          f"{wall:.1f} s wall ({count / wall:.0f} masks/s), {cpu:.1f} CPU s")


if __name__ == "__main__":
    main()
