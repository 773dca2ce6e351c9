"""Checks of the bundled synthetic corpora in corpora/ (layout, audio format, references, counts)."""
from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest
import soundfile as sf

CORPORA = Path(__file__).resolve().parent.parent / "corpora"
LIBRI = CORPORA / "LibriSpeech"
VOX = CORPORA / "VoxCeleb1"
IEMOCAP = CORPORA / "IEMOCAP" / "IEMOCAP_full_release"
MLS = CORPORA / "ml_superb"

LS_WORDS = {"ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE", "YES", "NO"}
LS_COUNTS = {"train-clean-100": (8, 128), "dev-clean": (2, 16), "test-clean": (2, 16)}
MONO_PAIRS = {
    ("mls", "eng"), ("nchlt", "eng"), ("voxpopuli", "eng"), ("voxforge", "fra"), ("voxpopuli", "fra"),
    ("swc", "deu"), ("voxpopuli", "deu"), ("M-AILABS", "rus"), ("ALFFA", "swa"), ("NST", "swe"),
    ("commonvoice", "jpn"), ("fleurs", "cmn"), ("mexico-el", "xty"),
}
ML_LISTS = ("transcript_10min_train.txt", "transcript_1h_train.txt", "transcript_10min_dev.txt",
            "transcript_10min_test.txt")


def _check_audio(path: Path, fmt: str) -> float:
    info = sf.info(str(path))
    assert info.samplerate == 16000, path
    assert info.channels == 1, path
    assert info.format == fmt, path
    assert info.subtype == "PCM_16", path
    wav, sr = sf.read(str(path), dtype="int16")
    assert wav.ndim == 1 and len(wav) == info.frames and len(wav) > 0.3 * sr, path
    assert abs(wav.astype(int)).max() > 1000, f"{path} is (nearly) silent"
    return len(wav) / sr


def _audio_files(root: Path, ext: str) -> list[Path]:
    return sorted(root.rglob(f"*{ext}"))


# --------------------------------------------------------------------------- LibriSpeech
def test_librispeech_layout_and_transcripts():
    total = 0
    for split, (n_spk, n_utt) in LS_COUNTS.items():
        split_dir = LIBRI / split
        speakers = sorted(p.name for p in split_dir.iterdir())
        assert len(speakers) == n_spk and all(s.isdigit() for s in speakers), (split, speakers)
        flacs = _audio_files(split_dir, ".flac")
        assert len(flacs) == n_utt, split
        ids_from_trans = set()
        for trans in sorted(split_dir.glob("*/*/*.trans.txt")):
            spk, chapter = trans.parent.parent.name, trans.parent.name
            assert trans.name == f"{spk}-{chapter}.trans.txt"
            for line in trans.read_text(encoding="utf-8").splitlines():
                uid, text = line.split(" ", 1)
                assert re.fullmatch(rf"{spk}-{chapter}-\d{{4}}", uid), uid
                assert text == text.upper() and 2 <= len(text.split()) <= 3, line
                assert set(text.split()) <= LS_WORDS, line
                assert (trans.parent / f"{uid}.flac").is_file(), uid
                ids_from_trans.add(uid)
        assert ids_from_trans == {p.stem for p in flacs}, split
        total += len(flacs)
    assert total == 160


def test_librispeech_train_voices_cover_test():
    """Test speaker ids differ from training ones; training covers the whole vocabulary."""
    splits = {s: {p.name for p in (LIBRI / s).iterdir()} for s in LS_COUNTS}
    assert not (splits["train-clean-100"] & splits["test-clean"])
    words = {s: Counter(w for t in (LIBRI / s).glob("*/*/*.trans.txt")
                        for line in t.read_text().splitlines() for w in line.split()[1:]) for s in LS_COUNTS}
    assert set(words["train-clean-100"]) == LS_WORDS
    assert set(words["test-clean"]) <= set(words["train-clean-100"])


def test_librispeech_audio():
    durations = [_check_audio(p, "FLAC") for p in _audio_files(LIBRI, ".flac")]
    assert all(0.3 < d < 2.0 for d in durations)


# --------------------------------------------------------------------------- VoxCeleb1
def _vox_files(split: str) -> dict[str, list[str]]:
    root = VOX / split / "wav"
    out: dict[str, list[str]] = {}
    for spk in sorted(os.listdir(root)):
        assert re.fullmatch(r"id1\d{4}", spk), spk
        assert (root / spk).is_dir()
        out[spk] = [p.relative_to(root).as_posix() for p in sorted((root / spk).glob("*/*.wav"))]
        for rel in out[spk]:
            assert re.fullmatch(r"id1\d{4}/[A-Za-z0-9_-]{11}/\d{5}\.wav", rel), rel
    return out


@pytest.mark.parametrize("split,n_spk,n_utt", [("dev", 8, 4), ("test", 4, 4)])
def test_voxceleb1_layout(split, n_spk, n_utt):
    files = _vox_files(split)
    assert len(files) == n_spk
    assert all(len(v) == n_utt for v in files.values())
    # nothing but speaker folders under <split>/wav (s3prl globs it for training)
    assert all(p.suffix == ".wav" for p in (VOX / split / "wav").rglob("*") if p.is_file())
    for rels in files.values():
        for rel in rels:
            _check_audio(VOX / split / "wav" / rel, "WAV")
    assert not set(_vox_files("dev")) & set(_vox_files("test"))


