"""Export the fixed test sets, score an external method's folder (rwgan.external, `rwgan
export-testset` / `rwgan score`): the acceptance test of issue 12 and the checks' errors."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pipeline.cli_common import write_csv
from pipeline.masks import write_mask
from rwgan import assets, io, masks
from rwgan.classical import INPAINT_RADIUS
from rwgan.cli import main as cli
from rwgan.errors import RwganError
from rwgan.evaluation import (
    SUMMARY_COLUMNS,
    classical_inpainter,
    composite_path,
    evaluation_pairs,
    generate_composites,
    score_composites,
    summarize,
)
from rwgan.external import (
    EXPORT_COLUMNS,
    SCORE_PER_IMAGE_COLUMNS,
    SCORE_SUMMARY_COLUMNS,
    export_testset,
    Scoring,
    read_export,
    score_callable,
    score_outputs,
)
from rwgan.metrics import PROTOCOLS, edgeconnect_metrics
from test_evaluate import QuadrantColours, _test_image

ROOT = Path(__file__).resolve().parents[1]
CELEBA = ROOT / ".." / "shared" / "data" / "celebahq-256"
TELEA_SCRIPT = ROOT / "tests" / "data" / "external" / "telea.py"
SIZE = 64  # >= 51, the edgeconnect protocol's SSIM window
SETS = {"contiguous": ("10-20%", "30-40%"), "discontiguous": ("20-30%",)}
PER_BIN = 4  # masks per bin: with 3 test images, mask 3 of each bin wraps to image 0
METRICS = ["L1", "L2", "PSNR", "SSIM", "FID", "KID"]
PIXEL = ["L1", "L2", "PSNR", "SSIM"]
QUICK = Scoring(metrics=PIXEL, progress=False)


def _test_images() -> list[np.ndarray]:
    """3 CelebA-HQ faces resized to 64 px (Pillow bilinear, as the prepare stage), or
    synthetic gradients where ../shared is absent."""
    if CELEBA.is_dir():
        return [np.asarray(Image.open(path).convert("RGB").resize((SIZE, SIZE), Image.Resampling.BILINEAR))
                for path in io.list_images(CELEBA)[:3]]
    rng = np.random.default_rng(7)
    return [_test_image(rng) for _ in range(3)]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A profile-like tree (work/t/data/toy/test, work/t/masks/<set>), its export, the
    external Telea's outputs (a separate script in a subprocess) and rwgan's own Telea
    composites of the same pairs."""
    root = tmp_path_factory.mktemp("profile")
    test_dir = root / "work" / "t" / "data" / "toy" / "test"
    for index, image in enumerate(_test_images()):
        io.save_png(test_dir / f"img{index}.png", image)
    masks_root = root / "work" / "t" / "masks"
    for kind, bins in SETS.items():
        rows = [write_mask(masks_root / kind, f"{label}/{index:05d}.png", kind, hole, label)
                for label in bins for index, hole in enumerate(masks.generate_binned(kind, label, PER_BIN, seed=0, size=SIZE))]
        write_csv(masks_root / kind / "manifest.csv", masks.MANIFEST_COLUMNS, rows)

    export = root / "export"
    assert cli(["export-testset", "--masks", str(masks_root), "--images", str(test_dir), "--dataset", "toy",
                "--sets", *SETS, "--out", str(export)]) == 0
    outputs = root / "telea"
    imports = [line for line in TELEA_SCRIPT.read_text().splitlines() if line.startswith(("import ", "from "))]
    assert not [line for line in imports if "rwgan" in line or "pipeline" in line]  # it knows nothing of this project
    subprocess.run([sys.executable, str(TELEA_SCRIPT), str(export), str(outputs), str(INPAINT_RADIUS)],
                   check=True, cwd=root)

    pairs = evaluation_pairs(masks_root, list(SETS), io.list_images(test_dir))
    generate_composites(classical_inpainter("telea"), pairs, root / "internal", SIZE, progress=False)
    return {"root": root, "masks": masks_root, "test": test_dir, "export": export, "outputs": outputs, "pairs": pairs}


@pytest.fixture
def stand_in_inception(monkeypatch):
    """FID and KID through a 48-d colour feature instead of the 2048-d Inception: fast, and
    the same code path (rwgan.assets.fid_feature_extractor)."""
    monkeypatch.setattr(assets, "fid_feature_extractor", lambda features: QuadrantColours())


def _internal(tree, metrics: list[str]) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """rwgan's own evaluation of its Telea composites, per protocol: (per_image, summary)."""
    per_image, per_bin = score_composites(tree["pairs"], tree["root"] / "internal", SIZE, metrics,
                                          kid_subset_size=2, progress=False)
    summary = summarize(per_image, per_bin, "toy", "telea")
    return {protocol: (per_image[per_image["protocol"] == protocol].reset_index(drop=True),
                       summary[summary["protocol"] == protocol].reset_index(drop=True))
            for protocol in PROTOCOLS}


