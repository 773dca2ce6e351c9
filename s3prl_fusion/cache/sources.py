"""The audio files a cache build reads, and how they are decoded.

Inputs (any mix, each may repeat):
    --wav-list FILE   a text file, one audio path per line (relative paths: against --root,
                      else the list's folder); blank lines and ``#`` lines are skipped
    --data FOLDER     every .flac / .wav below the folder (e.g. a LibriSpeech split)
    --data TABLE.csv  an s3prl length table (column ``file_path``, as ``s3prl-fusion prepare``
                      writes for the asr task); relative paths are resolved against --root
Files are decoded exactly as s3prl's datasets decode them through the plugin's audio reader
(float32, channels first, flattened), so their cache keys match the runner's waveforms.
A build encodes them longest first (``longest_first``: lengths from the file headers), the order
its length-bucketed batches and its split across ranks start from.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from s3prl_fusion.audio.loading import info, load
from s3prl_fusion.errors import MissingPathError, SettingError
from s3prl_fusion.audio.sample_rate import SAMPLE_RATE

AUDIO_SUFFIXES = (".flac", ".wav")


def _resolve(path: str, root: Path | None, default_root: Path) -> Path:
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = (root or default_root) / candidate
    if not candidate.is_file():
        raise MissingPathError(f"audio file {candidate} does not exist (relative paths are resolved against --root)")
    return candidate


def _from_list(list_file: Path, root: Path | None) -> list[Path]:
    lines = [line.strip() for line in list_file.read_text().splitlines()]
    return [_resolve(line, root, list_file.parent) for line in lines if line and not line.startswith("#")]


def _from_table(table: Path, root: Path | None) -> list[Path]:
    frame = pd.read_csv(table)
    if "file_path" not in frame.columns:
        raise SettingError(f"{table} has no `file_path` column; give an s3prl length table (,file_path,length,label)")
    if root is None and not Path(str(frame["file_path"].iloc[0])).is_absolute():
        raise SettingError(f"{table} lists relative paths: give --root, the folder they are relative to (the task's libri_root)")
    return [_resolve(str(path), root, table.parent) for path in frame["file_path"]]


def _from_folder(folder: Path) -> list[Path]:
    files = sorted(path for path in folder.rglob("*") if path.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise MissingPathError(f"no {'/'.join(AUDIO_SUFFIXES)} file below {folder}")
    return files


def collect_audio_files(wav_lists: list[str], data: list[str], root: str | None = None) -> list[Path]:
    """Every input named by ``--wav-list`` and ``--data``, in order, without repeats."""
    root_path = Path(root) if root else None
    files: list[Path] = []
    for list_file in wav_lists:
        files += _from_list(Path(list_file), root_path)
    for entry in map(Path, data):
        if entry.is_dir():
            files += _from_folder(entry)
        elif entry.suffix == ".csv" and entry.is_file():
            files += _from_table(entry, root_path)
        else:
            raise MissingPathError(f"--data {entry} is neither a folder nor an s3prl length table (.csv)")
    if not files:
        raise SettingError("no input audio: give --wav-list FILE and/or --data FOLDER|TABLE.csv")
    return list(dict.fromkeys(path.resolve() for path in files))


def read_waveform(path: Path) -> torch.Tensor:
    """A mono 16 kHz file -> (samples,) float32, as s3prl's datasets read it."""
    wav, rate = load(str(path))
    if rate != SAMPLE_RATE:
        raise SettingError(f"{path} is sampled at {rate} Hz; upstreams take {SAMPLE_RATE} Hz audio: resample it first")
    if wav.size(0) != 1:
        raise SettingError(f"{path} has {wav.size(0)} channels; the cache stores mono utterances: downmix it first")
    return wav.view(-1)


def longest_first(paths: list[str]) -> list[str]:
    """``paths`` ordered by sample count from the file headers (nothing decoded), longest first,
    equal lengths by path: every rank of a build computes the same order."""
    lengths = {path: info(path).num_frames for path in paths}
    return sorted(lengths, key=lambda path: (-lengths[path], path))
