"""Phone recognition (LibriSpeech test-clean, ``-d ctc`` with ``libriphone.yaml``): phone error rate
in percent, as s3prl's ``ctc`` metric ``per`` computes it: phones are the hypothesis and reference
split on single spaces, edit distance summed over utterances divided by the reference phones.

Reads ``<split>-hyp.ark`` / ``<split>-ref.ark`` (``s3prl_fusion.results.ctc_files``); the
reference is the phone sequence the expert trained on (the transcript through the lexicon).
Resampling unit: the LibriSpeech speaker (the id's first part).
"""
from __future__ import annotations

from pathlib import Path

import editdistance

from s3prl_fusion.results.ctc_files import read_hypotheses_and_references

METRIC = "per"
LOWER_IS_BETTER = True


def phone_errors(hypothesis: str, reference: str) -> tuple[int, int]:
    """(edit distance between the phone sequences, reference phones), both split on ``" "``."""
    reference_phones = reference.split(" ")
    return editdistance.eval(hypothesis.split(" "), reference_phones), len(reference_phones)


def read_result(expdir: Path, split: str) -> dict:
    ids, hypotheses, references = read_hypotheses_and_references(expdir, split)
    errors, phones = zip(*(phone_errors(hypothesis, reference) for hypothesis, reference in zip(hypotheses, references)))
    entry = {
        "ids": ids,
        "units": [name.split("-")[0] for name in ids],
        "strata": None,
        "columns": {"errors": [float(count) for count in errors], "phones": [float(count) for count in phones]},
        "metrics": {"value": {"statistic": "ratio", "numerator": "errors", "denominator": "phones", "scale": 100.0, "combine": "pooled"}},
    }
    return {"metric": METRIC, "value": 100.0 * sum(errors) / sum(phones), "outcomes": entry, "outcome_units": "speaker"}
