"""The SUPERB table of ``s3prl-fusion report``: every SUPERB task's number per upstream set and
interface, and the SUPERB score (``superb.md`` / ``superb.csv``).

The tasks, their metrics and the score's reference numbers (FBANK's and the state of the art's per
metric, with their sources and whether they were confirmed against the paper) are read from
``data/superb_reference.yaml``; its header states the definition: each metric mapped linearly so
FBANK's number is 0 and the state of the art's is 1, a task's score the mean of its metrics' (SF
has two), the SUPERB score 1000 x the mean over the ten tasks.

A row's score over fewer than the ten tasks is never shown as the SUPERB score: it sits in the
``partial score`` column with the number of tasks it covers, and the notes name the tasks missing.
A cell the main table marks (ER over a part of the folds, an SV EER not chosen by SUPERB's
protocol) is shown marked and left out of the score, which is then partial. While any reference
number used is unconfirmed, the score carries ``‡`` and the note says so.

Rows are labelled as the main table labels them (``s3prl_fusion.results.report``).
"""
from __future__ import annotations

import csv
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from s3prl_fusion.results.report import INTERFACE_TITLES, MISSING, TASK_COLUMNS, cell_note, result_files, result_upstreams

REFERENCE_FILE = Path(__file__).resolve().parents[1] / "data" / "superb_reference.yaml"
UNCONFIRMED = "‡"
PARTIAL_CELL = "*"


@dataclass(frozen=True)
class MetricReference:
    """One metric of a SUPERB task and its reference numbers (the result's ``metric`` key, in its unit)."""

    task: str
    title: str
    result_task: str
    metric: str
    unit: str
    lower_is_better: bool
    fbank: float
    sota: float
    confirmed: bool

    def scaled(self, value: float) -> float:
        """``value`` mapped linearly: FBANK's number -> 0, the state of the art's -> 1."""
        return (value - self.fbank) / (self.sota - self.fbank)


@functools.cache
def superb_references() -> tuple[dict, tuple[MetricReference, ...]]:
    """(the score's definition, the metrics in table order) of ``REFERENCE_FILE``."""
    data = yaml.safe_load(REFERENCE_FILE.read_text(encoding="utf-8"))
    return data["definition"], tuple(MetricReference(**entry) for entry in data["tasks"])


def superb_tasks() -> list[str]:
    return list(dict.fromkeys(reference.task for reference in superb_references()[1]))


@dataclass
class SuperbScore:
    """A row's score: ``value`` 1000 x the mean of ``per_task`` over the tasks present; ``missing``
    the tasks without a (comparable) number; ``confirmed`` whether every reference used is."""

    value: float | None
    per_task: dict[str, float]
    missing: list[str]
    confirmed: bool

    @property
    def complete(self) -> bool:
        return not self.missing and self.value is not None


def superb_score(values: dict[str, float]) -> SuperbScore:
    """The score of ``values`` ({metric title: number}, as ``MetricReference.title``); a task counts
    only when all its metrics have a number."""
    definition, references = superb_references()
    per_task, missing, confirmed = {}, [], bool(definition["confirmed"])
    for task in superb_tasks():
        metrics = [reference for reference in references if reference.task == task]
        if all(reference.title in values for reference in metrics):
            per_task[task] = sum(reference.scaled(values[reference.title]) for reference in metrics) / len(metrics)
            confirmed = confirmed and all(reference.confirmed for reference in metrics)
        else:
            missing.append(task)
    value = float(definition["scale"]) * sum(per_task.values()) / len(per_task) if per_task else None
    return SuperbScore(value, per_task, missing, confirmed)


@dataclass
class SuperbRow:
    upstreams: str
    interface: str
    whisper_length_mode: str
    values: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # metric title -> why the cell is not SUPERB's number

    def comparable(self) -> dict[str, float]:
        return {title: value for title, value in self.values.items() if title not in self.notes}


def collect_superb_rows(results_root: Path) -> list[SuperbRow]:
    """Every result.json of a SUPERB task under ``results_root`` in its row (the newest file of a cell wins)."""
    references = superb_references()[1]
    rows: dict[tuple[str, str, str], SuperbRow] = {}
    for path in sorted(result_files(results_root), key=lambda source: source.stat().st_mtime):
        result = json.loads(path.read_text())
        metrics = [reference for reference in references if reference.result_task == result.get("task")]
        if not metrics:
            continue
        upstreams, length_mode = result_upstreams(result, path.parent)
        key = (upstreams.label, str(result.get("interface") or "unknown"), length_mode)
        row = rows.setdefault(key, SuperbRow(*key))
        main_column = TASK_COLUMNS.get((result.get("task"), None))
        note = cell_note(result, main_column) if main_column else None
        for reference in metrics:
            number = result.get(reference.metric)
            if number is None:
                continue
            row.values[reference.title] = float(number)
            row.notes.pop(reference.title, None)
            if note is not None:
                row.notes[reference.title] = note.text
    return sorted(rows.values(), key=lambda row: (row.upstreams.count("+"), row.upstreams, row.interface, row.whisper_length_mode))


