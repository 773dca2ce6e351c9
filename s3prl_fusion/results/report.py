"""result.json files -> the paper's tables: rows, their labels, Markdown, CSV and the chart.

The layout (Tables I and II in ``main``, Table III in ``per_language``) and how a row is named are
described in ``s3prl_fusion.commands.report``, the command that writes them. The paper's numbers,
set beside the matching rows, are read from ``data/paper_results.yaml`` (``paper_rows``). A cell
that is not what the paper's number is (``cell_note``: a part of the languages or folds, an SV
checkpoint chosen otherwise) is marked and explained in every output, and set beside no paper number.
"""
from __future__ import annotations

import csv
import functools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from matplotlib.figure import Figure

from s3prl_fusion.errors import MissingPathError, SettingError
from s3prl_fusion.plots import MetricPanel, plot_gain_heatmaps, plot_metric_bars
from s3prl_fusion.results import RESULT_FILE
from s3prl_fusion.results.comparisons import all_comparisons, gain_panels, plot_task_intervals, render_comparisons, write_comparisons_csv
from s3prl_fusion.results.intervals import RunOutcomes, attach_intervals, interval_text, run_seed, seed_spread, spread_text
from s3prl_fusion.results.ml_superb import MONO_LANGUAGES, language_grouped_mean
from s3prl_fusion.statistics.bootstrap import DEFAULT_RESAMPLES, Interval, Resampled
from s3prl_fusion.upstreams.presets import PRESETS

MISSING = "-"
INTERFACE_TITLES = {"ws": "WS", "gumd": "GumD", "hconv": "HConv", "chconv": "CHConv", "hidden_states": "WS (s3prl)"}
SCALES = ("base", "large")
SECTIONS = ("Single models", "SSL+SSL", "Whisper+SSL")
GENERIC_UPSTREAMS = ("hf_ssl", "whisper", "fused")
FAMILY_TITLES = (("wavlm", "WavLM"), ("hubert", "HuBERT"), ("data2vec", "Data2Vec"), ("wav2vec2", "wav2vec 2.0"), ("whisper", "Whisper"))
WHISPER_SIZES = ("tiny", "base", "small", "medium", "large")
LARGE_TAGS = ("large", "medium")
UNKNOWN_LENGTH_MODE = "unknown"
PARTIAL = "*"  # the mean of a part of the task's languages or folds
OTHER_SELECTION = "†"  # an SV checkpoint chosen otherwise than the paper's protocol
PAPER_SV_SELECTION = "best-test"
EMOTION_FOLDS = tuple(f"fold{number}" for number in range(1, 6))


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    lower_is_better: bool


MAIN_COLUMNS = (
    Column("ls_wer", "LS WER", True),
    Column("mono_cer", "Mono-1h CER", True),
    Column("multi_cer", "Multi-1h CER", True),
    Column("sv_eer", "SV EER", True),
    Column("er_acc", "ER acc", False),
)
LANGUAGE_COLUMNS = (*(Column(language, language, True) for language in MONO_LANGUAGES), Column("average", "average", True))
# (task, ML-SUPERB mode) of a result -> its main-table column
TASK_COLUMNS = {
    ("asr", None): "ls_wer",
    ("ml_superb", "mono"): "mono_cer",
    ("ml_superb", "multi"): "multi_cer",
    ("sv_voxceleb1", None): "sv_eer",
    ("emotion", None): "er_acc",
}

PAPER_RESULTS_FILE = Path(__file__).resolve().parents[1] / "data" / "paper_results.yaml"


@functools.cache
def paper_rows() -> dict[tuple[str, str], tuple[str, dict[str, float]]]:
    """The paper's rows (its Tables I and II, from ``PAPER_RESULTS_FILE``) by (our upstream-set
    label, interface): (the paper's upstream label, {column key: value})."""
    tables = yaml.safe_load(PAPER_RESULTS_FILE.read_text(encoding="utf-8"))
    rows = {}
    for entry in (entry for entries in tables.values() for entry in entries):
        values = {column.key: float(entry[column.key]) for column in MAIN_COLUMNS if column.key in entry}
        rows[entry["upstreams"], entry["interface"]] = (entry["paper"], values)
    return rows


@dataclass(frozen=True)
class UpstreamSet:
    """The models of a row: ``label`` such as ``Whisper+WavLM``, its scale and paper section."""

    label: str
    scale: str
    section: str


