"""The report stage: Tables I-IV beside the paper's numbers, figures, metrics and the index."""
from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import PARAMS_FILE, ROOT
from pipeline import config, report, tables
from rwgan import io
from rwgan.errors import RwganError

DATA = Path(__file__).parent / "data" / "report"
PAPER = ROOT / "reference" / "paper"  # params report.paper_dir
TABLE_FILES = ("table_I_contiguous", "table_II_discontiguous", "table_III_ablation", "table_IV_complexity")


def fixture_report_params() -> dict:
    """The repository's ``report:`` section, narrowed to what the fixture holds."""
    section = copy.deepcopy(config.load("demo", PARAMS_FILE)["report"])
    section.update(
        metrics=["PSNR", "SSIM", "FID"],
        bins=["0-10%", "10-20%"],
        datasets=["embedded", "celebahq", "paris"],
        main_table_methods=["ca", "pconv", "no_adversarial", "full", "telea"],
        complexity_methods=["ca", "pconv", "full", "telea"],
    )
    section["ablation"]["methods"] = ["ic1", "no_adversarial", "full"]
    return section


def fixture_tables(**switches) -> dict[str, tables.Table]:
    """The fixture's tables; ``switches`` override params ``report`` keys (protocol, intervals)."""
    section = {**fixture_report_params(), **switches}
    built = report.build_tables(
        section, tables.read_results(DATA / "eval"), tables.read_paper(DATA / "paper"), report.display_from(section), 64
    )
    return {table.filename: table for table in built}


def cell_of(table: tables.Table, row_key: tuple[str, ...], column: str) -> str:
    header = table.flat_header()
    for row in table.rows:
        if row[: len(row_key)] == row_key:
            return row[header.index(column)]
    raise KeyError(row_key)


# ------------------------------------------------------------------------------ rendering
@pytest.mark.parametrize("ext", ["md", "tex", "csv"])
@pytest.mark.parametrize("name", TABLE_FILES)
def test_tables_render_exactly_as_stored(name, ext):
    rendered = tables.RENDERERS[ext](fixture_tables()[name])
    assert rendered == (DATA / "expected" / f"{name}.{ext}").read_text(encoding="utf-8")


def test_cells_read_ours_then_paper_and_missing_is_never_zero():
    table = fixture_tables()["table_II_discontiguous"]
    # Evaluated, FID value empty in summary.csv: missing, not 0.
    assert cell_of(table, ("FID ↓", "10-20%"), "Embedded (demo): Ours") == "-- (n/a)"
    # Evaluated on contiguous masks only: discontiguous metrics are missing, not 0.
    assert cell_of(table, ("PSNR ↑", "0-10%"), "Embedded (demo): Telea") == "-- (n/a)"
    # Not evaluated on the paper's dataset: "not run" beside the paper's number.
    assert cell_of(table, ("PSNR ↑", "0-10%"), "CelebA-HQ: PC") == "not run (29.14)"
    assert cell_of(table, ("PSNR ↑", "0-10%"), "Embedded (demo): Ours") == "32.75 (n/a)"
    # CA is the paper's run only: the paper's number, labelled, and only under the paper's datasets.
    assert cell_of(table, ("PSNR ↑", "0-10%"), "CelebA-HQ: CA (reported in paper)") == "(28.28)"
    assert not any("Embedded (demo): CA" in label for label in table.flat_header())
    # Paris is neither evaluated nor in this paper fixture: not shown.
    assert not any(label.startswith("Paris") for label in table.flat_header())
    for rendered in (tables.to_markdown(table), tables.to_csv(table), tables.to_latex(table)):
        assert "0.00 " not in rendered and " 0 " not in rendered


