"""The report stage: Tables I-IV, Figures 4-11, metrics and an index for one profile.

    python -m pipeline.report --profile P

Reads the evaluate stage's ``work/<profile>/eval/<dataset>/<method>/{summary.csv,
timing.json,composites/}``, the masks and test images, the ``full`` checkpoint (Fig. 11)
and the paper's tables (params ``report.paper_dir``); writes, atomically, under
``reports/<profile>/``:

- ``tables/table_{I_contiguous,II_discontiguous,III_ablation,IV_complexity}.{md,tex,csv}``
  (Tables I-III under params ``report.protocol``), and Tables I-III under the other metric
  protocol as ``table_{I_contiguous,II_discontiguous,III_ablation}_<protocol>.{md,tex,csv}``;
- ``figures/*.png`` (Figs. 4-11 and metric-versus-hole-ratio curves);
- ``metrics.csv`` (every summary.csv, concatenated and sorted: both metric protocols, with
  n, intervals and reliability) and ``metrics.json``
  (``{dataset: {method: {protocol: {mask_type: {bin: {metric: value}}}}}}``, values as
  stored, for ``dvc metrics``);
- ``README.md``: an index of all of it with its provenance: the profile, code commit, params
  hash, data, the masks' checksum list (``masks.sha256``, from the masks stage) and the
  sha256 of every checkpoint.

Which datasets, methods, metrics and bins appear where, and their display names, come
from the ``report:`` section of params.yaml. Nothing written carries a timestamp, so an
unchanged input gives unchanged outputs; files in ``tables/`` and ``figures/`` that this
run did not write (left over from another configuration) are removed.
"""
from __future__ import annotations

import csv
import io as text_io
import json
import logging
import subprocess
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from pipeline import cli_common, config, dag, figures, methods, paths, tables
from rwgan import io
from rwgan.errors import RwganError
from rwgan.metrics import PROTOCOLS

log = logging.getLogger(cli_common.STAGE_LOGGER)

FIGURE_SPECS = {  # params key -> (paper figure, title, file stem)
    "qualitative": ("Figs. 4-6", "Qualitative comparison", "fig04-06_qualitative"),
    "ablation": ("Fig. 7", "Ablation study", "fig07_ablation"),
    "discriminators": ("Fig. 8", "Discriminator variants", "fig08_discriminators"),
    "regular": ("Fig. 9", "Regular masks", "fig09_regular"),
}


@dataclass
class Entry:
    """One line of the index: what was made (paths relative to the report folder), with a
    note (what it lacks), or why it was not made (``paths`` empty, ``note`` the reason)."""

    section: str
    title: str
    paths: list[Path] = field(default_factory=list)
    note: str = ""


# --------------------------------------------------------------------------- params
def display_from(report: dict) -> tables.Display:
    return tables.Display(
        dataset_names=report["dataset_names"],
        method_names=report["method_names"],
        reported_in_paper=frozenset(methods.REPORTED_IN_PAPER),
        protocol=report["protocol"],
        intervals=report["intervals"],
    )


def shown_report(params: dict) -> dict:
    """params ``report`` with the declared methods (:func:`pipeline.methods.declared`: the authors'
    weights, the external methods) added wherever ours are shown: Tables I-III, the curves and the
    qualitative figures, and the external methods' ``display_name`` in ``method_names``.  Table IV
    times methods run here: listing an external method there fails."""
    report = params["report"]
    added = methods.declared(params)
    untimed = [m for m in report["complexity_methods"] if methods.kind(params, m) == "external"]
    if untimed:
        raise RwganError(f"params.yaml: report.complexity_methods: {untimed[0]} is an external method, which is "
                         "not timed here (expected methods rwgan runs)")
    if not added:
        return report

    def plus(listed: list[str]) -> list[str]:
        return list(dict.fromkeys([*listed, *added]))

    figures_spec = report["figures"]
    return {
        **report,
        "method_names": {**report["method_names"],
                         **{m: spec["display_name"] for m, spec in methods.external(params).items()}},
        "main_table_methods": plus(report["main_table_methods"]),
        "ablation": {**report["ablation"], "methods": plus(report["ablation"]["methods"])},
        "figures": {**figures_spec,
                    "qualitative": {**figures_spec["qualitative"], "methods": plus(figures_spec["qualitative"]["methods"])},
                    "curves": {**figures_spec["curves"], "methods": plus(figures_spec["curves"]["methods"])}},
    }


