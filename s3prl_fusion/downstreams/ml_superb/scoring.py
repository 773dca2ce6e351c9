"""Error rates (CER / WER) per language, per source and overall, as sclite pools them.

An error rate is ``100 * (substitutions + deletions + insertions) / reference tokens``,
pooled over the utterances of a group (sclite's ``Sum/Avg`` row, which ESPnet's
ML-SUPERB scoring reads). For CER the tokens are characters with the space as a token
(``<space>``), as ESPnet scores ``score_cer``; for WER they are words.
Multi-mode results also split languages into ``trained`` and ``reserved`` (few-shot), as
ESPnet's local/split_results.py does for its ``normal`` score type.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import editdistance


def edit_errors(hypothesis: Sequence[str], reference: Sequence[str]) -> int:
    """Substitutions + deletions + insertions turning ``hypothesis`` into ``reference`` (tokens)."""
    return editdistance.eval(list(hypothesis), list(reference))


@dataclass
class ErrorTally:
    """Edit errors and reference length summed over utterances."""

    errors: int = 0
    reference_tokens: int = 0
    utterances: int = 0

    def add(self, hypothesis: Sequence[str], reference: Sequence[str]) -> None:
        self.errors += edit_errors(hypothesis, reference)
        self.reference_tokens += len(reference)
        self.utterances += 1

    @property
    def error_rate(self) -> float:
        """Percent; 0 errors over an empty reference is 0, any error over it is 100 per error."""
        return 100.0 * self.errors / max(self.reference_tokens, 1)

    def as_dict(self) -> dict:
        return {
            "error_rate": self.error_rate,
            "errors": self.errors,
            "reference_tokens": self.reference_tokens,
            "utterances": self.utterances,
        }


@dataclass(frozen=True)
class ScoredUtterance:
    hypothesis: Sequence[str]
    reference: Sequence[str]
    language: str
    source: str


def tally_by(utterances: Iterable[ScoredUtterance], key: Callable[[ScoredUtterance], str]) -> dict[str, ErrorTally]:
    tallies: dict[str, ErrorTally] = {}
    for utterance in utterances:
        tallies.setdefault(key(utterance), ErrorTally()).add(utterance.hypothesis, utterance.reference)
    return dict(sorted(tallies.items()))


def score(utterances: Sequence[ScoredUtterance], group_of_language: Callable[[str], str] | None = None) -> dict:
    """Overall, per-language, per-source (``dataset/lang``) and optional per-group tallies."""
    overall = ErrorTally()
    for utterance in utterances:
        overall.add(utterance.hypothesis, utterance.reference)
    results = {
        "overall": overall.as_dict(),
        "per_language": {name: tally.as_dict() for name, tally in tally_by(utterances, lambda u: u.language).items()},
        "per_source": {
            name: tally.as_dict() for name, tally in tally_by(utterances, lambda u: f"{u.source}/{u.language}").items()
        },
    }
    if group_of_language is not None:
        results["per_group"] = {
            name: tally.as_dict() for name, tally in tally_by(utterances, lambda u: group_of_language(u.language)).items()
        }
    return results