# ------------------------------------------------------------------------------ protocol, intervals, FID flags
def test_tables_use_the_papers_protocol_by_default_and_say_so():
    assert fixture_report_params()["protocol"] == "edgeconnect"  # params.yaml's default
    default, switched = fixture_tables()["table_II_discontiguous"], fixture_tables(protocol="rwgan")["table_II_discontiguous"]
    # The fixture's embedded/full PSNR is 32.75 under edgeconnect and 33.75 under rwgan.
    assert cell_of(default, ("PSNR ↑", "0-10%"), "Embedded (demo): Ours") == "32.75 (n/a)"
    assert cell_of(switched, ("PSNR ↑", "0-10%"), "Embedded (demo): Ours") == "33.75 (n/a)"
    # SSIM has no rwgan rows in the fixture: missing under rwgan, never taken from edgeconnect's.
    assert cell_of(switched, ("SSIM ↑", "0-10%"), "Embedded (demo): Ours") == "-- (n/a)"
    # FID has one definition (RGB, stored under rwgan): the same under either protocol.
    assert cell_of(default, ("FID ↓", "0-10%"), "Embedded (demo): Ours") == cell_of(
        switched, ("FID ↓", "0-10%"), "Embedded (demo): Ours") == "10.50† (n/a)"
    for table, protocol in ((default, "edgeconnect"), (switched, "rwgan")):
        assert table.caption.endswith(f", {protocol} protocol")
        assert tables.protocol_note(protocol) in table.notes
    assert "gray (skimage rgb2gray)" in tables.protocol_note("edgeconnect")
    assert "EdgeConnect has no l2" in tables.protocol_note("edgeconnect")


def test_the_report_shows_both_protocols():
    for primary, other in (("edgeconnect", "rwgan"), ("rwgan", "edgeconnect")):
        built = fixture_tables(protocol=primary)
        assert list(built)[:4] == list(TABLE_FILES)
        assert list(built)[4:] == [f"{name}_{other}" for name in TABLE_FILES[:3]]
        companion = built[f"table_II_discontiguous_{other}"]
        assert companion.number == "II" and companion.caption.endswith(f", {other} protocol")
        expected = "33.75 (n/a)" if other == "rwgan" else "32.75 (n/a)"
        assert cell_of(companion, ("PSNR ↑", "0-10%"), "Embedded (demo): Ours") == expected
        assert built[f"table_III_ablation_{other}"].caption.endswith(f", {other} protocol")


def test_intervals_show_when_asked():
    plain, with_intervals = fixture_tables()["table_I_contiguous"], fixture_tables(intervals=True)["table_I_contiguous"]
    assert cell_of(plain, ("PSNR ↑", "0-10%"), "Embedded (demo): Ours") == "31.25 (n/a)"
    assert cell_of(with_intervals, ("PSNR ↑", "0-10%"), "Embedded (demo): Ours") == "31.25 [30.75, 31.75] (n/a)"
    assert cell_of(with_intervals, ("SSIM ↑", "10-20%"), "Embedded (demo): Ours") == "0.901 [0.891, 0.911] (n/a)"
    # FID has no interval; its flag stays.
    assert cell_of(with_intervals, ("FID ↓", "0-10%"), "Embedded (demo): Ours") == "12.50† (n/a)"
    assert tables.INTERVAL_NOTE in with_intervals.notes and tables.INTERVAL_NOTE not in plain.notes
    assert "bootstrap 95% interval" in tables.INTERVAL_NOTE and "1,000 resamples, seed 0" in tables.INTERVAL_NOTE
    # Table III averages the two mask types' interval ends: PSNR (30.75 + 32.25) / 2, (31.75 + 33.25) / 2.
    ablation = fixture_tables(intervals=True)["table_III_ablation"]
    assert cell_of(ablation, ("PSNR ↑", "0-10%"), "Embedded (demo): Ours") == "32.00 [31.50, 32.50] (n/a)"
    for ext in ("md", "tex", "csv"):
        assert "[30.75, 31.75]" in tables.RENDERERS[ext](with_intervals)


def test_fid_below_the_threshold_is_flagged_and_its_backend_named():
    table = fixture_tables()["table_I_contiguous"]
    assert cell_of(table, ("FID ↓", "10-20%"), "Embedded (demo): Ours") == "20.12† (n/a)"  # 4 images
    assert cell_of(table, ("PSNR ↑", "10-20%"), "Embedded (demo): Ours") == "27.50 (n/a)"  # a mean: not flagged
    assert tables.RELIABILITY_NOTE in table.notes
    assert "FID over fewer than 2,049 images or KID over fewer than 1,000 images" in tables.RELIABILITY_NOTE
    assert "torch-fidelity's TF-Inception features" in tables.RELIABILITY_NOTE
    assert "$^\\dagger$ (n/a)" in tables.to_latex(table)
    # A table without FID or KID rows needs no flag note.
    section = {**fixture_report_params(), "metrics": ["PSNR"]}
    built = report.build_tables(section, tables.read_results(DATA / "eval"), tables.read_paper(DATA / "paper"),
                                report.display_from(section), 64)
    assert tables.RELIABILITY_NOTE not in built[0].notes


