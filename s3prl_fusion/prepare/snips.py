"""Audio SNIPS for SUPERB slot filling (s3prl `ctc`, snips.yaml): check the audio and text files, write slots.txt where it is missing.

SUPERB's preparation gives a ``SNIPS`` folder with ``{train,valid,test}/*.wav``, ``all-trans.txt``,
``all.iob.snips.txt`` (``<uid> BOS TEXT EOS<TAB>O TAGS INTENT``) and ``slots.txt`` (``O``, then
one slot name a line, most frequent first, no trailing newline: s3prl's slot encoder skips the first
line and would take an empty last line for a slot). Its preprocessed copy is a download; making it
from the official release needs s3prl's ``preprocess/snips_prepare_data.sh`` (sox with mp3 support).
This command checks the folder, and writes ``slots.txt`` from ``all.iob.snips.txt`` when it is absent
(a present one is checked to list every tag, without a trailing newline).
"""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from s3prl_fusion.errors import SettingError
from s3prl_fusion.prepare.layout import require

SPLITS = ("train", "valid", "test")
TEXT_FILES = ("all-trans.txt", "all.iob.snips.txt")
SLOTS_FILE = "slots.txt"
OUTSIDE = "O"


def download_commands(root: Path) -> list[str]:
    return [f"download the preprocessed Audio SNIPS from https://drive.google.com/file/d/1oBRZd-PaCKz5iY3eZkXs5OB_ZZ4w7bbG/view and unzip it so that {root} is its SNIPS folder",
            "or make it from the official release (https://github.com/aws-samples/aws-lex-noisy-spoken-language-understanding): "
            "apt-get install libsox-fmt-mp3 && git clone https://github.com/s3prl/s3prl && "
            f"bash s3prl/s3prl/preprocess/snips_prepare_data.sh {root.parent}"]


def tag_counts(iob_file: Path) -> Counter:
    """How often each slot tag occurs in ``all.iob.snips.txt`` (the BOS / EOS positions left out)."""
    counts = Counter()
    for number, line in enumerate(iob_file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise SettingError(f"{iob_file}:{number}: expected '<uid> BOS TEXT EOS<TAB>O TAGS INTENT', found no tab")
        counts.update(line.split("\t", 1)[1].split()[1:-1])
    return counts


def slots_text(counts: Counter) -> str:
    """slots.txt as SUPERB's preprocessing writes it: ``O`` first, then by count (ties by name), no trailing newline."""
    names = sorted((name for name in counts if name != OUTSIDE), key=lambda name: (-counts[name], name))
    return "\n".join([OUTSIDE, *names])


def check_snips(root: Path) -> tuple[dict[str, int], bool]:
    """({split: wav files}, whether slots.txt was written)."""
    require(root, "the SNIPS folder", download_commands(root))
    for split in SPLITS:
        require(root / split, f"SNIPS {split} audio", download_commands(root))
    for name in TEXT_FILES:
        require(root / name, f"SNIPS {name}", download_commands(root))
    counts = tag_counts(root / "all.iob.snips.txt")
    slots = root / SLOTS_FILE
    written = not slots.exists()
    if written:
        slots.write_text(slots_text(counts))
    listed = slots.read_text()
    if listed.endswith("\n"):
        raise SettingError(f"{slots} ends with a newline: s3prl's slot encoder would read the empty last line as a slot; remove it")
    unlisted = sorted(set(counts) - set(listed.split("\n")))
    if unlisted or listed.split("\n")[0] != OUTSIDE:
        raise SettingError(f"{slots} must start with '{OUTSIDE}' and list every tag of all.iob.snips.txt (missing: {', '.join(unlisted) or 'none'}): "
                           "delete it and run this command again to write it")
    return {split: len(list((root / split).glob("*.wav"))) for split in SPLITS}, written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", required=True, help="the SNIPS folder (corpus.path)")


def run(args: argparse.Namespace) -> None:
    root = Path(args.root)
    counts, written = check_snips(root)
    if written:
        print(f"wrote {root / SLOTS_FILE}")
    print(f"SNIPS ready: {', '.join(f'{count} {split}' for split, count in counts.items())} wav files")
    print(f"  -o \"config.downstream_expert.corpus.path='{root}',,config.downstream_expert.text.slots_file='{root / SLOTS_FILE}'\"")