@dataclass(frozen=True)
class CellNote:
    """Why a cell is not comparable with the paper's number: ``marker`` (``PARTIAL`` or
    ``OTHER_SELECTION``) and what the cell holds instead."""

    marker: str
    text: str


@dataclass
class Row:
    upstreams: UpstreamSet
    interface: str
    whisper_length_mode: str = ""  # "" without a Whisper member; several Whisper members' modes joined by "+"
    values: dict[str, float] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)
    notes: dict[str, CellNote] = field(default_factory=dict)  # column key -> its note, for marked cells only
    runs: dict[str, dict[str | None, tuple[Path, dict]]] = field(default_factory=dict)  # column key -> seed -> (result file, result)
    spreads: dict[str, float] = field(default_factory=dict)  # column key -> standard deviation over its seeds (2 or more)
    intervals: dict[str, Interval] = field(default_factory=dict)  # column key -> its 95 % bootstrap interval
    resampled: dict[str, Resampled] = field(default_factory=dict)  # column key -> its value on each resample (paired comparisons)
    interval_notes: dict[str, str] = field(default_factory=dict)  # column key -> why it has no interval

    def result_files(self, column: str) -> list[Path]:
        """The result.json of each seed of a cell."""
        return [path for path, _ in self.runs.get(column, {}).values()]

    @property
    def paper(self) -> tuple[str, dict[str, float]] | None:
        return paper_rows().get((self.upstreams.label, self.interface))

    def paper_value(self, column: str) -> float | None:
        """The paper's number for ``column``, None where the paper has none or the cell is marked (not comparable)."""
        return None if column in self.notes else (self.paper or (None, {}))[1].get(column)

    @property
    def interface_title(self) -> str:
        return INTERFACE_TITLES.get(self.interface, self.interface)

    def title(self) -> str:
        mode = f" ({self.whisper_length_mode})" if self.whisper_length_mode else ""
        return f"{self.upstreams.label} {self.interface_title}{mode}"


MemberTitle = tuple[str, bool, bool]  # (title, is Whisper, is large scale)


def _family(token: str) -> str | None:
    """The model family named in a member's name, id, path or model_type (None if none is)."""
    lowered = token.lower()
    return next((family for family, _ in FAMILY_TITLES if family in lowered), None)


def _member_title(token: str) -> MemberTitle | None:
    """A member's name, id, path or preset short name -> its title (None when no family is named)."""
    family = _family(token)
    if family is None:
        return None
    lowered = token.lower()
    is_large = any(tag in lowered for tag in LARGE_TAGS)
    if family == "whisper":
        size = next((size for size in WHISPER_SIZES if size in lowered.replace(family, "", 1)), "small")
        return ("Whisper" if size == "small" else f"Whisper {size.title()}"), True, is_large
    title = dict(FAMILY_TITLES)[family]
    return (f"{title} Large" if "large" in lowered else title), False, is_large


def _identity_title(member: dict) -> MemberTitle:
    """A recorded member (label, kind, source[, ckpt]) -> its title: by its source, so a relabelled
    or swapped member is named for the model it is; a random-init member by its config's family."""
    label, source = str(member.get("label") or ""), member.get("source")
    if isinstance(source, dict):
        family = "whisper" if member.get("kind") == "whisper" else _family(str(source.get("model_type", "")))
        if family is not None and _family(label) == family:
            return _member_title(label)
        if family is not None:
            return _member_title(family)
    for token in (source, member.get("ckpt"), label):
        if isinstance(token, str) and _member_title(token) is not None:
            return _member_title(token)
    return str(source or label), member.get("kind") == "whisper", False


def _upstream_set(members: list[MemberTitle]) -> UpstreamSet:
    """The upstream set of the members' titles; Whisper is named first, as in the paper."""
    ordered = [member for member in members if member[1]] + [member for member in members if not member[1]]
    scale = "large" if any(member[2] for member in members) else "base"
    if len(members) == 1:
        section = "Single models"
    elif any(member[1] for member in members):
        section = "Whisper+SSL"
    else:
        section = "SSL+SSL"
    return UpstreamSet("+".join(member[0] for member in ordered), scale, section)


