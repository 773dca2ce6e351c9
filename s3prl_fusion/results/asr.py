"""ASR (LibriSpeech): word error rate from the evaluated split's hypothesis / reference files.

Outcomes: one row per test utterance, which is also the resampling unit, with its word errors /
reference words and character errors / reference characters (``error_rates.utterance_error_counts``);
the WER and CER are their pooled ratios.
"""
from __future__ import annotations

from pathlib import Path

from s3prl_fusion.results.error_rates import pooled_error_rates, read_asr_files, utterance_error_counts
from s3prl_fusion.results.outcomes import ratio_metric

METRIC = "wer"
LOWER_IS_BETTER = True


def read_result(expdir: Path, split: str) -> dict:
    hypotheses, references = read_asr_files(expdir, split)
    counts = utterance_error_counts(hypotheses, references)
    rates = pooled_error_rates(counts)
    outcomes = {
        "ids": list(references),
        "units": list(references),
        "strata": None,
        "columns": counts,
        "metrics": {"value": ratio_metric("word_errors", "words"), "cer": ratio_metric("char_errors", "chars")},
    }
    return {"metric": METRIC, "value": rates["wer"], "cer": rates["cer"], "outcomes": outcomes, "outcome_units": "utterance"}
