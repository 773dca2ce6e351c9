"""ML-SUPERB (Mono-1h / Multi-1h): error rates from the expert's ``{split}-results.json``.

A Multi-1h experiment folder holds one ``{split}-results.json``; its value is the CER pooled
over the whole test set (ESPnet's ``score_cer/result.txt``), ``per_language`` the CER of each
language and ``per_group`` the ``trained`` / ``reserved`` (few-shot) split of ESPnet's
``local/split_results.py``.

A Mono-1h folder holds one experiment per Mono-1h pair in ``{folder}/{pair}/`` (as
``recipes/ml_superb.sh`` lays it out); ``per_language`` maps each pair (``eng1`` ... ``xty``)
to its error rate. Its value is ESPnet's ``local/mono_superb_score.py`` headline: each
language is the mean of its pairs (eng1-3, fra1-2, deu1-2), then the mean over the languages
(9 when all 13 pairs are there: eng fra deu rus swa swe jpn cmn xty); Japanese and Mandarin are word-level, so their entry is a
WER, averaged in as ESPnet does. ``per_language_group`` holds those language means.
ESPnet averages sclite's one-decimal figures; here the unrounded rates are averaged.

Outcomes: one row per test utterance with its ``errors`` (edits) and reference ``tokens``
(characters with ``<space>``, or words for jpn / cmn), read from the tokens the expert scored
(``{split}-hyp.trn`` / ``{split}-ref.trn``). The resampling unit is the test utterance
(ML-SUPERB names no speakers). Multi-1h: the stratum is the utterance's language, the value
the ratio pooled over all rows (a language's CER is the ratio over its rows). Mono-1h: the
stratum is the pair (a row's id is ``<pair>/<utterance>``), the value the mean over strata
grouped by language (``stratum_groups``): the pairs of a language test on the same utterances,
so one unit carries a test utterance through every pair that decoded it.
"""
from __future__ import annotations

import json
from pathlib import Path

from s3prl_fusion.downstreams.ml_superb.benchmark import MONO_TRAINING_SOURCE
from s3prl_fusion.downstreams.ml_superb.scoring import edit_errors
from s3prl_fusion.downstreams.ml_superb.trn import read_trn
from s3prl_fusion.errors import MissingPathError
from s3prl_fusion.results import ScoringError
from s3prl_fusion.results.outcomes import ratio_metric

METRIC = "cer"
LOWER_IS_BETTER = True
MONO_LANGUAGES = tuple(MONO_TRAINING_SOURCE)


def results_file(expdir: Path, split: str) -> Path:
    return Path(expdir) / f"{split}-results.json"


def read_expert_results(expdir: Path, split: str) -> dict:
    return json.loads(results_file(expdir, split).read_text(encoding="utf-8"))


def scored_utterances(folder: Path, split: str, results: dict) -> list[tuple[str, str, int, int]] | None:
    """(utterance id, language, edit errors, reference tokens) of each utterance the expert scored,
    from ``{split}-hyp.trn`` / ``{split}-ref.trn``; None when the evaluation did not write them.
    A ScoringError when they do not add up to ``{split}-results.json``."""
    hypothesis_file, reference_file = Path(folder) / f"{split}-hyp.trn", Path(folder) / f"{split}-ref.trn"
    if not (hypothesis_file.is_file() and reference_file.is_file()):
        return None
    hypotheses = {entry.utt_id: entry.tokens for entry in read_trn(hypothesis_file)}
    references = read_trn(reference_file)
    if hypotheses.keys() != {entry.utt_id for entry in references}:
        raise ScoringError(f"{hypothesis_file} and {reference_file} do not list the same utterances: evaluate the experiment again")
    rows = [(entry.utt_id, entry.language, edit_errors(hypotheses[entry.utt_id], entry.tokens), len(entry.tokens)) for entry in references]
    overall = results["overall"]
    if (sum(row[2] for row in rows), sum(row[3] for row in rows)) != (overall["errors"], overall["reference_tokens"]):
        raise ScoringError(
            f"{hypothesis_file} and {reference_file} do not add up to the errors of {results_file(folder, split)}: "
            "they come from another evaluation; evaluate the experiment again"
        )
    return rows


def missing_transcripts(folder: Path, split: str) -> dict:
    return {"outcomes_missing": f"{Path(folder) / f'{split}-hyp.trn'} is missing (evaluated before the expert kept its scored tokens): evaluate again to keep per-utterance outcomes"}


