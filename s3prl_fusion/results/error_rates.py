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


def utterance_errors(hypotheses: dict[str, str], references: dict[str, str]) -> dict[str, list[int]]:
    """Per utterance of ``references`` (in their order): word and character edit distances and reference lengths,
    ``{"word_errors", "words", "char_errors", "chars"}`` (a missing hypothesis counts as empty; characters without spaces)."""
    counts = {name: [] for name in COUNT_COLUMNS}
    for utterance, reference in references.items():
        hypothesis = hypotheses.get(utterance, "")
        counts["word_errors"].append(editdistance.eval(hypothesis.split(), reference.split()))
        counts["words"].append(len(reference.split()))
        counts["char_errors"].append(editdistance.eval(list(hypothesis.replace(" ", "")), list(reference.replace(" ", ""))))
        counts["chars"].append(len(reference.replace(" ", "")))
    return counts


def error_rates(hypotheses: dict[str, str], references: dict[str, str]) -> dict[str, float]:
    """{"wer": %, "cer": %} over the utterances of ``references`` (a missing hypothesis counts as empty)."""
    counts = {name: sum(values) for name, values in utterance_errors(hypotheses, references).items()}
    return {"wer": 100.0 * counts["word_errors"] / max(counts["words"], 1), "cer": 100.0 * counts["char_errors"] / max(counts["chars"], 1)}


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
