"""Tables I-IV of the paper with our numbers beside the paper's, as Markdown, LaTeX and CSV.

Every value cell of every table reads ``ours (paper)``:

- *ours*: our measured value; ``--`` where the method was evaluated but the metric is
  missing (it could not be computed, e.g. KID on a small bin) -- never 0; ``not run``
  where the method was not evaluated on that dataset at all;
- *paper*: the paper's value (Ma et al. 2022); ``n/a`` where the paper has none (a
  dataset or method it did not use, or a row unreadable in its text).

Methods the paper ran from released weights (CA, EC, PIC) are labelled
"(reported in paper)" and show only ``(paper)``.

Inputs: the evaluate stage's ``work/<profile>/eval/<dataset>/<method>/summary.csv``
(long form: dataset, method, mask_type, bin, metric, value, n; L1e-3 / L2e-3 already
x1e3) and ``timing.json``, read by :func:`read_results`; the paper's tables as data
(``paper_tables_I_II.csv``, ``paper_table_III.csv``, ``paper_table_IV.csv``, keyed by
the display names of params.yaml report), read by :func:`read_paper`. One :class:`Table` model,
three renderers (:func:`to_markdown`, :func:`to_latex`, :func:`to_csv`).
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

TIMING_KEYS = ("seconds_per_image", "device", "hardware", "parameters", "n_images_timed")
PAPER_FILES = {
    "main": ("paper_tables_I_II.csv", ("mask_type", "metric", "bin", "dataset", "method", "value")),
    "ablation": ("paper_table_III.csv", ("metric", "bin", "variant", "value")),
    "complexity": ("paper_table_IV.csv", ("method", "test_time_per_image_s", "params_M", "hardware")),
}
# Better direction of each metric (the paper marks them with * and a dagger).
METRIC_LABELS = {
    "PSNR": "PSNR ↑",
    "SSIM": "SSIM ↑",
    "L1e-3": "L1 (1e-3) ↓",
    "L2e-3": "L2 (1e-3) ↓",
    "FID": "FID ↓",
    "KID": "KID ↓",
    "LPIPS": "LPIPS ↓",
}
MAIN_TABLES = (("I", "contiguous"), ("II", "discontiguous"))
NOT_RUN = "not run"
MISSING = "--"
NO_PAPER_VALUE = "n/a"
REPORTED_IN_PAPER = "reported in paper"
CELL_NOTE = (
    f"Each cell: ours (paper). '{MISSING}': evaluated, metric missing; '{NOT_RUN}': not evaluated here; "
    f"'{NO_PAPER_VALUE}': no value in the paper; '({REPORTED_IN_PAPER})': the paper's run of released weights."
)
#: Which model RED is (issue 10): the paper's "trained without adversarial loss, namely RED"
#: (Sec. IV-C, Fig. 7) is Algorithm 1's first phase, lambda3 = 0 for 20 epochs.
RED_NOTE = ("RED (w/o L_a) is the model after phase 1 (lambda3 = 0: the paper's first 20 epochs), the same "
            "run that Ours continues with L_a for 9 more epochs.")


# --------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Results:
    """Everything the evaluate stage wrote for one profile.

    ``values``: (dataset, method, mask_type, bin, metric) -> finite value;
    ``counts``: same key -> n (images behind the value, None where not given);
    ``evaluated``: the (dataset, method) pairs that have a summary.csv;
    ``timings``: (dataset, method) -> the timing.json dict.
    """

    values: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    evaluated: frozenset = frozenset()
    timings: dict = field(default_factory=dict)

    def datasets(self) -> list[str]:
        return sorted({dataset for dataset, _ in self.evaluated})


def read_results(eval_dir: str | Path) -> Results:
    """Read every ``<eval_dir>/<dataset>/<method>/summary.csv`` and ``timing.json``.

    A missing ``eval_dir`` gives empty results (nothing evaluated yet). Empty or NaN
    values are treated as absent (the evaluate contract), never as 0.
    """
    eval_dir = Path(eval_dir)
    values, counts, evaluated, timings = {}, {}, set(), {}
    for summary in sorted(eval_dir.glob("*/*/summary.csv")):
        dataset, method = summary.parent.parent.name, summary.parent.name
        evaluated.add((dataset, method))
        for row in _read_csv(summary, SUMMARY_COLUMNS):
            if (row["dataset"], row["method"]) != (dataset, method):
                raise RwganError(
                    f"{summary}: row names dataset {row['dataset']!r}, method {row['method']!r} "
                    f"(expected {dataset!r}, {method!r} as the folder says)"
                )
            key = (dataset, method, row["mask_type"], row["bin"], row["metric"])
            if key in counts:
                raise RwganError(f"{summary}: duplicate row for {', '.join(key[2:])}")
            value = _parse_float(summary, row["value"], "value")
            n = _parse_float(summary, row["n"], "n")
            counts[key] = None if n is None else int(n)
            if value is not None:
                values[key] = value
        timing_path = summary.parent / "timing.json"
        if timing_path.is_file():
            timings[(dataset, method)] = _read_timing(timing_path)
    counts = {key: n for key, n in counts.items() if key in values}
    return Results(values, counts, frozenset(evaluated), timings)


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
    """The paper's numbers, keyed by display names (params.yaml report.*_names).

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
    """How ids are shown: display names (params ``report.dataset_names`` / ``method_names``,
    the strings of the paper's CSVs so the two join), the methods only the paper ran
    (``pipeline.methods.REPORTED_IN_PAPER``) and the decimals per metric (``report.decimals``)."""

    dataset_names: dict
    method_names: dict
    reported_in_paper: frozenset
    decimals: dict

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
        if value is None:
            return None
        if quantity not in self.decimals:
            raise RwganError(f"params.yaml: report.decimals has no entry for {quantity!r}")
        return f"{value:.{self.decimals[quantity]}f}"


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
    "↑": r"$\uparrow$", "↓": r"$\downarrow$",
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
    """Table I (contiguous) or II (discontiguous): metric x bin rows, dataset x method columns.

    Methods only the paper ran (CA, EC, PIC) appear under the datasets the paper has."""
    paper_datasets = {key[3] for key in paper.main}
    columns = [
        (dataset, method)
        for dataset in layout.datasets
        for method in layout.methods
        if method not in display.reported_in_paper or display.dataset(dataset) in paper_datasets
    ]

    def ours(dataset, method, bin_label, metric):
        return results.values.get((dataset, method, mask_type, bin_label, metric))

    def theirs(dataset, method, bin_label, metric):
        return paper.main.get((mask_type, metric, bin_label, display.dataset(dataset), display.method(method)))

    return _metric_table(
        number, mask_type, f"{mask_type.capitalize()} missing areas, by hole-area bin",
        (CELL_NOTE, RED_NOTE, f"Paper: Ma et al. 2022, Table {number}."),
        columns, layout, display, results, ours, theirs,
    )


