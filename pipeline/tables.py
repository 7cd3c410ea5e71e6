"""Tables I-IV of the paper with our numbers beside the paper's, as Markdown, LaTeX and CSV.

Every value cell of every table reads ``ours (paper)``:

- *ours*: our measured value on the metric's display scale (:data:`rwgan.metrics.METRIC_TABLE`:
  l1, l2 x1e3), with its bootstrap 95% interval ``[low, high]`` where the params switch
  ``report.intervals`` asks, and marked ``†`` where it is unreliable (FID or KID over too
  few images, :mod:`rwgan.uncertainty`); ``--`` where the method was evaluated but the
  metric is missing (it could not be computed, e.g. KID on a small bin) -- never 0;
  ``not run`` where the method was not evaluated on that dataset at all;
- *paper*: the paper's value (Ma et al. 2022); ``n/a`` where the paper has none (a
  dataset or method it did not use, or a row unreadable in its text).

Tables I-III show the metrics of one metric protocol (:data:`rwgan.metrics.PROTOCOLS`),
params ``report.protocol``: by default ``edgeconnect``, the protocol the paper says it
followed (Sec. IV-A); each table's caption and notes name it.  Methods the paper ran from
released weights (CA, EC, PIC) are labelled "(reported in paper)" and show only ``(paper)``.

Inputs: the evaluate stage's ``work/<profile>/eval/<dataset>/<method>/summary.csv``
(:data:`rwgan.evaluation.SUMMARY_COLUMNS`) and ``timing.json``, read by
:func:`read_results`; the paper's tables as data (``paper_tables_I_II.csv``,
``paper_table_III.csv``, ``paper_table_IV.csv``, keyed by the display names of params.yaml
report, values as printed, i.e. on the display scale), read by :func:`read_paper`. One
:class:`Table` model, three renderers (:func:`to_markdown`, :func:`to_latex`, :func:`to_csv`).
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from rwgan.errors import RwganError
from rwgan.evaluation import SUMMARY_COLUMNS
from rwgan.metrics import FID_BACKEND, METRIC_TABLE, PROTOCOLS
from rwgan.uncertainty import BOOTSTRAP_LEVEL, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, MIN_IMAGES

TIMING_KEYS = ("seconds_per_image", "device", "hardware", "parameters", "n_images_timed")
PAPER_FILES = {
    "main": ("paper_tables_I_II.csv", ("mask_type", "metric", "bin", "dataset", "method", "value")),
    "ablation": ("paper_table_III.csv", ("metric", "bin", "variant", "value")),
    "complexity": ("paper_table_IV.csv", ("method", "test_time_per_image_s", "params_M", "hardware")),
}
#: Decimals of Table IV's quantities (the metrics' are the metric table's).
COMPLEXITY_DECIMALS = {"params_M": 1, "seconds_per_image": 3}
MAIN_TABLES = (("I", "contiguous"), ("II", "discontiguous"))
NOT_RUN = "not run"
MISSING = "--"
NO_PAPER_VALUE = "n/a"
REPORTED_IN_PAPER = "reported in paper"
UNRELIABLE = "†"
CELL_NOTE = (
    f"Each cell: ours (paper). '{MISSING}': evaluated, metric missing; '{NOT_RUN}': not evaluated here; "
    f"'{NO_PAPER_VALUE}': no value in the paper; '({REPORTED_IN_PAPER})': the paper's run of released weights."
)
#: Which model RED is (issue 10): the paper's "trained without adversarial loss, namely RED"
#: (Sec. IV-C, Fig. 7) is Algorithm 1's first phase, lambda3 = 0 for 20 epochs.
RED_NOTE = ("RED (w/o L_a) is the model after phase 1 (lambda3 = 0: the paper's first 20 epochs), the same "
            "run that Ours continues with L_a for 9 more epochs.")
INTERVAL_NOTE = (
    f"[low, high]: the seeded percentile-bootstrap {BOOTSTRAP_LEVEL:.0%} interval of the bin's mean over its "
    f"images ({BOOTSTRAP_RESAMPLES:,} resamples, seed {BOOTSTRAP_SEED}); it covers the images and masks drawn, "
    "not the training run."
)
RELIABILITY_NOTE = (
    f"'{UNRELIABLE}': unreliable, "
    + " or ".join(f"{name} over fewer than {count:,} images" for name, count in MIN_IMAGES.items())
    + " (rwgan/uncertainty.py: FID's bias grows as 1/N and depends on the method, Chong & Forsyth, CVPR 2020, "
    "and its authors ask for more images than its 2,048 features; KID's subsets hold 1,000). "
    f"FID and KID: {FID_BACKEND}."
)


def protocol_note(protocol: str) -> str:
    """The note naming a table's metric protocol and what it computes."""
    return (f"Metric protocol '{protocol}': {PROTOCOLS[protocol]}. LPIPS, FID and KID have one definition, on RGB "
            "(params report.protocol switches L1, L2, PSNR and SSIM between protocols).")