def outcomes(ids: list[str], rows: list[tuple[str, str, int, int]], strata: list[str] | None, metric: dict) -> dict:
    """A reader's ``outcomes`` entry of ``scored_utterances`` rows (their utterance is the unit)."""
    return {
        "outcomes": {
            "ids": ids,
            "units": [row[0] for row in rows],
            "strata": strata,
            "columns": {"errors": [row[2] for row in rows], "tokens": [row[3] for row in rows]},
            "metrics": {"value": metric},
        },
        "outcome_units": "utterance",
    }


def mono_language(pair: str) -> str:
    """The language of a Mono-1h pair: ``eng2`` -> ``eng``, ``rus`` -> ``rus``."""
    return pair[:3]


def language_grouped_mean(per_pair: dict[str, float]) -> tuple[float, dict[str, float]]:
    """ESPnet's Mono-1h average: (mean over languages of the mean over each language's pairs,
    {language: mean over its pairs})."""
    if not per_pair:
        raise ValueError("no Mono-1h error rates to average")
    by_language: dict[str, list[float]] = {}
    for pair, rate in per_pair.items():
        by_language.setdefault(mono_language(pair), []).append(rate)
    language_means = {language: sum(rates) / len(rates) for language, rates in by_language.items()}
    return sum(language_means.values()) / len(language_means), language_means


def _mono_language_dirs(expdir: Path, split: str) -> dict[str, Path]:
    return {language: expdir / language for language in MONO_LANGUAGES if results_file(expdir / language, split).is_file()}


def read_result(expdir: Path, split: str) -> dict:
    expdir = Path(expdir)
    if results_file(expdir, split).is_file():
        return _single_experiment(read_expert_results(expdir, split), expdir, split)
    language_dirs = _mono_language_dirs(expdir, split)
    if not language_dirs:
        raise MissingPathError(
            f"neither {results_file(expdir, split)} (one experiment) nor {{language}}/{split}-results.json for any "
            f"Mono-1h language ({', '.join(MONO_LANGUAGES)}) exists under {expdir}: evaluate with -m evaluate -t {split} first"
        )
    per_language, checkpoints, rows_by_pair = {}, {}, {}
    for language, folder in language_dirs.items():
        results = read_expert_results(folder, split)
        if results.get("mode") != "mono" or results.get("language") != language:
            raise ScoringError(f"{results_file(folder, split)} holds mode {results.get('mode')} language {results.get('language')}, not Mono-1h {language}")
        per_language[language] = results["overall"]["error_rate"]
        checkpoints[language] = results.get("checkpoint")
        rows_by_pair[language] = scored_utterances(folder, split, results)
    value, per_language_group = language_grouped_mean(per_language)
    return {
        **_mono_outcomes(rows_by_pair, language_dirs, split),
        "metric": METRIC,
        "value": value,
        "mode": "mono",
        "per_language": per_language,
        "per_language_group": per_language_group,
        "checkpoints": checkpoints,
        "missing_languages": [language for language in MONO_LANGUAGES if language not in per_language],
    }


def _mono_outcomes(rows_by_pair: dict[str, list | None], language_dirs: dict[str, Path], split: str) -> dict:
    unscored = [pair for pair, rows in rows_by_pair.items() if rows is None]
    if unscored:
        return missing_transcripts(language_dirs[unscored[0]], split)
    pairs = [(pair, row) for pair, rows in rows_by_pair.items() for row in rows]
    groups = {pair: mono_language(pair) for pair in rows_by_pair}
    metric = ratio_metric("errors", "tokens", combine="mean_over_strata", stratum_groups=groups)
    return outcomes([f"{pair}/{row[0]}" for pair, row in pairs], [row for _, row in pairs], [pair for pair, _ in pairs], metric)


def _single_experiment(results: dict, folder: Path, split: str) -> dict:
    per_language = {language: tally["error_rate"] for language, tally in results.get("per_language", {}).items()}
    result = {
        "metric": results["metric"],
        "value": results["overall"]["error_rate"],
        "mode": results["mode"],
        "checkpoint": results.get("checkpoint"),
    }
    if results["mode"] == "mono":
        result["per_language"] = {results["language"]: result["value"]}
    else:
        result["per_language"] = per_language
        result["per_group"] = {group: tally["error_rate"] for group, tally in results.get("per_group", {}).items()}
    rows = scored_utterances(folder, split, results)
    if rows is None:
        return {**result, **missing_transcripts(folder, split)}
    strata = [row[1] for row in rows] if results["mode"] == "multi" else None
    return {**result, **outcomes([row[0] for row in rows], rows, strata, ratio_metric("errors", "tokens"))}
