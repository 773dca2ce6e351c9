"""LibriSpeech length tables for s3prl's ``asr`` bucketing (its ``bucket_file`` folder).

Writes ``<split>.csv`` per split with s3prl's columns ``,file_path,length,label``: paths
relative to the LibriSpeech root, lengths in samples, longest first.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import soundfile
from tqdm import tqdm

from s3prl_fusion.errors import MissingPathError

DEFAULT_SPLITS = ("train-clean-100", "dev-clean", "dev-other", "test-clean", "test-other")


def write_length_tables(libri_root: Path, out_dir: Path, splits=DEFAULT_SPLITS, extension: str = ".flac") -> list[Path]:
    """Scan each split folder present under ``libri_root``; returns the csv files written."""
    libri_root, out_dir = Path(libri_root), Path(out_dir)
    if not libri_root.is_dir():
        raise MissingPathError(f"LibriSpeech root {libri_root} does not exist (--root)")
    found = [split for split in splits if (libri_root / split).is_dir()]
    if not found:
        raise MissingPathError(f"none of the splits {list(splits)} is a folder under {libri_root}")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for split in found:
        files = sorted((libri_root / split).rglob(f"*{extension}"))
        lengths = [soundfile.info(str(path)).frames for path in tqdm(files, desc=f"lengths {split}")]
        table = pd.DataFrame(
            {"file_path": [str(path.relative_to(libri_root)) for path in files], "length": lengths, "label": None}
        ).sort_values("length", ascending=False, kind="stable").reset_index(drop=True)
        table.to_csv(out_dir / f"{split}.csv")
        written.append(out_dir / f"{split}.csv")
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", required=True, help="the LibriSpeech folder holding train-clean-100/ etc.")
    parser.add_argument("--out", required=True, help="output folder: give it as datarc.bucket_file")
    parser.add_argument("--splits", nargs="+", default=list(DEFAULT_SPLITS))


def run(args: argparse.Namespace) -> None:
    for path in write_length_tables(Path(args.root), Path(args.out), args.splits):
        print(path)
