"""ASR (LibriSpeech): word error rate from the evaluated split's hypothesis / reference files, and
``wer_lm``, the WER of s3prl's KenLM decoding, where ``<split>-LM-hyp.ark`` exists.

Outcomes: one row per test utterance, which is also the resampling unit, with its word errors /
reference words and character errors / reference characters (``error_rates.utterance_error_counts``)
and, with KenLM decoding, ``lm_word_errors`` (against the same references); ``value`` (WER), ``cer``
and ``wer_lm`` are their pooled ratios.
"""
from __future__ import annotations

from pathlib import Path

from s3prl_fusion.results import ScoringError
from s3prl_fusion.results.error_rates import decoded_files, pooled_error_rates, read_ark, utterance_error_counts
from s3prl_fusion.results.outcomes import ratio_metric

METRIC = "wer"
LOWER_IS_BETTER = True
OUTCOME_UNITS = "utterance"


def read_result(expdir: Path, split: str) -> dict:
    hypothesis_file, reference_file = decoded_files(expdir, split)
    references = read_ark(reference_file)
    counts = utterance_error_counts(read_ark(hypothesis_file), references)
    rates = pooled_error_rates(counts)
    metrics = {"value": ratio_metric("word_errors", "words"), "cer": ratio_metric("char_errors", "chars")}
    result = {"metric": METRIC, "value": rates["wer"], "cer": rates["cer"]}
    if (Path(expdir) / f"{split}-LM-hyp.ark").is_file():
        lm_hypotheses, lm_references = decoded_files(expdir, split, "LM")
        if read_ark(lm_references) != references:
            raise ScoringError(f"{lm_references} and {reference_file} hold different references: evaluate the same checkpoint with and without the LM")
        counts["lm_word_errors"] = utterance_error_counts(read_ark(lm_hypotheses), references)["word_errors"]
        metrics["wer_lm"] = ratio_metric("lm_word_errors", "words")
        result["wer_lm"] = 100.0 * sum(counts["lm_word_errors"]) / max(sum(counts["words"]), 1)
    ids = list(references)
    result["outcomes"] = {"ids": ids, "units": ids, "strata": None, "columns": counts, "metrics": metrics}
    result["outcome_units"] = OUTCOME_UNITS
    return result
