"""Metric-regression check: compare a profile's metrics with the committed baseline.

    python -m pipeline.regression --profile smoke            # check (CI)
    python -m pipeline.regression --profile smoke --update   # refresh the baseline on purpose

Reads ``reports/<profile>/metrics.csv`` (long form, :data:`rwgan.evaluation.SUMMARY_COLUMNS`)
and ``.ci/baselines/<profile>-metrics.csv`` (its key columns and value); the tolerances
come from ``.ci/tolerances.yaml``, on each metric's display scale, and the better direction
from :data:`rwgan.metrics.METRIC_TABLE`. Exit status 1 with a table of what moved (on the
display scale) when any metric got worse beyond its tolerance or disappeared.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd
import yaml

from pipeline import paths
from rwgan import io
from rwgan.errors import RwganError
from rwgan.metrics import METRIC_TABLE

KEY = ["protocol", "dataset", "method", "mask_type", "bin", "metric"]
TOLERANCE_KEYS = {"abs", "rel"}
TOLERANCES = Path(".ci/tolerances.yaml")


def baseline_path(profile: str) -> Path:
    return Path(".ci/baselines") / f"{profile}-metrics.csv"


def read_metrics(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise RwganError(f"{path}: metrics file not found (run the pipeline for this profile first)")
    frame = pd.read_csv(path, dtype={"bin": str})
    missing = set(KEY + ["value"]) - set(frame.columns)
    if missing:
        raise RwganError(f"{path}: missing columns {', '.join(sorted(missing))}")
    return frame[KEY + ["value"]]


def read_tolerances(path: Path = TOLERANCES) -> dict:
    """``metric -> {"abs", "rel"}`` of ``path``; every metric must be one of the metric table's."""
    if not path.is_file():
        raise RwganError(f"{path}: tolerance file not found")
    tolerances = (yaml.safe_load(path.read_text()) or {}).get("metrics") or {}
    for name, rule in tolerances.items():
        if name not in METRIC_TABLE:
            raise RwganError(f"{path}: unknown metric {name!r} (expected one of {', '.join(METRIC_TABLE)})")
        if not isinstance(rule, dict) or set(rule) != TOLERANCE_KEYS:
            raise RwganError(f"{path}: metric {name!r}: expected exactly the keys abs and rel, got {rule!r}")
    return tolerances


def compare(current: pd.DataFrame, baseline: pd.DataFrame, tolerances: dict) -> pd.DataFrame:
    """One row per baseline metric with its baseline and current value on the metric's
    display scale (:meth:`rwgan.metrics.Metric.shown`), the change allowed, and a status.

    A move in the worse direction (``higher_is_better`` of the metric table) beyond
    ``max(abs, rel * |baseline|)`` is REGRESSED, one in the better direction beyond it
    improved, a baseline value without a current one MISSING, anything else ok.
    """
    merged = baseline.merge(current, on=KEY, how="left", suffixes=("_baseline", "_current"))
    statuses, allowed, shown = [], [], []
    for row in merged.itertuples(index=False):
        rule = tolerances.get(row.metric)
        if rule is None:
            raise RwganError(f"{TOLERANCES}: no tolerance for metric {row.metric!r}")
        metric = METRIC_TABLE[row.metric]
        base, now = metric.shown(row.value_baseline), metric.shown(row.value_current)
        shown.append((base, now))
        bound = max(rule["abs"], rule["rel"] * abs(base)) if not _missing(base) else math.nan
        allowed.append(bound)
        if _missing(base) and _missing(now):
            statuses.append("ok")
        elif _missing(now) or _missing(base):
            statuses.append("MISSING")
        else:
            worse = (base - now) if metric.higher_is_better else (now - base)
            statuses.append("REGRESSED" if worse > bound else "improved" if -worse > bound else "ok")
    merged["value_baseline"] = [base for base, _ in shown]
    merged["value_current"] = [now for _, now in shown]
    merged["allowed"] = allowed
    merged["status"] = statuses
    return merged


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.regression", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--update", action="store_true", help="write the current metrics as the new baseline")
    args = parser.parse_args(argv)
    try:
        current_path = Path(paths.metrics_csv(args.profile))
        current = read_metrics(current_path)
        if args.update:
            io.write_text(baseline_path(args.profile), current.sort_values(KEY).to_csv(index=False))
            print(f"baseline updated: {baseline_path(args.profile)} ({len(current)} metrics)")
            return 0
        result = compare(current, read_metrics(baseline_path(args.profile)), read_tolerances())
    except RwganError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    moved = result[result.status != "ok"]
    bad = result[result.status.isin(["REGRESSED", "MISSING"])]
    if len(moved):
        print(moved.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if len(bad):
        print(
            f"metric regression: {len(bad)} of {len(result)} metrics got worse beyond tolerance or are missing "
            f"(baseline {baseline_path(args.profile)}, tolerances {TOLERANCES}); "
            "if the change is intended, refresh with `make baseline`",
            file=sys.stderr,
        )
        return 1
    print(f"metric regression check passed: {len(result)} metrics within tolerance ({len(moved)} improved)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
