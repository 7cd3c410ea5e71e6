"""The evaluate stage: pairing, composites, per-image and per-bin scores, summary schema, errors."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from conftest import make_variant
from pipeline import config
from pipeline import evaluate as stage
from pipeline.cli_common import write_csv
from pipeline.masks import write_mask
from rwgan import assets, io, masks
from rwgan.errors import RwganError
from rwgan.evaluation import (
    PER_IMAGE_COLUMNS,
    SUMMARY_COLUMNS,
    composite_path,
    evaluation_pairs,
    generate_composites,
    paired_images,
    summarize,
)
from rwgan.inference import save_model
from rwgan.metrics import edgeconnect_metrics, pixel_metrics
from rwgan.uncertainty import bootstrap_interval
from rwgan.models import region_wise_generator

SIZE = 64
BINS = ("10-20%", "30-40%")
PROFILE = "t"
DATASET = "toy"
PIXEL_METRICS = ["L1", "L2", "PSNR", "SSIM"]


# ----------------------------------------------------------------------------- fixtures
def _test_image(rng: np.random.Generator) -> np.ndarray:
    """A smooth colour gradient plus noise: structure for SSIM, texture for the fills."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    base = np.stack([rows, cols, (rows + cols) / 2], axis=-1) * rng.uniform(100, 200, 3)
    return np.clip(base + rng.normal(0, 12, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)


def _mask_set(root: Path, kind: str, per_bin: int = 2) -> None:
    rows = []
    for label in BINS:
        for index, hole in enumerate(masks.generate_binned(kind, label, per_bin, seed=0, size=SIZE)):
            rows.append(write_mask(root, f"{label}/{index:05d}.png", kind, hole, label))
    write_csv(root / "manifest.csv", masks.MANIFEST_COLUMNS, rows)


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A repository-like folder: params.yaml, 3 test images, a 2-bin x 2-mask contiguous set; cwd set to it."""
    rng = np.random.default_rng(7)
    test_dir = tmp_path / "work" / PROFILE / "data" / DATASET / "test"
    for index in range(3):
        io.save_png(test_dir / f"img{index}.png", _test_image(rng))
    _mask_set(tmp_path / "work" / PROFILE / "masks" / "contiguous", "contiguous")
    regular = tmp_path / "work" / PROFILE / "masks" / "regular"
    row = write_mask(regular, "centred/00000.png", "regular", masks.regular_mask(SIZE, SIZE // 2), "centred")
    write_csv(regular / "manifest.csv", masks.MANIFEST_COLUMNS, [row])
    defaults = config.read_params_file()["defaults"]
    defaults.update(seed=0, image_size=SIZE, datasets=[DATASET])
    defaults["train"].update(mask_types=["mixed"], variants={"full": {}})
    defaults["evaluate"] = {
        "methods": ["telea"],
        "sets": ["contiguous"],
        "extra_sets": {"regular": ["full"]},
        "metrics": PIXEL_METRICS,
        "kid_subset_size": 1000,
        "batch_size": 3,
        "device": "cpu",
        "amp": "auto",
        "timing": {"warmup": 1, "repeats": 2},
    }
    params = {"profile": PROFILE, "defaults": defaults, "profiles": {PROFILE: {}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _params(workspace: Path, **evaluate) -> None:
    path = workspace / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["defaults"]["evaluate"].update(evaluate)
    path.write_text(yaml.safe_dump(params))


def _out(method: str = "telea") -> Path:
    return Path("work") / PROFILE / "eval" / DATASET / method


# ----------------------------------------------------------------------------- pairing
def test_pairing_is_mask_rank_modulo_images_sorted_by_name():
    images = [Path("t/b.png"), Path("t/a.png")]  # sorted: a, b
    masks_given = [Path("m/00002.png"), Path("m/00000.png"), Path("m/00003.png"), Path("m/00001.png"), Path("m/00004.png")]
    # Ranks by name: 00000 -> a, 00001 -> b, 00002 -> a, 00003 -> b, 00004 -> a; output follows the input order.
    expected = [Path("t/a.png"), Path("t/a.png"), Path("t/b.png"), Path("t/b.png"), Path("t/a.png")]
    assert paired_images(masks_given, images) == expected
    assert paired_images(list(reversed(masks_given)), images[::-1]) == expected[::-1]
    assert paired_images(masks_given[:2], images[:1]) == [Path("t/b.png")] * 2


def test_pairing_needs_test_images():
    with pytest.raises(RwganError, match="at least one test image"):
        paired_images([Path("m/0.png")], [])


def test_evaluation_pairs_cover_every_bin_with_the_same_images(workspace):
    images = io.list_images(Path("work") / PROFILE / "data" / DATASET / "test")
    pairs = evaluation_pairs(Path("work") / PROFILE / "masks", ["contiguous"], images)
    assert [(p.bin, p.mask.name, p.image.name) for p in pairs] == [
        ("10-20%", "00000.png", "img0.png"),
        ("10-20%", "00001.png", "img1.png"),
        ("30-40%", "00000.png", "img0.png"),
        ("30-40%", "00001.png", "img1.png"),
    ]
    assert evaluation_pairs(Path("work") / PROFILE / "masks", ["contiguous"], images[::-1]) == pairs


# ----------------------------------------------------------------------------- end to end
def test_classical_method_end_to_end(workspace):
    stage.main(["--profile", PROFILE, "--dataset", DATASET, "--method", "telea"])
    out = _out()
    per_image = pd.read_csv(out / "per_image.csv", dtype={"bin": str})
    summary = pd.read_csv(out / "summary.csv", dtype={"bin": str})
    timing = json.loads((out / "timing.json").read_text())

    # Schema: exact columns; only the requested metrics, under both protocols; telea is not in
    # extra_sets -> contiguous only.
    assert tuple(per_image.columns) == PER_IMAGE_COLUMNS
    assert tuple(summary.columns) == SUMMARY_COLUMNS
    assert list(per_image["protocol"]) == ["rwgan"] * 4 + ["edgeconnect"] * 4
    assert set(per_image["set"]) == {"contiguous"}
    assert set(summary["metric"]) == {"L1", "L2", "PSNR", "SSIM"}
    assert per_image["LPIPS"].isna().all()
    assert list(summary.groupby(["mask_type", "bin"]).size()) == [8, 8]
    assert list(summary.groupby("protocol", sort=False).size().items()) == [("rwgan", 8), ("edgeconnect", 8)]
    assert (summary[["dataset", "method"]] == [DATASET, "telea"]).all().all()
    assert set(timing) == {"seconds_per_image", "device", "hardware", "parameters", "n_images_timed"}
    assert timing["device"] == "cpu" and timing["parameters"] == 0 and timing["n_images_timed"] == 2
    assert timing["seconds_per_image"] > 0
    assert (Path("logs") / PROFILE / f"evaluate-{DATASET}-telea.log").is_file()

    pairs = evaluation_pairs(Path("work") / PROFILE / "masks", ["contiguous"],
                             io.list_images(Path("work") / PROFILE / "data" / DATASET / "test"))
    composites = np.stack([io.read_image(composite_path(out / "composites", p), SIZE) for p in pairs])
    truths = np.stack([io.read_image(p.image, SIZE) for p in pairs])
    holes = np.stack([io.read_mask(p.mask, SIZE) for p in pairs])
    # Known pixels of the saved composites are the ground truth, exactly; the holes were filled.
    assert np.array_equal(composites[~holes], truths[~holes])
    assert not np.array_equal(composites[holes], truths[holes])

    # per_image.csv equals each protocol's metrics recomputed from the saved composites, in
    # pairing order; rwgan's l1 and l2 also by hand.
    for protocol, function in (("rwgan", pixel_metrics), ("edgeconnect", edgeconnect_metrics)):
        rows = per_image[per_image["protocol"] == protocol]
        assert list(rows["mask"]) == [p.mask.name for p in pairs]
        assert list(rows["image"]) == [p.image.name for p in pairs]
        recomputed = function(composites, truths)
        for name in PIXEL_METRICS:
            np.testing.assert_allclose(rows[name], recomputed[name], rtol=1e-12)
    rwgan = per_image[per_image["protocol"] == "rwgan"]
    diff = composites.astype(float) - truths.astype(float)
    np.testing.assert_allclose(rwgan["L1"], np.abs(diff).mean(axis=(1, 2, 3)) / 255, rtol=1e-12)
    np.testing.assert_allclose(rwgan["L2"], (diff**2).mean(axis=(1, 2, 3)) / 255**2, rtol=1e-12)

    # summary.csv: bin means as computed (the display scale is the tables'), n = images in the
    # bin, the seeded bootstrap interval of the mean, per protocol.
    for protocol in ("rwgan", "edgeconnect"):
        l1 = summary[(summary["metric"] == "L1") & (summary["protocol"] == protocol)].set_index("bin")
        for label in BINS:
            values = per_image[(per_image["bin"] == label) & (per_image["protocol"] == protocol)]["L1"]
            np.testing.assert_allclose(l1.loc[label, "value"], values.mean(), rtol=1e-15)
            assert l1.loc[label, "n"] == 2 and l1.loc[label, "reliable"]
            assert (l1.loc[label, "ci95_low"], l1.loc[label, "ci95_high"]) == pytest.approx(bootstrap_interval(values))


def _save_random_full_model(path: Path) -> None:
    """A model.pt of the full variant with untrained weights: inference needs no training."""
    save_model(path, region_wise_generator(seed=3), make_variant(), SIZE, params_hash="test", params={}, step=0)


def test_trained_model_and_its_first_stage_from_the_same_checkpoint(workspace):
    _params(workspace, batch_size=8, timing={"warmup": 0, "repeats": 1})  # few generator forwards: fast
    _save_random_full_model(Path("work") / PROFILE / "runs" / DATASET / "mixed" / "full" / "model.pt")
    for method in ("full", "ic1"):
        stage.main(["--profile", PROFILE, "--dataset", DATASET, "--method", method])
    full, ic1 = (pd.read_csv(_out(m) / "per_image.csv", dtype={"bin": str}) for m in ("full", "ic1"))
    # full is listed under extra_sets.regular, ic1 is not.
    full, ic1 = (frame[frame["protocol"] == "rwgan"] for frame in (full, ic1))
    assert list(full["set"]) == ["contiguous"] * 4 + ["regular"] and list(ic1["set"]) == ["contiguous"] * 4
    for method in ("full", "ic1"):
        timing = json.loads((_out(method) / "timing.json").read_text())
        assert timing["parameters"] == 4_706_054 and timing["device"] == "cpu"
    pairs = evaluation_pairs(Path("work") / PROFILE / "masks", ["contiguous", "regular"],
                             io.list_images(Path("work") / PROFILE / "data" / DATASET / "test"))
    holes = np.stack([io.read_mask(p.mask, SIZE) for p in pairs])
    truths = np.stack([io.read_image(p.image, SIZE) for p in pairs])
    finals = np.stack([io.read_image(composite_path(_out("full") / "composites", p)) for p in pairs])
    coarse = np.stack([io.read_image(composite_path(_out("ic1") / "composites", p)) for p in pairs[:4]])
    assert np.array_equal(finals[~holes], truths[~holes])
    assert np.array_equal(coarse[~holes[:4]], truths[:4][~holes[:4]])
    assert not np.array_equal(coarse, finals[:4])  # I_c1 is not I_c2
    summary = pd.read_csv(_out("full") / "summary.csv", dtype={"bin": str})
    assert set(summary[summary["mask_type"] == "regular"]["metric"]) == {"L1", "L2", "PSNR", "SSIM"}

    # An evaluation is re-scored from its saved composites alone: no checkpoint, no inference.
    scores = {name: (_out("full") / name).read_bytes() for name in ("per_image.csv", "summary.csv", "timing.json")}
    (Path("work") / PROFILE / "runs" / DATASET / "mixed" / "full" / "model.pt").unlink()
    (_out("full") / "summary.csv").write_text("an older format\n")
    stage.main(["--profile", PROFILE, "--dataset", DATASET, "--method", "full", "--rescore"])
    assert {name: (_out("full") / name).read_bytes() for name in scores} == scores


def test_rescore_recomputes_identical_scores_and_resume_reuses_composites(workspace):
    argv = ["--profile", PROFILE, "--dataset", DATASET, "--method", "telea"]
    stage.main(argv)
    out = _out()
    first = (out / "per_image.csv").read_bytes(), (out / "summary.csv").read_bytes()
    stamps = {p: p.stat().st_mtime_ns for p in (out / "composites").rglob("*.png")}
    stage.main(argv + ["--rescore"])
    assert ((out / "per_image.csv").read_bytes(), (out / "summary.csv").read_bytes()) == first
    stage.main(argv + ["--resume"])
    assert {p: p.stat().st_mtime_ns for p in (out / "composites").rglob("*.png")} == stamps
    assert (out / "summary.csv").read_bytes() == first[1]
    stage.main(argv)  # a plain run starts over
    assert all(p.stat().st_mtime_ns > stamps[p] for p in stamps)


class QuadrantColours(torch.nn.Module):
    """A stand-in for the FID Inception (torch-fidelity's calling convention: uint8
    (N, 3, H, W) -> (features,)): mean colour of each 4x4 cell, 48-d, so FID's
    statistics take milliseconds instead of a 2048-d eigen-decomposition."""

    def forward(self, images):
        n, c, h, w = images.shape
        return (images.float().reshape(n, c, 4, h // 4, 4, w // 4).mean(dim=(3, 5)).flatten(1),)


def _reference_fid(real: np.ndarray, fake: np.ndarray) -> float:
    """FID by the singular values of A_r A_f^T: the non-zero eigenvalues of S_r S_f are the
    squared singular values of A_r A_f^T / sqrt((n_r - 1)(n_f - 1)), A the centred features."""
    a, b = real - real.mean(0), fake - fake.mean(0)
    scale = np.sqrt((len(a) - 1) * (len(b) - 1))
    trace_sqrt = np.linalg.svd(a @ b.T / scale, compute_uv=False).sum()
    diff = real.mean(0) - fake.mean(0)
    return float(diff @ diff + (a * a).sum() / (len(a) - 1) + (b * b).sum() / (len(b) - 1) - 2 * trace_sqrt)


@pytest.mark.skipif(not assets.cache_is_complete(assets.cache_dir()), reason="LPIPS weights not in the cache (rwgan fetch-weights)")
def test_lpips_per_image_fid_per_bin_and_kid_only_where_the_bin_allows(workspace, monkeypatch):
    monkeypatch.setattr(assets, "fid_feature_extractor", lambda features: QuadrantColours())
    _params(workspace, metrics=["L1", "L2", "PSNR", "SSIM", "LPIPS", "FID", "KID"])
    argv = ["--profile", PROFILE, "--dataset", DATASET, "--method", "navier_stokes"]
    stage.main(argv)
    out = _out("navier_stokes")
    summary = pd.read_csv(out / "summary.csv", dtype={"bin": str})
    per_image = pd.read_csv(out / "per_image.csv", dtype={"bin": str})
    assert per_image["LPIPS"].isna().tolist() == [False] * 4 + [True] * 4  # LPIPS is rwgan's only
    per_image = per_image[per_image["protocol"] == "rwgan"]
    assert (per_image["LPIPS"] > 0).all()
    fid = summary[summary["metric"] == "FID"].set_index("bin")
    assert list(fid.index) == list(BINS) and (fid["n"] == 2).all()
    assert (fid["protocol"] == "rwgan").all() and not fid["reliable"].any() and fid["ci95_low"].isna().all()
    for label in BINS:
        in_bin = per_image[per_image["bin"] == label]
        folder = out / "composites" / "contiguous" / label
        features = [
            QuadrantColours()(torch.from_numpy(np.stack([io.read_image(path) for path in paths])).permute(0, 3, 1, 2))[0]
            for paths in ([Path("work") / PROFILE / "data" / DATASET / "test" / name for name in in_bin["image"]],
                          [folder / name for name in in_bin["mask"]])
        ]
        assert fid.loc[label, "value"] == pytest.approx(_reference_fid(*(f.double().numpy() for f in features)), rel=1e-6)
    assert "KID" not in set(summary["metric"])  # 2 images < kid_subset_size 1000: absent, not 0

    _params(workspace, kid_subset_size=2)
    stage.main(argv + ["--rescore"])
    rescored = pd.read_csv(out / "summary.csv", dtype={"bin": str})
    assert list(rescored[rescored["metric"] == "KID"]["bin"]) == list(BINS)
    pd.testing.assert_frame_equal(rescored[rescored["metric"] != "KID"].reset_index(drop=True), summary)


# ----------------------------------------------------------------------------- library units
def test_summary_leaves_out_what_was_not_computed():
    per_image = pd.DataFrame({
        "protocol": ["rwgan"] * 3 + ["edgeconnect"] * 3,
        "set": ["contiguous"] * 6, "bin": ["0-10%", "0-10%", "10-20%"] * 2, "mask": ["a", "b", "c"] * 2,
        "image": ["x", "y", "x"] * 2, "L1": [0.01, 0.03, 0.5, 0.02, 0.04, 0.6], "L2": [1e-4, 3e-4, 0.25] * 2,
        "PSNR": [40.0, 35.0, 6.0] * 2, "SSIM": [0.9, 0.8, 0.1] * 2, "LPIPS": [math.nan, 0.2, math.nan] + [math.nan] * 3,
    })
    per_bin = pd.DataFrame({"set": ["contiguous"] * 2, "bin": ["0-10%", "10-20%"], "FID": [12.5, math.nan],
                            "KID": [math.nan, math.nan], "n": [2, 1]})
    summary = summarize(per_image, per_bin, "toy", "telea")
    rows = {(r.protocol, r.bin, r.metric): (r.value, r.n, r.ci95_low, r.ci95_high) for r in summary.itertuples()}
    reliable = {(r.protocol, r.bin, r.metric): bool(r.reliable) for r in summary.itertuples()}
    # Two values: the bootstrap means are v1, (v1 + v2) / 2, v2; the 95% interval is (v1, v2).
    assert rows[("rwgan", "0-10%", "L1")] == pytest.approx((0.02, 2, 0.01, 0.03))
    assert rows[("edgeconnect", "0-10%", "L1")] == pytest.approx((0.03, 2, 0.02, 0.04))
    assert rows[("rwgan", "0-10%", "L2")] == pytest.approx((2e-4, 2, 1e-4, 3e-4))
    assert rows[("rwgan", "0-10%", "PSNR")] == pytest.approx((37.5, 2, 35.0, 40.0))
    assert rows[("rwgan", "0-10%", "LPIPS")] == pytest.approx((0.2, 1, 0.2, 0.2))  # one value: (v, v)
    assert rows[("rwgan", "10-20%", "L1")] == pytest.approx((0.5, 1, 0.5, 0.5))
    fid = rows[("rwgan", "0-10%", "FID")]
    assert fid[:2] == (12.5, 2) and math.isnan(fid[2]) and math.isnan(fid[3])
    assert not reliable[("rwgan", "0-10%", "FID")]  # 2 images < 2049
    assert all(reliable[key] for key in reliable if key[2] != "FID")
    pixel = {(p, b, m) for p in ("rwgan", "edgeconnect") for b in ("0-10%", "10-20%") for m in ("L1", "L2", "PSNR", "SSIM")}
    assert set(rows) == pixel | {("rwgan", "0-10%", "LPIPS"), ("rwgan", "0-10%", "FID")}
    assert tuple(summary.columns) == SUMMARY_COLUMNS and (summary["mask_type"] == "contiguous").all()
    assert (summary[["dataset", "method"]] == ["toy", "telea"]).all().all()


def test_a_method_that_changes_known_pixels_is_refused(workspace):
    images = io.list_images(Path("work") / PROFILE / "data" / DATASET / "test")
    pairs = evaluation_pairs(Path("work") / PROFILE / "masks", ["contiguous"], images)

    def leaky(images, holes):
        out = images.copy()
        out[holes] = 0
        out[1, ~holes[1]] ^= 1
        return out

    with pytest.raises(RwganError, match=r"leaky: changed known pixels of .*img1\.png under .*00001\.png"):
        generate_composites(leaky, pairs, "composites", SIZE, batch_size=4, method="leaky", progress=False)
    with pytest.raises(RwganError, match=r"expected uint8"):
        generate_composites(lambda i, h: i.astype(float), pairs, "composites", SIZE, method="float", progress=False)


def test_sets_and_checkpoint_choice_follow_params(workspace):
    params = yaml.safe_load(Path("params.yaml").read_text())["defaults"] | {"profile": PROFILE}
    assert stage.method_sets(params, "telea") == ["contiguous"]
    assert stage.method_sets(params, "full") == ["contiguous", "regular"]
    assert stage.checkpoint_mask_type(params, "contiguous") == "mixed"
    params["train"]["mask_types"] = ["contiguous", "discontiguous", "mixed"]
    assert [stage.checkpoint_mask_type(params, s) for s in ("contiguous", "discontiguous", "regular")] == [
        "contiguous", "discontiguous", "mixed"]
    params["train"]["mask_types"] = ["contiguous"]
    with pytest.raises(RwganError, match=r"train.mask_types lists neither 'regular' nor 'mixed'"):
        stage.checkpoint_mask_type(params, "regular")


# ----------------------------------------------------------------------------- errors
def _fails(match: str, method: str = "telea") -> None:
    with pytest.raises(RwganError, match=match):
        stage.main(["--profile", PROFILE, "--dataset", DATASET, "--method", method])


def test_unknown_method_lists_the_known_ones(workspace):
    _fails(r"--method: unknown method 'ours' \(known: full, ic1, telea, navier_stokes, biharmonic\)", "ours")


def test_missing_checkpoint_names_the_file_and_the_command(workspace):
    _fails(r"work/t/runs/toy/mixed/full/model.pt: checkpoint not found \(expected from "
           r"`python -m pipeline.train --profile t --dataset toy --mask-type mixed --variant full --phase 2`\)", "ic1")


def test_missing_inputs_name_the_folder_and_the_stage(workspace):
    _params(workspace, sets=["contiguous", "discontiguous"])
    _fails(r"work/t/masks/discontiguous: mask set not found \(expected from `python -m pipeline.masks --profile t`")
    for image in (Path("work") / PROFILE / "data" / DATASET / "test").iterdir():
        image.unlink()
    _fails(r"work/t/data/toy/test: no test images \(expected from `python -m pipeline.prepare --profile t --dataset toy`\)")


def test_bad_params_name_the_key(workspace):
    _params(workspace, metrics=["L1", "FSIM"])
    _fails(r"defaults.evaluate.metrics.1: 'FSIM' is not one of")
    _params(workspace, metrics=["L1"], batch_size=0)
    _fails(r"defaults.evaluate.batch_size: 0 is less than the minimum of 1")
    _params(workspace, batch_size=2, timing={"warmup": 1})
    _fails(r"defaults.evaluate.timing.repeats: missing")
    _params(workspace, timing={"warmup": 1, "repeats": 1}, kid_subset_size=1)
    _fails(r"defaults.evaluate.kid_subset_size: 1 is less than the minimum of 2")