def source_notes(params: dict, display: tables.Display) -> tuple[str, ...]:
    """One note per external method: where its outputs come from (its ``reported_in``)."""
    return tuple(f"{display.method(m)}: outputs scored here; {spec['reported_in']}."
                 for m, spec in methods.external(params).items())


def shown_datasets(configured: list[str], results: tables.Results, methods: list[str], in_paper: set[str]) -> tuple:
    """Datasets a table or figure shows: the configured ones, in order, that ran any of
    ``methods`` or appear in the paper's table (``in_paper``); then any other dataset that
    ran one of ``methods`` (a user's own), sorted."""
    ran = {d for d, m in results.evaluated if m in methods}
    listed = [d for d in configured if d in ran or d in in_paper]
    return tuple(listed + sorted(ran - set(configured)))


# --------------------------------------------------------------------------- metrics
def metric_rows(results: tables.Results) -> list[tuple]:
    """Rows of :data:`tables.SUMMARY_COLUMNS`, every present metric, sorted with bins in
    hole-ratio order (empty cells as "")."""
    keys = sorted(results.measures, key=lambda k: (k[2], k[0], k[1], k[3], tables.bin_order(k[4]), k[5]))
    rows = []
    for protocol, dataset, method, mask_type, bin_label, metric in ((k[2], *k[:2], *k[3:]) for k in keys):
        measure = results.measures[(dataset, method, protocol, mask_type, bin_label, metric)]
        rows.append((protocol, dataset, method, mask_type, bin_label, metric, repr(measure.value),
                     *("" if v is None else repr(v) for v in (measure.n, measure.low, measure.high)), measure.reliable))
    return rows


def write_metrics(results: tables.Results, reports_dir: Path) -> list[Path]:
    """``metrics.csv`` (long form, the evaluate schema) and ``metrics.json`` (nested values)."""
    buffer = text_io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(tables.SUMMARY_COLUMNS)
    writer.writerows(metric_rows(results))
    nested: dict = {}
    for (dataset, method, protocol, mask_type, bin_label, metric), measure in sorted(results.measures.items()):
        level = nested.setdefault(dataset, {}).setdefault(method, {}).setdefault(protocol, {})
        level.setdefault(mask_type, {}).setdefault(bin_label, {})[metric] = measure.value
    io.write_text(reports_dir / "metrics.csv", buffer.getvalue())
    io.write_json(reports_dir / "metrics.json", nested)
    return [Path("metrics.csv"), Path("metrics.json")]


# --------------------------------------------------------------------------- tables
def build_tables(
    report: dict, results: tables.Results, paper: tables.PaperReference, display: tables.Display, image_size: int,
    notes: tuple[str, ...] = (),
) -> list[tables.Table]:
    """Tables I-IV as configured in ``report`` (params.yaml ``report:``), Tables I-III under
    ``display.protocol``; then Tables I-III under each other metric protocol, named
    ``table_<number>_<slug>_<protocol>``, so that the report shows every protocol.  ``notes``
    (:func:`source_notes`) end each of Tables I-III."""
    datasets = report["datasets"]
    metrics, bins = report["metrics"], report["bins"]
    main_methods = report["main_table_methods"]
    in_paper = {d for d in datasets if display.dataset(d) in {key[3] for key in paper.main}}
    layout = tables.TableLayout(
        tuple(shown_datasets(datasets, results, main_methods, in_paper)), tuple(main_methods), tuple(metrics),
        tuple(bins),
    )
    ablation = report["ablation"]
    ablation_methods = ablation["methods"]
    paper_dataset = ablation["paper_dataset"]
    ablation_layout = tables.TableLayout(
        shown_datasets(datasets, results, ablation_methods, {paper_dataset}), tuple(ablation_methods),
        tuple(metrics), tuple(bins),
    )

    def metric_tables(shown: tables.Display) -> list[tables.Table]:
        built = [
            *(tables.comparison_table(number, mask_type, results, paper, layout, shown)
              for number, mask_type in tables.MAIN_TABLES),
            tables.ablation_table(results, paper, ablation_layout, shown.renamed(ablation["method_names"]),
                                  tuple(ablation["mask_types"]), paper_dataset),
        ]
        return [replace(table, notes=table.notes + notes) for table in built]

    complexity_methods = report["complexity_methods"]
    complexity = tables.complexity_table(
        results, paper, tuple(complexity_methods),
        shown_datasets(datasets, results, complexity_methods, set()), display, image_size,
    )
    others = [
        replace(table, slug=f"{table.slug}_{protocol}")
        for protocol in PROTOCOLS if protocol != display.protocol
        for table in metric_tables(replace(display, protocol=protocol))
    ]
    return [*metric_tables(display), complexity, *others]