def _member_tokens(upstream: str, ckpt: str | None) -> list[str]:
    if upstream in PRESETS:
        return [member["upstream"] for member in PRESETS[upstream]]
    if upstream in GENERIC_UPSTREAMS and ckpt:
        return [token.strip() for token in ckpt.split(",") if token.strip()]
    return [upstream]


def describe_upstream(upstream: str, ckpt: str | None = None) -> UpstreamSet:
    """The upstream set of ``-u upstream [-k ckpt]``."""
    return _upstream_set([_member_title(token) or (token, False, False) for token in _member_tokens(upstream, ckpt)])


def describe_members(members: list[dict]) -> UpstreamSet:
    """The upstream set of a result's recorded members (see ``s3prl_fusion.results.provenance``)."""
    return _upstream_set([_identity_title(member) for member in members])


def whisper_length_mode(members: list[dict]) -> str:
    """The length mode(s) of the Whisper members, joined by "+" ("" when none is Whisper)."""
    modes = [str(member.get("length_mode") or UNKNOWN_LENGTH_MODE) for member in members if _identity_title(member)[1]]
    return "+".join(dict.fromkeys(modes))


def result_upstreams(result: dict, expdir: Path) -> tuple[UpstreamSet, str]:
    """(upstream set, Whisper length mode) of a result: from its recorded members, else its
    checkpoint's member labels, else its ``-u`` (and ``-k``) name."""
    if result.get("members"):
        return describe_members(result["members"]), whisper_length_mode(result["members"])
    labels = result.get("member_labels") or []
    if labels and all(_member_title(label) is not None for label in labels):
        upstreams = _upstream_set([_member_title(label) for label in labels])
    else:
        upstream = str(result.get("upstream") or "unknown")
        upstreams = describe_upstream(upstream, recorded_upstream_ckpt(expdir) if upstream in GENERIC_UPSTREAMS else None)
    return upstreams, UNKNOWN_LENGTH_MODE if "Whisper" in upstreams.label else ""


def recorded_upstream_ckpt(expdir: Path) -> str | None:
    """The ``-k`` of the newest ``args_*.yaml`` s3prl's runner wrote in ``expdir`` (or a sub-folder)."""
    args_files = sorted(expdir.rglob("args_*.yaml"), key=lambda path: path.name)
    if not args_files:
        return None
    return (yaml.safe_load(args_files[-1].read_text()) or {}).get("upstream_ckpt")


def result_column(result: dict) -> str | None:
    return TASK_COLUMNS.get((result.get("task"), result.get("mode")))


def missing_parts(result: dict, column: str) -> tuple[list[str], int]:
    """(the Mono-1h pairs or emotion folds a result leaves out, how many the task has); nothing
    for the other columns, or an emotion result that does not list its folds."""
    if column == "mono_cer":
        present = result.get("per_language") or {}
        missing = result.get("missing_languages", [language for language in MONO_LANGUAGES if language not in present])
        return list(missing), len(MONO_LANGUAGES)
    if column == "er_acc" and result.get("per_fold"):
        return [fold for fold in EMOTION_FOLDS if fold not in result["per_fold"]], len(EMOTION_FOLDS)
    return [], 0


def cell_note(result: dict, column: str) -> CellNote | None:
    """What keeps a result from being the paper's kind of number in ``column`` (None when nothing does):
    missing Mono-1h pairs or emotion folds, or an SV EER of one checkpoint instead of the best on test."""
    missing, total = missing_parts(result, column)
    if missing:
        parts = "Mono-1h pairs" if column == "mono_cer" else "folds"
        return CellNote(PARTIAL, f"mean of {total - len(missing)} of {total} {parts}, missing {', '.join(missing)}")
    if column == "sv_eer" and result.get("selection") != PAPER_SV_SELECTION:
        step = result.get("step")
        return CellNote(OTHER_SELECTION, f"EER of one checkpoint{f' (step {step})' if step is not None else ''}, not the best of every "
                                         "checkpoint on the test trials (the paper's SV protocol, SV_SELECT=best-test)")
    return None


def result_files(results_root: Path) -> list[Path]:
    """The result.json files under ``results_root``, less those inside a folder that has its own
    (the per-fold or per-language parts of a task's combined result)."""
    paths = sorted(Path(results_root).rglob(RESULT_FILE))
    folders = {path.parent for path in paths}
    return [path for path in paths if not any(parent in folders for parent in path.parent.parents)]