def test_latex_escapes_specials():
    assert tables.latex_escape("w/o L_a 10-20% ↑") == r"w/o L\_a 10-20\% $\uparrow$"


def test_curves_draw_intervals_as_bands_under_the_tables_protocol():
    from matplotlib.collections import PolyCollection

    from pipeline import figures

    def curves(protocol):
        display = report.display_from({**fixture_report_params(), "protocol": protocol})
        return figures.curves_plot(
            title="t", results=tables.read_results(DATA / "eval"), paper=tables.read_paper(DATA / "paper"),
            dataset="embedded", mask_types=["contiguous"], metrics=["PSNR", "FID"], methods=["full"],
            bins=["0-10%", "10-20%"], display=display,
        )

    psnr, fid = curves("edgeconnect").axes
    assert list(psnr.lines[0].get_ydata()) == [31.25, 27.5]
    (band,) = [c for c in psnr.collections if isinstance(c, PolyCollection)]
    heights = {round(float(y), 4) for y in band.get_paths()[0].vertices[:, 1]}
    assert heights == {30.75, 31.75, 27.0, 28.0}
    assert not [c for c in fid.collections if isinstance(c, PolyCollection)]  # FID: no interval
    assert fid.lines[0].get_markerfacecolor() == "none"  # 4 images: flagged, hollow markers
    psnr, _ = curves("rwgan").axes
    assert list(psnr.lines[0].get_ydata()) == [32.25, 28.5]  # rwgan's rows; they have no interval
    assert not [c for c in psnr.collections if isinstance(c, PolyCollection)]


# ------------------------------------------------------------------------------ the paper's numbers
def test_paper_values_join_by_display_name():
    section = copy.deepcopy(config.load("demo", PARAMS_FILE)["report"])
    paper = tables.read_paper(PAPER)
    built = {
        t.filename: t
        for t in report.build_tables(section, tables.Results(), paper, report.display_from(section), 256)
    }
    first, second = built["table_I_contiguous"], built["table_II_discontiguous"]
    ablation, complexity = built["table_III_ablation"], built["table_IV_complexity"]
    # Spot checks against the paper's printed tables.
    assert cell_of(first, ("PSNR ↑", "0-10%"), "CelebA-HQ: Ours") == "not run (33.34)"
    assert cell_of(first, ("FID ↓", "40-50%"), "Places2: CA (reported in paper)") == "(29.17)"
    assert cell_of(second, ("PSNR ↑", "0-10%"), "CelebA-HQ: PIC (reported in paper)") == "(31.25)"
    assert cell_of(second, ("L1 (1e-3) ↓", "40-50%"), "Paris StreetView: RED") == "not run (35.19)"
    assert cell_of(second, ("SSIM ↑", "30-40%"), "Places2: PC") == "not run (0.784)"
    assert cell_of(ablation, ("FID ↓", "40-50%"), "CelebA-HQ: w/o L_a (RED)") == "not run (22.93)"
    assert cell_of(ablation, ("PSNR ↑", "0-10%"), "CelebA-HQ: Ours") == "not run (n/a)"
    assert cell_of(complexity, ("PC",), "Parameters (M)") == "not run (51.6)"
    assert cell_of(complexity, ("Ours",), "Test time / image (s)") == "not run (0.030)"
    # Metrics the paper does not report, and our classical methods: no paper value.
    assert cell_of(first, ("LPIPS ↓", "0-10%"), "CelebA-HQ: Ours") == "not run (n/a)"
    assert cell_of(first, ("PSNR ↑", "0-10%"), "CelebA-HQ: Telea") == "not run (n/a)"
    # The demo's own dataset is not in the paper and nothing ran: not shown.
    assert not any(label.startswith("Embedded") for label in first.flat_header())