# --------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Measure:
    """One stored number: ``value`` as computed (the metric table's ``shown`` scales it),
    ``n`` the images behind it (None where not given), ``low``/``high`` its bootstrap 95%
    interval (None for FID and KID), ``reliable`` False for FID/KID over too few images."""

    value: float
    n: int | None = None
    low: float | None = None
    high: float | None = None
    reliable: bool = True


@dataclass(frozen=True)
class Results:
    """Everything the evaluate stage wrote for one profile.

    ``measures``: (dataset, method, protocol, mask_type, bin, metric) -> :class:`Measure`,
    finite values only; ``evaluated``: the (dataset, method) pairs that have a summary.csv;
    ``timings``: (dataset, method) -> the timing.json dict.
    """

    measures: dict = field(default_factory=dict)
    evaluated: frozenset = frozenset()
    timings: dict = field(default_factory=dict)

    def datasets(self) -> list[str]:
        return sorted({dataset for dataset, _ in self.evaluated})

    def get(self, dataset: str, method: str, mask_type: str, bin_label: str, metric: str, protocol: str):
        """The :class:`Measure` of ``metric`` for a table of ``protocol`` (a metric with one
        definition is read from its protocol's rows, :meth:`rwgan.metrics.Metric.stored_under`), or None."""
        stored = METRIC_TABLE[metric].stored_under(protocol)
        return self.measures.get((dataset, method, stored, mask_type, bin_label, metric))


def read_results(eval_dir: str | Path) -> Results:
    """Read every ``<eval_dir>/<dataset>/<method>/summary.csv`` and ``timing.json``.

    A missing ``eval_dir`` gives empty results (nothing evaluated yet). Empty or NaN
    values are treated as absent (the evaluate contract), never as 0; an unknown metric or
    protocol, or a summary.csv of another format (e.g. from before the protocol column:
    re-score it, ``python -m pipeline.evaluate ... --rescore``), is an error naming the file.
    """
    eval_dir = Path(eval_dir)
    measures, evaluated, timings = {}, set(), {}
    for summary in sorted(eval_dir.glob("*/*/summary.csv")):
        dataset, method = summary.parent.parent.name, summary.parent.name
        evaluated.add((dataset, method))
        seen = set()
        for row in _read_csv(summary, SUMMARY_COLUMNS):
            if (row["dataset"], row["method"]) != (dataset, method):
                raise RwganError(
                    f"{summary}: row names dataset {row['dataset']!r}, method {row['method']!r} "
                    f"(expected {dataset!r}, {method!r} as the folder says)"
                )
            for column, known in (("metric", METRIC_TABLE), ("protocol", PROTOCOLS)):
                if row[column] not in known:
                    raise RwganError(f"{summary}: unknown {column} {row[column]!r} (expected one of {', '.join(known)})")
            key = (dataset, method, row["protocol"], row["mask_type"], row["bin"], row["metric"])
            if key in seen:
                raise RwganError(f"{summary}: duplicate row for {', '.join(key[2:])}")
            seen.add(key)
            value = _parse_float(summary, row["value"], "value")
            if value is None:
                continue
            n = _parse_float(summary, row["n"], "n")
            measures[key] = Measure(
                value, None if n is None else int(n), _parse_float(summary, row["ci95_low"], "ci95_low"),
                _parse_float(summary, row["ci95_high"], "ci95_high"), _parse_bool(summary, row["reliable"], "reliable"),
            )
        timing_path = summary.parent / "timing.json"
        if timing_path.is_file():
            timings[(dataset, method)] = _read_timing(timing_path)
    return Results(measures, frozenset(evaluated), timings)


def bin_order(label: str) -> tuple:
    """Sort key of a bin label: its leading number ("0-10%" before "10-20%"), non-numeric last."""
    head = label.split("-")[0].rstrip("%")
    try:
        return (0, float(head), label)
    except ValueError:
        return (1, 0.0, label)


