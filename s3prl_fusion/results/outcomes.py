"""What a test evaluation saw, row by row: the per-utterance (SV: per-trial) outcomes behind a result.

A result reader returns, next to its ``value``, an ``outcomes`` entry (``Outcomes.from_entry``):
one row per utterance, trial, recording or query/document pair, with

- ``ids``: the row's name; ``units``: the resampling unit the row belongs to (the utterance itself,
  or the speaker / recording / query that several rows share); ``strata``: the fold or language of
  each row where the result is a mean over them (else ``None``);
- ``columns``: numeric per-row columns (``errors``, ``words``, ``correct``, ``score``, ``label`` ...);
- ``metrics``: how each reported number is recomputed from the columns, keyed ``value`` for the
  result's own number and by name for its secondary ones. Statistics:
  ``{"statistic": "ratio", "numerator": COLUMN, "denominator": COLUMN, "scale": 100.0, "combine": C}``
  (an error rate, an accuracy, an F1 as 2tp / (2tp + fp + fn), a DER) and
  ``{"statistic": "eer", "score": COLUMN, "label": COLUMN, "scale": 100.0, "combine": C}`` and
  ``{"statistic": "mtwv", "score": COLUMN, "label": COLUMN}`` (QbE: rows are query/document
  trials, every one of the ground truth, ``score`` the detection score, ``label`` 1 where the query
  occurs in the document; a query is the set of rows sharing a unit; the maximum term weighted
  value of ``s3prl_fusion.results.twv``, QUESST 2014's, over one threshold shared by all queries);
  ``combine`` is ``pooled`` (one statistic over all rows) or ``mean_over_strata`` (the statistic of
  each stratum, then their plain mean: ER's five folds, a mean over languages). A
  ``mean_over_strata`` metric may add ``"stratum_groups": {STRATUM: GROUP}`` naming the group of
  every stratum: the mean over a group's strata, then the plain mean over the groups (ML-SUPERB
  Mono-1h: the strata are the 13 pairs eng1 ... xty, the groups their 9 languages, as ESPnet's
  ``local/mono_superb_score.py`` averages).

``write_outcomes`` stores them as ``<expdir>/<split>_outcomes.tsv`` (tab-separated, header
``id unit stratum <columns...>``) and returns the entry ``result.json`` records: the file's name,
its SHA-256, the row count and the metrics; ``read_outcomes`` reads them back from a ``result.json``
and refuses a file whose checksum differs from the recorded one.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from s3prl_fusion.errors import MissingPathError, UserError
from s3prl_fusion.experiments.atomic_files import write_atomically
from s3prl_fusion.results.eer import equal_error_rate

STATISTICS = ("ratio", "eer", "mtwv")
COMBINATIONS = ("pooled", "mean_over_strata")
FIXED_COLUMNS = ("id", "unit", "stratum")


class OutcomesError(UserError, ValueError):
    """An outcomes file that does not match the result that records it."""


@dataclass(frozen=True)
class Outcomes:
    """Per-row outcomes of one evaluation: ``ids``, ``units`` and ``strata`` are (rows,) string arrays
    (``strata`` None when the result is pooled), ``columns`` maps a name to a (rows,) float64 array."""

    ids: np.ndarray
    units: np.ndarray
    strata: np.ndarray | None
    columns: dict[str, np.ndarray]
    metrics: dict[str, dict]

    @classmethod
    def from_entry(cls, entry: dict) -> "Outcomes":
        """From a reader's ``outcomes`` entry (lists), checked: equal lengths, known statistics, named columns."""
        ids = np.asarray(entry["ids"], dtype=str)
        strata = entry.get("strata")
        outcomes = cls(
            ids=ids,
            units=np.asarray(entry["units"], dtype=str),
            strata=None if strata is None else np.asarray(strata, dtype=str),
            columns={name: np.asarray(values, dtype=np.float64) for name, values in entry["columns"].items()},
            metrics=entry["metrics"],
        )
        outcomes.check()
        return outcomes

    def check(self) -> None:
        rows = len(self.ids)
        lengths = {"units": len(self.units), **({"strata": len(self.strata)} if self.strata is not None else {})}
        lengths.update({name: len(values) for name, values in self.columns.items()})
        uneven = {name: length for name, length in lengths.items() if length != rows}
        if uneven:
            raise ValueError(f"outcomes have {rows} ids but {uneven}")
        for name, metric in self.metrics.items():
            if metric.get("statistic") not in STATISTICS:
                raise ValueError(f"outcome metric {name}: statistic {metric.get('statistic')!r} is not one of {STATISTICS}")
            if metric.get("combine", "pooled") not in COMBINATIONS:
                raise ValueError(f"outcome metric {name}: combine {metric.get('combine')!r} is not one of {COMBINATIONS}")
            if metric.get("combine") == "mean_over_strata" and self.strata is None:
                raise ValueError(f"outcome metric {name} is a mean over strata, but the rows have none")
            groups = metric.get("stratum_groups")
            if groups is not None:
                ungrouped = sorted(set(np.unique(self.strata)) - set(groups)) if self.strata is not None else []
                if metric.get("combine") != "mean_over_strata" or ungrouped:
                    raise ValueError(f"outcome metric {name}: stratum_groups need combine mean_over_strata and a group for every stratum (none for {ungrouped})")
            named = [metric[key] for key in ("numerator", "denominator", "score", "label") if key in metric]
            missing = [column for column in named if column not in self.columns]
            if missing:
                raise ValueError(f"outcome metric {name} names columns {missing} the rows lack (they have {sorted(self.columns)})")

    def __len__(self) -> int:
        return len(self.ids)


