"""What the bench measures of ``s3prl-fusion report``: its time on a synthetic full Table I.

``write_table_one`` writes, for each of the paper's 13 Table I rows and 5 task columns (65 cells),
a result.json and per-utterance outcomes of that task's kind, drawn around the paper's number:
LibriSpeech WER (word errors over words), Mono-1h CER (a mean over its language strata, each
listed in ``per_language``), Multi-1h CER (pooled over four language strata), SV EER (trials sharing 40 speakers, the resampling units) and ER accuracy
(a mean over 5 folds), each over the same ``utterances`` test rows (2,620: LibriSpeech test-clean).
``timed_report`` times ``write_report`` on them: every interval, paired comparison and chart.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from scipy.stats import norm

from s3prl_fusion.results.ml_superb import MONO_LANGUAGES
from s3prl_fusion.results.outcomes import Outcomes, point_estimate, write_outcomes
from s3prl_fusion.results.report import PAPER_RESULTS_FILE, write_report

LIBRISPEECH_TEST_UTTERANCES = 2620
# the report's upstream-set label -> an -u name the report labels so
UPSTREAM_NAMES = {
    "WavLM": "wavlm_base_plus",
    "Whisper": "whisper_small_en",
    "HuBERT+WavLM": "fused_hubert_wavlm",
    "Whisper+WavLM": "fused_wavlm_whisper_en",
    "Whisper+HuBERT+WavLM": "fused_hubert_wavlm_whisper",
}
# column -> (result.json task fields, outcome units, strata count, combine)
CELL_KINDS = {
    "ls_wer": ({"task": "asr", "metric": "wer"}, "utterance", 0, "pooled"),
    "mono_cer": ({"task": "ml_superb", "mode": "mono", "metric": "cer"}, "utterance", len(MONO_LANGUAGES), "mean_over_strata"),
    "multi_cer": ({"task": "ml_superb", "mode": "multi", "metric": "cer"}, "utterance", 4, "pooled"),
    "sv_eer": ({"task": "sv_voxceleb1", "metric": "eer", "selection": "best-test"}, "speaker", 0, "pooled"),
    "er_acc": ({"task": "emotion", "metric": "acc"}, "utterance", 5, "mean_over_strata"),
}
SV_SPEAKERS = 40


def _entry(column: str, value: float, utterances: int, rng: np.random.Generator) -> dict:
    """Outcomes of one cell whose true value is ``value`` (percent)."""
    _, _, strata_count, combine = CELL_KINDS[column]
    ids = [f"{column}-{index}" for index in range(utterances)]
    names = MONO_LANGUAGES if column == "mono_cer" else [f"stratum{index}" for index in range(strata_count)]
    strata = [names[index % strata_count] for index in range(utterances)] if strata_count else None
    if column == "sv_eer":
        labels = np.arange(utterances) % 2
        scores = rng.normal(labels * 2 * norm.ppf(1 - value / 100), 1)
        return {"ids": ids, "units": [f"speaker{index % SV_SPEAKERS}" for index in range(utterances)], "strata": None,
                "columns": {"score": scores.tolist(), "label": labels.tolist()},
                "metrics": {"value": {"statistic": "eer", "score": "score", "label": "label", "scale": 100.0, "combine": combine}}}
    if column == "er_acc":
        numerator, denominator, names = (rng.random(utterances) < value / 100).astype(int), np.ones(utterances, dtype=int), ("correct", "count")
    else:
        denominator = 1 + rng.poisson(19, utterances)
        numerator, names = rng.binomial(denominator, value / 100), ("errors", "words")
    return {"ids": ids, "units": ids, "strata": strata, "columns": {names[0]: numerator.tolist(), names[1]: denominator.tolist()},
            "metrics": {"value": {"statistic": "ratio", "numerator": names[0], "denominator": names[1], "scale": 100.0, "combine": combine}}}


def _stratum(outcomes: Outcomes, name: str) -> Outcomes:
    rows = outcomes.strata == name
    spec = {**outcomes.metrics["value"], "combine": "pooled"}
    return Outcomes(outcomes.ids[rows], outcomes.units[rows], None, {key: values[rows] for key, values in outcomes.columns.items()}, {"value": spec})


def write_table_one(root: Path, utterances: int = LIBRISPEECH_TEST_UTTERANCES, seed: int = 0) -> int:
    """Write the 65 cells under ``root``; returns how many were written."""
    rng = np.random.default_rng(seed)
    rows = yaml.safe_load(PAPER_RESULTS_FILE.read_text(encoding="utf-8"))["table_i"]
    cells = 0
    for row in rows:
        for column, value in ((column, row[column]) for column in CELL_KINDS if column in row):
            folder = Path(root) / f"{row['upstreams']}-{row['interface']}" / column
            folder.mkdir(parents=True, exist_ok=True)
            entry = _entry(column, float(value), utterances, rng)
            fields, units, _, _ = CELL_KINDS[column]
            result = {**fields, "split": "test", "upstream": UPSTREAM_NAMES[row["upstreams"]], "interface": row["interface"],
                      "value": point_estimate(Outcomes.from_entry(entry)), "outcomes": write_outcomes(folder, "test", entry, units=units)}
            if column == "mono_cer":  # Mono-1h's result lists its languages (the report marks a cell that lacks some)
                outcomes = Outcomes.from_entry(entry)
                result["per_language"] = {language: point_estimate(_stratum(outcomes, language)) for language in MONO_LANGUAGES}
            (folder / "result.json").write_text(json.dumps(result))
            cells += 1
    return cells


def timed_report(resamples: int, utterances: int = LIBRISPEECH_TEST_UTTERANCES) -> tuple[int, float, float]:
    """(cells, wall seconds, CPU seconds of this process) ``write_report`` took on a synthetic
    Table I with ``resamples`` resamples."""
    with tempfile.TemporaryDirectory(prefix="bench-report-") as folder:
        cells = write_table_one(Path(folder) / "results", utterances)
        wall, cpu = time.perf_counter(), time.process_time()
        write_report(Path(folder) / "results", Path(folder) / "report", bootstrap=resamples)
        return cells, time.perf_counter() - wall, time.process_time() - cpu