def _read_timing(path: Path) -> dict:
    try:
        timing = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise RwganError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    missing = [key for key in TIMING_KEYS if key not in timing]
    if missing:
        raise RwganError(f"{path}: missing keys {', '.join(missing)} (expected {', '.join(TIMING_KEYS)})")
    return timing


@dataclass(frozen=True)
class PaperReference:
    """The paper's numbers as printed (the metric table's display scale: l1, l2 x1e3), keyed
    by display names (params.yaml report.*_names) and metric table names.

    ``main``: (mask_type, metric, bin, dataset, method) -> value (Tables I and II);
    ``ablation``: (metric, bin, variant) -> value (Table III, CelebA-HQ, averaged over
    both mask types; its PSNR rows are unreadable in the source and absent);
    ``complexity``: method -> {"seconds_per_image", "params_M", "hardware"} (Table IV).
    """

    main: dict = field(default_factory=dict)
    ablation: dict = field(default_factory=dict)
    complexity: dict = field(default_factory=dict)


def read_paper(folder: str | Path) -> PaperReference:
    """Read the paper's tables from ``folder`` (the three CSVs named in ``PAPER_FILES``)."""
    folder = Path(folder)
    tables = {}
    for name, (filename, columns) in PAPER_FILES.items():
        path = folder / filename
        if not path.is_file():
            raise RwganError(f"{path}: paper reference table not found (params report.paper_dir names its folder)")
        tables[name] = (path, _read_csv(path, columns))
    for name, (path, rows) in tables.items():
        unknown = sorted({r["metric"] for r in rows if "metric" in r} - set(METRIC_TABLE))
        if unknown:
            raise RwganError(f"{path}: unknown metric {unknown[0]!r} (expected names of {', '.join(METRIC_TABLE)})")
    path, rows = tables["main"]
    main = {
        (r["mask_type"], r["metric"], r["bin"], r["dataset"], r["method"]): _parse_float(path, r["value"], "value")
        for r in rows
    }
    path, rows = tables["ablation"]
    ablation = {(r["metric"], r["bin"], r["variant"]): _parse_float(path, r["value"], "value") for r in rows}
    path, rows = tables["complexity"]
    complexity = {
        r["method"]: {
            "seconds_per_image": _parse_float(path, r["test_time_per_image_s"], "test_time_per_image_s"),
            "params_M": _parse_float(path, r["params_M"], "params_M"),
            "hardware": r["hardware"],
        }
        for r in rows
    }
    return PaperReference(main, ablation, complexity)


def _read_csv(path: Path, columns: tuple[str, ...]) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise RwganError(f"{path}: missing columns {', '.join(missing)} (expected {', '.join(columns)})")
        return list(reader)


def _parse_bool(path: Path, text: str, column: str) -> bool:
    if text not in ("True", "False"):
        raise RwganError(f"{path}: column {column!r} holds {text!r} (expected True or False)")
    return text == "True"


def _parse_float(path: Path, text: str, column: str) -> float | None:
    """A finite float, or None for an empty / NaN / infinite cell (a missing value)."""
    if text is None or text.strip() == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise RwganError(f"{path}: column {column!r} holds {text!r} (expected a number or empty)") from None
    return value if math.isfinite(value) else None