# ------------------------------------------------------------------------------ Table III averaging
def test_ablation_averages_the_two_mask_types_by_hand():
    table = fixture_tables()["table_III_ablation"]
    assert cell_of(table, ("PSNR ↑", "0-10%"), "Embedded (demo): Ours") == "32.00 (n/a)"  # (31.25 + 32.75) / 2
    assert cell_of(table, ("SSIM ↑", "0-10%"), "Embedded (demo): Ours") == "0.956 (n/a)"  # (0.9514 + 0.9612) / 2
    assert cell_of(table, ("FID ↓", "0-10%"), "Embedded (demo): Ours") == "11.50† (n/a)"  # (12.5 + 10.5) / 2, 4 images
    # One of the two mask types missing: no average over the other alone.
    assert cell_of(table, ("FID ↓", "10-20%"), "Embedded (demo): Ours") == "-- (n/a)"
    assert cell_of(table, ("PSNR ↑", "0-10%"), "Embedded (demo): I_c1 (semantic inferring output)") == "-- (n/a)"
    # The paper's Table III joins on the CelebA-HQ columns only.
    assert cell_of(table, ("SSIM ↑", "0-10%"), "CelebA-HQ: Ours") == "-- (0.971)"


def test_ablation_average_reproduces_the_papers_table_III_from_tables_I_and_II():
    """The paper's Table III "Ours" is the mean of its Tables I and II (CelebA-HQ), to print precision."""
    paper = tables.read_paper(PAPER)
    measures = {
        ("celebahq", "full", "edgeconnect" if metric != "FID" else "rwgan", mask_type, bin_label, metric):
            tables.Measure(value)
        for (mask_type, metric, bin_label, dataset, method), value in paper.main.items()
        if dataset == "CelebA-HQ" and method == "Ours"
    }
    results = tables.Results(measures=measures, evaluated=frozenset({("celebahq", "full")}))
    checked = 0
    for (metric, bin_label, variant), expected in paper.ablation.items():
        if variant == "Ours":
            mean = tables.mask_type_average(
                results, "celebahq", "full", ("contiguous", "discontiguous"), bin_label, metric, "edgeconnect"
            )
            assert mean.value == pytest.approx(expected, abs=0.0051), (metric, bin_label)
            checked += 1
    assert checked == 20


# ------------------------------------------------------------------------------ inputs
def test_read_results_treats_empty_and_nan_as_absent():
    results = tables.read_results(DATA / "eval")
    assert ("embedded", "full", "rwgan", "discontiguous", "10-20%", "FID") not in results.measures
    assert ("embedded", "no_adversarial", "rwgan", "contiguous", "0-10%", "FID") not in results.measures
    assert results.measures[("embedded", "full", "rwgan", "contiguous", "10-20%", "FID")] == tables.Measure(
        20.125, 4, None, None, False)
    assert results.measures[("embedded", "full", "edgeconnect", "contiguous", "0-10%", "PSNR")] == tables.Measure(
        31.25, 4, 30.75, 31.75, True)
    assert ("celebahq", "full") in results.evaluated and ("celebahq", "pconv") not in results.evaluated
    assert results.timings[("embedded", "full")]["parameters"] == 4706054


def write_summary(root: Path, dataset: str, method: str, rows: list[tuple], header=tables.SUMMARY_COLUMNS) -> Path:
    path = root / dataset / method / "summary.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def summary_row(metric="PSNR", value=1, dataset="embedded", protocol="edgeconnect", reliable="True") -> tuple:
    return (protocol, dataset, "full", "contiguous", "0-10%", metric, value, 2, "", "", reliable)


