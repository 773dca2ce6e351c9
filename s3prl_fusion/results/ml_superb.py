"""ML-SUPERB (Mono-1h / Multi-1h): error rates from the expert's ``{split}-results.json``.

A Multi-1h experiment folder holds one ``{split}-results.json``; its value is the overall
CER and ``per_language`` the CER of each language. A Mono-1h folder holds one experiment per
language in ``{folder}/{language}/`` (as ``recipes/ml_superb.sh`` lays it out); its value is
the mean over those languages (Japanese and Mandarin are word-level, so their entry is a
WER, averaged in as the benchmark does) and ``per_language`` maps each Mono-1h name
(``eng1`` ... ``xty``) to its error rate.
"""
from __future__ import annotations

import json
from pathlib import Path

from s3prl_fusion.downstreams.ml_superb.benchmark import MONO_TRAINING_SOURCE

METRIC = "cer"
LOWER_IS_BETTER = True
MONO_LANGUAGES = tuple(MONO_TRAINING_SOURCE)


def results_file(expdir: Path, split: str) -> Path:
    return Path(expdir) / f"{split}-results.json"


def read_expert_results(expdir: Path, split: str) -> dict:
    return json.loads(results_file(expdir, split).read_text(encoding="utf-8"))


def _mono_language_dirs(expdir: Path, split: str) -> dict[str, Path]:
    return {language: expdir / language for language in MONO_LANGUAGES if results_file(expdir / language, split).is_file()}


def read_result(expdir: Path, split: str) -> dict:
    expdir = Path(expdir)
    if results_file(expdir, split).is_file():
        return _single_experiment(read_expert_results(expdir, split))
    language_dirs = _mono_language_dirs(expdir, split)
    if not language_dirs:
        raise FileNotFoundError(
            f"neither {results_file(expdir, split)} (one experiment) nor {{language}}/{split}-results.json for any "
            f"Mono-1h language ({', '.join(MONO_LANGUAGES)}) exists under {expdir}: evaluate with -m evaluate -t {split} first"
        )
    per_language = {}
    for language, folder in language_dirs.items():
        results = read_expert_results(folder, split)
        if results.get("mode") != "mono" or results.get("language") != language:
            raise ValueError(f"{results_file(folder, split)} holds mode {results.get('mode')} language {results.get('language')}, not Mono-1h {language}")
        per_language[language] = results["overall"]["error_rate"]
    return {
        "metric": METRIC,
        "value": sum(per_language.values()) / len(per_language),
        "mode": "mono",
        "per_language": per_language,
        "missing_languages": [language for language in MONO_LANGUAGES if language not in per_language],
    }


def _single_experiment(results: dict) -> dict:
    per_language = {language: tally["error_rate"] for language, tally in results.get("per_language", {}).items()}
    result = {"metric": results["metric"], "value": results["overall"]["error_rate"], "mode": results["mode"]}
    if results["mode"] == "mono":
        result["per_language"] = {results["language"]: result["value"]}
    else:
        result["per_language"] = per_language
        result["per_group"] = {group: tally["error_rate"] for group, tally in results.get("per_group", {}).items()}
    return result
