"""ASR (LibriSpeech): word error rate from the evaluated split's hypothesis / reference files, and
``wer_lm``, the WER of s3prl's KenLM decoding, where ``<split>-LM-hyp.ark`` exists.

Outcomes: one row per utterance (unit: the utterance) with columns ``word_errors``, ``words``,
``char_errors``, ``chars`` and, with KenLM decoding, ``lm_word_errors`` (against the same
references); ``value`` = 100 word_errors / words, ``cer`` and ``wer_lm`` likewise, pooled.
"""
from __future__ import annotations

from pathlib import Path

from s3prl_fusion.results import ScoringError
from s3prl_fusion.results.error_rates import decoded_files, read_ark, utterance_errors

METRIC = "wer"
LOWER_IS_BETTER = True
OUTCOME_UNITS = "utterance"


def ratio(numerator: str, denominator: str) -> dict:
    return {"statistic": "ratio", "numerator": numerator, "denominator": denominator, "scale": 100.0, "combine": "pooled"}


def percent(columns: dict[str, list[int]], numerator: str, denominator: str) -> float:
    return 100.0 * sum(columns[numerator]) / max(sum(columns[denominator]), 1)


def read_result(expdir: Path, split: str) -> dict:
    hypothesis_file, reference_file = decoded_files(expdir, split)
    references = read_ark(reference_file)
    columns = utterance_errors(read_ark(hypothesis_file), references)
    metrics = {"value": ratio("word_errors", "words"), "cer": ratio("char_errors", "chars")}
    result = {"metric": METRIC, "value": percent(columns, "word_errors", "words"), "cer": percent(columns, "char_errors", "chars")}
    lm_hypothesis_file = Path(expdir) / f"{split}-LM-hyp.ark"
    if lm_hypothesis_file.is_file():
        lm_hypotheses, lm_references = decoded_files(expdir, split, "LM")
        if read_ark(lm_references) != references:
            raise ScoringError(f"{lm_references} and {reference_file} hold different references: evaluate the same checkpoint with and without the LM")
        columns["lm_word_errors"] = utterance_errors(read_ark(lm_hypotheses), references)["word_errors"]
        metrics["wer_lm"] = ratio("lm_word_errors", "words")
        result["wer_lm"] = percent(columns, "lm_word_errors", "words")
    ids = list(references)
    result["outcomes"] = {"ids": ids, "units": ids, "strata": None, "columns": columns, "metrics": metrics}
    result["outcome_units"] = OUTCOME_UNITS
    return result