# --------------------------------------------------------------------------- naming
@dataclass(frozen=True)
class Display:
    """How ids and numbers are shown: display names (params ``report.dataset_names`` /
    ``method_names``, the strings of the paper's CSVs so the two join), the methods only the
    paper ran (``pipeline.methods.REPORTED_IN_PAPER``), the metric ``protocol`` of Tables I-III and
    whether cells show ``intervals`` (params ``report.protocol``, ``report.intervals``)."""

    dataset_names: dict
    method_names: dict
    reported_in_paper: frozenset
    protocol: str = "edgeconnect"
    intervals: bool = False

    def dataset(self, dataset: str) -> str:
        return self.dataset_names.get(dataset, dataset)

    def method(self, method: str) -> str:
        return self.method_names.get(method, method)

    def method_label(self, method: str) -> str:
        """Column / row label: the display name, marked where the number is the paper's run."""
        name = self.method(method)
        return f"{name} ({REPORTED_IN_PAPER})" if method in self.reported_in_paper else name

    def renamed(self, overrides: dict) -> "Display":
        """The same display with some method names replaced (Table III names RED "w/o L_a (RED)")."""
        return replace(self, method_names={**self.method_names, **overrides})

    def number(self, quantity: str, value: float | None) -> str | None:
        """``value``, already on the display scale, with the decimals of a metric of the metric
        table or a Table IV quantity (:data:`COMPLEXITY_DECIMALS`)."""
        if value is None:
            return None
        decimals = METRIC_TABLE[quantity].decimals if quantity in METRIC_TABLE else COMPLEXITY_DECIMALS[quantity]
        return f"{value:.{decimals}f}"

    def measure(self, metric: str, measure: Measure | None) -> str | None:
        """A stored ``measure`` of ``metric`` on its display scale: the value, its interval
        ``[low, high]`` when :attr:`intervals` is on and it has one, and :data:`UNRELIABLE`
        when it is not reliable."""
        if measure is None:
            return None
        shown = METRIC_TABLE[metric].shown
        text = self.number(metric, shown(measure.value))
        if self.intervals and measure.low is not None and measure.high is not None:
            text += f" [{self.number(metric, shown(measure.low))}, {self.number(metric, shown(measure.high))}]"
        return text if measure.reliable else text + UNRELIABLE

    def metric_notes(self, metrics) -> tuple[str, ...]:
        """The notes a table of ``metrics`` needs: its protocol, intervals if shown, FID/KID reliability."""
        notes = [protocol_note(self.protocol)]
        if self.intervals and any(METRIC_TABLE[m].per == "image" for m in metrics):
            notes.append(INTERVAL_NOTE)
        if any(m in MIN_IMAGES for m in metrics):
            notes.append(RELIABILITY_NOTE)
        return tuple(notes)


def cell(display: Display, method: str, ours: str | None, evaluated: bool, paper: str | None) -> str:
    """The ``ours (paper)`` cell (module docstring); ``ours``/``paper`` already formatted or None."""
    paper_text = f"({paper if paper is not None else NO_PAPER_VALUE})"
    if method in display.reported_in_paper:
        return paper_text
    ours_text = ours if ours is not None else (MISSING if evaluated else NOT_RUN)
    return f"{ours_text} {paper_text}"


# --------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class Table:
    """A rendered-to-strings table.

    ``key_columns`` label the leading cells of each row (e.g. Metric, Bin); ``columns``
    label the value cells; ``groups`` are (label, span) pairs over ``columns`` (a dataset
    heading several methods), empty when the table has one header row.
    """

    number: str
    slug: str
    caption: str
    notes: tuple[str, ...]
    key_columns: tuple[str, ...]
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    groups: tuple[tuple[str, int], ...] = ()

    def __post_init__(self):
        width = len(self.key_columns) + len(self.columns)
        if any(len(row) != width for row in self.rows):
            raise ValueError(f"Table {self.number}: every row needs {width} cells")
        if self.groups and sum(span for _, span in self.groups) != len(self.columns):
            raise ValueError(f"Table {self.number}: groups must span the value columns exactly")

    @property
    def filename(self) -> str:
        return f"table_{self.number}_{self.slug}"

    def flat_header(self) -> list[str]:
        """One header row: each value column prefixed with its group (``CelebA-HQ: Ours``)."""
        labels = list(self.columns)
        if self.groups:
            group_of = [label for label, span in self.groups for _ in range(span)]
            labels = [f"{group}: {label}" if group else label for group, label in zip(group_of, labels)]
        return list(self.key_columns) + labels


def to_markdown(table: Table) -> str:
    """A Markdown table; a grouped table becomes one sub-table per group (``### CelebA-HQ``),
    each with the key columns, so that wide tables stay readable."""

    def line(cells):
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    n_keys, start = len(table.key_columns), 0
    lines = [f"## Table {table.number}: {table.caption}"]
    for label, span in table.groups or (("", len(table.columns)),):
        picked = range(n_keys + start, n_keys + start + span)
        lines += [""] + ([f"### {label}", ""] if label else [])
        lines.append(line(list(table.key_columns) + [table.columns[i - n_keys] for i in picked]))
        lines.append(line(["---"] * n_keys + ["---:"] * span))
        lines += [line(list(row[:n_keys]) + [row[i] for i in picked]) for row in table.rows]
        start += span
    lines += [""] + [f"- {note}" for note in table.notes]
    return "\n".join(lines) + "\n"


_LATEX_ESCAPES = {
    "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
    "↑": r"$\uparrow$", "↓": r"$\downarrow$", UNRELIABLE: r"$^\dagger$",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(char, char) for char in text)