@pytest.mark.parametrize("trials,split", [("veri_test_mini.txt", "test"), ("veri_dev_mini.txt", "dev")])
def test_voxceleb1_trials(trials, split):
    files = _vox_files(split)
    lines = (VOX / trials).read_text().splitlines()
    labels = Counter()
    for line in lines:
        label, a, b = line.split()
        assert label in {"0", "1"}
        assert (VOX / split / "wav" / a).is_file() and (VOX / split / "wav" / b).is_file(), line
        assert a != b
        assert (a.split("/")[0] == b.split("/")[0]) == (label == "1"), line
        labels[label] += 1
    assert labels["0"] == labels["1"] > 0
    n_target = sum(len(v) * (len(v) - 1) // 2 for v in files.values())
    assert labels["1"] == n_target
    used = {p for line in lines for p in line.split()[1:]}
    assert used == {rel for v in files.values() for rel in v}


# --------------------------------------------------------------------------- IEMOCAP
def _iemocap_meta(sessions):
    """Same parsing as s3prl's downstream/emotion/IEMOCAP_preprocess.py."""
    meta = []
    for session in sessions:
        wavs = {p.stem: p.relative_to(IEMOCAP).as_posix()
                for p in (IEMOCAP / session / "sentences" / "wav").rglob("*.wav")}
        label_dir = IEMOCAP / session / "dialog" / "EmoEvaluation"
        for label_path in sorted(os.listdir(label_dir)):
            if os.path.splitext(label_path)[1] != ".txt":
                continue
            with open(label_dir / label_path) as f:
                for line in f:
                    if line[0] != "[":
                        continue
                    fields = list(filter(None, re.split("[\t\n]", line)))
                    if fields[2] not in ["neu", "hap", "ang", "sad", "exc"]:
                        continue
                    assert fields[1] in wavs, fields[1]
                    meta.append({"path": wavs[fields[1]], "label": fields[2].replace("exc", "hap"),
                                 "speaker": os.path.basename(wavs[fields[1]]).split("_")[0]})
    return meta


def test_iemocap_layout_and_labels():
    sessions = sorted(p.name for p in IEMOCAP.iterdir() if p.name.startswith("Session"))
    assert sessions == [f"Session{i}" for i in range(1, 6)]
    all_meta = []
    for session in sessions:
        n = session[-1]
        meta = _iemocap_meta([session])
        assert len(meta) == 8
        assert Counter(m["label"] for m in meta) == {"neu": 2, "hap": 2, "ang": 2, "sad": 2}
        for m in meta:
            assert re.fullmatch(rf"Session{n}/sentences/wav/(Ses0{n}[FM]_\w+)/\1_[FM]\d{{3}}\.wav", m["path"]), m
        wavs = sorted((IEMOCAP / session / "sentences" / "wav").rglob("*.wav"))
        assert len(wavs) == 8
        assert {p.relative_to(IEMOCAP).as_posix() for p in wavs} == {m["path"] for m in meta}
        dialogs = {p.name for p in (IEMOCAP / session / "sentences" / "wav").iterdir()}
        assert dialogs == {p.stem for p in (IEMOCAP / session / "dialog" / "EmoEvaluation").glob("*.txt")}
        all_meta += meta
    assert len(all_meta) == 40
    assert set(m["label"] for m in all_meta) == {"neu", "hap", "ang", "sad"}
    # leave-one-session-out folds as s3prl builds them
    assert len(_iemocap_meta(sessions[1:])) == 32


def test_iemocap_audio_and_prosody():
    loud = {}
    for m in _iemocap_meta([f"Session{i}" for i in range(1, 6)]):
        wav, sr = sf.read(str(IEMOCAP / m["path"]), dtype="float32")
        _check_audio(IEMOCAP / m["path"], "WAV")
        loud.setdefault(m["label"], []).append(float(abs(wav).max()))
    mean = {k: sum(v) / len(v) for k, v in loud.items()}
    assert mean["ang"] > mean["neu"] > mean["sad"]


# --------------------------------------------------------------------------- ML-SUPERB
def _read_list(path: Path) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        utt_id, _, text = line.strip().split(maxsplit=2)
        rows.append((utt_id, text))
    return rows


def test_ml_superb_pairs():
    found = {(d.name, lang.name) for d in MLS.iterdir() if d.is_dir() for lang in d.iterdir() if lang.is_dir()}
    assert found == MONO_PAIRS
    assert len({lang for _, lang in found}) == 9


@pytest.mark.parametrize("dataset,lang", sorted(MONO_PAIRS))
def test_ml_superb_lists(dataset, lang):
    pair = MLS / dataset / lang
    lists = {name: _read_list(pair / name) for name in ML_LISTS}
    prefix = "cv" if dataset == "commonvoice" else dataset
    for name, rows in lists.items():
        assert rows, name
        for utt_id, text in rows:
            assert re.fullmatch(rf"{re.escape(prefix)}_{lang}_\d{{6}}", utt_id), utt_id
            assert (pair / "wav" / f"{utt_id}.wav").is_file(), utt_id
            assert text.strip()
    assert set(lists["transcript_10min_train.txt"]) <= set(lists["transcript_1h_train.txt"])
    train = {u for u, _ in lists["transcript_1h_train.txt"]}
    dev = {u for u, _ in lists["transcript_10min_dev.txt"]}
    test = {u for u, _ in lists["transcript_10min_test.txt"]}
    assert not (train & dev) and not (train & test) and not (dev & test)
    wavs = sorted((pair / "wav").glob("*.wav"))
    assert {p.stem for p in wavs} == train | dev | test
    assert sorted(p.name for p in pair.iterdir()) == sorted([*ML_LISTS, "wav"])
    for p in wavs:
        _check_audio(p, "WAV")
    if lang in ("jpn", "cmn"):
        assert all(len(t.split()) >= 2 for _, t in lists["transcript_1h_train.txt"])


def test_corpora_size_budget():
    total = sum(p.stat().st_size for p in CORPORA.rglob("*") if p.is_file())
    assert total < 12 * 1024 * 1024
