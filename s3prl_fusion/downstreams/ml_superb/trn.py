"""Token transcripts in the ``trn`` form ESPnet scores with sclite (``score_cer/hyp.trn``,
``ref.trn``): one utterance a line, its tokens separated by single spaces, a tab, then
``(<speaker>-<utterance id>)``; ML-SUPERB names no speakers, so the utterance's language
stands in the speaker's place (ESPnet's ML-SUPERB 2.0 recipe likewise makes the language each
utterance's speaker); language codes hold no ``-``. A token never holds a space (characters
write a space as ``<space>``; words are whitespace-split), so the tokens read back are exactly
the ones scored. Lines are split on ``\\n`` only: a character token may be any other line break.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence


@dataclass(frozen=True)
class TrnEntry:
    utt_id: str
    language: str
    tokens: tuple[str, ...]


def trn_line(tokens: Sequence[str], language: str, utt_id: str) -> str:
    return f"{' '.join(tokens)}\t({language}-{utt_id})\n"


def write_trn(path: Path, entries: Iterable[TrnEntry]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as trn:
        trn.writelines(trn_line(entry.tokens, entry.language, entry.utt_id) for entry in entries)


def read_trn(path: Path) -> list[TrnEntry]:
    entries = []
    for line in Path(path).read_bytes().decode("utf-8").split("\n"):
        if not line:
            continue
        tokens, _, name = line.rpartition("\t(")
        language, _, utt_id = name.removesuffix(")").partition("-")
        entries.append(TrnEntry(utt_id, language, tuple(tokens.split(" ")) if tokens else ()))
    return entries