def to_latex(table: Table) -> str:
    """A booktabs ``table`` float; grouped columns get a ``\\multicolumn`` row and rules."""
    n_keys = len(table.key_columns)
    spec = "l" * n_keys + "r" * len(table.columns)
    body = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{" + spec + "}", r"\toprule"]
    if table.groups:
        heads, rules, start = ["" for _ in range(n_keys)], [], n_keys + 1
        for label, span in table.groups:
            heads.append(rf"\multicolumn{{{span}}}{{c}}{{{latex_escape(label)}}}")
            rules.append(rf"\cmidrule(lr){{{start}-{start + span - 1}}}")
            start += span
        body += [" & ".join(heads) + r" \\", " ".join(rules)]
    header = list(table.key_columns) + list(table.columns)
    body.append(" & ".join(latex_escape(c) for c in header) + r" \\")
    body.append(r"\midrule")
    body += [" & ".join(latex_escape(c) for c in row) + r" \\" for row in table.rows]
    caption = " ".join([table.caption + "."] + list(table.notes))
    body += [
        r"\bottomrule",
        r"\end{tabular}",
        rf"\caption{{{latex_escape(caption)}}}",
        rf"\label{{tab:{table.filename}}}",
        r"\end{table}",
    ]
    return "\n".join(body) + "\n"


def to_csv(table: Table) -> str:
    """The table's cells as CSV, one header row (:meth:`Table.flat_header`); no notes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.flat_header())
    writer.writerows(table.rows)
    return buffer.getvalue()


RENDERERS = {"md": to_markdown, "tex": to_latex, "csv": to_csv}


# --------------------------------------------------------------------------- Tables I-IV
@dataclass(frozen=True)
class TableLayout:
    """Which datasets (column groups), methods (columns), metrics and bins (rows) a table shows."""

    datasets: tuple[str, ...]
    methods: tuple[str, ...]
    metrics: tuple[str, ...]
    bins: tuple[str, ...]


def comparison_table(
    number: str, mask_type: str, results: Results, paper: PaperReference, layout: TableLayout, display: Display
) -> Table:
    """Table I (contiguous) or II (discontiguous): metric x bin rows, dataset x method columns,
    under ``display.protocol``.  Methods only the paper ran (CA, EC, PIC) appear under the
    datasets the paper has."""
    paper_datasets = {key[3] for key in paper.main}
    columns = [
        (dataset, method)
        for dataset in layout.datasets
        for method in layout.methods
        if method not in display.reported_in_paper or display.dataset(dataset) in paper_datasets
    ]

    def ours(dataset, method, bin_label, metric):
        return results.get(dataset, method, mask_type, bin_label, metric, display.protocol)

    def theirs(dataset, method, bin_label, metric):
        return paper.main.get((mask_type, metric, bin_label, display.dataset(dataset), display.method(method)))

    return _metric_table(
        number, mask_type, f"{mask_type.capitalize()} missing areas, by hole-area bin, {display.protocol} protocol",
        (CELL_NOTE, RED_NOTE, *display.metric_notes(layout.metrics), f"Paper: Ma et al. 2022, Table {number}."),
        columns, layout, display, results, ours, theirs,
    )


def mask_type_average(
    results: Results, dataset: str, method: str, mask_types: tuple[str, ...], bin_label: str, metric: str,
    protocol: str,
) -> Measure | None:
    """A metric averaged over ``mask_types`` (Table III "simply averages" the two types); None
    unless every mask type has the value -- an average over fewer types is not the paper's.

    The interval is the mean of the types' interval ends: exact if the two means moved
    together, wider than the interval of independent means (conservative); ``n`` is the
    images of all types; reliable only if every type's value is."""
    found = [results.get(dataset, method, mask_type, bin_label, metric, protocol) for mask_type in mask_types]
    if not found or any(measure is None for measure in found):
        return None

    def mean(values):
        return None if any(v is None for v in values) else sum(values) / len(values)

    counts = [measure.n for measure in found]
    return Measure(
        mean([m.value for m in found]), None if None in counts else sum(counts),
        mean([m.low for m in found]), mean([m.high for m in found]), all(m.reliable for m in found),
    )


