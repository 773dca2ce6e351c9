"""Error rates from s3prl's hypothesis / reference files (``<split>-noLM-hyp.ark`` / ``-ref.ark``)."""
from __future__ import annotations

from pathlib import Path

import editdistance

from s3prl_fusion.errors import MissingPathError


def read_ark(path: Path) -> dict[str, str]:
    """Lines ``utterance_id text...`` -> {utterance_id: text}."""
    entries = {}
    for line in Path(path).read_text().splitlines():
        utterance, _, text = line.partition(" ")
        entries[utterance] = text.strip()
    return entries


def error_rates(hypotheses: dict[str, str], references: dict[str, str]) -> dict[str, float]:
    """{"wer": %, "cer": %} over the utterances of ``references`` (a missing hypothesis counts as empty)."""
    word_errors = word_total = char_errors = char_total = 0
    for utterance, reference in references.items():
        hypothesis = hypotheses.get(utterance, "")
        word_errors += editdistance.eval(hypothesis.split(), reference.split())
        word_total += len(reference.split())
        char_errors += editdistance.eval(list(hypothesis.replace(" ", "")), list(reference.replace(" ", "")))
        char_total += len(reference.replace(" ", ""))
    return {"wer": 100.0 * word_errors / max(word_total, 1), "cer": 100.0 * char_errors / max(char_total, 1)}


def asr_error_rates(expdir: Path, split: str) -> dict[str, float]:
    """WER / CER (%) of an s3prl asr experiment's ``split`` evaluation."""
    expdir = Path(expdir)
    hypothesis_file, reference_file = expdir / f"{split}-noLM-hyp.ark", expdir / f"{split}-noLM-ref.ark"
    if not hypothesis_file.is_file():
        raise MissingPathError(f"{hypothesis_file} is missing: evaluate the experiment with -m evaluate -t {split} first")
    return error_rates(read_ark(hypothesis_file), read_ark(reference_file))