def collect_rows(results_root: Path) -> list[Row]:
    """Every result.json under ``results_root`` placed in its row and column. Results of one cell
    that differ by their seed (``intervals.run_seed``) are its runs, shown as their mean (and
    ``Row.spreads``); of two results for one cell and seed the newer file wins, with a warning naming both."""
    rows: dict[tuple[UpstreamSet, str, str], Row] = {}
    for path in result_files(results_root):
        result = json.loads(path.read_text())
        column = result_column(result)
        if column is None:
            print(f"[report] skipping {path}: task {result.get('task')!r} has no column in the table", file=sys.stderr)
            continue
        upstreams, length_mode = result_upstreams(result, path.parent)
        key = (upstreams, str(result.get("interface") or "unknown"), length_mode)
        runs = rows.setdefault(key, Row(*key)).runs.setdefault(column, {})
        seed = run_seed(result, path)
        earlier = runs.get(seed)
        if earlier is not None:
            newer, older = sorted((earlier[0], path), key=lambda source: source.stat().st_mtime, reverse=True)
            print(f"[report] two results for {key[0].label} {key[1]} {column}{'' if seed is None else f' seed {seed}'}: "
                  f"using {newer}, not {older}", file=sys.stderr)
            if newer == earlier[0]:
                continue
        runs[seed] = (path, result)
    for row in rows.values():
        _settle_cells(row)
    return sorted(rows.values(), key=_row_order)


def _settle_cells(row: Row) -> None:
    """Each cell's value (the mean over its seeds), spread, source (its newest run) and note (the
    first of its runs' notes); Mono-1h's per-language values, each the mean over the seeds that have it."""
    for column, runs in row.runs.items():
        results = [result for _, result in runs.values()]
        values = [float(result["value"]) for result in results]
        row.values[column] = float(np.mean(values))
        spread = seed_spread(values)
        if spread is not None:
            row.spreads[column] = spread
        row.sources[column] = max(row.result_files(column), key=lambda source: source.stat().st_mtime)
        note = next((note for note in (cell_note(result, column) for result in results) if note is not None), None)
        if note is not None:
            row.notes[column] = note
        if column == "mono_cer":
            languages = {language for result in results for language in result.get("per_language", {})}
            row.values.update({language: float(np.mean([result["per_language"][language] for result in results if language in result.get("per_language", {})]))
                               for language in languages})


def _row_order(row: Row) -> tuple:
    interfaces = list(INTERFACE_TITLES)
    return (
        SCALES.index(row.upstreams.scale),
        SECTIONS.index(row.upstreams.section),
        row.upstreams.label.count("+"),
        row.upstreams.label,
        interfaces.index(row.interface) if row.interface in interfaces else len(interfaces),
        row.interface,
        row.whisper_length_mode,
    )


def with_language_average(rows: list[Row]) -> list[Row]:
    """The rows with any Mono-1h language result, each with ``average`` over its languages as
    ESPnet averages Mono-1h (each language the mean of its sources, then the mean over languages);
    an average over a part of the pairs carries the Mono-1h cell's note."""
    language_rows = []
    for row in rows:
        present = {language: row.values[language] for language in MONO_LANGUAGES if language in row.values}
        if present:
            row.values["average"] = language_grouped_mean(present)[0]
            if "mono_cer" in row.notes:
                row.notes["average"] = row.notes["mono_cer"]
            language_rows.append(row)
    return language_rows


