"""The planner (pipeline/plan.py): every DAG job, estimates by hand from known rates, scaling, errors."""
import copy
import json

import pytest

from conftest import ROOT, write_params
from benchmarks import jobs_bench
from pipeline import config, dag, plan
from rwgan.errors import RwganError

#: Figures of a benchmark run, chosen to make the estimates easy to compute by hand.
FIGURES = {
    "created_at": "test", "load_average_before": [0, 0, 0],
    "machine": {"torch_threads": 2},
    "inference": {"cpu": {"cost": {"image_size": 256, "executed_gmac_per_image": 40.0},
                          "pconv_ratio": {"ours_over_pconv": 2.0},
                          "generator": [{"case": "fp32", "batch": 1, "ms_per_image": 400.0},
                                        {"case": "fp32, 1 thread", "batch": 1, "ms_per_image": 720.0}]}},
    "options": {"cpu": {
        "training": [
            {"case": "fp32", "size": 64, "batch": 8, "phase1_timing": {"cpu_s": 0.8}, "phase2_timing": {"cpu_s": 1.6},
             "phase1_gflop_per_image": 10.0, "phase2_gflop_per_image": 20.0},
            {"case": "bf16", "size": 64, "batch": 8, "phase1_timing": {"cpu_s": 0.4}, "phase2_timing": {"cpu_s": 0.8}},
            {"case": "fp32", "size": 256, "batch": 1, "phase1_timing": {"cpu_s": 1.6}, "phase2_timing": {"cpu_s": 3.2},
             "phase1_gflop_per_image": 160.0, "phase2_gflop_per_image": 320.0},
        ],
        "inference": [{"case": "fp32", "size": 64, "batch": 16, "timing": {"cpu_s": 0.32}},
                      {"case": "fp32", "size": 256, "batch": 1, "timing": {"cpu_s": 0.32}}],
    }},
    "metrics": {"pixel_metrics_cpu_s_per_image": 0.01, "pixel_metrics_with_lpips_cpu_s_per_image": 0.25,
                "lpips_gmac_per_image": 40.0, "fid_features_cpu_s_per_image": 0.05,
                "inception_gmac_per_image": 5.7, "fid_statistics_s": 1.0, "kid_statistics_s": 8.0},
    "masks": {"masks_per_cpu_s": {"contiguous": {"all": 200.0}}},
    "jobs": {"smallest_jobs": None, "workflow_start_s": 10.0,  # smallest_jobs: see _with_fixed_costs
             "prepare_s_per_image": 0.01,
             "classical_s_per_image": {"telea": {"64": 0.01, "256": 0.16}, "navier_stokes": {"64": 0.01},
                                       "biharmonic": {"64": 0.5, "256": 8.0}}},
}


FIXED_S = 5.0


def _with_fixed_costs(figures: dict, tmp_path, wall_s=None) -> dict:
    """``figures`` with every job of the smallest profile timed at its estimated work plus
    FIXED_S (or at ``wall_s[name]``), so that each stage's fixed cost is FIXED_S."""
    figures = copy.deepcopy(figures)
    params = config.load(jobs_bench.SMALLEST_PROFILE, jobs_bench.smallest_params_file(tmp_path, ROOT / "params.yaml"))
    jobs = [{"name": job.name, "stage": job.stage, "key": job.key, "wall_s": 0.0}
            for job in dag.jobs_of(params, tmp_path / "params.yaml")]
    figures["jobs"]["smallest_jobs"] = {"params": params, "jobs": jobs}
    path = tmp_path / "zero.json"
    path.write_text(json.dumps(figures))
    rates = plan.Rates.from_benchmarks(path)
    zero = plan.Planner(params, rates, plan.make_gpu("H100", 0.2), fixed=dict.fromkeys(dag.STAGES, 0.0))
    for row in jobs:
        work = plan.alone_s(zero.estimate(dag.Job(row["stage"], row["key"], "", (), (), (), "")), rates)
        row["wall_s"] = (wall_s or {}).get(row["name"], FIXED_S + work)
    return figures


@pytest.fixture
def figures(tmp_path):
    path = tmp_path / "benchmarks.json"
    path.write_text(json.dumps(_with_fixed_costs(FIGURES, tmp_path)))
    return path


