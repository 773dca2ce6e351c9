"""Fix of s3prl's ``voxceleb1`` (speaker identification) task, applied when its dataset module is
first imported (``hooks.py``), after ``SID_DATASET_TARGETS`` are checked.

s3prl caches each split's file list in its own package folder (``voxceleb1/.cache/<mode>.pkl``),
keyed only by the split's name: once written, every later run reads it whatever ``file_path``
and ``meta_data`` say, so a second corpus or split file silently trains and tests on the first
one's files. The patched ``SpeakerClassifiDataset.__init__`` keys the cached list by the data
folder, the split file's content and the split, in the user's cache directory
(``sv_task.length_cache_dir``), and names a missing split file or listed audio file.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from s3prl_fusion.errors import MissingPathError
from s3prl_fusion.s3prl_adapter.internals.targets import PatchTarget, check_targets
from s3prl_fusion.s3prl_adapter.patches.sv_task import length_cache_dir

SID_DATASET = "s3prl.downstream.voxceleb1.dataset"
SPLIT_CODES = {"train": "1", "dev": "2", "test": "3"}  # the first column of VoxCeleb1's iden_split.txt
SID_DATASET_TARGETS = (
    PatchTarget(
        "the split file lists cached per data folder and split file", SID_DATASET, "SpeakerClassifiDataset.__init__",
        ("self", "mode", "file_path", "meta_data", "max_timestep"), source_contains=("CACHE_PATH", "self.build_label(self.dataset)"),
    ),
    PatchTarget("how a file's speaker label is read", SID_DATASET, "SpeakerClassifiDataset.build_label", ("self", "train_path_list")),
)


def split_files(root: Path, split_lines: list[str], mode: str) -> list[str]:
    """The audio paths of ``mode`` in a VoxCeleb1 ``iden_split.txt`` (``<set> <id>/<video>/<n>.wav``),
    each found under ``root/*/wav/`` as s3prl looks them up."""
    found = []
    for line in split_lines:
        fields = line.split()
        if len(fields) != 2 or fields[0] != SPLIT_CODES[mode]:
            continue
        matches = sorted(root.glob(f"*/wav/{fields[1]}"))
        if not matches:
            raise MissingPathError(
                f"{fields[1]} of the VoxCeleb1 split file is not under {root}/*/wav/: set config.downstream_expert.datarc.file_path "
                "to the VoxCeleb1 folder holding dev/wav/ and test/wav/"
            )
        found.append(str(matches[0]))
    return found


def cached_split_files(root: Path, meta_data: Path, mode: str) -> list[str]:
    """``split_files``, cached per resolved ``root``, split file content and ``mode``."""
    text = meta_data.read_text()
    key = hashlib.sha1("\n".join((str(root.resolve()), hashlib.sha1(text.encode()).hexdigest(), mode)).encode()).hexdigest()[:16]
    cache = length_cache_dir() / "voxceleb1_file_lists" / f"{mode}-{key}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    files = split_files(root, text.splitlines(), mode)
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(json.dumps(files))
    partial.replace(cache)
    return files


def patch_sid_dataset(dataset_module) -> None:
    dataset_class = dataset_module.SpeakerClassifiDataset
    if getattr(dataset_class, "_s3prl_fusion_patched", False):
        return
    check_targets(dataset_module, SID_DATASET_TARGETS)

    def __init__(self, mode, file_path, meta_data, max_timestep=None):
        if not Path(meta_data).is_file():
            raise MissingPathError(
                f"VoxCeleb1 split file {meta_data} not found: set config.downstream_expert.datarc.meta_data to iden_split.txt"
            )
        self.root = Path(file_path)
        self.speaker_num = 1251
        self.meta_data = meta_data
        self.max_timestep = max_timestep
        self.usage_list = Path(meta_data).read_text().splitlines(keepends=True)
        self.dataset = cached_split_files(self.root, Path(meta_data), mode)
        print(f"[SpeakerClassifiDataset] - there are {len(self.dataset)} files found")
        self.label = self.build_label(self.dataset)

    dataset_class.__init__ = __init__
    dataset_class._s3prl_fusion_patched = True
