"""LibriSpeech phone transcripts for s3prl's ``ctc`` task (``corpus.name: libriphone``): each word
of a ``<speaker>-<chapter>.trans.txt`` line replaced by its pronunciation in the lexicon files."""
from __future__ import annotations

from pathlib import Path

from s3prl_fusion.downstreams.ctc_corpora.buckets import LengthSortedTranscripts
from s3prl_fusion.errors import MissingPathError, SettingError


def read_lexicon(paths: list[str], phones: set[str]) -> dict[str, list[str]]:
    """{word: phones} from ``WORD PH1 PH2 ...`` lines; a word listed more than once keeps its first
    pronunciation (the first file first), as s3prl's reader does. Every phone must be in ``phones``."""
    lexicon: dict[str, list[str]] = {}
    for path in paths:
        if not Path(path).is_file():
            raise MissingPathError(f"lexicon {path} not found: set config.downstream_expert.corpus.lexicon to the lexicon file(s)")
        for number, line in enumerate(Path(path).read_text().splitlines(), 1):
            word, *pronunciation = line.split()
            unknown = [phone for phone in pronunciation if phone not in phones]
            if unknown:
                raise SettingError(f"{path}:{number}: phone(s) {' '.join(unknown)} of {word} are not in config.downstream_expert.text.vocab_file")
            lexicon.setdefault(word, pronunciation)
    return lexicon


def chapter_transcripts(chapter: Path) -> dict[str, str]:
    """{utterance id: upper-case text} of a LibriSpeech chapter folder's ``trans.txt``."""
    transcripts = {}
    for path in chapter.glob("*.trans.txt"):
        for line in path.read_text().splitlines():
            utterance, _, text = line.partition(" ")
            transcripts[utterance] = text
    return transcripts


def phone_sequence(text: str, lexicon: dict[str, list[str]], utterance: str) -> str:
    missing = [word for word in text.split() if word not in lexicon]
    if missing:
        raise SettingError(f"{utterance}: word(s) {' '.join(missing)} are not in config.downstream_expert.corpus.lexicon")
    return " ".join(phone for word in text.split() for phone in lexicon[word])


class LibriPhoneDataset(LengthSortedTranscripts):
    """Every ``*.flac`` under ``path/<split>`` for each split name in ``split``, with its phone ids.

    Args:
        split: LibriSpeech folder names, e.g. ``["train-clean-100"]``.
        tokenizer: s3prl's ``WordTextEncoder`` over the phone vocabulary.
        bucket_size: pairs per item (1: single pairs).
        path: the LibriSpeech folder.
        lexicon: lexicon file paths, ``WORD PH1 PH2 ...`` a line.
    """

    def __init__(self, split: list[str], tokenizer, bucket_size: int, path: str, lexicon: list[str], ascending: bool = False, **kwargs):
        words = read_lexicon(lexicon, set(tokenizer._vocab2idx))
        files, tokens = [], []
        for name in split:
            audio = sorted(Path(path, name).rglob("*.flac"))
            if not audio:
                raise MissingPathError(f"no .flac file under {Path(path, name)}: set config.downstream_expert.corpus.path to the LibriSpeech folder")
            transcripts = {}
            for chapter in sorted({file.parent for file in audio}):
                transcripts.update(chapter_transcripts(chapter))
            for file in audio:
                if file.stem not in transcripts:
                    raise MissingPathError(f"{file} has no line in its chapter's trans.txt")
                files.append(file)
                tokens.append(tokenizer.encode(phone_sequence(transcripts[file.stem], words, file.stem)))
        super().__init__(files, tokens, bucket_size, ascending)
