"""LibriSpeech phone transcripts for SUPERB phone recognition (s3prl `ctc`, libriphone.yaml): check the splits and the lexicon's coverage.

SUPERB's preparation is downloading LibriSpeech (train-clean-100, dev-clean, test-clean) and s3prl's
g2p lexicons (``downstream/ctc/lexicon/librispeech-lexicon-{200k,allothers}-g2p.txt``, not in its
wheel); the phone transcripts are made as the data is read, each word replaced by its first
pronunciation. A word no lexicon lists would stop training at the batch that holds it, so this
command reads every transcript of the splits through the lexicons first (as s3prl's
``preprocess/get_libri_words_not_in_lexicon.py`` does) and checks every phone is in the shipped
phone list (``downstream_configs/ctc/phoneme.txt``).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from s3prl_fusion.downstreams.ctc_corpora.libriphone import chapter_transcripts, read_lexicon
from s3prl_fusion.errors import SettingError
from s3prl_fusion.experiments.task_configs import config_root
from s3prl_fusion.prepare.layout import require

SPLITS = ("train-clean-100", "dev-clean", "test-clean")
LEXICONS = ("librispeech-lexicon-200k-g2p.txt", "librispeech-lexicon-allothers-g2p.txt")
# s3prl's repository at its 0.4.18 release
LEXICON_URL = "https://raw.githubusercontent.com/s3prl/s3prl/ec8064b5889f81ca460fbe2c094ce576a6f120b7/s3prl/downstream/ctc/lexicon"


def default_lexicons(root: Path) -> list[Path]:
    """Where ``prepare libriphone`` and ``recipes/pr.sh`` look for s3prl's lexicons: ``<root>/lexicon/``."""
    return [root / "lexicon" / name for name in LEXICONS]


def check_phone_transcripts(root: Path, lexicons: list[Path], splits=SPLITS) -> dict[str, int]:
    """Every word of the splits' transcripts in ``lexicons``; returns {split: utterances}."""
    for split in splits:
        require(root / split, f"LibriSpeech {split}", [f"wget https://www.openslr.org/resources/12/{split}.tar.gz",
                                                        f"tar zxf {split}.tar.gz --strip-components 1 -C {root}"])
    for lexicon in lexicons:
        require(lexicon, "s3prl's phone lexicon", [f"mkdir -p {lexicon.parent} && wget {LEXICON_URL}/{lexicon.name} -O {lexicon}"
                                                   if lexicon.name in LEXICONS else "pass the lexicon files with --lexicon"])
    phones = set((config_root() / "ctc" / "phoneme.txt").read_text().split())
    words = read_lexicon([str(path) for path in lexicons], phones)
    counts, unknown = {}, set()
    for split in splits:
        transcripts = {}
        for chapter in sorted({path.parent for path in (root / split).rglob("*.trans.txt")}):
            transcripts.update(chapter_transcripts(chapter))
        counts[split] = len(transcripts)
        unknown |= {word for text in transcripts.values() for word in text.split() if word not in words}
    if unknown:
        shown = " ".join(sorted(unknown)[:10])
        raise SettingError(f"{len(unknown)} word(s) of the transcripts are in no lexicon ({shown}{' ...' if len(unknown) > 10 else ''}): "
                           f"add a lexicon that lists them (s3prl's {LEXICONS[1]} covers LibriSpeech's words beyond the 200k one)")
    return counts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", required=True, help="the LibriSpeech folder (corpus.path)")
    parser.add_argument("--lexicon", action="append", help=f"a lexicon file, repeatable (corpus.lexicon; default: ROOT/lexicon/{{{','.join(LEXICONS)}}})")
    parser.add_argument("--splits", nargs="+", default=list(SPLITS))


def run(args: argparse.Namespace) -> None:
    root = Path(args.root)
    lexicons = [Path(path) for path in args.lexicon] if args.lexicon else default_lexicons(root)
    counts = check_phone_transcripts(root, lexicons, args.splits)
    print(f"LibriSpeech phone transcripts ready: {', '.join(f'{count} {split}' for split, count in counts.items())} utterances")
    listed = ",".join(f"'{path}'" for path in lexicons)
    print(f"  -o \"config.downstream_expert.corpus.path='{root}',,config.downstream_expert.corpus.lexicon=[{listed}]\"")
