"""Check a task's data paths before anything is built, naming the config key to fix."""
from __future__ import annotations

from pathlib import Path

from s3prl_fusion.errors import UserError

# task -> [(key under downstream_expert.datarc, "dir" | "file")]
REQUIRED_PATHS = {
    "asr": [("libri_root", "dir"), ("bucket_file", "dir"), ("dict_path", "file")],
    "emotion": [("root", "dir"), ("meta_data", "dir")],
    # s3prl's sv_voxceleb1 expert builds its dev trial set from dev_meta_data even when dev is never scored
    "sv_voxceleb1": [("file_path", "dir"), ("dev_meta_data", "file"), ("test_meta_data", "file")],
    "ml_superb": [("root", "dir")],
    "fluent_commands": [("file_path", "dir")],
    "speech_commands": [("speech_commands_root", "dir"), ("speech_commands_test_root", "dir")],
    "voxceleb1": [("file_path", "dir"), ("meta_data", "file")],
}
HOW_TO_PREPARE = {
    "asr": "s3prl-fusion prepare librispeech --root <LibriSpeech> --out <tables> (or recipes/asr.sh)",
    "emotion": "s3prl-fusion prepare iemocap (or recipes/emotion.sh)",
    "sv_voxceleb1": "recipes/sv.sh",
    "ml_superb": "recipes/ml_superb.sh",
    "speech_commands": "download and extract speech_commands_v0.01.tar.gz and speech_commands_test_set_v0.01.tar.gz (no preparation step)",
    "fluent_commands": "download and extract fluent_speech_commands_dataset (no preparation step)",
    "voxceleb1": "download VoxCeleb1 (dev/wav, test/wav) and its iden_split.txt (no preparation step)",
}


class MissingDataError(UserError, FileNotFoundError):
    """A data path of the task config does not exist."""


def check_data_paths(task: str, config: dict) -> None:
    """Raise MissingDataError listing every missing path of ``task`` with its -o key."""
    datarc = (config.get("downstream_expert") or {}).get("datarc") or {}
    missing = []
    for key, kind in REQUIRED_PATHS.get(task, []):
        value = datarc.get(key)
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        for path in values:
            exists = Path(path).is_dir() if kind == "dir" else Path(path).is_file()
            if not exists:
                missing.append(f"config.downstream_expert.datarc.{key} = {path} ({kind} not found)")
    if missing:
        raise MissingDataError(
            f"task {task}: missing data path(s):\n  " + "\n  ".join(missing)
            + f"\nSet them with -o \"config.downstream_expert.datarc.<key>='<path>'\"; to prepare them: {HOW_TO_PREPARE[task]}"
        )