def test_bad_summary_names_the_file(tmp_path):
    path = write_summary(tmp_path, "embedded", "full", [summary_row(value="x")])
    with pytest.raises(RwganError, match=f"{path}.*'value'.*expected a number"):
        tables.read_results(tmp_path)
    path = write_summary(tmp_path, "embedded", "full", [("embedded", "full")], header=("dataset", "method"))
    with pytest.raises(RwganError, match=f"{path}: missing columns protocol, mask_type"):
        tables.read_results(tmp_path)
    path = write_summary(tmp_path, "embedded", "full", [summary_row(dataset="other")])
    with pytest.raises(RwganError, match=f"{path}: row names dataset 'other'"):
        tables.read_results(tmp_path)
    path = write_summary(tmp_path, "embedded", "full", [summary_row(), summary_row()])
    with pytest.raises(RwganError, match=f"{path}: duplicate row"):
        tables.read_results(tmp_path)
    # The old names (one metric, three spellings) and unknown protocols are refused, naming the file.
    path = write_summary(tmp_path, "embedded", "full", [summary_row(metric="L1e-3")])
    with pytest.raises(RwganError, match=f"{path}: unknown metric 'L1e-3' \\(expected one of L1, L2, PSNR"):
        tables.read_results(tmp_path)
    path = write_summary(tmp_path, "embedded", "full", [summary_row(protocol="paper")])
    with pytest.raises(RwganError, match=f"{path}: unknown protocol 'paper'"):
        tables.read_results(tmp_path)
    path = write_summary(tmp_path, "embedded", "full", [summary_row(reliable="yes")])
    with pytest.raises(RwganError, match=f"{path}: column 'reliable' holds 'yes'"):
        tables.read_results(tmp_path)


def test_paper_tables_use_the_metric_table_names(tmp_path):
    for name in tables.PAPER_FILES.values():
        (tmp_path / name[0]).write_bytes((PAPER / name[0]).read_bytes())
    text = (tmp_path / "paper_table_III.csv").read_text().replace(",L1,", ",L1e-3,")
    (tmp_path / "paper_table_III.csv").write_text(text)
    with pytest.raises(RwganError, match="paper_table_III.csv: unknown metric 'L1e-3'"):
        tables.read_paper(tmp_path)


def test_missing_paper_folder_is_an_error(tmp_path):
    with pytest.raises(RwganError, match=f"{tmp_path}/paper_tables_I_II.csv: paper reference table not found"):
        tables.read_paper(tmp_path)


# ------------------------------------------------------------------------------ metrics files
def test_metrics_csv_and_json_hold_every_present_value_sorted(tmp_path):
    results = tables.read_results(DATA / "eval")
    report.write_metrics(results, tmp_path)
    with open(tmp_path / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == tables.SUMMARY_COLUMNS
    assert len(rows) == len(results.measures) == 27  # 29 fixture rows less one empty and one NaN value
    keys = [(r["protocol"], r["dataset"], r["method"], r["mask_type"], r["bin"], r["metric"]) for r in rows]
    assert keys == sorted(keys, key=lambda k: (*k[:4], tables.bin_order(k[4]), k[5]))
    assert keys[0] == ("edgeconnect", "celebahq", "full", "contiguous", "0-10%", "PSNR")
    assert rows[0] == dict(zip(tables.SUMMARY_COLUMNS, keys[0] + ("33.01", "2000", "32.51", "33.51", "True")))
    nested = json.loads((tmp_path / "metrics.json").read_text())
    assert nested["embedded"]["full"]["edgeconnect"]["contiguous"]["10-20%"] == {"PSNR": 27.5, "SSIM": 0.9012}
    assert nested["embedded"]["full"]["rwgan"]["contiguous"]["10-20%"] == {"FID": 20.125, "PSNR": 28.5}
    assert "FID" not in nested["embedded"]["full"]["rwgan"]["discontiguous"]["10-20%"]
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    report.write_metrics(results, tmp_path)
    assert before == {p.name: p.read_bytes() for p in tmp_path.iterdir()}


# ------------------------------------------------------------------------------ figures, end to end
SIZE = 32
METHODS = ("full", "telea", "ic1")


def fake_work_tree(root: Path) -> Path:
    """work/<profile>/ with 3 test images, mask sets (manifest + PNGs) and evaluations
    of METHODS on embedded: composites for every pair except one of `ic1`."""
    from rwgan.evaluation import composite_path, evaluation_pairs

    workdir = root / "work" / "tiny"
    rng = np.random.default_rng(0)
    test_dir = workdir / "data" / "embedded" / "test"
    for index in range(3):
        io.save_png(test_dir / f"{index:04d}.png", rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))
    sets = {
        "contiguous": ["0-10%", "10-20%", "40-50%"],
        "discontiguous": ["0-10%", "40-50%"],
        "regular": ["centred", "random"],
        "sweep": [f"{10 * i}-{10 * i + 10}%" for i in range(10)],
    }
    for mask_set, bins in sets.items():
        manifest = ["file,type,bin,hole_pixels,hole_ratio,components,sha256"]
        for b, bin_label in enumerate(bins):
            for index in range(2):
                hole = np.zeros((SIZE, SIZE), dtype=np.uint8)
                hole[: 3 * (b + 1), : 3 * (index + 1) + 3] = 255
                path = workdir / "masks" / mask_set / bin_label / f"{index:05d}.png"
                io.save_png(path, hole)
                manifest.append(f"{bin_label}/{path.name},{mask_set},{bin_label},{int((hole > 0).sum())},0,1,"
                                f"{io.sha256_file(path)}")
        io.write_text(workdir / "masks" / mask_set / "manifest.csv", "\n".join(manifest) + "\n")
    images = io.list_images(test_dir)
    for method in METHODS:
        method_dir = workdir / "eval" / "embedded" / method
        pairs = evaluation_pairs(workdir / "masks", list(sets), images)
        for pair in pairs[1:] if method == "ic1" else pairs:
            filled = io.read_image(pair.image).copy()
            filled[io.read_mask(pair.mask, allow_full=True)] = 40 * (1 + METHODS.index(method))
            io.save_png(composite_path(method_dir / "composites", pair), filled)
        rows = [("edgeconnect", "embedded", method, t, b, "PSNR", 20.0 + b_i, 2, 19.0 + b_i, 21.0 + b_i, True)
                for t in ("contiguous", "discontiguous") for b_i, b in enumerate(sets[t])]
        write_summary(workdir / "eval", "embedded", method, rows)
    return workdir


