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
"""
from __future__ import annotations

import json
from pathlib import Path

from s3prl_fusion.downstreams.ml_superb.benchmark import MONO_TRAINING_SOURCE
from s3prl_fusion.errors import MissingPathError
from s3prl_fusion.results import ScoringError

METRIC = "cer"
LOWER_IS_BETTER = True
MONO_LANGUAGES = tuple(MONO_TRAINING_SOURCE)


def results_file(expdir: Path, split: str) -> Path:
    return Path(expdir) / f"{split}-results.json"


def read_expert_results(expdir: Path, split: str) -> dict:
    return json.loads(results_file(expdir, split).read_text(encoding="utf-8"))


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
        return _single_experiment(read_expert_results(expdir, split))
    language_dirs = _mono_language_dirs(expdir, split)
    if not language_dirs:
        raise MissingPathError(
            f"neither {results_file(expdir, split)} (one experiment) nor {{language}}/{split}-results.json for any "
            f"Mono-1h language ({', '.join(MONO_LANGUAGES)}) exists under {expdir}: evaluate with -m evaluate -t {split} first"
        )
    per_language, checkpoints = {}, {}
    for language, folder in language_dirs.items():
        results = read_expert_results(folder, split)
        if results.get("mode") != "mono" or results.get("language") != language:
            raise ScoringError(f"{results_file(folder, split)} holds mode {results.get('mode')} language {results.get('language')}, not Mono-1h {language}")
        per_language[language] = results["overall"]["error_rate"]
        checkpoints[language] = results.get("checkpoint")
    value, per_language_group = language_grouped_mean(per_language)
    return {
        "metric": METRIC,
        "value": value,
        "mode": "mono",
        "per_language": per_language,
        "per_language_group": per_language_group,
        "checkpoints": checkpoints,
        "missing_languages": [language for language in MONO_LANGUAGES if language not in per_language],
    }


def _single_experiment(results: dict) -> dict:
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
    return result
