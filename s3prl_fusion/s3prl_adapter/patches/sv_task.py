"""Fixes of s3prl's ``sv_voxceleb1`` task, applied when its modules are first imported
(``hooks.py``), after ``SV_DATASET_TARGETS`` / ``SV_EXPERT_TARGETS`` are checked; each patch
replaces one method on the imported class, once.

- ``patch_sv_dataset``: the training set's trimmed-length table is cached per data folder in
  the user's cache directory (s3prl writes one file inside its own package folder, keyed only
  by "Voxceleb1", so a second corpus silently reuses the first one's table), and a missing
  folder or a ``min_sec`` that rejects every file gets a message naming the setting to fix.
- ``patch_sv_expert``: the attention mask follows the features' device (s3prl calls
  ``.cuda()``, which fails on CPU runs); dev / test scoring uses that split's own trial list
  (s3prl scores dev with the test list) and writes the trial labels into
  ``<split>_truth.txt`` (s3prl leaves it empty), so the EER can be recomputed from the files.
"""
from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
from pathlib import Path

import torch
from torch.nn.utils.rnn import pad_sequence

from s3prl_fusion.errors import MissingPathError, SettingError
from s3prl_fusion.s3prl_adapter.internals.targets import PatchTarget, check_targets

LENGTH_CACHE_ENV = "S3PRL_FUSION_CACHE"
XVECTOR_CONTEXT_FRAMES = 14  # frames s3prl's five TDNN layers consume
SV_DATASET = "s3prl.downstream.sv_voxceleb1.dataset"
SV_EXPERT = "s3prl.downstream.sv_voxceleb1.expert"
SV_DATASET_TARGETS = (
    PatchTarget(
        "the training set's trimmed lengths cached per data folder; missing folders and min_sec named", SV_DATASET,
        "SpeakerVerifi_train.__init__", ("self", "vad_config", "key_list", "file_path", "meta_data", "max_timestep", "n_jobs"),
    ),
    *(PatchTarget("what the training set's lengths are measured with", SV_DATASET, name) for name in ("apply_effects_file", "find_files", "EFFECTS")),
)
SV_EXPERT_TARGETS = (
    PatchTarget(
        "the attention mask on the features' device", SV_EXPERT, "DownstreamExpert.forward",
        ("self", "mode", "features", "utter_idx", "labels", "records", "kwargs"),
    ),
    PatchTarget(
        "dev / test scored with that split's own trial list, labels written", SV_EXPERT, "DownstreamExpert.log_records",
        ("self", "mode", "records", "logger", "global_step", "kwargs"), source_contains=("self.test_dataset.pair_table",),
    ),
)


