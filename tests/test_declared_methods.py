"""Methods declared in params.yaml, not trained here: an external method's folder of outputs
and the authors' imported weights, through the export, evaluate and report stages."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT
from pipeline import config, dag, methods, paths, report, tables
from pipeline import evaluate as evaluate_stage
from pipeline import export as export_stage
from pipeline.cli_common import write_csv
from pipeline.masks import write_mask
from rwgan import cli, io, masks
from rwgan.errors import RwganError
from rwgan.evaluation import classical_inpainter, composite_path, evaluation_pairs
from rwgan.external import pair_id
from test_official import official_arrays, write_bundle

SIZE = 64
PROFILE, DATASET = "t", "toy"
METRICS = ["L1", "L2", "PSNR", "SSIM"]
MINE = {"outputs": {DATASET: "mine"}, "display_name": "Mine", "reported_in": "Doe et al. 2024, released weights"}


def write_mask_set(root: Path, kind: str) -> None:
    """2 bins x 2 masks of ``kind`` in ``root``'s mask set ``kind``, with its manifest."""
    folder, rows = root / "work" / PROFILE / "masks" / kind, []
    for label in ("10-20%", "30-40%"):
        for index, hole in enumerate(masks.generate_binned(kind, label, 2, seed=0, size=SIZE)):
            rows.append(write_mask(folder, f"{label}/{index:05d}.png", kind, hole, label))
    write_csv(folder / "manifest.csv", masks.MANIFEST_COLUMNS, rows)


def telea_outputs(export: Path, folder: Path) -> None:
    """The external method, run outside rwgan on the exported files: OpenCV's Telea, as rwgan's own."""
    manifest = pd.read_csv(export / "manifest.csv")
    images = np.stack([io.read_image(export / path) for path in manifest["image"]])
    holes = np.stack([io.read_mask(export / path, SIZE) for path in manifest["mask"]])
    for name, output in zip(manifest["pair"], classical_inpainter("telea")(images, holes)):
        io.save_png(folder / f"{name}.png", output)


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A repository-like folder (cwd): 3 test images, 2 bins x 2 contiguous masks, a profile ``t``
    evaluating Telea and declaring the external method ``mine``."""
    rng = np.random.default_rng(5)
    rows, cols = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    for index in range(3):
        base = np.stack([rows, cols, (rows + cols) / 2], axis=-1) * rng.uniform(100, 200, 3)
        image = np.clip(base + rng.normal(0, 12, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)
        io.save_png(tmp_path / "work" / PROFILE / "data" / DATASET / "test" / f"img{index}.png", image)
    write_mask_set(tmp_path, "contiguous")
    defaults = config.read_params_file(ROOT / "params.yaml")["defaults"]
    defaults.update(seed=0, image_size=SIZE, datasets=[DATASET])
    defaults["train"].update(mask_types=["mixed"], variants={"full": {}})
    defaults["evaluate"].update(methods=["telea"], sets=["contiguous"], extra_sets={}, metrics=METRICS,
                                batch_size=4, device="cpu", timing={"warmup": 0, "repeats": 1}, external={"mine": MINE})
    defaults["report"]["paper_dir"] = str(ROOT / "reference" / "paper")
    defaults["report"]["figures"]["qualitative"]["bins"] = None  # every bin: the toy set has 10-20% and 30-40%
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"profile": PROFILE, "defaults": defaults,
                                                          "profiles": {PROFILE: {}}}))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def evaluate(method: str) -> pd.DataFrame:
    evaluate_stage.main(["--profile", PROFILE, "--dataset", DATASET, "--method", method])
    return pd.read_csv(Path(paths.eval_dir(PROFILE, DATASET, method)) / "summary.csv", dtype={"bin": str})


def table_column(path: Path, heading: str) -> list[str]:
    """The cells under ``heading`` in the toy dataset's part of a Markdown table."""
    section = next(part for part in path.read_text().split("\n### ") if part.startswith(DATASET))
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    column = header.index(heading)
    return [[cell.strip() for cell in line.strip("|").split("|")][column] for line in lines[2:]]


def test_an_external_method_may_hold_outputs_of_every_exported_pair(workspace):
    """The export holds every set some method is scored on (here a discontiguous set only Telea
    is scored on); a folder with an output for each exported pair is scored on its own sets."""
    write_mask_set(workspace, "discontiguous")
    raw = yaml.safe_load((workspace / "params.yaml").read_text())
    raw["defaults"]["evaluate"]["extra_sets"] = {"discontiguous": ["telea"]}
    (workspace / "params.yaml").write_text(yaml.safe_dump(raw))
    export = export_stage.export(config.load(PROFILE), DATASET, logging.getLogger("test"))
    telea_outputs(export, workspace / "mine")
    assert any(path.name.startswith("discontiguous-") for path in (workspace / "mine").iterdir())
    mine = evaluate("mine")
    assert len(mine) == 2 * 2 * len(METRICS) and set(mine["mask_type"]) == {"contiguous"}
    (workspace / "mine" / "stray.png").write_bytes(b"")
    with pytest.raises(RwganError, match="stray.png: not an output of any pair"):
        evaluate_stage.evaluate(config.load(PROFILE), DATASET, "mine")


