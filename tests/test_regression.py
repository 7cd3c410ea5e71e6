"""The metric-regression check that guards CI (pipeline/regression.py)."""
import pandas as pd
import pytest

from pipeline import regression

TOLERANCES = {
    "PSNR": {"direction": "higher", "abs": 0.15, "rel": 0.0},
    "L1e-3": {"direction": "lower", "abs": 0.05, "rel": 0.03},
}


def frame(rows):
    return pd.DataFrame(rows, columns=regression.KEY + ["value"])


def row(metric, value, method="full"):
    return ("embedded", method, "contiguous", "0-10%", metric, value)


def test_within_tolerance_passes_and_direction_matters():
    baseline = frame([row("PSNR", 30.0), row("L1e-3", 10.0)])
    current = frame([row("PSNR", 29.9), row("L1e-3", 10.2)])
    result = regression.compare(current, baseline, TOLERANCES)
    assert list(result.status) == ["ok", "ok"]
    # 0.3 allowed for L1 (3% of 10); 10.4 is worse beyond it, 9.5 is better beyond it
    result = regression.compare(frame([row("PSNR", 31.0), row("L1e-3", 10.4)]), baseline, TOLERANCES)
    assert list(result.status) == ["improved", "REGRESSED"]
    result = regression.compare(frame([row("PSNR", 29.8), row("L1e-3", 9.5)]), baseline, TOLERANCES)
    assert list(result.status) == ["REGRESSED", "improved"]


def test_missing_metric_fails():
    baseline = frame([row("PSNR", 30.0), row("PSNR", 25.0, method="pconv")])
    result = regression.compare(frame([row("PSNR", 30.0)]), baseline, TOLERANCES)
    assert list(result.status) == ["ok", "MISSING"]


def test_unknown_metric_needs_a_tolerance():
    with pytest.raises(regression.RwganError, match="no tolerance for metric 'SSIM'"):
        regression.compare(frame([row("SSIM", 0.9)]), frame([row("SSIM", 0.9)]), TOLERANCES)


def test_command_fails_with_a_table_and_update_refreshes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".ci" / "tolerances.yaml").write_text(
        "metrics:\n  PSNR: {direction: higher, abs: 0.15, rel: 0.0}\n  L1e-3: {direction: lower, abs: 0.05, rel: 0.03}\n"
    )
    metrics = tmp_path / "reports" / "smoke" / "metrics.csv"
    metrics.parent.mkdir(parents=True)
    frame([row("PSNR", 30.0), row("L1e-3", 10.0)]).to_csv(metrics, index=False)
    assert regression.main(["--profile", "smoke", "--update"]) == 0
    assert regression.main(["--profile", "smoke"]) == 0
    frame([row("PSNR", 28.0), row("L1e-3", 10.0)]).to_csv(metrics, index=False)  # deliberately worse
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