def ablation_table(
    results: Results,
    paper: PaperReference,
    layout: TableLayout,
    display: Display,
    mask_types: tuple[str, ...],
    paper_dataset: str,
) -> Table:
    """Table III: metric x bin rows, dataset x variant columns, each metric averaged over
    ``mask_types``. The paper's numbers (CelebA-HQ) join only in ``paper_dataset``'s columns."""
    columns = [(dataset, method) for dataset in layout.datasets for method in layout.methods]

    def ours(dataset, method, bin_label, metric):
        return mask_type_average(results, dataset, method, mask_types, bin_label, metric, display.protocol)

    def theirs(dataset, method, bin_label, metric):
        if dataset != paper_dataset:
            return None
        return paper.ablation.get((metric, bin_label, display.method(method)))

    averaged = ("Intervals of an average: the mean of the mask types' interval ends (conservative).",) \
        if display.intervals else ()
    notes = (
        CELL_NOTE,
        RED_NOTE,
        *display.metric_notes(layout.metrics),
        *averaged,
        f"Paper: Ma et al. 2022, Table III ({display.dataset(paper_dataset)}; its PSNR rows are unreadable "
        "in the source text and show as n/a).",
    )
    caption = (f"Ablation study, each metric averaged over {' and '.join(mask_types)} masks, "
               f"{display.protocol} protocol")
    return _metric_table("III", "ablation", caption, notes, columns, layout, display, results, ours, theirs)


def _metric_table(number, slug, caption, notes, columns, layout, display, results, ours, theirs) -> Table:
    """Metric x bin rows over (dataset, method) ``columns``; ``ours`` gives a cell's
    :class:`Measure` (or None), ``theirs`` the paper's value on the display scale (or None),
    from (dataset, method, bin, metric)."""
    rows = []
    for metric in layout.metrics:
        for bin_label in layout.bins:
            row = [METRIC_TABLE[metric].label, bin_label]
            for dataset, method in columns:
                row.append(
                    cell(
                        display,
                        method,
                        display.measure(metric, ours(dataset, method, bin_label, metric)),
                        (dataset, method) in results.evaluated,
                        display.number(metric, theirs(dataset, method, bin_label, metric)),
                    )
                )
            rows.append(tuple(row))
    return Table(
        number=number,
        slug=slug,
        caption=caption,
        notes=notes,
        key_columns=("Metric", "Bin"),
        columns=tuple(display.method_label(method) for _, method in columns),
        rows=tuple(rows),
        groups=_groups(display, [dataset for dataset, _ in columns]),
    )


def _groups(display: Display, column_datasets: list[str]) -> tuple[tuple[str, int], ...]:
    """(dataset display name, span) of consecutive value columns of the same dataset."""
    groups: list[list] = []
    for dataset in column_datasets:
        if groups and groups[-1][0] == display.dataset(dataset):
            groups[-1][1] += 1
        else:
            groups.append([display.dataset(dataset), 1])
    return tuple((label, span) for label, span in groups)


def complexity_table(
    results: Results, paper: PaperReference, methods: tuple[str, ...], datasets: tuple[str, ...],
    display: Display, image_size: int,
) -> Table:
    """Table IV: parameters (M) and test time per image (s), ours on this hardware beside
    the paper's (RTX 2080 Ti). Each method's timing comes from the first of ``datasets``
    it was timed on (the network, not the data, sets the time)."""
    rows, timed_on = [], set()
    for method in methods:
        timing = next((results.timings[(d, method)] for d in datasets if (d, method) in results.timings), None)
        evaluated = timing is not None
        if evaluated:
            timed_on.add(next(d for d in datasets if (d, method) in results.timings))
        reference = paper.complexity.get(display.method(method), {})
        params_ours = timing["parameters"] / 1e6 if evaluated else None
        seconds_ours = timing["seconds_per_image"] if evaluated else None
        rows.append(
            (
                display.method_label(method),
                cell(display, method, display.number("params_M", params_ours), evaluated,
                     display.number("params_M", reference.get("params_M"))),
                cell(display, method, display.number("seconds_per_image", seconds_ours), evaluated,
                     display.number("seconds_per_image", reference.get("seconds_per_image"))),
                cell(display, method, timing["hardware"] if evaluated else None, evaluated,
                     reference.get("hardware")),
            )
        )
    where = ", ".join(display.dataset(d) for d in datasets if d in timed_on) or "no dataset"
    return Table(
        number="IV",
        slug="complexity",
        caption="Parameters and test time per image",
        notes=(
            CELL_NOTE,
            f"Ours: inference only, batch 1, {image_size}x{image_size} images of {where}, "
            "median over the timed images (the evaluate stage's timing.json); the paper: 256x256.",
            "Paper: Ma et al. 2022, Table IV.",
        ),
        key_columns=("Method",),
        columns=("Parameters (M)", "Test time / image (s)", "Hardware"),
        rows=tuple(rows),
    )