def write_tables(built: list[tables.Table], reports_dir: Path) -> list[Entry]:
    entries = []
    for table in built:
        paths = [Path("tables") / f"{table.filename}.{ext}" for ext in tables.RENDERERS]
        for path, render in zip(paths, tables.RENDERERS.values()):
            io.write_text(reports_dir / path, render(table))
        entries.append(Entry("Tables", f"Table {table.number}: {table.caption}", paths))
    return entries


# --------------------------------------------------------------------------- figures
@dataclass(frozen=True)
class FigureJob:
    """A figure to write: its index entry and ``make(path)``; ``make`` is None where the
    figure cannot be made (its inputs are absent; the entry's note says which)."""

    entry: Entry
    make: Callable[[Path], None] | None


def _figure_job(title: str, stem: str, make: Callable[[Path], None], reason: str = "", note: str = "") -> FigureJob:
    if reason:
        return FigureJob(Entry("Figures", title, [], reason), None)
    return FigureJob(Entry("Figures", title, [Path("figures") / f"{stem}.png"], note), make)


def comparison_jobs(specs: dict, datasets: list[str], results, display, workdir: Path) -> list[FigureJob]:
    """Figs. 4-9: for each dataset where any of a grid's methods ran, input | methods | GT."""
    jobs = []
    for key, (number, title, stem) in FIGURE_SPECS.items():
        spec = specs[key]
        methods, sets = spec["methods"], spec["sets"]
        bins, per_bin = spec["bins"], spec["per_bin"]
        for dataset in shown_datasets(datasets, results, methods, set()):
            ran = [m for m in methods if (dataset, m) in results.evaluated]
            absent = [display.method(m) for m in methods if m not in ran]
            examples = figures.select_examples(
                workdir / "masks", dataset_test_images(workdir, dataset), sets, bins, per_bin
            )
            full_title = f"{number}: {title}, {display.dataset(dataset)}"
            make = partial(
                figures.comparison_figure, title=full_title, examples=examples,
                method_dirs=[workdir / "eval" / dataset / m for m in ran],
                method_labels=[display.method(m) for m in ran],
            )
            jobs.append(_figure_job(
                full_title, f"{stem}_{dataset}", make,
                reason="" if examples else f"no masks of sets {', '.join(sets)} or no test images of {dataset}",
                note=f"not run, so not shown: {', '.join(absent)}" if absent else "",
            ))
    return jobs


def sweep_jobs(spec: dict, datasets: list[str], results, display, workdir: Path) -> list[FigureJob]:
    """Fig. 10: one test image under masks from 0% to 100% hole, per dataset where the method ran."""
    method = spec["method"]
    mask_set = spec["set"]
    jobs = []
    for dataset in shown_datasets(datasets, results, [method], set()):
        examples = figures.sweep_examples(workdir / "masks", dataset_test_images(workdir, dataset), mask_set)
        title = f"Fig. 10: One image, 0% to 100% hole, {display.method(method)}, {display.dataset(dataset)}"
        make = partial(
            figures.sweep_figure, title=title, examples=examples,
            method_dir=workdir / "eval" / dataset / method, method_label=display.method(method),
        )
        reason = "" if examples else f"no masks in {workdir / 'masks' / mask_set} or no test images of {dataset}"
        jobs.append(_figure_job(title, f"fig10_sweep_{dataset}", make, reason))
    return jobs


def _in_workdir(workdir: Path, path: str) -> Path:
    """A DAG path ``work/<profile>/...`` (:mod:`pipeline.dag`) inside ``workdir`` instead."""
    return workdir.joinpath(*Path(path).parts[2:])


