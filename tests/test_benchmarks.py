"""The benchmark harness: timing bookkeeping, MAC counts, targets, records, and a tiny end-to-end run."""
import json
import os
import sys

import pytest
import torch
import torch.nn.functional as F

from benchmarks import harness, inference_bench, jobs_bench, masks_bench, metrics_bench, report, suite, timed_run
from benchmarks.__main__ import main
from pipeline import dag
from rwgan.errors import RwganError
from rwgan.layers import GeneratorUpConv, RegionWiseConv2d
from rwgan.models import region_wise_generator

TINY = harness.Settings(image_size=32, warmup=0, repeats=1, batch_repeats=1, cpu_batch=2, train_repeats=1,
                        metric_images=2, metric_repeats=3, mask_samples=1, mask_repeats=1, matmul_size=64,
                        option_sizes=(64,), option_train_pixels=2 * 64**2, option_infer_pixels=2 * 64**2,
                        option_repeats=1, compile_sizes=(), curve_size=64, curve_batch=2, curve_steps=(2, 1),
                        classical_images=1)


class FakeClock:
    """Stands in for the ``time`` module: the timed functions advance it by known amounts."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now

    def process_time(self):
        return 2 * self.now


def test_compare_interleaves_skips_warmup_and_takes_medians(monkeypatch):
    clock, calls = FakeClock(), []
    monkeypatch.setattr(harness, "time", clock)
    durations = {"a": iter([9.0, 1.0, 3.0, 2.0]), "b": iter([9.0, 4.0, 6.0, 5.0])}

    def timed(name):
        def function():
            calls.append(name)
            clock.now += next(durations[name])
        return function

    timings = harness.compare({"a": timed("a"), "b": timed("b")}, warmup=1, repeats=3)
    assert calls == ["a", "b"] * 4
    assert (timings["a"].median_s, timings["a"].min_s, timings["a"].max_s) == (2.0, 1.0, 3.0)
    assert (timings["b"].median_s, timings["b"].cpu_s) == (5.0, 10.0)
    with pytest.raises(RwganError, match="repeats"):
        harness.measure(lambda: None, warmup=0, repeats=0)


def test_mac_counts_by_hand():
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    image = torch.zeros(2, 3, 8, 8)
    assert harness.nominal_macs(conv, image) == 2 * 64 * 4 * 3 * 9
    assert harness.executed_flops(lambda: conv(image)) == 2 * harness.nominal_macs(conv, image)
    # an upsampling generator conv counts as nearest x2 then 3x3 conv at 16 x 16
    assert harness.nominal_macs(GeneratorUpConv(4, 2), torch.zeros(1, 4, 8, 8)) == 16 * 16 * 2 * 4 * 9


def test_generator_macs_match_spec_and_the_subpixel_fold():
    model = region_wise_generator().eval()
    image, mask = inference_bench.random_inputs(1, 256, torch.device("cpu"))
    assert harness.nominal_macs(model, image, mask) / 1e9 == pytest.approx(61.78, abs=0.01)  # ~61.8 GMAC
    # at 128 px: each upsampling conv (rw13, rw15, g13, g15; (in, out, input side)) runs four
    # 2x2 kernels over the (h + 1)^2 replicated input instead of a 3x3 kernel over (2h)^2
    image, mask = image[..., :128, :128], mask[..., :128, :128]
    upsampling = [(384, 128, 32), (320, 128, 64), (256, 64, 32), (128, 32, 64)]
    expected = harness.nominal_macs(model, image, mask) + sum(
        c * o * (16 * (h + 1) ** 2 - 36 * h * h) for c, o, h in upsampling)
    executed = harness.executed_flops(inference_bench.forward(model, (image, mask))) / 2
    assert executed == pytest.approx(expected, rel=1e-2)


@pytest.mark.parametrize("size", [(1, 1), (2, 5), (7, 4)])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_subpixel_upsampling_conv_equals_upsample_then_conv(size, memory_format):
    """The speed-up of rwgan.layers (four 2x2 convs at the input resolution) changes nothing
    but rounding: values and gradients equal nearest x2 + reflect pad + 3x3 conv, and the
    memory format is kept."""
    torch.manual_seed(0)
    layer = GeneratorUpConv(3, 4).to(memory_format=memory_format)
    x = torch.randn(2, 3, *size).to(memory_format=memory_format).requires_grad_()
    fast = layer(x)
    reference = layer.conv.conv(F.pad(F.interpolate(x, scale_factor=2, mode="nearest"), (1,) * 4, mode="reflect"))
    reference = F.elu(reference)
    torch.testing.assert_close(fast, reference)
    if not (x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)):  # 1 x 1 is both
        assert fast.is_contiguous(memory_format=memory_format)
    parameters = [x, layer.conv.conv.weight, layer.conv.conv.bias]
    for got, expected in zip(torch.autograd.grad(fast.square().sum(), parameters),
                             torch.autograd.grad(reference.square().sum(), parameters)):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("upsample", [False, True])
def test_naive_region_wise_equals_the_layer(upsample):
    torch.manual_seed(0)
    layer = RegionWiseConv2d(4, 3, 5, upsample=upsample)
    decoder, skip = torch.randn(2, 4, 6, 6), torch.randn(2, 3, 6, 6)
    mask = (torch.rand(2, 1, 12, 12) > 0.5).float()
    with torch.no_grad():
        torch.testing.assert_close(inference_bench.naive_region_wise(layer, decoder, skip, mask),
                                   layer(decoder, skip, mask))


def test_gpu_peak_lookup():
    assert harness.gpu_peak("NVIDIA H100 80GB HBM3")[0] == 989e12
    assert harness.gpu_peak("NVIDIA H100 PCIe")[0] == 756e12
    assert harness.gpu_peak("NVIDIA GeForce RTX 2080 Ti")[0] == 107e12
    assert harness.gpu_peak("Tesla T4") is None


def test_median_of_runs_keeps_text_from_the_first_run():
    runs = [{"rate": 3.0, "n": 2, "lpips_skipped": "no weights"}, {"rate": 1.0, "n": 2}, {"rate": 2.0, "n": 2}]
    assert suite.median_of_runs(runs) == {"rate": 2.0, "n": 2, "lpips_skipped": "no weights"}


def _results(cpu_seconds, pixel_rate, smoke_minutes=None):
    return {
        "inference": {"cpu": {"generator": [{"case": "fp32", "batch": 1, "ms_per_image": 1e3 * cpu_seconds}]},
                      "cuda": {"not_measured": "no GPU"}},
        "metrics": {"pixel_metrics_images_per_s": pixel_rate, "fid_skipped": "weights missing"},
        "profiles": {"smoke": {"minutes": smoke_minutes} if smoke_minutes else {"not_measured": "no record"},
                     "demo": {"not_measured": "no record"}},
    }


def test_targets_met_missed_and_not_measured():
    statuses = {row["target"]: row["status"] for row in report.evaluate_targets(_results(0.5, 10.0, 4.0))}
    assert statuses["CPU: generator inference, 256x256, batch 1, fp32 (best thread count)"] == "met"
    assert statuses["CPU: metrics without FID (L1, L2, PSNR, SSIM)"] == "missed"
    assert statuses["CPU: FID"] == "not measured (weights missing)"
    assert statuses["CPU: smoke profile end to end"] == "met"
    assert statuses["CPU: demo profile end to end"] == "not measured (no record)"
    assert statuses["GPU: generator inference, 256x256, bf16"] == "not measured (no GPU)"
    assert statuses["GPU: training, adversarial phase"] == "not measured (section train not run)"
    results = _results(1.5, 60.0)
    statuses = {row["target"]: row["status"] for row in report.evaluate_targets(results)}
    assert statuses["CPU: generator inference, 256x256, batch 1, fp32 (best thread count)"] == "missed"
    assert statuses["CPU: metrics without FID (L1, L2, PSNR, SSIM)"] == "met"
    results["inference"]["cpu"]["generator"].append({"case": "fp32, 1 thread", "batch": 1, "ms_per_image": 900.0})
    (inference,) = [row for row in report.evaluate_targets(results) if row["target"].startswith("CPU: generator")]
    assert (inference["measured"], inference["status"]) == (0.9, "met")  # the faster thread setting counts


def test_timed_run_records_only_complete_runs(tmp_path):
    assert timed_run.read_runtime(tmp_path, "smoke") is None
    assert timed_run.timed_run("smoke", [sys.executable, "-c", "raise SystemExit(3)"], tmp_path) == 3
    assert timed_run.read_runtime(tmp_path, "smoke") is None
    assert timed_run.timed_run("smoke", [sys.executable, "-c", "pass"], tmp_path) == 0
    record = timed_run.read_runtime(tmp_path, "smoke")
    assert record["profile"] == "smoke" and 0 < record["seconds"] < 60
    assert record["minutes"] == pytest.approx(record["seconds"] / 60)
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "runtime.json").write_text("{not json")
    with pytest.raises(RwganError, match="runtime.json"):
        timed_run.read_runtime(tmp_path, "demo")
    with pytest.raises(RwganError, match="command"):
        timed_run.timed_run("smoke", [], tmp_path)


def test_tiny_suite_writes_json_and_markdown(tmp_path, monkeypatch):
    metric_runs = iter([30.0, 70.0, 60.0])
    monkeypatch.setattr(metrics_bench, "run", lambda n: {
        "n_images": n, "pixel_metrics_images_per_s": next(metric_runs), "skimage_loop_images_per_s": 10.0,
        "batched_speedup_over_skimage": 6.0, "fid_features_s_per_1000_images": 40.0, "fid_statistics_s": 5.0})
    rates = {"contiguous": {"0-10%": 100.0, "all": 100.0}, "discontiguous": {"0-10%": 50.0, "all": 50.0}}
    monkeypatch.setattr(masks_bench, "per_type_rates", lambda size, sample, root: rates)
    monkeypatch.setattr(jobs_bench, "_cpu_s", lambda command: 1.5)  # no subprocesses
    monkeypatch.setattr(jobs_bench, "_run_job", lambda job, env, log: 2.5)
    reports = tmp_path / "reports"
    assert timed_run.timed_run("smoke", [sys.executable, "-c", "pass"], reports) == 0

    results = suite.run(TINY, reports_dir=reports)
    json_path, markdown_path = suite.write(results, tmp_path / "out")

    assert json.loads(json_path.read_text()) == json.loads(json.dumps(results))
    assert results["metrics"]["pixel_metrics_images_per_s"] == 60.0  # median of the three runs
    assert results["metrics"]["lpips_gmac_per_image"] == pytest.approx(2 * 20.04, abs=0.01)  # VGG16 at 256, twice
    rows = results["inference"]["cpu"]["generator"]
    assert [(row["case"], row["batch"]) for row in rows] == [
        ("fp32", 1), ("fp32", 2), ("fp32, 1 thread", 1), ("fp32, 1 thread", 2)]
    assert all(row["images_per_s"] > 0 and "error" not in row for row in rows)
    for layer in results["inference"]["cpu"]["region_wise_layer"].values():
        assert layer["max_abs_difference"] < 1e-4
    assert results["train"]["cpu"]["phase2"]["images_per_s"] > 0
    options = results["options"]["cpu"]
    expected_cases = ["fp32", "bf16", "fp32+channels_last", "bf16+channels_last"]  # compile: no TINY size
    assert [row["case"] for row in options["inference"]] == expected_cases
    assert [row["case"] for row in options["training"]] == expected_cases
    inference = {row["case"]: row for row in options["inference"]}
    assert inference["fp32"]["speedup"] == 1.0 and inference["fp32"]["psnr_to_fp32_db"] == float("inf")
    assert 25 < inference["fp32+channels_last"]["psnr_to_fp32_db"]  # a memory layout: rounding only
    if "bf16_unavailable" not in options:
        assert 15 < inference["bf16"]["psnr_to_fp32_db"] < 80  # bf16 rounds: close, never equal
        curves = options["loss_curves"]
        assert len(curves["fp32"]) == len(curves["bf16"]) == 3 and curves["fp32"][0] != curves["bf16"][0]
        assert (tmp_path / "out" / "loss_curves.png").is_file()
    training = {row["case"]: row for row in options["training"]}
    assert training["fp32"]["phase2_gflop_per_image"] > training["fp32"]["phase1_gflop_per_image"] > 0
    assert all(row["phase1_s_per_step"] > 0 and row["phase2_s_per_step"] > 0 for row in training.values())
    jobs = results["jobs"]
    smallest = jobs["smallest_jobs"]
    assert {row["stage"] for row in smallest["jobs"]} == set(dag.STAGES) and jobs["workflow_start_s"] == 1.5
    assert all(row["wall_s"] == 2.5 for row in smallest["jobs"]) and smallest["params"]["train"]["max_steps_phase1"] == 1
    assert not (jobs_bench.REPO_ROOT / "work" / jobs_bench.SMALLEST_PROFILE).exists()
    assert set(jobs["classical_s_per_image"]) == {"telea", "navier_stokes", "biharmonic"}
    statuses = {row["target"]: row["status"] for row in results["targets"]}
    assert statuses["CPU: metrics without FID (L1, L2, PSNR, SSIM)"] == "met"
    assert statuses["CPU: FID"] == "met"
    assert statuses["CPU: smoke profile end to end"] == "met"
    assert statuses["CPU: demo profile end to end"].startswith("not measured (no record")
    text = markdown_path.read_text()
    for heading in ("## Machine", "## Targets", "## Ratios", "## Generator inference", "## Training",
                    "## Faster options", "## Evaluation metrics", "## Mask generation", "## Fixed costs",
                    "## Profiles end to end"):
        assert heading in text
    if not torch.cuda.is_available():
        assert "not measured (no GPU)" in text


def test_cli_runs_sections_and_rejects_unknown_ones(tmp_path, capsys):
    main(["--only", "profiles", "--out", str(tmp_path)])
    assert (tmp_path / "benchmarks.json").is_file() and (tmp_path / "benchmarks.md").is_file()
    assert json.loads((tmp_path / "benchmarks.json").read_text())["sections"] == ["profiles"]
    with pytest.raises(SystemExit) as exit_info:
        main(["--only", "inference,speed", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "unknown section speed" in capsys.readouterr().err


def test_a_failing_smallest_job_is_one_line_naming_it(tmp_path):
    job = dag.Job("masks", {}, f"{sys.executable} -c 'import sys; print(\"bad mask\"); sys.exit(1)'", (), (), (), "")
    with pytest.raises(RwganError, match=r"job masks of the smallest_jobs profile failed \(bad mask\); log .*masks.log$"):
        jobs_bench._run_job(job, dict(os.environ), tmp_path / "masks.log")