def mask_type_average(
    results: Results, dataset: str, method: str, mask_types: tuple[str, ...], bin_label: str, metric: str
) -> float | None:
    """Mean of a metric over ``mask_types`` (Table III "simply averages" the two types);
    None unless every mask type has the value -- an average over fewer types is not the paper's."""
    found = [results.values.get((dataset, method, mask_type, bin_label, metric)) for mask_type in mask_types]
    if not found or any(value is None for value in found):
        return None
    return sum(found) / len(found)


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
        return mask_type_average(results, dataset, method, mask_types, bin_label, metric)

    def theirs(dataset, method, bin_label, metric):
        if dataset != paper_dataset:
            return None
        return paper.ablation.get((metric, bin_label, display.method(method)))

    notes = (
        CELL_NOTE,
        RED_NOTE,
        f"Paper: Ma et al. 2022, Table III ({display.dataset(paper_dataset)}; its PSNR rows are unreadable "
        "in the source text and show as n/a).",
    )
    caption = f"Ablation study, each metric averaged over {' and '.join(mask_types)} masks"
    return _metric_table("III", "ablation", caption, notes, columns, layout, display, results, ours, theirs)


def _metric_table(number, slug, caption, notes, columns, layout, display, results, ours, theirs) -> Table:
    """Metric x bin rows over (dataset, method) ``columns``; ``ours`` / ``theirs`` give a
    cell's value (or None) from (dataset, method, bin, metric)."""
    rows = []
    for metric in layout.metrics:
        for bin_label in layout.bins:
            row = [METRIC_LABELS.get(metric, metric), bin_label]
            for dataset, method in columns:
                row.append(
                    cell(
                        display,
                        method,
                        display.number(metric, ours(dataset, method, bin_label, metric)),
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