def object_removal_job(spec: dict, params: dict, workdir: Path) -> FigureJob:
    """Fig. 11: the checkpoint named in ``report.object_removal`` on the listed user images and masks."""
    where = "report.object_removal"
    run = spec["checkpoint"]
    parts = [run[key] for key in ("dataset", "mask_type", "variant")]
    checkpoint = _in_workdir(workdir, dag.variant_checkpoint(params, *parts))
    items = [(Path(item["image"]), Path(item["mask"])) for item in spec["items"]]
    absent = [str(p) for item in items for p in item if not p.is_file()]
    reason = (
        f"no items listed in params {where}.items" if not items
        else f"inputs absent: {', '.join(absent)}" if absent
        else f"checkpoint absent: {checkpoint} (made by the train stage)" if not checkpoint.is_file()
        else ""
    )
    title = "Fig. 11: Object removal with user masks"
    make = partial(figures.object_removal_figure, title=title, checkpoint=checkpoint, items=items)
    return _figure_job(title, "fig11_object_removal", make, reason, note=f"checkpoint {checkpoint}")


def curve_jobs(spec: dict, datasets: list[str], bins: list[str], results, paper, display) -> list[FigureJob]:
    """Metric versus hole-ratio bin, per dataset where any of the curves' methods ran."""
    methods = spec["methods"]
    mask_types, metrics = spec["mask_types"], spec["metrics"]
    jobs = []
    for dataset in shown_datasets(datasets, results, methods, set()):
        title = f"Metrics versus hole ratio, {display.dataset(dataset)}"
        make = partial(
            figures.curves_figure, title=title, results=results, paper=paper, dataset=dataset,
            mask_types=mask_types, metrics=metrics, methods=methods, bins=bins, display=display,
        )
        jobs.append(_figure_job(title, f"metrics_vs_hole_{dataset}", make))
    return jobs


def training_runs(params: dict, dataset: str, display, workdir: Path) -> dict[str, list[Path]]:
    """Label -> the run folders of each trained model of ``dataset`` (mask type ``mixed`` or the
    first trained): a shared phase-1 run alone, or a phase-1 run and the phase 2 that followed it."""
    profile, mask_type = params["profile"], dag.train_mask_types(params)[0]
    runs = {f"phase 1 of {display.method(g)}": [_in_workdir(workdir, paths.phase1_dir(profile, dataset, mask_type, g))]
            for g in dag.phase1_groups(params, dataset)}
    for variant in dag.phase2_variants(params, dataset):
        group = dag.phase1_group(params, variant)
        runs[display.method(variant)] = [_in_workdir(workdir, paths.phase1_dir(profile, dataset, mask_type, group)),
                                         _in_workdir(workdir, paths.run_dir(profile, dataset, mask_type, variant))]
    return runs


def _runs_with(runs: dict[str, list[Path]], csv_name: str) -> tuple[dict[str, list[Path]], str, str]:
    """The ``runs`` whose last folder holds ``csv_name``, then the reason for no figure (none
    has it) or the note naming the runs left out."""
    present = {label: folders for label, folders in runs.items() if (folders[-1] / csv_name).is_file()}
    absent = [str(folders[-1]) for label, folders in runs.items() if label not in present]
    if not absent:
        return present, "", ""
    text = f"no {csv_name} in {', '.join(absent)}"
    return (present, "", text) if present else (present, text, "")


def training_jobs(params: dict, display, workdir: Path) -> list[FigureJob]:
    """Per dataset: the held-out validation curves of every run (phase 2 drawn after its
    phase 1), and a table of each run's weighted loss-term shares and validation. Runs whose
    files are absent are left out and named in the entry's note; no figure if none has them."""
    jobs = []
    for dataset in dag.datasets(params):
        all_runs = training_runs(params, dataset, display, workdir)
        name = display.dataset(dataset)

        title = f"Training: held-out validation, {name}"
        runs, reason, note = _runs_with(all_runs, "validation.csv")
        if not dag.validates(params):
            reason, note = "train.validation.images is 0", ""
        make = partial(figures.validation_figure, title=title, runs=runs)
        jobs.append(_figure_job(title, f"training_validation_{dataset}", make, reason, note))

        title = f"Training: weighted loss terms and validation per run, {name}"
        runs, reason, note = _runs_with(all_runs, "losses.csv")
        job = _figure_job(title, f"training_{dataset}", partial(figures.training_table, runs=runs), reason, note)
        if job.make:
            job.entry.section, job.entry.paths = "Tables", [Path("tables") / f"training_{dataset}.md"]
        jobs.append(job)
    return jobs