def test_fixed_costs_are_the_smallest_jobs_wall_less_their_work(tmp_path):
    """download (embedded: nothing to fetch) and report have no work: their wall time is their
    fixed cost; the phase-1 run's one step of one image and its two validations of one image
    come off its wall time; a job faster than its estimated work costs nothing fixed."""
    walls = {"download-embedded": 2.0, "report": 6.0, "pretrain-embedded-mixed-full": 7.0, "masks": 0.001}
    figures = _with_fixed_costs(FIGURES, tmp_path, walls)
    path = tmp_path / "benchmarks.json"
    path.write_text(json.dumps(figures))
    rates = plan.Rates.from_benchmarks(path)
    fixed = plan.fixed_costs(rates, plan.make_gpu("H100", 0.2))
    lpips_64 = (1 / 4.0 - 1 / 100.0) / 16
    assert fixed["download"] == 2.0 and fixed["report"] == 6.0 and fixed["masks"] == 0.0
    assert fixed["pretrain"] == pytest.approx(7.0 - (1 * 0.1 + 2 * (0.020 + lpips_64)) / 1.8)
    assert set(fixed) == set(dag.STAGES)
    del figures["jobs"]["smallest_jobs"]["jobs"][-1]  # the report
    path.write_text(json.dumps(figures))
    with pytest.raises(RwganError, match="no job of the report stage"):
        plan.plan_profile("smoke", path, params_file=ROOT / "params.yaml")


def _by_name(estimates):
    return {estimate.job.name: estimate for estimate in estimates}


@pytest.mark.parametrize("profile", ["smoke", "demo", "paper"])
def test_plan_has_every_job_of_the_dag_in_order(profile, figures):
    _, estimates, _, _ = plan.plan_profile(profile, figures, params_file=ROOT / "params.yaml")
    assert [e.job.name for e in estimates] == [job.name for job in dag.jobs(profile, ROOT / "params.yaml")]
    assert all(e.cpu_s is None or e.cpu_s > 0 for e in estimates)
    gpu_stages = {e.job.stage for e in estimates if e.gpu_s is not None}
    assert gpu_stages == {"pretrain", "train", "evaluate"}


def test_training_and_evaluation_estimates_by_hand(figures):
    params, estimates, _, _ = plan.plan_profile("smoke", figures, params_file=ROOT / "params.yaml")
    assert params["image_size"] == 64 and params["train"]["batch_size"] == 2
    jobs = _by_name(estimates)
    lpips_64 = (1 / 4.0 - 1 / 100.0) / 16  # LPIPS alone at 256 px, scaled by the pixels
    validation = 2 * 2 * (0.020 + lpips_64)  # validations at the first and last step, 2 images each
    # phase 1: 2 steps x 2 images at 0.1 s per image (0.8 s per step of 8)
    assert jobs["pretrain-embedded-mixed-full"].cpu_s == pytest.approx(5 + 4 * 0.1 + validation)
    # phase 2 of the full model: its D judges I_c1 and I_c2, all of phase 2's measured extra cost
    assert jobs["train-embedded-mixed-full"].cpu_s == pytest.approx(5 + 4 * 0.2 + validation)
    # one D judging only I_c2: half the extra cost
    assert jobs["train-embedded-mixed-gpnet_region_d"].cpu_s == pytest.approx(5 + 4 * 0.15 + validation)
    assert jobs["train-embedded-mixed-no_d"].cpu_s == pytest.approx(5 + 4 * 0.1 + validation)
    # PC: its measured inference time over ours (half)
    assert jobs["pretrain-embedded-mixed-pconv"].cpu_s == pytest.approx(5 + 4 * 0.05 + validation)
    # GPU: 4 images x 10 GFLOP, the validation's generator and LPIPS GFLOP, at 20% of an H100's 989 TFLOP/s
    flops = 4 * 10e9 + 4 * 80e9 / 16
    assert jobs["pretrain-embedded-mixed-full"].gpu_s == pytest.approx(
        5 + flops / (989e12 * 0.2) + 4 * 80e9 / 16 / (989e12 * 0.1))
    # evaluate telea: contiguous and discontiguous, 5 bins x 4 masks each, plus regular (2 x 4)
    telea = jobs["evaluate-embedded-telea"]
    assert telea.work.startswith("48 pairs in 12 bins")
    timed = 1 + 3  # warm-up and repeats of Table IV's timing, on the first set
    scoring = 48 * (1 / 100.0 / 16 + lpips_64) + (48 + 4) * 0.05  # composites and the 4 test images: Inception
    statistics = 12 * 1.0 * (4 / 2000) ** 2  # FID per bin; no KID in smoke
    assert telea.cpu_s == pytest.approx(5 + (48 + timed) * 0.01 + scoring + statistics)