def ratio_metric(numerator: str, denominator: str, combine: str = "pooled", **extra) -> dict:
    """A ``ratio`` metric in percent (``extra``: e.g. ``stratum_groups``)."""
    return {"statistic": "ratio", "numerator": numerator, "denominator": denominator, "scale": 100.0, "combine": combine, **extra}


def eer_metric(score: str = "score", label: str = "label") -> dict:
    """An ``eer`` metric in percent, pooled over the rows."""
    return {"statistic": "eer", "score": score, "label": label, "scale": 100.0, "combine": "pooled"}


def point_estimate(outcomes: Outcomes, metric: str = "value") -> float:
    """The reported number ``metric`` recomputed from the rows (what the result's reader reported)."""
    spec = outcomes.metrics[metric]
    if spec.get("combine", "pooled") == "pooled":
        return _statistic(spec, outcomes, np.ones(len(outcomes), dtype=bool))
    per_stratum = {str(stratum): _statistic(spec, outcomes, outcomes.strata == stratum) for stratum in np.unique(outcomes.strata)}
    groups = spec.get("stratum_groups") or {stratum: stratum for stratum in per_stratum}
    per_group: dict[str, list[float]] = {}
    for stratum, value in per_stratum.items():
        per_group.setdefault(groups[stratum], []).append(value)
    return float(np.mean([np.mean(values) for values in per_group.values()]))


def _statistic(spec: dict, outcomes: Outcomes, rows: np.ndarray) -> float:
    columns = outcomes.columns
    scale = float(spec.get("scale", 1.0))
    if spec["statistic"] == "ratio":
        denominator = columns[spec["denominator"]][rows].sum()
        return scale * float(columns[spec["numerator"]][rows].sum() / max(denominator, np.finfo(float).tiny))
    if spec["statistic"] == "mtwv":
        from s3prl_fusion.results.twv import maximum_term_weighted_value

        return scale * maximum_term_weighted_value(columns[spec["score"]][rows], columns[spec["label"]][rows], outcomes.units[rows]).mtwv
    return scale * equal_error_rate(columns[spec["label"]][rows].astype(int), columns[spec["score"]][rows])


def outcomes_path(expdir: Path, split: str) -> Path:
    return Path(expdir) / f"{split}_outcomes.tsv"


def _table_text(outcomes: Outcomes) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    names = list(outcomes.columns)
    writer.writerow([*FIXED_COLUMNS, *names])
    strata = outcomes.strata if outcomes.strata is not None else [""] * len(outcomes)
    for row, (name, unit, stratum) in enumerate(zip(outcomes.ids, outcomes.units, strata)):
        writer.writerow([name, unit, stratum, *(repr(float(outcomes.columns[column][row])) for column in names)])
    return buffer.getvalue()


def write_outcomes(expdir: Path, split: str, entry: dict, units: str) -> dict:
    """Write a reader's ``outcomes`` entry to ``<expdir>/<split>_outcomes.tsv`` (atomically); the
    record ``result.json`` keeps of it. ``units``: what a resampling unit is (e.g. "utterance")."""
    outcomes = Outcomes.from_entry(entry)
    data = _table_text(outcomes).encode()
    path = outcomes_path(expdir, split)
    write_atomically(path, lambda handle: handle.write(data))
    return {
        "file": path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "rows": len(outcomes),
        "units": units,
        "stratified": outcomes.strata is not None,
        "metrics": outcomes.metrics,
    }


def read_outcomes(result_file: Path) -> Outcomes:
    """The outcomes a ``result.json`` records, checked against its recorded checksum."""
    result_file = Path(result_file)
    record = json.loads(result_file.read_text()).get("outcomes")
    if record is None:
        raise MissingPathError(f"{result_file} records no per-utterance outcomes: score the experiment again with `s3prl-fusion score`")
    path = result_file.parent / record["file"]
    if not path.is_file():
        raise MissingPathError(f"{path}, the outcomes {result_file} records, is missing: score the experiment again with `s3prl-fusion score`")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != record["sha256"]:
        raise OutcomesError(
            f"{path} is not the file {result_file} was written with (its SHA-256 differs): it was changed after scoring; "
            "score the experiment again with `s3prl-fusion score`"
        )
    rows = list(csv.reader(io.StringIO(data.decode()), delimiter="\t"))
    header, body = rows[0], rows[1:]
    columns = {name: [float(row[index]) for row in body] for index, name in enumerate(header) if name not in FIXED_COLUMNS}
    return Outcomes.from_entry({
        "ids": [row[0] for row in body],
        "units": [row[1] for row in body],
        "strata": [row[2] for row in body] if record.get("stratified") else None,
        "columns": columns,
        "metrics": record["metrics"],
    })
