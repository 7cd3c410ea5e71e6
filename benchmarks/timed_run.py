"""Time a whole profile run and record it: the end-to-end figure of ``python -m benchmarks``.

    rm -rf work/demo && python -m benchmarks.timed_run --profile demo -- snakemake --cores all --config profile=demo

runs the command after ``--`` and, when it succeeds, writes ``reports/<profile>/runtime.json``
(atomically): the profile, the command, wall seconds, start and end times (UTC) and the
machine (:func:`benchmarks.harness.machine`).  A failed run writes nothing, so the record is
always the most recent *complete* run; the command's exit status is passed on.  Time a run
that does every job, from an empty ``work/<profile>`` (``make time-<profile>`` removes it): an
up-to-date DAG finishes in seconds, and ``--forceall`` alone lets finished training runs resume
at their last step (their ``last.pt`` is not a declared output), so neither measures the profile.
"""
from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.harness import load_average, machine
from rwgan import io
from rwgan.errors import RwganError

RUNTIME_FILE = "runtime.json"


def runtime_path(reports_dir: str | Path, profile: str) -> Path:
    return Path(reports_dir) / profile / RUNTIME_FILE


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def timed_run(profile: str, command: list[str], reports_dir: str | Path = "reports", cwd: str | Path | None = None,
              env: dict[str, str] | None = None) -> int:
    """Run ``command`` and, if it exits 0, record its wall time for ``profile``; returns its exit status."""
    if not command:
        raise RwganError("command: expected the command to time after `--`, got none")
    started, load_before = _now(), load_average()
    start = time.perf_counter()
    try:
        status = subprocess.run(command, cwd=cwd, env=env).returncode
    except OSError as exc:
        raise RwganError(f"command: cannot run {command[0]!r} ({exc.strerror})") from None
    seconds = time.perf_counter() - start
    if status == 0:
        io.write_json(runtime_path(reports_dir, profile), {
            "profile": profile, "command": command, "seconds": seconds, "minutes": seconds / 60,
            "started_at": started, "finished_at": _now(), "machine": machine(),
            "load_average_before": load_before, "load_average_after": load_average(),
        })
    return status


def read_runtime(reports_dir: str | Path, profile: str) -> dict | None:
    """The recorded run of ``profile``, or ``None`` if there is none; :class:`RwganError` if unreadable."""
    path = runtime_path(reports_dir, profile)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RwganError(f"{path}: not a readable runtime record ({exc})") from None
    if not isinstance(record, dict) or not isinstance(record.get("seconds"), (int, float)):
        raise RwganError(f"{path}: expected a JSON object with 'seconds' (written by benchmarks.timed_run)")
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.timed_run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", required=True, help="the profile the command runs (names the record)")
    parser.add_argument("--reports", default="reports", help="reports folder (default: reports)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to time")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        status = timed_run(args.profile, command, args.reports)
    except RwganError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    sys.exit(status)


if __name__ == "__main__":
    main()
