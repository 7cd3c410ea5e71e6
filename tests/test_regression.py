"""The metric-regression check that guards CI (pipeline/regression.py)."""
import pandas as pd
import pytest

from conftest import ROOT
from pipeline import regression
from rwgan.metrics import METRIC_TABLE

TOLERANCES = {"PSNR": {"abs": 0.15, "rel": 0.0}, "L1": {"abs": 0.05, "rel": 0.03}}  # on the display scale


def frame(rows):
    return pd.DataFrame(rows, columns=regression.KEY + ["value"])


def row(metric, value, method="full", protocol="rwgan"):
    return (protocol, "embedded", method, "contiguous", "0-10%", metric, value)


def test_within_tolerance_passes_and_direction_matters():
    # L1 is stored as computed and compared x1e3, its display scale: 10.0e-3 is 10.0 there.
    baseline = frame([row("PSNR", 30.0), row("L1", 10.0e-3)])
    current = frame([row("PSNR", 29.9), row("L1", 10.2e-3)])
    result = regression.compare(current, baseline, TOLERANCES)
    assert list(result.status) == ["ok", "ok"]
    assert list(result.value_current) == pytest.approx([29.9, 10.2]) and list(result.allowed) == pytest.approx([0.15, 0.3])
    # 0.3 allowed for L1 (3% of 10); 10.4 is worse beyond it (lower is better: the metric table), 9.5 better
    result = regression.compare(frame([row("PSNR", 31.0), row("L1", 10.4e-3)]), baseline, TOLERANCES)
    assert list(result.status) == ["improved", "REGRESSED"]
    result = regression.compare(frame([row("PSNR", 29.8), row("L1", 9.5e-3)]), baseline, TOLERANCES)
    assert list(result.status) == ["REGRESSED", "improved"]


def test_protocols_are_compared_separately():
    baseline = frame([row("PSNR", 30.0), row("PSNR", 25.0, protocol="edgeconnect")])
    current = frame([row("PSNR", 25.0), row("PSNR", 30.0, protocol="edgeconnect")])
    assert list(regression.compare(current, baseline, TOLERANCES).status) == ["REGRESSED", "improved"]


def test_missing_metric_fails():
    baseline = frame([row("PSNR", 30.0), row("PSNR", 25.0, method="pconv")])
    result = regression.compare(frame([row("PSNR", 30.0)]), baseline, TOLERANCES)
    assert list(result.status) == ["ok", "MISSING"]


def test_unknown_metric_needs_a_tolerance():
    with pytest.raises(regression.RwganError, match="no tolerance for metric 'SSIM'"):
        regression.compare(frame([row("SSIM", 0.9)]), frame([row("SSIM", 0.9)]), TOLERANCES)


@pytest.mark.parametrize("text, message", [
    ("metrics:\n  L1e-3: {abs: 0.05, rel: 0.03}\n", "unknown metric 'L1e-3' \\(expected one of L1, L2"),
    ("metrics:\n  L1: {direction: lower, abs: 0.05, rel: 0.03}\n", "metric 'L1': expected exactly the keys abs and rel"),
])
def test_bad_tolerances_are_named(tmp_path, text, message):
    path = tmp_path / "tolerances.yaml"
    path.write_text(text)
    with pytest.raises(regression.RwganError, match=f"{path}: {message}"):
        regression.read_tolerances(path)


def test_committed_tolerances_cover_every_metric():
    assert set(regression.read_tolerances(ROOT / regression.TOLERANCES)) == set(METRIC_TABLE)


def test_command_fails_with_a_table_and_update_refreshes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".ci" / "tolerances.yaml").write_text(
        "metrics:\n  PSNR: {abs: 0.15, rel: 0.0}\n  L1: {abs: 0.05, rel: 0.03}\n"
    )
    metrics = tmp_path / "reports" / "smoke" / "metrics.csv"
    metrics.parent.mkdir(parents=True)
    frame([row("PSNR", 30.0), row("L1", 10.0e-3)]).to_csv(metrics, index=False)
    assert regression.main(["--profile", "smoke", "--update"]) == 0
    assert regression.main(["--profile", "smoke"]) == 0
    frame([row("PSNR", 28.0), row("L1", 10.0e-3)]).to_csv(metrics, index=False)  # deliberately worse
    capsys.readouterr()
    assert regression.main(["--profile", "smoke"]) == 1
    captured = capsys.readouterr()
    assert "REGRESSED" in captured.out and "PSNR" in captured.out
    assert "metric regression: 1 of 2 metrics" in captured.err


def test_missing_baseline_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    metrics = tmp_path / "reports" / "smoke" / "metrics.csv"
    metrics.parent.mkdir(parents=True)
    frame([row("PSNR", 30.0)]).to_csv(metrics, index=False)
    assert regression.main(["--profile", "smoke"]) == 2
    assert "smoke-metrics.csv: metrics file not found" in capsys.readouterr().err