def tiny_params(tmp_path: Path, items: list[dict] | None = None) -> dict:
    params = config.load("demo", PARAMS_FILE)
    params["profile"], params["image_size"] = "tiny", SIZE
    section = params["report"]
    section["paper_dir"] = str(DATA / "paper")
    section["object_removal"]["items"] = items or []
    section["figures"]["ablation"]["methods"] = ["ic1", "full"]
    return params


def png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        image.load()  # a full decode: a truncated file fails here
        return image.size


def test_report_end_to_end_writes_decodable_figures_and_an_index(tmp_path):
    workdir = fake_work_tree(tmp_path)
    reports_dir = tmp_path / "reports" / "tiny"
    stale = reports_dir / "figures" / "fig99_old.png"
    io.write_bytes(stale, b"old")
    entries = report.build_report(tiny_params(tmp_path), workdir, reports_dir, root=tmp_path)

    made = {p.name for e in entries for p in e.paths}
    assert made >= {
        "fig04-06_qualitative_embedded.png", "fig07_ablation_embedded.png", "fig09_regular_embedded.png",
        "fig10_sweep_embedded.png", "metrics_vs_hole_embedded.png", "metrics.csv", "metrics.json",
        *(f"{name}.{ext}" for name in TABLE_FILES for ext in ("md", "tex", "csv")),
    }
    figures_dir = reports_dir / "figures"
    assert sorted(p.name for p in figures_dir.iterdir()) == sorted(n for n in made if n.endswith(".png"))
    assert not stale.exists()
    sizes = {p.name: png_size(p) for p in figures_dir.iterdir()}
    # Grids grow with their content (rows x columns, columns = input, methods that ran, GT):
    # qualitative 2 x 4 (40-50% of both sets; full, telea), ablation 4 x 4 (two masks per bin; ic1, full),
    # discriminators 1 x 3 (contiguous 40-50%; full), sweep 2 x 10 (one column per bin).
    qualitative, ablation = sizes["fig04-06_qualitative_embedded.png"], sizes["fig07_ablation_embedded.png"]
    discriminators, sweep = sizes["fig08_discriminators_embedded.png"], sizes["fig10_sweep_embedded.png"]
    assert ablation[0] == qualitative[0] and ablation[1] > qualitative[1]
    assert discriminators[0] < qualitative[0] and discriminators[1] < qualitative[1]
    assert sweep[0] > 2 * qualitative[0] and sweep[1] == qualitative[1]
    assert all(w > 100 and h > 100 for w, h in sizes.values())

    notes = {e.title.split(":")[0]: e.note for e in entries}
    # Fig. 8: only `full` of its methods ran; the others are named, not drawn as empty columns.
    assert notes["Fig. 8"] == "not run, so not shown: w/o D, two region-wise Ds, region-wise D on GPNet only, " \
        "standard D, standard + region-wise D"
    assert notes["Fig. 11"] == "no items listed in params report.object_removal.items"

    index = (reports_dir / "README.md").read_text()
    assert "# rwgan report: profile `tiny`" in index and "git commit `unknown`" in index
    assert "- Machine (each evaluation's `timing.json`): no evaluation found\n" in index
    assert "- Tables I-III and the curves: metric protocol `edgeconnect` (params `report.protocol`), without " in index
    io.write_json(workdir / "eval" / "embedded" / "full" / "timing.json", {
        "seconds_per_image": 0.04, "device": "cpu", "hardware": "Test CPU", "parameters": 1, "n_images_timed": 8})
    report.build_report(tiny_params(tmp_path), workdir, reports_dir, root=tmp_path)
    index = (reports_dir / "README.md").read_text()
    assert "Embedded (demo) (`embedded`): 0 train, 3 test images" in index
    assert "- Machine (each evaluation's `timing.json`): Test CPU\n" in index
    for entry in entries:
        for path in entry.paths:
            assert f"]({path.as_posix()})" in index and (reports_dir / path).is_file()