def length_cache_dir() -> Path:
    """``$S3PRL_FUSION_CACHE``, else ``$XDG_CACHE_HOME/s3prl_fusion``, else ``~/.cache/s3prl_fusion``."""
    if os.environ.get(LENGTH_CACHE_ENV):
        return Path(os.environ[LENGTH_CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "s3prl_fusion"


def cached_trimmed_lengths(root: Path, find_files, trimmed_length, effects, n_jobs: int) -> dict[str, int]:
    """{audio path relative to ``root``: samples left after ``effects``} for every audio file
    under ``root``; reuses the lengths cached for this folder and measures only new files."""
    from joblib import Parallel, delayed

    root = root.resolve()
    cache = length_cache_dir() / "sv_voxceleb1_lengths" / f"{hashlib.sha1(str(root).encode()).hexdigest()[:16]}.json"
    stored = json.loads(cache.read_text()) if cache.is_file() else {}
    known = stored.get("lengths", {}) if stored.get("root") == str(root) and stored.get("effects") == effects else {}
    files = sorted(Path(path).relative_to(root).as_posix() for path in find_files(str(root)))
    missing = [name for name in files if name not in known]
    if missing:
        measured = Parallel(n_jobs=n_jobs, prefer="threads")(delayed(trimmed_length)(str(root / name)) for name in missing)
        known = {**known, **dict(zip(missing, measured))}
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps({"root": str(root), "effects": effects, "lengths": known}))
        partial.replace(cache)
    return {name: known[name] for name in files}


def patch_sv_dataset(dataset_module) -> None:
    train_class = dataset_module.SpeakerVerifi_train
    if getattr(train_class, "_s3prl_fusion_patched", False):
        return
    check_targets(dataset_module, SV_DATASET_TARGETS)

    def trimmed_length(path: str) -> int:
        waveform, _ = dataset_module.apply_effects_file(path, dataset_module.EFFECTS)
        return int(waveform.shape[-1])

    def __init__(self, vad_config, key_list, file_path, meta_data, max_timestep=None, n_jobs=12):
        self.roots = file_path
        self.root_key = key_list
        self.max_timestep = max_timestep
        self.vad_c = vad_config
        self.dataset = []
        self.all_speakers = []
        for root in map(Path, file_path):
            if not root.is_dir():
                raise MissingPathError(
                    f"VoxCeleb1 training audio folder {root} not found: set config.downstream_expert.datarc.file_path "
                    "to the VoxCeleb1 folder holding dev/wav/<speaker>/ and test/wav/<speaker>/"
                )
            lengths = cached_trimmed_lengths(root, dataset_module.find_files, trimmed_length, dataset_module.EFFECTS, min(n_jobs, os.cpu_count() or 1))
            self.all_speakers.extend(folder.name for folder in root.iterdir() if folder.is_dir())
            self.dataset.extend(root / name for name, length in lengths.items() if length > vad_config["min_sec"])
        if not self.dataset:
            raise SettingError(
                f"no training utterance under {', '.join(map(str, file_path))} is longer than vad_config.min_sec="
                f"{vad_config['min_sec']} samples after silence removal: lower it, e.g. "
                "-o config.downstream_expert.datarc.vad_config.min_sec=8000"
            )
        self.all_speakers.sort()
        self.speaker_num = len(self.all_speakers)

    train_class.__init__ = __init__
    train_class._s3prl_fusion_patched = True


def patch_sv_expert(expert_module) -> None:
    expert_class = expert_module.DownstreamExpert
    if getattr(expert_class, "_s3prl_fusion_patched", False):
        return
    check_targets(expert_module, SV_EXPERT_TARGETS)
    if ".cuda()" in inspect.getsource(expert_class.forward):
        expert_class.forward = _sv_forward_on_feature_device
    stock_log_records = expert_class.log_records

    def log_records(self, mode, records, logger, global_step, **kwargs):
        if mode not in ("dev", "test"):
            return stock_log_records(self, mode, records, logger, global_step, **kwargs)
        trials = self.dev_dataset if mode == "dev" else self.test_dataset
        records["labels"] = [label for label, _, _ in trials.pair_table]
        with _scored_with(self, trials):
            return stock_log_records(self, mode, records, logger, global_step, **kwargs)

    expert_class.log_records = log_records
    expert_class._s3prl_fusion_patched = True


@contextlib.contextmanager
def _scored_with(expert, trials):
    """s3prl's log_records reads the trial list from ``test_dataset`` for every split."""
    test_dataset = expert.test_dataset
    expert.test_dataset = trials
    try:
        yield
    finally:
        expert.test_dataset = test_dataset


def _sv_forward_on_feature_device(self, mode, features, utter_idx, labels=None, records=None, **kwargs):
    """s3prl's sv_voxceleb1 forward, with the attention mask on the features' device."""
    features_pad = pad_sequence(features, batch_first=True)
    dropped = XVECTOR_CONTEXT_FRAMES if self.modelrc["module"] == "XVector" else 0
    attention_mask = pad_sequence([torch.ones(feature.shape[0] - dropped) for feature in features], batch_first=True)
    attention_mask = ((1.0 - attention_mask) * -100000.0).to(features_pad.device)
    features_pad = self.connector(features_pad)
    if mode == "train":
        loss = self.objective(self.model(features_pad, attention_mask), torch.LongTensor(labels).to(features_pad.device))
        records["loss"].append(loss.item())
        return loss
    embeddings = torch.nn.functional.normalize(self.model.inference(features_pad, attention_mask), dim=-1)
    for name, embedding in zip(utter_idx, embeddings):
        records[name] = embedding.cpu().detach()
    return torch.tensor(0)