def test_an_external_method_is_scored_like_ours_and_shown_in_the_tables(workspace):
    params = config.load(PROFILE)
    assert dag.methods(params, DATASET) == ["telea", "mine"]
    assert dag.method_reads(params, DATASET, "mine") == ["mine"]
    telea_outputs(export_stage.export(params, DATASET, logging.getLogger("test")), workspace / "mine")

    telea, mine = evaluate("telea"), evaluate("mine")
    assert len(mine) == len(telea) == 2 * 2 * len(METRICS)  # 2 bins x 2 protocols
    assert set(mine["protocol"]) == {"rwgan", "edgeconnect"}
    np.testing.assert_allclose(mine["value"], telea["value"], rtol=0, atol=1e-6)
    assert set(mine["method"]) == {"mine"}

    report.build_report(params, Path(params["workdir"]), Path("reports") / PROFILE, root=workspace)
    table = Path("reports") / PROFILE / "tables" / "table_I_contiguous.md"
    assert table_column(table, "Mine") == table_column(table, "Telea")
    assert any(cell[0].isdigit() for cell in table_column(table, "Mine"))
    assert "Mine: outputs scored here; Doe et al. 2024, released weights." in table.read_text()
    figures = Path("reports") / PROFILE / "figures"
    assert (figures / f"fig04-06_qualitative_{DATASET}.png").is_file()
    assert (figures / f"metrics_vs_hole_{DATASET}.png").is_file()
    params["report"]["complexity_methods"] = ["telea", "mine"]  # Table IV times methods run here
    with pytest.raises(RwganError, match="report.complexity_methods: mine is an external method"):
        report.shown_report(params)


def test_an_external_method_with_a_changed_known_pixel_or_a_missing_output_is_refused(workspace):
    params = config.load(PROFILE)
    pairs = evaluation_pairs(Path("work") / PROFILE / "masks", ["contiguous"],
                             io.list_images(Path("work") / PROFILE / "data" / DATASET / "test"))
    for pair in pairs:
        io.save_png(workspace / "mine" / f"{pair_id(pair)}.png", io.read_image(pair.image))
    first = workspace / "mine" / f"{pair_id(pairs[0])}.png"
    changed = io.read_image(first).copy()
    row, col = np.argwhere(~io.read_mask(pairs[0].mask, SIZE))[0]  # a known pixel
    changed[row, col] ^= 255
    io.save_png(first, changed)
    with pytest.raises(RwganError, match=rf"{first.name}: pair {pair_id(pairs[0])}: 1 known pixels differ"):
        evaluate_stage.evaluate(params, DATASET, "mine")
    first.unlink()
    with pytest.raises(RwganError, match=rf"{first.name}: output of pair {pair_id(pairs[0])} not found"):
        evaluate_stage.evaluate(params, DATASET, "mine")


def test_an_external_id_must_be_new(workspace):
    params = config.load(PROFILE)
    params["evaluate"]["external"] = {"telea": MINE}
    with pytest.raises(RwganError, match=r"^params.yaml: evaluate.external.telea: the id of another method"):
        dag.methods(params, DATASET)


def test_the_authors_weights_are_evaluated_like_ours_and_shown_in_table_I(workspace):
    path = workspace / "params.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["defaults"]["evaluate"].update(external={}, authors_weights={DATASET: "official/toy"})
    path.write_text(yaml.safe_dump(raw))
    params = config.load(PROFILE)
    assert dag.methods(params, DATASET) == ["telea", "authors_weights"]
    model = Path("official/toy/contiguous/model.pt")
    with pytest.raises(RwganError, match=rf"^{model}: the authors' weights for contiguous masks not found"):
        evaluate_stage.evaluate(params, DATASET, "authors_weights")

    write_bundle(workspace / "v8.ckpt-3500", official_arrays(seed=3, discriminator=False, adam=False))
    assert cli.main(["import-official", "--checkpoint", str(workspace / "v8.ckpt-3500"), "--dataset", "celebahq",
                     "--mask-type", "contiguous", "--out", str(model)]) == 0
    summary = evaluate("authors_weights")
    assert set(summary["metric"]) == {"L1", "L2", "PSNR", "SSIM"} and set(summary["method"]) == {"authors_weights"}
    out = Path(paths.eval_dir(PROFILE, DATASET, "authors_weights"))
    for pair in evaluation_pairs(Path("work") / PROFILE / "masks", ["contiguous"],
                                 io.list_images(Path("work") / PROFILE / "data" / DATASET / "test")):
        known = ~io.read_mask(pair.mask, SIZE)
        assert np.array_equal(io.read_image(composite_path(out / "composites", pair))[known],
                              io.read_image(pair.image)[known])

    evaluate("telea")
    shown = report.shown_report(params)
    built = report.build_tables(shown, tables.read_results(Path("work") / PROFILE / "eval"),
                                tables.read_paper(Path(shown["paper_dir"])), report.display_from(shown), SIZE)
    report.write_tables(built, Path("reports") / PROFILE)
    cells = table_column(Path("reports") / PROFILE / "tables" / "table_I_contiguous.md", "Ours (authors' weights)")
    assert any(cell[0].isdigit() for cell in cells)


def test_absent_declared_inputs_are_named_in_one_line(workspace):
    """What the Snakefile checks before building the DAG (pipeline.methods.check_declared)."""
    params = config.load(PROFILE)
    with pytest.raises(RwganError, match=r"^mine: outputs of mine not found \(params.yaml evaluate.external.mine.outputs.toy"):
        methods.check_declared(params, [DATASET])
    (workspace / "mine").mkdir()
    methods.check_declared(params, [DATASET])
    params["evaluate"]["authors_weights"] = {DATASET: "official/toy"}
    with pytest.raises(RwganError, match=r"^official/toy/contiguous/model.pt: the authors' weights for contiguous masks "):
        methods.check_declared(params, [DATASET])