def test_kid_statistics_cost_the_square_of_their_subset_size(tmp_path):
    """KID's kernels over each bin (demo: kid_subset_size null, so the whole bin of 10) cost
    the measured 100 subsets of 1,000 samples times (10 / 1,000)^2, not the full figure."""
    costs = {}
    for kid_s in (8.0, 16.0):
        figures = copy.deepcopy(FIGURES)
        figures["metrics"]["kid_statistics_s"] = kid_s
        figures = _with_fixed_costs(figures, tmp_path)
        path = tmp_path / f"{kid_s}.json"
        path.write_text(json.dumps(figures))
        _, estimates, _, _ = plan.plan_profile("demo", path, params_file=ROOT / "params.yaml")
        costs[kid_s] = _by_name(estimates)["evaluate-embedded-telea"].cpu_s
    bins, per_bin = 12, 10  # contiguous, discontiguous and regular at 10 masks per bin
    assert costs[16.0] - costs[8.0] == pytest.approx(bins * 8.0 * (per_bin / 1000) ** 2)


def test_estimates_scale_with_the_steps(tmp_path, figures):
    train = copy.deepcopy(config.read_params_file(ROOT / "params.yaml")["defaults"]["train"])
    work = {}
    for steps in (10, 20):
        train.update(max_steps_phase1=steps, max_steps_phase2=7, validation={"images": 0, "every": 0})
        folder = tmp_path / str(steps)
        folder.mkdir()
        params_file = write_params(folder, train=train)
        _, estimates, _, _ = plan.plan_profile("t", figures, params_file=params_file)
        jobs = _by_name(estimates)
        work[steps] = {name: jobs[name].cpu_s - 5 for name in ("pretrain-celebahq-mixed-full",
                                                               "train-celebahq-mixed-full")}
        assert jobs["pretrain-celebahq-mixed-full"].work.startswith(f"{steps} steps")
    assert work[20]["pretrain-celebahq-mixed-full"] == pytest.approx(2 * work[10]["pretrain-celebahq-mixed-full"])
    assert work[20]["train-celebahq-mixed-full"] == pytest.approx(work[10]["train-celebahq-mixed-full"])


def test_cpu_wall_time_runs_the_jobs_in_turn_on_every_core(figures):
    params, estimates, rates, _ = plan.plan_profile("smoke", figures, params_file=ROOT / "params.yaml")
    starts = sum(e.fixed_s for e in estimates)
    work = sum(e.work_s for e in estimates)
    assert rates.thread_speedup == pytest.approx(1.8) and rates.cores == 2
    # one workflow start; each job's start, then its CPU seconds on 2 threads 1.8x faster than one
    assert plan.cpu_wall_s(estimates, rates) == pytest.approx(10 + starts + work / 1.8)


def test_gpu_wall_time_over_several_gpus(figures):
    _, estimates, _, _ = plan.plan_profile("paper", figures, params_file=ROOT / "params.yaml")
    one, eight = plan.gpu_wall_s(estimates, 1), plan.gpu_wall_s(estimates, 8)
    gpu_total = sum(e.gpu_s for e in estimates if e.gpu_s is not None)
    assert one >= gpu_total and gpu_total / 8 <= eight < one
    with pytest.raises(RwganError, match="--gpus"):
        plan.gpu_wall_s(estimates, 0)


def test_cli_prints_the_plan_and_one_line_errors(figures, capsys):
    plan.main(["--profile", "smoke", "--benchmarks", str(figures), "--gpus", "4"])
    out = capsys.readouterr().out
    assert "pretrain-embedded-mixed-full" in out and "GPU-hours" in out and "on 4:" in out
    for argv, message in (
        (["--profile", "nope"], "unknown profile 'nope'"),
        (["--profile", "smoke", "--benchmarks", str(figures.parent / "missing.json")], "missing.json: no benchmark"),
        (["--profile", "smoke", "--gpu", "Tesla T4"], "--gpu: no datasheet peak for 'Tesla T4'"),
        (["--profile", "smoke", "--utilisation", "2"], "--utilisation"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            plan.main(argv + ([] if "--benchmarks" in argv else ["--benchmarks", str(figures)]))
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and message in err and err.count("\n") == 1


def test_incomplete_figures_name_the_missing_one(tmp_path):
    figures = copy.deepcopy(FIGURES)
    del figures["jobs"]
    path = tmp_path / "benchmarks.json"
    path.write_text(json.dumps(figures))
    with pytest.raises(RwganError, match=r"benchmarks.json: no figure jobs"):
        plan.Rates.from_benchmarks(path)