def _assert_same_scores(scored: Path, tree, metrics: list[str] = METRICS, atol: float = 1e-6) -> float:
    """per_image.csv and summary.csv under ``scored`` equal rwgan's own evaluation; returns the largest difference."""
    per_image = pd.read_csv(scored / "per_image.csv", dtype={"bin": str})
    summary = pd.read_csv(scored / "summary.csv", dtype={"bin": str})
    assert tuple(per_image.columns) == SCORE_PER_IMAGE_COLUMNS and tuple(summary.columns) == SCORE_SUMMARY_COLUMNS
    largest = 0.0
    for protocol, (ours_per_image, ours_summary) in _internal(tree, metrics).items():
        theirs = per_image[per_image["protocol"] == protocol].reset_index(drop=True)
        assert list(theirs["image"]) == list(ours_per_image["image"])  # the same pairing, in the same order
        assert list(theirs["pair"]) == [f"{p.set}-{p.bin.rstrip('%')}-{p.mask.stem}" for p in tree["pairs"]]
        assert (theirs[["set", "bin"]].to_numpy() == ours_per_image[["set", "bin"]].to_numpy()).all()
        difference = np.abs(theirs[PIXEL].to_numpy() - ours_per_image[PIXEL].to_numpy()).max()
        rows = summary[summary["protocol"] == protocol].reset_index(drop=True)
        assert rows[list(SUMMARY_COLUMNS[:5])].equals(ours_summary[list(SUMMARY_COLUMNS[:5])])
        assert list(rows["n"]) == list(ours_summary["n"])
        difference = max(difference, np.abs(rows["value"] - ours_summary["value"]).max())
        assert difference <= atol, f"{protocol}: scores differ by {difference}"
        largest = max(largest, difference)
    return largest


# ----------------------------------------------------------------------------- acceptance
def test_external_telea_scores_equal_rwgans_own_telea_evaluation(tree, stand_in_inception, capsys):
    scored = tree["root"] / "scores"
    assert cli(["score", "--export", str(tree["export"]), "--outputs", str(tree["outputs"]), "--out", str(scored),
                "--metrics", *METRICS, "--kid-subset-size", "2"]) == 0
    assert _assert_same_scores(scored, tree) == 0.0  # the acceptance asks 1e-6; the paths agree exactly
    # The external Telea gives rwgan's composites pixel for pixel.
    for pair in tree["pairs"]:
        name = f"{pair.set}-{pair.bin.rstrip('%')}-{pair.mask.stem}.png"
        assert np.array_equal(io.read_image(tree["outputs"] / name), io.read_image(composite_path(tree["root"] / "internal", pair)))

    summary = pd.read_csv(scored / "summary.csv", dtype={"bin": str})
    per_bin = summary[summary["metric"].isin(["FID", "KID"])]
    assert set(per_bin["protocol"]) == {"rwgan"} and len(per_bin) == 2 * 3  # FID, KID per bin, once
    assert not per_bin["reliable"].any() and per_bin["ci95_low"].isna().all()  # 4 images: flagged
    means = summary[~summary["metric"].isin(["FID", "KID"])]
    assert means["reliable"].all() and set(means["protocol"]) == set(PROTOCOLS)
    assert ((means["ci95_low"] <= means["value"] + 1e-12) & (means["value"] <= means["ci95_high"] + 1e-12)).all()
    assert json.loads((scored / "score.json").read_text())["composited"] is False
    assert "compositing" not in capsys.readouterr().out

    # The edgeconnect rows are EdgeConnect's metrics of the composites, directly.
    per_image = pd.read_csv(scored / "per_image.csv", dtype={"bin": str})
    edgeconnect = per_image[per_image["protocol"] == "edgeconnect"]
    composites = np.stack([io.read_image(tree["outputs"] / f"{name}.png") for name in edgeconnect["pair"]])
    truths = np.stack([io.read_image(tree["test"] / name) for name in edgeconnect["image"]])
    direct = edgeconnect_metrics(composites, truths)
    for name in PIXEL:
        np.testing.assert_allclose(edgeconnect[name], direct[name], rtol=1e-12, atol=1e-15)


def test_score_callable_equals_rwgans_own_evaluation(tree, stand_in_inception, tmp_path):
    scoring = Scoring(metrics=METRICS, kid_subset_size=2, progress=False)
    summary = score_callable(classical_inpainter("telea"), tree["export"], tmp_path, "telea", scoring)
    assert _assert_same_scores(tmp_path, tree) == 0.0
    assert tuple(summary.columns) == SCORE_SUMMARY_COLUMNS


