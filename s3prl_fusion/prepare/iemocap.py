"""IEMOCAP meta data for s3prl's ``emotion`` task: one train / test split per session (5 folds).

Writes ``<out>/Session{n}/train_meta_data.json`` (the other sessions) and
``test_meta_data.json`` (session n) as s3prl's ``IEMOCAP_preprocess.py`` does: utterances
labelled neu, hap, exc (merged into hap), ang or sad in ``dialog/EmoEvaluation/*.txt`` that have
a ``sentences/wav/<dialog>/<utterance>.wav``; paths relative to the IEMOCAP_full_release folder.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from s3prl_fusion.errors import MissingPathError

LABELS = {"neu": 0, "hap": 1, "ang": 2, "sad": 3}
MERGED_LABELS = {"exc": "hap"}
LABEL_DIR = Path("dialog") / "EmoEvaluation"
WAV_DIR = Path("sentences") / "wav"


def session_utterances(iemocap_root: Path, session: str) -> list[dict]:
    """[{"path", "label", "speaker"}] for the session's usable utterances, sorted by path."""
    utterances = []
    for label_file in sorted((iemocap_root / session / LABEL_DIR).glob("*.txt")):
        for line in label_file.read_text(errors="replace").splitlines():
            if not line.startswith("["):
                continue
            _, name, label, *_ = [field for field in line.split("\t") if field]
            label = MERGED_LABELS.get(label, label)
            wav = Path(session) / WAV_DIR / label_file.stem / f"{name}.wav"
            if label in LABELS and (iemocap_root / wav).is_file():
                utterances.append({"path": wav.as_posix(), "label": label, "speaker": name.split("_")[0]})
    return sorted(utterances, key=lambda utterance: utterance["path"])


def write_meta_data(iemocap_root: Path, out_dir: Path) -> list[Path]:
    """Write every session's train / test meta data; returns the files written."""
    iemocap_root, out_dir = Path(iemocap_root), Path(out_dir)
    sessions = sorted(path.name for path in iemocap_root.glob("Session*") if (path / LABEL_DIR).is_dir())
    if not sessions:
        raise MissingPathError(
            f"no Session*/{LABEL_DIR.as_posix()} folder under {iemocap_root}: pass the IEMOCAP_full_release folder as --root"
        )
    utterances = {session: session_utterances(iemocap_root, session) for session in sessions}
    written = []
    for session in sessions:
        splits = {
            "train_meta_data.json": [utterance for other in sessions if other != session for utterance in utterances[other]],
            "test_meta_data.json": utterances[session],
        }
        (out_dir / session).mkdir(parents=True, exist_ok=True)
        for file_name, meta_data in splits.items():
            target = out_dir / session / file_name
            target.write_text(json.dumps({"labels": LABELS, "meta_data": meta_data}))
            written.append(target)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", required=True, help="the IEMOCAP_full_release folder holding Session1/ ... Session5/")
    parser.add_argument("--out", required=True, help="output folder: give it as datarc.meta_data")


def run(args: argparse.Namespace) -> None:
    for path in write_meta_data(Path(args.root), Path(args.out)):
        print(path)
