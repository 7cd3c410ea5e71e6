"""The one metric table (rwgan.metrics.METRIC_TABLE): names, scales, directions, protocols,
and every place that reads it instead of its own copy."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from conftest import ROOT
from pipeline import config, tables
from rwgan import evaluation
from rwgan.errors import RwganError
from rwgan.metrics import METRIC_TABLE, PROTOCOLS, protocol_metrics

SCHEMA = yaml.safe_load((ROOT / "pipeline" / "params.schema.yaml").read_text())


def test_the_table_by_hand():
    assert list(METRIC_TABLE) == ["L1", "L2", "PSNR", "SSIM", "LPIPS", "FID", "KID"]
    assert [m.label for m in METRIC_TABLE.values()] == [
        "L1 (1e-3) ↓", "L2 (1e-3) ↓", "PSNR ↑", "SSIM ↑", "LPIPS ↓", "FID ↓", "KID ↓"]
    assert METRIC_TABLE["L1"].shown(0.00311) == pytest.approx(3.11) and METRIC_TABLE["PSNR"].shown(31.5) == 31.5
    assert evaluation.PER_IMAGE_METRICS == ("L1", "L2", "PSNR", "SSIM", "LPIPS")
    assert evaluation.PER_BIN_METRICS == ("FID", "KID")


def test_protocols_each_metric_is_stored_under():
    # The pixel metrics have one definition per protocol; LPIPS, FID and KID one, on RGB, under rwgan.
    for name in ("L1", "L2", "PSNR", "SSIM"):
        assert [METRIC_TABLE[name].stored_under(p) for p in PROTOCOLS] == ["rwgan", "edgeconnect"]
    for name in ("LPIPS", "FID", "KID"):
        assert [METRIC_TABLE[name].stored_under(p) for p in PROTOCOLS] == ["rwgan", "rwgan"]
    with pytest.raises(RwganError, match="protocol: unknown 'paper'"):
        METRIC_TABLE["L1"].stored_under("paper")
    # Each protocol's function returns exactly the per-image metrics the table says it defines.
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 52, 52, 3), dtype=np.uint8)
    for protocol in PROTOCOLS:
        defined = {name for name, m in METRIC_TABLE.items() if m.per == "image" and protocol in m.protocols}
        assert set(protocol_metrics(protocol, images, images[::-1])) == defined - {"LPIPS"}


def test_params_schema_names_the_tables_metrics_and_protocols():
    assert SCHEMA["$defs"]["metric"]["enum"] == list(METRIC_TABLE)
    report = SCHEMA["$defs"]["profile"]["properties"]["report"]["properties"]
    assert report["protocol"]["enum"] == list(PROTOCOLS)


@pytest.mark.parametrize("key, value, message", [
    ("metrics", ["PSNR", "L1e-3"], "report.metrics"),
    ("protocol", "paper", "report.protocol"),
    ("intervals", "yes", "report.intervals"),
    ("decimals", {"PSNR": 2}, "decimals"),  # the metric table holds the decimals now
])
def test_bad_report_keys_fail_at_load(tmp_path, key, value, message):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["defaults"]["report"][key] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(RwganError, match=message):
        config.load("demo", path)


def test_display_formats_a_stored_value_on_the_metric_scale():
    display = tables.Display({}, {}, frozenset(), intervals=True)
    assert display.measure("L1", tables.Measure(0.0031136, 40, 0.0029, 0.00335)) == "3.11 [2.90, 3.35]"
    assert display.measure("SSIM", tables.Measure(0.91234, 40, 0.9, 0.92)) == "0.912 [0.900, 0.920]"
    assert display.measure("FID", tables.Measure(41.234, 40, None, None, False)) == "41.23" + tables.UNRELIABLE
    assert tables.Display({}, {}, frozenset()).measure("L1", tables.Measure(0.0031136, 40, 0.0029, 0.00335)) == "3.11"
    assert display.number("params_M", 4.706) == "4.7" and display.number("seconds_per_image", 0.01234) == "0.012"
