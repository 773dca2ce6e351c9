"""The report's paired comparisons and its fusion analysis, as the paper makes them.

- Each interface against WS on the same upstream set (and Whisper length mode), per task column.
- Each fused set against the best of its constituent single-model rows with the same interface (the
  single rows named by the fused row's members, e.g. ``Whisper+WavLM`` -> ``Whisper`` and
  ``WavLM``; a Whisper member's row in the fused row's length mode): the paper's relative gain,
  (best single - fused) / best single for an error rate, (fused - best single) / best single for an
  accuracy, so positive = fusion helps. The best single model is chosen on the reported values and
  held fixed in the resamples.

Each comparison is a paired bootstrap over the test units both were evaluated on (the two cells'
values on the same resamples, ``s3prl_fusion.statistics.bootstrap.paired_difference``; every seed of
each side pooled), with its
95 % interval and whether it excludes zero; a pair without outcomes on both sides, or evaluated on
different test rows, keeps its point difference and says why it has no interval.

The fusion analysis gathers the relative gains by task and interface, says whether all interfaces
agree on the sign for each fused set, and sets the gains' spread across fused sets beside their
spread across interfaces (the paper's reading: choosing the members matters more than the interface).

Report rows are used through what they offer: ``upstreams`` (``label``, ``section``), ``interface``,
``interface_title``, ``whisper_length_mode``, ``values``, ``result_files(column)``, ``title()``.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from s3prl_fusion.plots import GainPanel, IntervalSeries, plot_interval_groups
from s3prl_fusion.results.intervals import RunOutcomes
from s3prl_fusion.statistics.bootstrap import PairedDifference, checked_metric, paired_difference
from s3prl_fusion.statistics.resampling import UnpairedOutcomesError, aligned

REFERENCE_INTERFACE = "ws"
SINGLE_SECTION = "Single models"
AGAINST_WS = "interface vs WS"
AGAINST_BEST_SINGLE = "fused vs best single"


@dataclass(frozen=True)
class Comparison:
    """``system`` against ``reference`` in ``column``: ``improvement`` (metric points, positive = the
    system is better) and ``relative`` (a fraction of the reference's value) from the reported values;
    ``paired`` their paired bootstrap, or None and ``note`` saying why."""

    kind: str
    column: object  # report.Column
    system: object  # report.Row
    reference: object  # report.Row
    improvement: float
    relative: float
    paired: PairedDifference | None
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.paired is None:
            return self.note
        if not self.paired.excludes_zero:
            return "no clear difference (interval holds 0)"
        return "better" if self.paired.improvement.estimate > 0 else "worse"


def _same_setting(row, other) -> bool:
    return row.upstreams == other.upstreams and row.whisper_length_mode == other.whisper_length_mode


def interface_pairs(rows: Sequence, column: str) -> list[tuple[object, object]]:
    """(row, its upstream set's WS row) for every non-WS row with a value in ``column`` whose WS row has one too."""
    pairs = []
    for row in rows:
        if row.interface == REFERENCE_INTERFACE or column not in row.values:
            continue
        reference = next((other for other in rows if other.interface == REFERENCE_INTERFACE and _same_setting(row, other)), None)
        if reference is not None and column in reference.values:
            pairs.append((row, reference))
    return pairs


def constituent_rows(fused, rows: Sequence, column: str) -> tuple[list, list[str]]:
    """(the single-model rows of ``fused``'s members with its interface and a value in ``column``,
    the members that have none)."""
    modes = set(fused.whisper_length_mode.split("+"))
    found, missing = [], []
    for member in fused.upstreams.label.split("+"):
        single = next((row for row in rows if row.upstreams.section == SINGLE_SECTION and row.upstreams.label == member
                       and row.interface == fused.interface and (not row.whisper_length_mode or row.whisper_length_mode in modes)
                       and column in row.values), None)
        (found.append(single) if single is not None else missing.append(member))
    return found, missing


def fusion_pairs(rows: Sequence, column) -> tuple[list[tuple[object, object]], list[str]]:
    """(fused row, its best constituent single row) in ``column``; and a line per fused row left out (a member's single row missing)."""
    pairs, left_out = [], []
    for row in rows:
        if row.upstreams.section == SINGLE_SECTION or column.key not in row.values:
            continue
        singles, missing = constituent_rows(row, rows, column.key)
        if missing:
            left_out.append(f"{row.title()}, {column.title}: no {' / '.join(missing)} {row.interface_title} row to compare with")
            continue
        best = (min if column.lower_is_better else max)(singles, key=lambda single: single.values[column.key])
        pairs.append((row, best))
    return pairs, left_out


def compare(kind: str, column, system, reference, outcomes: RunOutcomes, resamples: int) -> Comparison:
    """One comparison: its point difference from the reported values, and its paired bootstrap from
    the two cells' values on the same resamples (``row.resampled``, set by ``attach_intervals``)."""
    sign = 1.0 if column.lower_is_better else -1.0
    ours, theirs = system.values[column.key], reference.values[column.key]
    improvement = sign * (theirs - ours)
    relative = improvement / theirs if theirs else math.nan
    if resamples <= 0:
        return Comparison(kind, column, system, reference, improvement, relative, None, "no interval (--bootstrap 0)")
    cells = system.resampled.get(column.key), reference.resampled.get(column.key)
    if None in cells:
        missing = system.interval_notes.get(column.key) or reference.interval_notes.get(column.key)
        return Comparison(kind, column, system, reference, improvement, relative, None, missing)
    try:
        runs = [*outcomes.of(system.result_files(column.key)).outcomes, *outcomes.of(reference.result_files(column.key)).outcomes]
        checked_metric(aligned(runs), "value")  # the same test rows, units and strata, the metric computed alike
        paired = paired_difference(*cells, column.lower_is_better)
    except UnpairedOutcomesError as error:
        return Comparison(kind, column, system, reference, improvement, relative, None, f"no interval: not paired: {error}")
    return Comparison(kind, column, system, reference, improvement, relative, paired)


def all_comparisons(rows: Sequence, columns: Sequence, outcomes: RunOutcomes, resamples: int) -> tuple[list[Comparison], list[str]]:
    """Every comparison of both kinds, column by column; and the fused rows left out, with why."""
    planned, left_out = [], []
    for column in columns:
        planned += [(AGAINST_WS, column, system, reference) for system, reference in interface_pairs(rows, column.key)]
        pairs, skipped = fusion_pairs(rows, column)
        planned += [(AGAINST_BEST_SINGLE, column, system, reference) for system, reference in pairs]
        left_out += skipped
    done = [compare(*plan, outcomes, resamples) for plan in tqdm(planned, desc="paired comparisons", unit="pair", disable=not planned or resamples <= 0)]
    return done, left_out


def _signed(value: float, digits: int = 2) -> str:
    return "-" if not math.isfinite(value) else f"{value:+.{digits}f}"


def _improvement_text(comparison: Comparison) -> tuple[str, str]:
    """(improvement in points with its interval, relative improvement in % with its interval)."""
    points, percent = _signed(comparison.improvement), _signed(100 * comparison.relative, 1) + " %"
    if comparison.paired is not None:
        interval, relative = comparison.paired.improvement, comparison.paired.relative
        points += f" [{_signed(interval.low)}, {_signed(interval.high)}]"
        percent += f" [{_signed(100 * relative.low, 1)}, {_signed(100 * relative.high, 1)}]"
    return points, percent


def _comparison_table(comparisons: list[Comparison], reference_title: str) -> list[str]:
    header = ["Task", "Row", reference_title, "Value", "Reference value", "Improvement (points) [95 %]", "Relative [95 %]", "Verdict"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for comparison in comparisons:
        points, percent = _improvement_text(comparison)
        lines.append("| " + " | ".join([
            comparison.column.title, comparison.system.title(), comparison.reference.title(),
            f"{comparison.system.values[comparison.column.key]:.2f}", f"{comparison.reference.values[comparison.column.key]:.2f}",
            points, percent, comparison.verdict,
        ]) + " |")
    return lines


def sign_agreement(gains: Sequence[float]) -> str:
    if len(gains) < 2:
        return "one interface"
    if all(gain > 0 for gain in gains):
        return "yes: all gain"
    if all(gain < 0 for gain in gains):
        return "yes: all lose"
    return "no"


def set_name(row) -> str:
    """A row's upstream set, with its Whisper length mode where it has one."""
    return row.upstreams.label + (f" ({row.whisper_length_mode})" if row.whisper_length_mode else "")


def gain_table(comparisons: list[Comparison]) -> tuple[list[str], list[str], dict[tuple[str, str], Comparison]]:
    """(fused set names, interface titles, {(set name, interface title): comparison}) of one column's fusion comparisons."""
    cells = {(set_name(comparison.system), comparison.system.interface_title): comparison for comparison in comparisons}
    sets = list(dict.fromkeys(name for name, _ in cells))
    interfaces = list(dict.fromkeys(interface for _, interface in cells))
    return sets, interfaces, cells


def _mean_range(groups: list[list[float]]) -> float | None:
    ranges = [max(group) - min(group) for group in groups if len(group) > 1]
    return float(np.mean(ranges)) if ranges else None


def members_or_interfaces(sets: list[str], interfaces: list[str], cells: dict) -> str:
    """The gains' mean range across fused sets (one interface) beside their mean range across interfaces (one set)."""
    gain = {key: 100 * comparison.relative for key, comparison in cells.items()}
    across_sets = _mean_range([[gain[name, interface] for name in sets if (name, interface) in gain] for interface in interfaces])
    across_interfaces = _mean_range([[gain[name, interface] for interface in interfaces if (name, interface) in gain] for name in sets])
    if across_sets is None or across_interfaces is None:
        return ""
    reading = "members matter more than the interface" if across_sets > across_interfaces else "the interface matters as much as the members or more"
    return (f"Relative gains vary by {across_sets:.1f} points across fused sets (same interface, mean range) and by "
            f"{across_interfaces:.1f} points across interfaces (same set): here, {reading}.")


def fusion_gain_tables(comparisons: list[Comparison], columns: Sequence):
    """``(column, sets, interfaces, cells)`` (``gain_table``'s) of each task with fused-vs-best-single comparisons."""
    for column in columns:
        chosen = [comparison for comparison in comparisons if comparison.kind == AGAINST_BEST_SINGLE and comparison.column is column]
        if chosen:
            yield (column, *gain_table(chosen))


def fusion_analysis(comparisons: list[Comparison], columns: Sequence) -> list[str]:
    """Markdown: per task, the fused sets' relative gains by interface (``*``: interval excludes 0), sign agreement."""
    lines = []
    for column, sets, interfaces, cells in fusion_gain_tables(comparisons, columns):
        lines += [f"### {column.title}", "", "| Fused set | " + " | ".join(interfaces) + " | All interfaces agree on the sign |",
                  "|" + "---|" * (len(interfaces) + 2)]
        for name in sets:
            present = [cells[name, interface] for interface in interfaces if (name, interface) in cells]
            texts = []
            for interface in interfaces:
                comparison = cells.get((name, interface))
                significant = comparison is not None and comparison.paired is not None and comparison.paired.excludes_zero
                texts.append("-" if comparison is None else f"{_signed(100 * comparison.relative, 1)} %{'*' if significant else ''}")
            lines.append(f"| {name} | " + " | ".join(texts) + f" | {sign_agreement([comparison.relative for comparison in present])} |")
        summary = members_or_interfaces(sets, interfaces, cells)
        lines += ["", *([summary, ""] if summary else [])]
    return lines


def render_comparisons(comparisons: list[Comparison], left_out: list[str], columns: Sequence, resamples: int) -> str:
    """comparisons.md: both kinds of paired comparison, then the fusion analysis."""
    method = (f"Paired bootstrap over the test units both rows were evaluated on ({resamples} resamples, the same units drawn "
              "for both; seeds pooled); improvement > 0: the row is better than its reference (lower error, higher "
              "accuracy); a difference is called real (better / worse) when its 95 % interval excludes 0."
              if resamples > 0 else "No intervals (--bootstrap 0): the point differences alone.")
    lines = ["# Paired comparisons and the fusion analysis", "", method, ""]
    against_ws = [comparison for comparison in comparisons if comparison.kind == AGAINST_WS]
    against_single = [comparison for comparison in comparisons if comparison.kind == AGAINST_BEST_SINGLE]
    lines += ["## Each interface against WS (same upstream set)", ""]
    lines += [*_comparison_table(against_ws, "WS row"), ""] if against_ws else ["No row has a WS row beside it.", ""]
    lines += ["## Each fused set against its best single model (same interface)", "",
              "Relative = the paper's relative gain: (best single - fused) / best single for an error rate, (fused - best single) / "
              "best single for an accuracy.", ""]
    lines += [*_comparison_table(against_single, "Best single row"), ""] if against_single else ["No fused row has all its members' single rows.", ""]
    if left_out:
        lines += ["Fused rows without a comparison:", "", *(f"- {line}" for line in left_out), ""]
    lines += ["## Fusion analysis: relative gain of each fused set over its best single model", "",
              "In %, positive = fusion helps; * its 95 % paired interval excludes 0.", ""]
    analysis = fusion_analysis(comparisons, columns)
    lines += analysis if analysis else ["No fused row has all its members' single rows.", ""]
    return "\n".join(lines)


COMPARISON_FIELDS = ("kind", "column", "row", "reference", "value", "reference_value", "improvement", "improvement_low", "improvement_high",
                     "relative_pct", "relative_low_pct", "relative_high_pct", "excludes_zero", "verdict")


def write_comparisons_csv(path: Path, comparisons: list[Comparison]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(COMPARISON_FIELDS)
        for comparison in comparisons:
            paired = comparison.paired
            bounds = ["", "", "", "", ""] if paired is None else [
                f"{paired.improvement.low:.4f}", f"{paired.improvement.high:.4f}",
                f"{100 * paired.relative.low:.3f}", f"{100 * paired.relative.high:.3f}", int(paired.excludes_zero),
            ]
            writer.writerow([
                comparison.kind, comparison.column.key, comparison.system.title(), comparison.reference.title(),
                f"{comparison.system.values[comparison.column.key]:.4f}", f"{comparison.reference.values[comparison.column.key]:.4f}",
                f"{comparison.improvement:.4f}", *bounds[:2], f"{100 * comparison.relative:.3f}", *bounds[2:], comparison.verdict,
            ])


def gain_panels(comparisons: list[Comparison], columns: Sequence) -> list[GainPanel]:
    """The fusion-gain heat map's panels: one per task with fusion comparisons."""
    panels = []
    for column, sets, interfaces, cells in fusion_gain_tables(comparisons, columns):
        gains = np.full((len(sets), len(interfaces)), np.nan)
        significant = np.zeros(gains.shape, dtype=bool)
        for (name, interface), comparison in cells.items():
            gains[sets.index(name), interfaces.index(interface)] = 100 * comparison.relative
            significant[sets.index(name), interfaces.index(interface)] = comparison.paired is not None and comparison.paired.excludes_zero
        panels.append(GainPanel(column.title, sets, interfaces, gains, significant))
    return panels


def plot_task_intervals(out_dir: Path, rows: Sequence, columns: Sequence) -> dict[str, Path]:
    """``intervals_<column>.png`` per task with results: interfaces by upstream set, with interval bars."""
    files = {}
    for column in columns:
        present = [row for row in rows if column.key in row.values]
        if not present:
            continue
        groups = list(dict.fromkeys(set_name(row) for row in present))
        interfaces = list(dict.fromkeys(row.interface_title for row in present))
        series = []
        for interface in interfaces:
            cells = {set_name(row): row for row in present if row.interface_title == interface}
            values = [cells[group].values[column.key] if group in cells else None for group in groups]
            intervals = [(cells[group].intervals[column.key].low, cells[group].intervals[column.key].high)
                         if group in cells and column.key in cells[group].intervals else None for group in groups]
            series.append(IntervalSeries(interface, values, intervals))
        files[f"intervals_{column.key}_png"] = out_dir / f"intervals_{column.key}.png"
        direction = "lower is better" if column.lower_is_better else "higher is better"
        plot_interval_groups(files[f"intervals_{column.key}_png"], column.title, groups, series, f"{column.title} ({direction})")
    return files
