"""Slot filling (SNIPS, ``-d ctc`` with ``snips.yaml``): slot-type F1 in percent as the value and
slot-value CER in percent as ``cer``, computed as s3prl's ``ctc`` metrics ``slot_type_f1`` and
``slot_value_cer`` (s3prl/downstream/ctc/metric.py) compute them, per utterance so the outcomes hold
each utterance's share:

- a text's slots are the matches of ``B-<type> <value> E-<type>`` after runs of spaces are made one;
  a hypothesis value has nested ``B-x `` / `` E-x`` tags removed, a reference value is kept as is;
- slot-type F1 of an utterance: 1 when neither text has a slot, 0 when only one has; else from the
  precision and recall of the slot *types* (a set each); the value is the plain mean over
  utterances (outcomes: column ``f1`` over ``count``);
- slot-value CER: each reference value is paired with the hypothesis value of the same type with
  the lowest character error rate (the first such, none better than 100; the empty string when the
  hypothesis lacks the type); character edits summed over all pairs divided by the reference
  values' characters (outcomes: ``value_errors`` over ``value_chars``).

Written here rather than called from s3prl because s3prl returns only the corpus-level numbers,
not each utterance's share. Reads ``<split>-hyp.ark`` / ``<split>-ref.ark``. Resampling unit: the
utterance (the test set's four synthetic voices are too few to resample).
"""
from __future__ import annotations

import re
from pathlib import Path

import editdistance

from s3prl_fusion.results.ctc_files import read_hypotheses_and_references

METRIC = "slot_type_f1"
LOWER_IS_BETTER = False
SLOT = re.compile(r"B\-(\S+) (.+?) E\-\1")


def remove_tags(value: str) -> str:
    return re.sub(r" E\-(\S+)", "", re.sub(r"B\-(\S+) ", "", value))


def slots(text: str, nested_tags_removed: bool) -> dict[str, list[str]]:
    """{slot type: [values in order]} of a tagged text."""
    found: dict[str, list[str]] = {}
    for slot_type, value in SLOT.findall(re.sub(r" +", " ", text)):
        found.setdefault(slot_type, []).append(remove_tags(value) if nested_tags_removed else value)
    return found


def slot_type_f1(hypothesis: dict[str, list[str]], reference: dict[str, list[str]]) -> float:
    """F1 (0-1) of the slot types of one utterance."""
    if not hypothesis or not reference:
        return float(not hypothesis and not reference)
    recall = sum(slot_type in hypothesis for slot_type in reference) / len(reference)
    precision = sum(slot_type in reference for slot_type in hypothesis) / len(hypothesis)
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def slot_value_edits(hypothesis: dict[str, list[str]], reference: dict[str, list[str]]) -> tuple[int, int]:
    """(character edits, reference characters) over one utterance's reference slot values."""
    edits = characters = 0
    for slot_type, values in reference.items():
        for value in values:
            best, lowest = "", 100.0
            for candidate in hypothesis.get(slot_type, ()):
                rate = editdistance.eval(candidate, value) / len(value)
                if rate < lowest:
                    best, lowest = candidate, rate
            edits += editdistance.eval(best, value)
            characters += len(value)
    return edits, characters


def read_result(expdir: Path, split: str) -> dict:
    ids, hypotheses, references = read_hypotheses_and_references(expdir, split)
    f1s, edits, characters = [], [], []
    for hypothesis_text, reference_text in zip(hypotheses, references):
        hypothesis, reference = slots(hypothesis_text, nested_tags_removed=True), slots(reference_text, nested_tags_removed=False)
        f1s.append(slot_type_f1(hypothesis, reference))
        utterance_edits, utterance_characters = slot_value_edits(hypothesis, reference)
        edits.append(float(utterance_edits))
        characters.append(float(utterance_characters))
    entry = {
        "ids": ids,
        "units": ids,
        "strata": None,
        "columns": {"f1": f1s, "count": [1.0] * len(ids), "value_errors": edits, "value_chars": characters},
        "metrics": {
            "value": {"statistic": "ratio", "numerator": "f1", "denominator": "count", "scale": 100.0, "combine": "pooled"},
            "cer": {"statistic": "ratio", "numerator": "value_errors", "denominator": "value_chars", "scale": 100.0, "combine": "pooled"},
        },
    }
    return {
        "metric": METRIC,
        "value": 100.0 * sum(f1s) / len(f1s),
        "cer": 100.0 * sum(edits) / max(sum(characters), 1.0),
        "outcomes": entry,
        "outcome_units": "utterance",
    }
