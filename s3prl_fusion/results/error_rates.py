"""Error rates from s3prl's hypothesis / reference files (``<split>-noLM-hyp.ark`` / ``-ref.ark``;
``<split>-LM-hyp.ark`` after KenLM decoding)."""
from __future__ import annotations

from pathlib import Path

import editdistance

from s3prl_fusion.errors import MissingPathError

COUNT_COLUMNS = ("word_errors", "words", "char_errors", "chars")


def read_ark(path: Path) -> dict[str, str]:
    """Lines ``utterance_id text...`` -> {utterance_id: text}."""
    entries = {}
    for line in Path(path).read_text().splitlines():
        utterance, _, text = line.partition(" ")
        entries[utterance] = text.strip()
    return entries


def utterance_error_counts(hypotheses: dict[str, str], references: dict[str, str]) -> dict[str, list[int]]:
    """Per utterance of ``references`` (in its order; a missing hypothesis counts as empty): word
    edit errors and reference words, character edit errors and reference characters (spaces left
    out), as lists keyed by ``COUNT_COLUMNS``."""
    counts: dict[str, list[int]] = {column: [] for column in COUNT_COLUMNS}
    for utterance, reference in references.items():
        hypothesis = hypotheses.get(utterance, "")
        counts["word_errors"].append(editdistance.eval(hypothesis.split(), reference.split()))
        counts["words"].append(len(reference.split()))
        counts["char_errors"].append(editdistance.eval(list(hypothesis.replace(" ", "")), list(reference.replace(" ", ""))))
        counts["chars"].append(len(reference.replace(" ", "")))
    return counts


def pooled_error_rates(counts: dict[str, list[int]]) -> dict[str, float]:
    """{"wer": %, "cer": %} pooled over the utterances of ``utterance_error_counts``."""
    totals = {column: sum(values) for column, values in counts.items()}
    return {
        "wer": 100.0 * totals["word_errors"] / max(totals["words"], 1),
        "cer": 100.0 * totals["char_errors"] / max(totals["chars"], 1),
    }


def error_rates(hypotheses: dict[str, str], references: dict[str, str]) -> dict[str, float]:
    """{"wer": %, "cer": %} pooled over the utterances of ``references``."""
    return pooled_error_rates(utterance_error_counts(hypotheses, references))


def decoded_files(expdir: Path, split: str, decoding: str = "noLM") -> tuple[Path, Path]:
    """(hypotheses, references) s3prl's asr evaluation of ``split`` wrote; ``decoding``: noLM, or LM (KenLM decoding)."""
    expdir = Path(expdir)
    hypothesis_file, reference_file = expdir / f"{split}-{decoding}-hyp.ark", expdir / f"{split}-{decoding}-ref.ark"
    if not hypothesis_file.is_file():
        raise MissingPathError(f"{hypothesis_file} is missing: evaluate the experiment with -m evaluate -t {split} first")
    return hypothesis_file, reference_file


def asr_error_rates(expdir: Path, split: str) -> dict[str, float]:
    """WER / CER (%) of an s3prl asr experiment's ``split`` evaluation."""
    hypothesis_file, reference_file = decoded_files(expdir, split)
    return error_rates(read_ark(hypothesis_file), read_ark(reference_file))
