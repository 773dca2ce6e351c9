"""Fluent Speech Commands for SUPERB intent classification (s3prl `fluent_commands`): check the csv files and their audio.

SUPERB's preparation is downloading and unpacking the data set; nothing is written. s3prl reads
``data/{train,valid,test}_data.csv`` (columns ``path``, ``action``, ``object``, ``location``; paths
relative to the data set folder) and builds its label tables from ``train_data.csv`` alone, so a
label of valid or test that training lacks would stop its run: this command checks all of that.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from s3prl_fusion.errors import SettingError
from s3prl_fusion.prepare.layout import listed_missing, require

SPLITS = ("train", "valid", "test")
SLOTS = ("action", "object", "location")
DOWNLOAD = ["wget -O fluent.tar.gz 'https://huggingface.co/datasets/leo19941227/fluent_speech_commands/resolve/main/fluent.tar.gz?download=true'",
            "tar zxf fluent.tar.gz   # unpacks fluent_speech_commands_dataset/ (official site: https://fluent.ai/fluent-speech-commands-a-dataset-for-spoken-language-understanding-research/)"]


def read_lists(root: Path) -> dict[str, pd.DataFrame]:
    """{split: its csv list} of the data set folder ``root``."""
    return {split: pd.read_csv(require(root / "data" / f"{split}_data.csv", f"its {split} list", DOWNLOAD)) for split in SPLITS}


def listed_files(root: Path) -> list[Path]:
    """The audio files of the three lists, in list order (repeats kept)."""
    return [root / path for table in read_lists(root).values() for path in table["path"]]


def check_fluent_commands(root: Path) -> dict[str, int]:
    """``root`` is the ``fluent_speech_commands_dataset`` folder; returns {split: utterances}."""
    require(root, "the fluent_speech_commands_dataset folder", DOWNLOAD)
    tables = read_lists(root)
    for split, table in tables.items():
        absent = [column for column in ("path", *SLOTS) if column not in table.columns]
        if absent:
            raise SettingError(f"{root / 'data' / f'{split}_data.csv'} has no column(s) {', '.join(absent)}: it is not the data set's csv")
        listed_missing([path for path in table["path"] if not (root / path).is_file()], f"data/{split}_data.csv", root)
    for split in SPLITS[1:]:
        for slot in SLOTS:
            unseen = sorted(set(tables[split][slot].astype(str)) - set(tables["train"][slot].astype(str)))
            if unseen:
                raise SettingError(f"data/{split}_data.csv has {slot} label(s) {', '.join(unseen)} that train_data.csv lacks; "
                                   "s3prl's labels come from train_data.csv alone")
    return {split: len(table) for split, table in tables.items()}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", required=True, help="the fluent_speech_commands_dataset folder (datarc.file_path)")


def run(args: argparse.Namespace) -> None:
    counts = check_fluent_commands(Path(args.root))
    print(f"Fluent Speech Commands ready: {', '.join(f'{count} {split}' for split, count in counts.items())} utterances")
    print(f"  -o \"config.downstream_expert.datarc.file_path='{Path(args.root)}'\"")
