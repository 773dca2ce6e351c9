"""Each report cell's 95 % bootstrap interval, from the per-utterance outcomes its result.json records.

A cell is one row (upstream set x interface) and one column (task); it may hold several runs that
differ only by their training seed (``seed`` in result.json, or ``seed<k>/`` folders), shown as
their mean +- standard deviation. Its interval pools the seeds: every resample of the test units is
applied to every seed's outcomes and the mean over seeds recomputed (``s3prl_fusion.statistics``).
A cell whose result.json records no outcomes (or whose outcomes file is gone) gets no interval and a
note saying why; an outcomes file changed after scoring stops the report (``OutcomesError``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from s3prl_fusion.errors import MissingPathError
from s3prl_fusion.results.outcomes import Outcomes, read_outcomes
from s3prl_fusion.statistics.bootstrap import DEFAULT_SEED, Interval, Resampled, percentile_interval, resampled
from s3prl_fusion.statistics.resampling import UnpairedOutcomesError

SEED_FOLDER = re.compile(r"^seed(\d+)$")
NO_INTERVAL = "no interval"


def run_seed(result: dict, path: Path) -> str | None:
    """The training seed of a result: its ``seed`` entry, else a ``seed<k>`` folder it lies in (None: unknown)."""
    if result.get("seed") is not None:
        return str(result["seed"])
    for folder in Path(path).parents:
        match = SEED_FOLDER.match(folder.name)
        if match:
            return match.group(1)
    return None


def seed_spread(values: Sequence[float]) -> float | None:
    """The standard deviation (ddof 1) of a cell's per-seed values; None for a single run."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else None


@dataclass(frozen=True)
class CellRuns:
    """The outcomes of a cell's runs (one per seed), or why there are none (``missing``)."""

    outcomes: list[Outcomes]
    missing: str = ""


class RunOutcomes:
    """The outcomes of report cells, each run's file read (and its checksum checked) once per report."""

    def __init__(self):
        self._read: dict[Path, Outcomes | str] = {}

    def _outcomes(self, path: Path) -> Outcomes | str:
        if path not in self._read:
            try:
                self._read[path] = read_outcomes(path)
            except MissingPathError as error:
                self._read[path] = str(error)
        return self._read[path]

    def of(self, result_files: Sequence[Path]) -> CellRuns:
        """The outcomes every run of a cell recorded; a run without them leaves the cell without (named in ``missing``)."""
        read = [self._outcomes(Path(path)) for path in result_files]
        missing = next((entry for entry in read if isinstance(entry, str)), "")
        return CellRuns([] if missing else read, missing)


def cell_resampled(runs: CellRuns, resamples: int, seed: int = DEFAULT_SEED) -> tuple[Resampled | None, str]:
    """(the cell's value on every resample, "") or (None, why it has no interval)."""
    if runs.missing:
        return None, f"{NO_INTERVAL}: {runs.missing}"
    try:
        return resampled(runs.outcomes, resamples=resamples, seed=seed), ""
    except UnpairedOutcomesError as error:
        return None, f"{NO_INTERVAL}: its seeds' outcomes cannot be pooled: {error}"


def interval_text(interval: Interval | None) -> str:
    return "" if interval is None else f" [{interval.low:.2f}, {interval.high:.2f}]"


def spread_text(spread: float | None) -> str:
    return "" if spread is None else f" ± {spread:.2f}"


def attach_intervals(rows: Sequence, columns: Sequence[str], outcomes: RunOutcomes, resamples: int, seed: int = DEFAULT_SEED) -> None:
    """Set ``row.resampled[column]`` and ``row.intervals[column]`` (or ``row.interval_notes[column]``)
    for every cell of ``rows`` in ``columns`` (report rows: ``runs`` and ``result_files``), test
    set by test set (a column's cells share their draws, so later comparisons pair their values)."""
    cells = [(row, column) for column in columns for row in rows if row.runs.get(column)]
    for row, column in tqdm(cells, desc=f"95 % intervals ({resamples} resamples)", unit="cell", disable=not cells):
        cell, note = cell_resampled(outcomes.of(row.result_files(column)), resamples, seed)
        if cell is not None:
            row.resampled[column] = cell
            row.intervals[column] = percentile_interval(cell)
        else:
            row.interval_notes[column] = note
