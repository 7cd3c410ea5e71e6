"""``python -m benchmarks``: measure training, inference and evaluation speed on this machine.

    python -m benchmarks [--quick] [--only inference,train,options,metrics,masks,jobs,profiles]
                         [--out reports/benchmarks] [--run-smoke]

Writes ``benchmarks.json`` (every figure, setting and timing) and ``benchmarks.md`` (the
summary, with the issue's targets met / missed / not measured) into ``--out``.  The default
run takes a few minutes on 2 CPU cores; ``--quick`` measures the same figures from fewer,
smaller runs.  The profiles' end-to-end times come from the records that
``python -m benchmarks.timed_run`` writes; ``--run-smoke`` runs every job of the smoke
profile and times it first.  See :mod:`benchmarks.suite`.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from benchmarks import suite
from benchmarks.harness import QUICK, Settings
from rwgan.errors import RwganError


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer and smaller runs")
    parser.add_argument("--only", default=",".join(suite.SECTIONS),
                        help=f"comma-separated sections (default: all of {','.join(suite.SECTIONS)})")
    parser.add_argument("--out", type=Path, default=suite.REPO_ROOT / "reports" / "benchmarks",
                        help="output folder (default: reports/benchmarks)")
    parser.add_argument("--run-smoke", action="store_true", help="run and time the smoke profile first")
    args = parser.parse_args(argv)
    sections = tuple(name.strip() for name in args.only.split(",") if name.strip())
    try:
        results = suite.run(QUICK if args.quick else Settings(), sections, run_smoke=args.run_smoke,
                            command=" ".join(["python -m benchmarks", shlex.join(argv)]).strip())
        json_path, markdown_path = suite.write(results, args.out)
    except RwganError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    for row in results["targets"]:
        measured = "" if row["measured"] is None else f"{row['measured']:,.3g} {row['unit']}: "
        print(f"{row['target']} ({row['goal']}): {measured}{row['status']}")
    print(f"wrote {json_path} and {markdown_path} in {results['wall_s'] / 60:.1f} min")


if __name__ == "__main__":
    main()