def test_report_is_byte_identical_when_rerun(tmp_path):
    workdir = fake_work_tree(tmp_path)
    reports_dir = tmp_path / "reports" / "tiny"
    report.build_report(tiny_params(tmp_path), workdir, reports_dir, root=tmp_path)
    first = {p: p.read_bytes() for p in sorted(reports_dir.rglob("*")) if p.is_file()}
    report.build_report(tiny_params(tmp_path), workdir, reports_dir, root=tmp_path)
    assert first == {p: p.read_bytes() for p in sorted(reports_dir.rglob("*")) if p.is_file()}


def test_grid_tiles_show_hole_white_composites_and_grey_for_a_missing_composite(tmp_path):
    from pipeline import figures

    workdir = fake_work_tree(tmp_path)
    images = io.list_images(workdir / "data" / "embedded" / "test")
    examples = figures.select_examples(workdir / "masks", images, ["contiguous"], ["0-10%"], 2)
    assert [(e.bin, e.mask.name, e.image.name) for e in examples] == [
        ("0-10%", "00000.png", "0000.png"), ("0-10%", "00001.png", "0001.png")
    ]
    method_dirs = [workdir / "eval" / "embedded" / m for m in METHODS]
    tiles = figures.comparison_tiles(examples, method_dirs)
    hole = io.read_mask(examples[0].mask)
    image = io.read_image(examples[0].image)
    assert len(tiles[0]) == len(METHODS) + 2
    assert (tiles[0][0][hole] == 255).all() and (tiles[0][0][~hole] == image[~hole]).all()
    assert (tiles[0][1][hole] == 40).all() and (tiles[0][2][hole] == 80).all()
    assert (tiles[0][3] == figures.MISSING_TILE).all()  # ic1 lacks the first pair's composite
    assert (tiles[1][3][io.read_mask(examples[1].mask)] == 120).all()
    assert (tiles[0][-1] == image).all()

    sweep = figures.sweep_examples(workdir / "masks", images, "sweep")
    assert [e.bin for e in sweep] == [f"{10 * i}-{10 * i + 10}%" for i in range(10)]
    assert {e.image for e in sweep} == {images[0]}