def figure_jobs(params: dict, report: dict, results: tables.Results, paper, display, workdir: Path
                ) -> list[FigureJob]:
    """Every figure of ``report.figures`` and ``report.object_removal`` (``report``: the shown
    report section, :func:`shown_report`), then the training curves, in index order."""
    specs = report["figures"]
    datasets = report["datasets"]
    return [
        *comparison_jobs(specs, datasets, results, display, workdir),
        *sweep_jobs(specs["sweep"], datasets, results, display, workdir),
        object_removal_job(report["object_removal"], params, workdir),
        *curve_jobs(specs["curves"], datasets, report["bins"], results,
                    paper, display),
        *training_jobs(params, display, workdir),
    ]


def dataset_test_images(workdir: Path, dataset: str) -> list[Path]:
    folder = workdir / "data" / dataset / "test"
    return io.list_images(folder) if folder.is_dir() else []


# --------------------------------------------------------------------------- index
def git_commit(root: Path = Path(".")) -> str:
    """HEAD's hash, marked dirty when files outside reports/ differ from it; "unknown" without git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", ":(exclude)reports"],
            cwd=root, capture_output=True, text=True, check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    commit = head.stdout.strip()
    return f"{commit} (dirty: uncommitted changes outside reports/)" if status.stdout.strip() else commit


def data_lines(workdir: Path, display: tables.Display) -> list[str]:
    lines = []
    for folder in sorted(p for p in (workdir / "data").glob("*") if p.is_dir()):
        counts = [f"{len(io.list_images(folder / s)) if (folder / s).is_dir() else 0} {s}" for s in ("train", "test")]
        lines.append(f"- {display.dataset(folder.name)} (`{folder.name}`): {', '.join(counts)} images")
    return lines or ["- none prepared"]


def params_hash(params: dict) -> str:
    """sha256 of the resolved profile as JSON with sorted keys: equal params, equal hash."""
    return io.sha256_json(params)


def authors_checkpoints(params: dict) -> list[Path]:
    """The model.pt files of the authors' weights present in ``evaluate.authors_weights``'s folders."""
    folders = (params["evaluate"].get("authors_weights") or {}).values()
    return sorted(path for folder in folders for path in Path(folder).glob("*/model.pt"))


def provenance_lines(params: dict, reports_dir: Path) -> list[str]:
    """The params hash and the masks' checksum list with its own sha256."""
    masks = reports_dir / Path(paths.masks_checksums(params["profile"])).name
    listed = f"`{masks.name}` (sha256 `{io.sha256_file(masks)}`)" if masks.is_file() else "not written yet"
    return [f"- Params: sha256 `{params_hash(params)}` of the resolved profile (JSON, sorted keys)",
            f"- Masks: the sha256 of every mask in {listed}"]


def checkpoint_lines(workdir: Path, others: list[Path] = ()) -> list[str]:
    """The sha256 of every checkpoint: the runs' under ``workdir``, then ``others`` (the authors' weights)."""
    paths = sorted((workdir / "runs").rglob("model.pt")) + list(others)
    if not paths:
        return ["none"]
    return ["| checkpoint | sha256 |", "|---|---|"] + [f"| `{p}` | `{io.sha256_file(p)}` |" for p in paths]


def machines(workdir: Path) -> list[str]:
    """The hardware named in every evaluation's ``timing.json`` under ``workdir/eval``, sorted, once each
    (external methods' outputs were made elsewhere: their timing names none)."""
    found = {json.loads(path.read_text()).get("hardware", "unknown") for path in (workdir / "eval").glob("*/*/timing.json")}
    return sorted(found - {None})  # None: an external method's, run elsewhere