def test_the_export_is_the_documented_layout(tree):
    info, rows, pairs = read_export(tree["export"])
    assert info == {"dataset": "toy", "image_size": [SIZE, SIZE], "sets": list(SETS), "pairs": 12}
    assert tuple(rows[0]) == EXPORT_COLUMNS and len(rows) == len(tree["pairs"]) == 12
    sources = {kind: {row["file"]: row for row in masks.read_mask_manifest(tree["masks"] / kind)} for kind in SETS}
    for row, pair, internal in zip(rows, pairs, tree["pairs"]):
        assert (row["set"], row["bin"]) == (internal.set, internal.bin) == (pair.set, pair.bin)
        assert row["source_mask"] == f"{internal.set}/{internal.bin}/{internal.mask.name}"
        assert row["truth"] == f"truth/{internal.image.name}"  # exactly evaluation_pairs' image
        source = sources[row["set"]][f"{row['bin']}/{internal.mask.name}"]
        assert (row["hole_ratio"], row["hole_pixels"]) == (source["hole_ratio"], source["hole_pixels"])
        for name in ("image", "mask", "masked", "truth"):
            assert io.sha256_file(tree["export"] / row[name]) == row[f"{name}_sha256"]
        assert row["mask_sha256"] == source["sha256"]  # the mask set's file, byte for byte
        image, masked = (io.read_image(tree["export"] / row[name]) for name in ("image", "masked"))
        hole = io.read_mask(tree["export"] / row["mask"])
        assert np.array_equal(image, io.read_image(internal.image))
        assert (masked[hole] == 255).all() and np.array_equal(masked[~hole], image[~hole])
    assert sorted(p.name for p in (tree["export"] / "truth").iterdir()) == ["img0.png", "img1.png", "img2.png"]


# ----------------------------------------------------------------------------- errors
@pytest.fixture
def scored(tree, tmp_path, stand_in_inception):
    """A copy of the Telea outputs, scored once into ``tmp_path / 'scores'``."""
    outputs = shutil.copytree(tree["outputs"], tmp_path / "telea")  # the default method name: the folder's
    out = tmp_path / "scores"
    score_outputs(tree["export"], outputs, out, scoring=QUICK)
    return outputs, out


def _fails(tree, scored, match: str) -> None:
    """Scoring fails with ``match``, and the earlier scores are untouched."""
    outputs, out = scored
    before = {name: (out / name).read_bytes() for name in ("per_image.csv", "summary.csv", "score.json")}
    with pytest.raises(RwganError, match=match):
        score_outputs(tree["export"], outputs, out, scoring=QUICK)
    assert {name: (out / name).read_bytes() for name in before} == before


def test_a_missing_output_is_named(tree, scored):
    (scored[0] / "contiguous-30-40-00002.png").unlink()
    _fails(tree, scored, r"telea/contiguous-30-40-00002.png: output of pair contiguous-30-40-00002 not found "
                         r"\(1 of 12 pairs missing\)$")


def test_an_extra_file_is_named(tree, scored):
    (scored[0] / "notes.txt").write_text("x")
    _fails(tree, scored, r"telea/notes.txt: not an output of any pair of .*manifest.csv \(1 extra files")


def test_a_wrong_size_output_is_named(tree, scored):
    io.save_png(scored[0] / "discontiguous-20-30-00001.png", np.zeros((SIZE, SIZE + 1, 3), np.uint8))
    _fails(tree, scored, r"discontiguous-20-30-00001.png: pair discontiguous-20-30-00001: output is 65x64 \(expected 64x64")


def test_a_changed_known_pixel_is_named_and_composite_pastes_it_back(tree, scored):
    outputs, out = scored
    path = outputs / "contiguous-10-20-00001.png"
    image = io.read_image(path).copy()
    hole = io.read_mask(tree["export"] / "mask" / path.name)
    row, col = np.argwhere(~hole)[0]
    image[row, col, 0] ^= 4
    io.save_png(path, image)
    _fails(tree, scored, r"contiguous-10-20-00001.png: pair contiguous-10-20-00001: 1 known pixels differ from the input")

    score_outputs(tree["export"], outputs, out, composite=True, scoring=QUICK)
    assert json.loads((out / "score.json").read_text())["composited"] is True
    composite = io.read_image(out / "composites" / "contiguous" / "10-20%" / path.name)
    assert np.array_equal(composite, np.where(hole[..., None], image, io.read_image(tree["test"] / "img1.png")))
    assert _assert_same_scores(out, tree, PIXEL) == 0.0  # the pasted-back pixel was the only change


def test_a_changed_export_and_a_used_folder_are_refused(tree, tmp_path):
    export = shutil.copytree(tree["export"], tmp_path / "export")
    mask = export / "mask" / "contiguous-10-20-00000.png"
    io.save_png(mask, np.zeros((SIZE, SIZE), np.uint8) | 255 * np.eye(SIZE, dtype=np.uint8))
    with pytest.raises(RwganError, match=r"mask/contiguous-10-20-00000.png: sha256 differs from .*manifest.csv"):
        read_export(export)
    with pytest.raises(RwganError, match=r"export: expected a new or empty folder"):
        export_testset(tree["masks"], tree["test"], list(SETS), export, dataset="toy", progress=False)
    (export / "manifest.csv").unlink()
    with pytest.raises(RwganError, match=r"manifest.csv: not found \(expected an export"):
        read_export(export)
    with open(tree["export"] / "manifest.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 12


def test_the_command_prints_one_line_and_exits_2(tree, scored, capsys):
    outputs, out = scored
    (outputs / "contiguous-10-20-00000.png").unlink()
    capsys.readouterr()
    assert cli(["score", "--export", str(tree["export"]), "--outputs", str(outputs), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1 and "pair contiguous-10-20-00000" in error