def test_object_removal_runs_the_checkpoint_on_listed_inputs(tmp_path, monkeypatch):
    """Fig. 11 with a stand-in inpainter: masks of another size are scaled to the image."""
    import sys
    import types

    calls = []

    class GreyInpainter:
        def inpaint(self, images, holes):
            calls.append((images.shape, holes.shape, int(holes.sum())))
            out = images.copy()
            out[holes] = 128
            return out

    fake = types.ModuleType("rwgan.inference")
    fake.load_inpainter = lambda path: GreyInpainter()
    monkeypatch.setitem(sys.modules, "rwgan.inference", fake)
    workdir = fake_work_tree(tmp_path)
    checkpoint = workdir / "runs" / "embedded" / "mixed" / "full" / "model.pt"
    io.write_bytes(checkpoint, b"weights")
    mask = np.zeros((2 * SIZE, 2 * SIZE), dtype=np.uint8)
    mask[8:24, 8:24] = 255  # 16x16 at twice the size -> 8x8 at the image size
    io.save_png(tmp_path / "user-mask.png", mask)
    image = workdir / "data" / "embedded" / "test" / "0001.png"
    items = [{"image": str(image), "mask": str(tmp_path / "user-mask.png")}]
    entries = report.build_report(tiny_params(tmp_path, items), workdir, tmp_path / "out", root=tmp_path)

    entry = next(e for e in entries if e.title.startswith("Fig. 11"))
    assert entry.paths == [Path("figures/fig11_object_removal.png")]
    assert calls == [((1, SIZE, SIZE, 3), (1, SIZE, SIZE), 64)]
    assert png_size(tmp_path / "out" / entry.paths[0])[0] > 3 * 100
    index = (tmp_path / "out" / "README.md").read_text()
    assert f"`{checkpoint}` | `{io.sha256_file(checkpoint)}`" in index

    items[0]["image"] = str(tmp_path / "absent.png")
    entries = report.build_report(tiny_params(tmp_path, items), workdir, tmp_path / "out", root=tmp_path)
    entry = next(e for e in entries if e.title.startswith("Fig. 11"))
    assert entry.paths == [] and entry.note == f"inputs absent: {tmp_path / 'absent.png'}"
    assert "Fig. 11" in (tmp_path / "out" / "README.md").read_text()


def test_git_commit_is_marked_dirty_by_changes_outside_reports(tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=tmp_path,
                       check=True, capture_output=True)

    assert report.git_commit(tmp_path) == "unknown"  # not a repository
    git("init", "-q")
    io.write_text(tmp_path / "code.py", "x = 1\n")
    git("add", "code.py")
    git("commit", "-q", "-m", "first")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert report.git_commit(tmp_path) == head
    io.write_text(tmp_path / "reports" / "demo" / "README.md", "regenerated\n")
    assert report.git_commit(tmp_path) == head  # the report's own outputs do not count
    io.write_text(tmp_path / "code.py", "x = 2\n")
    assert report.git_commit(tmp_path) == f"{head} (dirty: uncommitted changes outside reports/)"


# ------------------------------------------------------------------------------ training curves
def test_training_figures_draw_the_runs_that_exist_and_name_the_rest(tmp_path):
    from rwgan.training import VALIDATION_COLUMNS, write_step_csv

    params = config.load("demo", PARAMS_FILE)
    display = report.display_from(params["report"])
    runs = report.training_runs(params, "embedded", display, tmp_path)
    missing_label, missing = next((label, folders) for label, folders in runs.items() if len(folders) == 2)
    for label, folders in runs.items():
        for folder in folders if label != missing_label else folders[:1]:
            write_step_csv(folder / "losses.csv", ("loss_total", "weighted_reconstruction"),
                             [{"step": s, "phase": 1, "loss_total": 2.0, "weighted_reconstruction": 1.0} for s in (1, 2)])
            write_step_csv(folder / "validation.csv", VALIDATION_COLUMNS,
                                 [{"step": s, "phase": 1, "hole_l1": 0.2, "psnr": 15.0, "lpips": 0.3} for s in (0, 2)])
    jobs = report.training_jobs(params, display, tmp_path)
    assert [job.entry.title.split(",")[0] for job in jobs] == [
        "Training: held-out validation", "Training: weighted loss terms and validation per run"]
    for job in jobs:
        assert job.make is not None and str(missing[-1]) in job.entry.note
        job.make(tmp_path / "report" / "figures" / "figure.png")
    table = (tmp_path / "report" / "tables" / "figure.md").read_text()
    assert f"| {missing_label} |" not in table and "50.00% -> 50.00%" in table
    assert (tmp_path / "report" / "figures" / "figure.png").stat().st_size > 0


def test_training_figures_are_not_made_without_any_run(tmp_path):
    params = config.load("demo", PARAMS_FILE)
    jobs = report.training_jobs(params, report.display_from(params["report"]), tmp_path)
    assert all(job.make is None and job.entry.note.startswith("no ") for job in jobs)
