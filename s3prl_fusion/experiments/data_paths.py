"""Check a task's data paths before anything is built, naming the config key to fix."""
from __future__ import annotations

from pathlib import Path

from s3prl_fusion.errors import UserError

# task -> [(dotted key under downstream_expert, "dir" | "file")]; a key the config leaves out is not checked
REQUIRED_PATHS = {
    "asr": [("datarc.libri_root", "dir"), ("datarc.bucket_file", "dir"), ("datarc.dict_path", "file")],
    "emotion": [("datarc.root", "dir"), ("datarc.meta_data", "dir")],
    # s3prl's sv_voxceleb1 expert builds its dev trial set from dev_meta_data even when dev is never scored
    "sv_voxceleb1": [("datarc.file_path", "dir"), ("datarc.dev_meta_data", "file"), ("datarc.test_meta_data", "file")],
    "ml_superb": [("datarc.root", "dir")],
    "fluent_commands": [("datarc.file_path", "dir")],
    "speech_commands": [("datarc.speech_commands_root", "dir"), ("datarc.speech_commands_test_root", "dir")],
    "voxceleb1": [("datarc.file_path", "dir"), ("datarc.meta_data", "file")],
    "diarization": [("loaderrc.train_dir", "dir"), ("loaderrc.dev_dir", "dir"), ("loaderrc.test_dir", "dir")],
    "quesst14_dtw": [("datarc.dataset_root", "dir")],
    # phone recognition (corpus.name libriphone) and slot filling (snips) each set only some of these
    "ctc": [("corpus.path", "dir"), ("corpus.lexicon", "file"), ("text.vocab_file", "file"), ("text.slots_file", "file")],
}
HOW_TO_PREPARE = {
    "asr": "s3prl-fusion prepare librispeech --root <LibriSpeech> --out <tables> (or recipes/asr.sh)",
    "emotion": "s3prl-fusion prepare iemocap (or recipes/emotion.sh)",
    "sv_voxceleb1": "recipes/sv.sh",
    "ml_superb": "recipes/ml_superb.sh",
    "speech_commands": "download and extract speech_commands_v0.01.tar.gz and speech_commands_test_set_v0.01.tar.gz (no preparation step)",
    "fluent_commands": "download and extract fluent_speech_commands_dataset (no preparation step)",
    "ctc": "download LibriSpeech and s3prl's downstream/ctc/lexicon/*-g2p.txt (phone recognition) or SNIPS (slot filling)",
    "diarization": "s3prl-fusion prepare libri2mix --root <Libri2Mix> --source-rttm <LibriMix>/metadata/LibriSpeech --out <data> (Kaldi folders train/, dev/, test/)",
    "quesst14_dtw": "download and extract quesst14Database (no preparation step)",
    "voxceleb1": "download VoxCeleb1 (dev/wav, test/wav) and its iden_split.txt (no preparation step)",
}


class MissingDataError(UserError, FileNotFoundError):
    """A data path of the task config does not exist."""


def check_data_paths(task: str, config: dict) -> None:
    """Raise MissingDataError listing every missing path of ``task`` with its -o key."""
    expert = config.get("downstream_expert") or {}
    missing = []
    for key, kind in REQUIRED_PATHS.get(task, []):
        section, name = key.split(".")
        value = (expert.get(section) or {}).get(name)
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        for path in values:
            exists = Path(path).is_dir() if kind == "dir" else Path(path).is_file()
            if not exists:
                missing.append(f"config.downstream_expert.{key} = {path} ({kind} not found)")
    if missing:
        raise MissingDataError(
            f"task {task}: missing data path(s):\n  " + "\n  ".join(missing)
            + f"\nSet them with -o \"config.downstream_expert.<key>='<path>'\"; to prepare them: {HOW_TO_PREPARE[task]}"
        )
