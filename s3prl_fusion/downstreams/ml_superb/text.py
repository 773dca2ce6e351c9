"""Transcript normalisation, tokenisation and the CTC vocabulary of the ML-SUPERB task.

Normalisation follows ESPnet's egs2/ml_superb/asr1 local scripts:

* every character of Python's ``string.punctuation`` (the 32 ASCII characters
  ``!"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~``) is deleted; non-ASCII punctuation such as
  ``。``, ``、``, ``¿`` or ``«`` is kept, as in ESPnet;
* the text is upper-cased with ``str.upper`` (Unicode aware: ``ß`` becomes ``SS``);
* Multi-1h only (local/data_prep.py) first deletes ``[...]`` spans with the regular
  expression ``\\[[^()]*\\]``. The expression is greedy: with two spans on one line
  it deletes from the first ``[`` to the last ``]`` unless a parenthesis lies between;
* surrounding whitespace is stripped (ESPnet's text reader drops it).

Tokens are characters (a space becomes the token ``<space>``, as ESPnet's char
tokenizer writes it) or whitespace-separated words (Mono-1h jpn and cmn).
"""
from __future__ import annotations

import json
import re
import string
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

BLANK = "<blank>"
UNKNOWN = "<unk>"
SPACE = "<space>"

UNITS = ("char", "word")

_BRACKET_SPAN = re.compile(r"\[[^()]*\]")
_ASCII_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_transcript(text: str, remove_bracket_spans: bool) -> str:
    """Normalise one transcript as ESPnet's ML-SUPERB data preparation does."""
    if remove_bracket_spans:
        text = _BRACKET_SPAN.sub("", text)
    return text.translate(_ASCII_PUNCTUATION).upper().strip()


class Tokenizer:
    """Splits normalised text into ``char`` or ``word`` tokens and joins them back."""

    def __init__(self, unit: str):
        if unit not in UNITS:
            raise ValueError(f"token unit must be one of {UNITS}, got {unit!r}")
        self.unit = unit

    def tokens(self, text: str) -> list[str]:
        if self.unit == "word":
            return text.split()
        return [SPACE if character == " " else character for character in text]

    def text(self, tokens: Sequence[str]) -> str:
        if self.unit == "word":
            return " ".join(tokens)
        return "".join(" " if token == SPACE else token for token in tokens)


class Vocabulary:
    """CTC output units: ``<blank>`` (id 0), ``<unk>`` (id 1), then the training tokens.

    Training tokens are ordered by descending count, ties by the token itself, as
    ESPnet's token list is ordered by frequency.
    """

    FILE_NAME = "ml_superb_vocabulary.json"
    blank_id = 0
    unknown_id = 1

    def __init__(self, unit: str, tokens: Sequence[str]):
        if list(tokens[:2]) != [BLANK, UNKNOWN]:
            raise ValueError(f"a vocabulary starts with {BLANK} and {UNKNOWN}, got {list(tokens[:2])}")
        self.unit = unit
        self.tokens = list(tokens)
        self._ids = {token: index for index, token in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def build(cls, unit: str, token_lists: Iterable[Sequence[str]]) -> "Vocabulary":
        counts = Counter(token for tokens in token_lists for token in tokens)
        ordered = sorted(counts, key=lambda token: (-counts[token], token))
        return cls(unit, [BLANK, UNKNOWN] + ordered)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self._ids.get(token, self.unknown_id) for token in tokens]

    def decode(self, ids: Sequence[int]) -> list[str]:
        return [self.tokens[index] for index in ids]

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / self.FILE_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"unit": self.unit, "tokens": self.tokens}, ensure_ascii=False, indent=0), "utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Vocabulary":
        content = json.loads(Path(path).read_text("utf-8"))
        return cls(content["unit"], content["tokens"])
