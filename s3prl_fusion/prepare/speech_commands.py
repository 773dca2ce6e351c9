"""Speech Commands v0.01 for SUPERB keyword spotting (s3prl `speech_commands`): check the training and test folders.

SUPERB's preparation is downloading and unpacking two archives; nothing is written. The 12 classes
are the 10 keywords, ``_unknown_`` (every other word folder of the training archive) and
``_silence_``: for training, s3prl cuts a random 1 s window of a ``_background_noise_`` file anew on
every pass; the separate test archive is already labelled, ``_silence_`` and ``_unknown_`` included.
s3prl splits the training archive into training and validation by a hash of each speaker, not by
its ``validation_list.txt``. This command checks all of that is in place and counts the clips.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from s3prl_fusion.errors import MissingPathError
from s3prl_fusion.prepare.layout import require

TRAIN_FOLDER, TEST_FOLDER = "speech_commands_v0.01", "speech_commands_test_set_v0.01"
KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
TEST_CLASSES = (*KEYWORDS, "_unknown_", "_silence_")
NOISE_FOLDER = "_background_noise_"


def download_commands(root: Path, folder: str) -> list[str]:
    return [f"wget http://download.tensorflow.org/data/{folder}.tar.gz",
            f"mkdir -p {root / folder} && tar zxf {folder}.tar.gz -C {root / folder}"]


def check_speech_commands(root: Path) -> dict[str, int]:
    """``root`` holds ``speech_commands_v0.01/`` and ``speech_commands_test_set_v0.01/``; returns the
    clip counts {training words, background noise files, test clips}."""
    train = require(root / TRAIN_FOLDER, "the Speech Commands v0.01 training folder", download_commands(root, TRAIN_FOLDER))
    test = require(root / TEST_FOLDER, "the Speech Commands v0.01 test set", download_commands(root, TEST_FOLDER))
    noise = sorted((train / NOISE_FOLDER).glob("*.wav"))
    if not noise:
        raise MissingPathError(f"no {NOISE_FOLDER}/*.wav under {train}: the _silence_ class is cut from them; unpack the whole "
                               f"{TRAIN_FOLDER}.tar.gz there")
    missing = [word for word in KEYWORDS if not any((train / word).glob("*.wav"))]
    missing_test = [label for label in TEST_CLASSES if not any((test / label).glob("*.wav"))]
    if missing or missing_test:
        raise MissingPathError(f"keyword spotting needs every keyword's clips: none for {', '.join(missing)} under {train}" if missing else
                               f"the test set {test} has no clip of class(es) {', '.join(missing_test)}: unpack {TEST_FOLDER}.tar.gz there")
    words = [folder for folder in train.iterdir() if folder.is_dir() and folder.name != NOISE_FOLDER]
    return {"training clips": sum(len(list(folder.glob("*.wav"))) for folder in words),
            "background noise files": len(noise), "test clips": len(list(test.glob("*/*.wav")))}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", required=True, help=f"the folder holding {TRAIN_FOLDER}/ and {TEST_FOLDER}/")


def run(args: argparse.Namespace) -> None:
    root = Path(args.root)
    counts = check_speech_commands(root)
    print(f"Speech Commands ready: {', '.join(f'{count} {what}' for what, count in counts.items())}")
    print(f"  -o \"config.downstream_expert.datarc.speech_commands_root='{root / TRAIN_FOLDER}',,"
          f"config.downstream_expert.datarc.speech_commands_test_root='{root / TEST_FOLDER}'\"")