def sections(rows: list[Row]) -> list[tuple[str, str, list[Row]]]:
    """(scale, section, rows) groups in table order."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.upstreams.scale, row.upstreams.section), []).append(row)
    return [(scale, section, members) for (scale, section), members in groups.items()]


def best_in_section(rows: list[Row], columns: tuple[Column, ...]) -> set[tuple[int, str]]:
    """(row id, column key) of the best value of each column among ``rows`` (ties all count); marked
    cells (``Row.notes``) are not compared."""
    best = set()
    for column in columns:
        values = [row.values[column.key] for row in rows if column.key in row.values and column.key not in row.notes]
        if not values:
            continue
        target = min(values) if column.lower_is_better else max(values)
        best.update((id(row), column.key) for row in rows if row.values.get(column.key) == target and column.key not in row.notes)
    return best


def _number(value: float | None) -> str:
    return MISSING if value is None else f"{value:.2f}"


def _markdown_marker(marker: str) -> str:
    """A marker as Markdown text (``*`` escaped, so it is not read as emphasis)."""
    return "\\" + marker if marker == PARTIAL else marker


def _column_title(column: Column) -> str:
    return f"{column.title} {'↓' if column.lower_is_better else '↑'}"


def note_lines(rows: list[Row], columns: tuple[Column, ...], with_paper: bool) -> list[str]:
    """One line per marked cell: its marker, row, column and note (and, beside the paper, why its number is not shown)."""
    lines = []
    for row in rows:
        for column in columns:
            note = row.notes.get(column.key)
            if note is None:
                continue
            paper = (row.paper or (None, {}))[1].get(column.key) if with_paper else None
            withheld = f" (the paper's {paper:.2f} is not set beside it: it is not the same measure)" if paper is not None else ""
            lines.append(f"{note.marker} {row.title()}, {column.title}: {note.text}{withheld}")
    return lines


def interval_lines(rows: list[Row], columns: tuple[Column, ...]) -> list[str]:
    """One line per cell without an interval: its row, column and why."""
    return [f"{row.title()}, {column.title}: {row.interval_notes[column.key]}" for row in rows for column in columns if column.key in row.interval_notes]


def _cell_text(row: Row, column: Column, best: set[tuple[int, str]]) -> str:
    """A Markdown cell: the value (bold when best), its marker, ``± sd`` over seeds, ``[low, high]``."""
    text = _number(row.values.get(column.key)) + (_markdown_marker(row.notes[column.key].marker) if column.key in row.notes else "")
    text = f"**{text}**" if (id(row), column.key) in best else text
    return text + spread_text(row.spreads.get(column.key)) + interval_text(row.intervals.get(column.key))


def render_markdown(title: str, rows: list[Row], columns: tuple[Column, ...], with_paper: bool, bootstrap: int = 0) -> str:
    """The table as Markdown; ``bootstrap``: the resamples behind the cells' intervals (0: none were drawn)."""
    lines = [f"# {title}", ""]
    if bootstrap:
        lines += [f"Each cell: value ± standard deviation over seeds (where it has several) [95 % bootstrap interval over the "
                  f"test units, {bootstrap} resamples, seeds pooled]; see comparisons.md for the paired differences.", ""]
    if not rows:
        return "\n".join([*lines, "No results.", ""])
    header = ["Upstreams", "Interface", "Whisper length mode", *(_column_title(column) for column in columns)]
    if with_paper:
        header += ["Paper row", *(f"paper {column.title}" for column in columns)]
    for scale, section, section_rows in sections(rows):
        best = best_in_section(section_rows, columns)
        lines += [f"## {scale.title()} — {section}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in section_rows:
            cells = [row.upstreams.label, INTERFACE_TITLES.get(row.interface, row.interface), row.whisper_length_mode or MISSING]
            cells += [_cell_text(row, column, best) for column in columns]
            if with_paper:
                cells += [(row.paper or (MISSING,))[0], *(_number(row.paper_value(column.key)) for column in columns)]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    notes = note_lines(rows, columns, with_paper)
    if notes:
        lines += ["Marked cells:", "", *(f"- {_markdown_marker(line[0])}{line[1:]}" for line in notes), ""]
    missing = interval_lines(rows, columns)
    if missing:
        lines += ["Cells without an interval:", "", *(f"- {line}" for line in missing), ""]
    return "\n".join(lines)


INTERVAL_FIELDS = ("sd", "seeds", "low", "high", "interval_note")


def _interval_cells(row: Row, column: Column) -> list:
    """``<key>_sd`` (over seeds), ``_seeds`` (how many runs), ``_low`` / ``_high`` (the 95 % interval), ``_interval_note`` (why none)."""
    interval = row.intervals.get(column.key)
    spread = row.spreads.get(column.key)
    return [
        "" if spread is None else f"{spread:.4f}",
        len(row.runs.get(column.key, {})) or "",
        "" if interval is None else f"{interval.low:.4f}",
        "" if interval is None else f"{interval.high:.4f}",
        row.interval_notes.get(column.key, ""),
    ]


def write_csv(path: Path, rows: list[Row], columns: tuple[Column, ...], with_paper: bool, with_intervals: bool = False) -> None:
    header = ["scale", "section", "upstreams", "interface", "whisper_length_mode"]
    for column in columns:
        header += [column.key, f"{column.key}_best", f"{column.key}_note"] + ([f"{column.key}_paper"] if with_paper else [])
        header += [f"{column.key}_{name}" for name in INTERVAL_FIELDS] if with_intervals else []
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for scale, section, section_rows in sections(rows):
            best = best_in_section(section_rows, columns)
            for row in section_rows:
                cells = [scale, section, row.upstreams.label, row.interface, row.whisper_length_mode or MISSING]
                for column in columns:
                    note = row.notes.get(column.key)
                    cells += [_number(row.values.get(column.key)), int((id(row), column.key) in best), f"{note.marker} {note.text}" if note else ""]
                    if with_paper:
                        cells.append(_number(row.paper_value(column.key)))
                    if with_intervals:
                        cells += _interval_cells(row, column)
                writer.writerow(cells)


def plot_main_table(path: Path, rows: list[Row]) -> Figure:
    """The chart of ``main``: a bar panel per main column, a bar per row, the paper's value beside it;
    a marked cell's bar carries its marker, no paper value, and its note below the panels."""
    panels = [
        MetricPanel(
            _column_title(column),
            values=[row.values.get(column.key, 0.0) for row in rows],
            paper=[row.paper_value(column.key) for row in rows],
            markers=[row.notes[column.key].marker if column.key in row.notes else "" for row in rows],
            intervals=[(row.intervals[column.key].low, row.intervals[column.key].high) if column.key in row.intervals else None for row in rows],
        )
        for column in MAIN_COLUMNS
    ]
    return plot_metric_bars(path, [row.title() for row in rows], panels, notes=note_lines(rows, MAIN_COLUMNS, with_paper=True))


def write_report(results_root: Path, out_dir: Path, bootstrap: int = DEFAULT_RESAMPLES) -> dict[str, Path]:
    """Write every report file; returns {kind: path}. ``bootstrap``: resamples behind each cell's
    95 % interval and each paired comparison (0: no intervals, point differences alone)."""
    results_root = Path(results_root)
    if not results_root.is_dir():
        raise MissingPathError(f"--results {results_root} is not a folder; point it at the folder holding the experiments' {RESULT_FILE} files")
    if bootstrap < 0:
        raise SettingError(f"--bootstrap {bootstrap}: give a number of resamples (1000 is the default; 0 turns the intervals off)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = collect_rows(results_root)
    outcomes = RunOutcomes()
    if bootstrap:
        attach_intervals(rows, [column.key for column in MAIN_COLUMNS], outcomes, bootstrap)
    language_rows = with_language_average(rows)
    files = {
        "main_md": out_dir / "main.md",
        "main_csv": out_dir / "main.csv",
        "main_png": out_dir / "main.png",
        "per_language_md": out_dir / "per_language.md",
        "per_language_csv": out_dir / "per_language.csv",
        "comparisons_md": out_dir / "comparisons.md",
        "comparisons_csv": out_dir / "comparisons.csv",
    }
    main_title = "Tables I / II: downstream results (ours, then the paper's)"
    files["main_md"].write_text(render_markdown(main_title, rows, MAIN_COLUMNS, with_paper=True, bootstrap=bootstrap), encoding="utf-8")
    write_csv(files["main_csv"], rows, MAIN_COLUMNS, with_paper=True, with_intervals=True)
    plot_main_table(files["main_png"], rows)
    per_language_title = "Table III: Mono-1h error rate per language (CER; jpn and cmn are word-level: WER)"
    files["per_language_md"].write_text(render_markdown(per_language_title, language_rows, LANGUAGE_COLUMNS, with_paper=False), encoding="utf-8")
    write_csv(files["per_language_csv"], language_rows, LANGUAGE_COLUMNS, with_paper=False)
    comparisons, left_out = all_comparisons(rows, MAIN_COLUMNS, outcomes, bootstrap)
    files["comparisons_md"].write_text(render_comparisons(comparisons, left_out, MAIN_COLUMNS, bootstrap), encoding="utf-8")
    write_comparisons_csv(files["comparisons_csv"], comparisons)
    files.update(plot_task_intervals(out_dir, rows, MAIN_COLUMNS))
    panels = gain_panels(comparisons, MAIN_COLUMNS)
    if panels:
        files["fusion_gains_png"] = out_dir / "fusion_gains.png"
        plot_gain_heatmaps(files["fusion_gains_png"], panels)
    return files