def _number(value: float | None, digits: int = 2) -> str:
    return MISSING if value is None else f"{value:.{digits}f}"


def score_cells(score: SuperbScore) -> tuple[str, str]:
    """(SUPERB score cell, partial score cell): the first only when every task is there."""
    marker = "" if score.confirmed else UNCONFIRMED
    if score.complete:
        return _number(score.value) + marker, MISSING
    if score.value is None:
        return MISSING, MISSING
    return MISSING, f"{_number(score.value)}{marker} ({len(score.per_task)}/{len(superb_tasks())} tasks)"


def row_notes(row: SuperbRow, score: SuperbScore) -> list[str]:
    title = f"{row.upstreams} {INTERFACE_TITLES.get(row.interface, row.interface)}"
    lines = [f"{PARTIAL_CELL} {title}, {metric}: {text}; left out of the score" for metric, text in row.notes.items()]
    if score.missing and score.value is not None:
        lines.append(f"{title}: partial score, without {', '.join(score.missing)}: not a SUPERB score")
    return lines


def render_superb_markdown(rows: list[SuperbRow]) -> str:
    definition, references = superb_references()
    lines = ["# SUPERB: every task and the SUPERB score", ""]
    if not rows:
        return "\n".join([*lines, "No results.", ""])
    titles = [reference.title for reference in references]
    header = ["Upstreams", "Interface", "Whisper length mode",
              *(f"{reference.title} {'↓' if reference.lower_is_better else '↑'}" for reference in references), "SUPERB score", "partial score"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    notes = []
    for row in rows:
        score = superb_score(row.comparable())
        cells = [row.upstreams, INTERFACE_TITLES.get(row.interface, row.interface), row.whisper_length_mode or MISSING]
        cells += [_number(row.values.get(title), 4 if title.startswith("QbE") else 2) + ("\\" + PARTIAL_CELL if title in row.notes else "") for title in titles]
        lines.append("| " + " | ".join([*cells, *score_cells(score)]) + " |")
        notes += row_notes(row, score)
    lines += ["", f"SUPERB score: each metric mapped linearly from FBANK's number (0) to the state of the art's (1), the tasks' mean x "
                  f"{definition['scale']:g} ({definition['source']}); the reference numbers and their sources: s3prl_fusion/data/superb_reference.yaml."]
    if any(not reference.confirmed for reference in references) or not definition["confirmed"]:
        lines.append(f"{UNCONFIRMED} the definition and reference numbers are not yet confirmed against the paper's text (see that file).")
    if notes:
        lines += ["", "Notes:", "", *(f"- {chr(92) if note.startswith(PARTIAL_CELL) else ''}{note}" for note in notes)]
    return "\n".join([*lines, ""])


def write_superb_csv(path: Path, rows: list[SuperbRow]) -> None:
    references = superb_references()[1]
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["upstreams", "interface", "whisper_length_mode", *(reference.title for reference in references),
                         "superb_score", "partial_score", "tasks_scored", "tasks_missing", "references_confirmed", "notes"])
        for row in rows:
            score = superb_score(row.comparable())
            writer.writerow([
                row.upstreams, row.interface, row.whisper_length_mode or MISSING, *(_number(row.values.get(reference.title), 6) for reference in references),
                _number(score.value, 4) if score.complete else MISSING, MISSING if score.complete else _number(score.value, 4),
                len(score.per_task), " ".join(score.missing), int(score.confirmed), "; ".join(row_notes(row, score)),
            ])


def write_superb_table(results_root: Path, out_dir: Path) -> dict[str, Path]:
    """Write ``superb.md`` and ``superb.csv`` into ``out_dir``; returns {kind: path}."""
    rows = collect_superb_rows(Path(results_root))
    files = {"superb_md": Path(out_dir) / "superb.md", "superb_csv": Path(out_dir) / "superb.csv"}
    files["superb_md"].write_text(render_superb_markdown(rows), encoding="utf-8")
    write_superb_csv(files["superb_csv"], rows)
    return files
