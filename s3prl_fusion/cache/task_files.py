"""The audio files a cached task reads, every split it trains and is evaluated on, as a
``cache build --wav-list`` file.

    python -m s3prl_fusion.cache.task_files emotion --root IEMOCAP_full_release --meta-data META_DATA --out emotion.txt
    python -m s3prl_fusion.cache.task_files ml_superb --root ML_SUPERB_ROOT --mode mono --language eng1 --out eng1.txt
    python -m s3prl_fusion.cache.task_files ml_superb --root ML_SUPERB_ROOT --mode multi --out multi.txt
    python -m s3prl_fusion.cache.task_files fluent_commands --root fluent_speech_commands_dataset --out ic.txt

emotion: every utterance of the meta data ``s3prl-fusion prepare iemocap`` wrote, all sessions:
each fold trains on four sessions and tests on the fifth, so the five folds read the same files.
ml_superb: the train, dev and test utterances of the mode (and Mono-1h languages) as the plugin's
expert selects them (``downstreams.ml_superb.corpus``).
fluent_commands: every file of ``data/{train,valid,test}_data.csv`` (IC). asr, and ``ctc``'s phone
recognition and slot filling, need no list: ``cache build`` reads asr's length tables (``--data <split>.csv
--root LibriSpeech``) and the ctc corpora's split folders (``--data <folder>``).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from s3prl_fusion.downstreams.ml_superb.corpus import MODES, SPLITS, TRAIN_SETS, MlSuperbCorpus
from s3prl_fusion.errors import MissingPathError, SettingError, report_user_errors
from s3prl_fusion.prepare.fluent_commands import check_fluent_commands, listed_files

META_DATA_FILES = ("train_meta_data.json", "test_meta_data.json")


def emotion_files(root: Path, meta_data: Path) -> list[Path]:
    """Every utterance of the IEMOCAP meta data folder (``Session<n>/{train,test}_meta_data.json``,
    paths relative to ``root``), sorted, once each."""
    tables = sorted(path for name in META_DATA_FILES for path in Path(meta_data).glob(f"Session*/{name}"))
    if not tables:
        raise MissingPathError(f"no Session*/{{{','.join(META_DATA_FILES)}}} under {meta_data}: write them with `s3prl-fusion prepare iemocap`")
    paths = {Path(root) / item["path"] for table in tables for item in json.loads(table.read_text())["meta_data"]}
    return sorted(paths)


def ml_superb_files(root: Path, mode: str, languages: list[str], train_set: str = "1h") -> list[Path]:
    """The wav files of every split of ``mode`` (for mono: of each of ``languages``), sorted, once each."""
    if mode == "mono" and not languages:
        raise SettingError("--mode mono needs --language: the Mono-1h language(s) to list")
    selections = languages if mode == "mono" else [None]
    corpora = [MlSuperbCorpus(root, mode, language, train_set) for language in selections]
    return sorted({utterance.wav_path for corpus in corpora for split in SPLITS for utterance in corpus.utterances(split)})


def fluent_commands_files(root: Path) -> list[Path]:
    """Every file of the data set's three csv lists (checked first: ``prepare fluent-commands``), sorted, once each."""
    check_fluent_commands(root)
    return sorted(set(listed_files(root)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    tasks = parser.add_subparsers(dest="task", required=True)
    emotion = tasks.add_parser("emotion", help="IEMOCAP utterances of the meta data (all five folds)")
    emotion.add_argument("--root", required=True, help="the IEMOCAP_full_release folder (datarc.root)")
    emotion.add_argument("--meta-data", required=True, help="the folder `s3prl-fusion prepare iemocap` wrote (datarc.meta_data)")
    ml_superb = tasks.add_parser("ml_superb", help="ML-SUPERB utterances of a mode (and Mono-1h languages)")
    ml_superb.add_argument("--root", required=True, help="the folder holding {dataset}/{lang}/ (datarc.root)")
    ml_superb.add_argument("--mode", required=True, choices=MODES, help="datarc.mode")
    ml_superb.add_argument("--language", action="append", default=[], help="mono: a Mono-1h language, datarc.language (repeatable)")
    ml_superb.add_argument("--train-set", choices=TRAIN_SETS, default="1h", help="datarc.train_set (default 1h)")
    fluent_commands = tasks.add_parser("fluent_commands", help="Fluent Speech Commands files of the train, valid and test lists (IC)")
    fluent_commands.add_argument("--root", required=True, help="the fluent_speech_commands_dataset folder (datarc.file_path)")
    for task in (emotion, ml_superb, fluent_commands):
        task.add_argument("--out", required=True, help="the list to write, one audio path per line")


def run(args: argparse.Namespace) -> None:
    if args.task == "emotion":
        files = emotion_files(Path(args.root), Path(args.meta_data))
    elif args.task == "fluent_commands":
        files = fluent_commands_files(Path(args.root))
    else:
        files = ml_superb_files(Path(args.root), args.mode, args.language, args.train_set)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(f"{path.resolve()}\n" for path in files))
    print(f"{len(files)} audio files of -d {args.task} -> {out}")


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m s3prl_fusion.cache.task_files", description=__doc__.splitlines()[0])
    add_arguments(parser)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
