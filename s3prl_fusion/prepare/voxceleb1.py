"""VoxCeleb1 for SUPERB speaker identification (s3prl `voxceleb1`): check the audio and the identification split file.

SUPERB's preparation is downloading and unpacking ``dev/wav`` and ``test/wav`` and VoxCeleb1's
identification split (``iden_split.txt``: ``<set> <speaker>/<video>/<n>.wav`` a line, set 1 train,
2 dev, 3 test; s3prl's own copy, ``voxceleb1/veri_test_class.txt``, is not in its wheel). s3prl
looks each listed file up under ``<root>/*/wav/``. This command checks every listed file is there.
"""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from s3prl_fusion.errors import SettingError
from s3prl_fusion.prepare.layout import listed_missing, require

SPLIT_URL = "https://www.robots.ox.ac.uk/~vgg/data/voxceleb/meta/iden_split.txt"
SETS = {"1": "train", "2": "dev", "3": "test"}
HF_AUDIO = "https://huggingface.co/datasets/ProgramComputer/voxceleb/resolve/main/vox1"


def audio_commands(root: Path) -> list[str]:
    parts = " ".join(f"'{HF_AUDIO}/vox1_dev_wav_parta{part}?download=true'" for part in "abcd")
    return [f"mkdir -p {root}/dev {root}/test",
            f"cd {root}/dev && for part in {parts}; do wget \"$part\"; done && cat vox1_dev* > vox1_dev_wav.zip && unzip vox1_dev_wav.zip",
            f"cd {root}/test && wget '{HF_AUDIO}/vox1_test_wav.zip?download=true' -O vox1_test_wav.zip && unzip vox1_test_wav.zip",
            "(official site: https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox1.html)"]


def check_identification_split(root: Path, split_file: Path) -> dict[str, int]:
    """Every file of ``split_file`` under ``root/*/wav/``; returns {train|dev|test: files}."""
    for folder in ("dev", "test"):
        require(root / folder / "wav", f"VoxCeleb1 {folder} audio", audio_commands(root))
    require(split_file, "VoxCeleb1's identification split", [f"wget {SPLIT_URL} -O {split_file}"])
    present = {str(path.relative_to(folder)) for folder in root.glob("*/wav") for path in folder.rglob("*.wav")}
    counts, missing = Counter(), []
    for number, line in enumerate(split_file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or fields[0] not in SETS:
            raise SettingError(f"{split_file}:{number}: expected '<1|2|3> <speaker>/<video>/<n>.wav', found {line!r}")
        counts[SETS[fields[0]]] += 1
        if fields[1] not in present:
            missing.append(fields[1])
    listed_missing(missing, str(split_file), root / "*" / "wav")
    return {name: counts[name] for name in SETS.values()}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", required=True, help="the VoxCeleb1 folder holding dev/wav/ and test/wav/ (datarc.file_path)")
    parser.add_argument("--split", help="the identification split (datarc.meta_data; default: ROOT/iden_split.txt)")


def run(args: argparse.Namespace) -> None:
    root = Path(args.root)
    split_file = Path(args.split) if args.split else root / "iden_split.txt"
    counts = check_identification_split(root, split_file)
    print(f"VoxCeleb1 identification split ready: {', '.join(f'{count} {name}' for name, count in counts.items())} files")
    print(f"  -o \"config.downstream_expert.datarc.file_path='{root}',,config.downstream_expert.datarc.meta_data='{split_file}'\"")