def index_text(profile: str, workdir: Path, display, entries: list[Entry], paper_dir: Path, commit: str,
               provenance: list[str] = (), others: list[Path] = ()) -> str:
    """The README.md index; ``provenance`` lines follow the commit, ``others`` are checkpoints
    outside ``workdir/runs`` (:func:`checkpoint_lines`)."""
    lines = [
        f"# rwgan report: profile `{profile}`",
        "",
        f"Written by `python -m pipeline.report --profile {profile}` from `{workdir}/eval/`; "
        "do not edit by hand. Each table cell reads `ours (paper)`.",
        "",
        f"- Code: git commit `{commit}`",
        *provenance,
        f"- Machine (each evaluation's `timing.json`): {', '.join(machines(workdir)) or 'no evaluation found'}",
        f"- Paper reference: `{paper_dir}` (Ma et al. 2022, Tables I-IV as data)",
        f"- Tables I-III and the curves: metric protocol `{display.protocol}` (params `report.protocol`), "
        f"{'with' if display.intervals else 'without'} bootstrap 95% intervals in the cells (`report.intervals`); "
        "Tables I-III under the other protocol follow Table IV; `metrics.csv` holds both protocols, every "
        "interval and the FID/KID reliability flags",
        "- Data (prepared images per split):",
        *[f"  {line}" for line in data_lines(workdir, display)],
        "",
    ]
    for section in ("Metrics", "Tables", "Figures"):
        lines += [f"## {section}", ""]
        for entry in (e for e in entries if e.section == section):
            if entry.paths:
                links = ", ".join(f"[{p.suffix.lstrip('.')}]({p.as_posix()})" for p in entry.paths)
                lines.append(f"- {entry.title}: {links}" + (f" ({entry.note})" if entry.note else ""))
            else:
                lines.append(f"- {entry.title}: not made ({entry.note})")
        lines.append("")
    lines += ["## Checkpoints", "", *checkpoint_lines(workdir, others), ""]
    return "\n".join(lines)


def prune(folder: Path, keep: set[Path]) -> None:
    """Remove files in ``folder`` that this run did not write (stale outputs of an older configuration)."""
    for path in sorted(folder.glob("*")):
        if path.is_file() and path not in keep:
            log.info("removing stale %s", path)
            path.unlink()


# --------------------------------------------------------------------------- stage
def build_report(params: dict, workdir: Path, reports_dir: Path, root: Path = Path(".")) -> list[Entry]:
    """Write the whole report of ``params`` (a resolved profile) from ``workdir`` into ``reports_dir``."""
    report = shown_report(params)
    display = display_from(report)
    paper_dir = Path(report["paper_dir"])
    paper = tables.read_paper(paper_dir)
    results = tables.read_results(workdir / "eval")
    log.info("read %d metric values of %d (dataset, method) evaluations", len(results.measures), len(results.evaluated))

    entries = [Entry("Metrics", "All metrics, long form and nested (dvc metrics)", write_metrics(results, reports_dir))]
    entries += write_tables(build_tables(report, results, paper, display, params["image_size"],
                                         source_notes(params, display)), reports_dir)
    for job in tqdm(figure_jobs(params, report, results, paper, display, workdir), desc="figures", unit="figure"):
        if job.make is not None:
            job.make(reports_dir / job.entry.paths[0])
        else:
            log.info("%s: not made (%s)", job.entry.title, job.entry.note)
        entries.append(job.entry)

    written = {reports_dir / p for e in entries for p in e.paths}
    for folder in ("tables", "figures"):
        prune(reports_dir / folder, written)
    io.write_text(
        reports_dir / "README.md",
        index_text(params["profile"], workdir, display, entries, paper_dir, git_commit(root),
                   provenance_lines(params, reports_dir), authors_checkpoints(params)),
    )
    return entries


def main(argv: list[str] | None = None) -> None:
    args = cli_common.stage_parser(__doc__).parse_args(argv)
    params = config.load(args.profile)
    cli_common.stage_logger(params["profile"], "report")
    entries = build_report(params, Path(params["workdir"]), Path(paths.report_dir(params["profile"])))
    made = sum(bool(e.paths) for e in entries)
    log.info("report written: reports/%s/README.md (%d of %d items made)", params["profile"], made, len(entries))


if __name__ == "__main__":
    cli_common.run(main)
