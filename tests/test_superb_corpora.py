"""The SUPERB miniature corpora in corpora/ are read by s3prl's own dataset classes (or, where the installed s3prl
wheel lacks the reader, checked against the format that reader parses), and the generator reproduces them."""
from __future__ import annotations

import filecmp
import importlib.util
import random
import re
import shutil
import types
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

CORPORA = Path(__file__).resolve().parent.parent / "corpora"
SC = CORPORA / "SpeechCommands"
FSC = CORPORA / "fluent_speech_commands_dataset"
VOX = CORPORA / "VoxCeleb1"
LIBRI = CORPORA / "LibriSpeech"
SNIPS = CORPORA / "SNIPS"
MIX = CORPORA / "Libri2Mix"
QUESST = CORPORA / "quesst14Database"

KEYWORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]


def _generator():
    spec = importlib.util.spec_from_file_location("make_corpora", CORPORA / "make_corpora.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- Speech Commands
@pytest.fixture
def speech_commands_expert():
    """s3prl's speech_commands expert module (its catalyst import is stood in for by the plugin)."""
    from s3prl.downstream.speech_commands import expert
    return expert


def test_speech_commands_train_and_valid_through_s3prl(speech_commands_expert):
    from s3prl.downstream.speech_commands.dataset import CLASSES, SpeechCommandsDataset
    root = SC / "speech_commands_v0.01"
    train_list, valid_list = speech_commands_expert.split_dataset(root)
    assert len(train_list) == 24 and len(valid_list) == 12
    train = SpeechCommandsDataset(train_list, speech_commands_root=str(root))
    valid = SpeechCommandsDataset(valid_list, speech_commands_root=str(root))
    for dataset, n_speakers in ((train, 2), (valid, 1)):
        counts = Counter(name for name, _ in dataset.data)
        # every keyword, _unknown_ from the bed and cat folders, _silence_ from the two _background_noise_ files
        assert counts == {**{k: n_speakers for k in KEYWORDS}, "_unknown_": 2 * n_speakers, "_silence_": 2}
    silence = next(i for i, (name, _) in enumerate(train.data) if name == "_silence_")
    wav, label, fileid = train[silence]
    assert wav.shape == (16000,) and label == CLASSES.index("_silence_")
    word = next(i for i, (name, _) in enumerate(train.data) if name == "left")
    wav, label, fileid = train[word]
    assert wav.shape == (16000,) and label == CLASSES.index("left") and fileid.startswith("left-")
    assert np.abs(wav).max() > 0.05


def test_speech_commands_test_set_through_s3prl():
    from s3prl.downstream.speech_commands.dataset import CLASSES, SpeechCommandsTestingDataset
    test = SpeechCommandsTestingDataset(speech_commands_test_root=str(SC / "speech_commands_test_set_v0.01"))
    assert sorted(name for name, _ in test.data) == sorted(CLASSES[:11] + ["_silence_", "_silence_"])
    for i in range(len(test)):
        wav, label, _ = test[i]
        assert wav.shape == (16000,) and CLASSES[label] == test.data[i][0]


def test_speech_commands_files_are_one_second_16k():
    for path in SC.rglob("*.wav"):
        info = sf.info(str(path))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16"), path
        if path.parent.name == "_background_noise_":
            assert info.frames > 16000, path  # s3prl cuts a random 1 s window out of each noise file
        else:
            assert info.frames == 16000, path


# --------------------------------------------------------------------------- Fluent Speech Commands
def test_fluent_commands_through_s3prl():
    from s3prl.downstream.fluent_commands.dataset import FluentCommandsDataset
    from s3prl.downstream.fluent_commands.expert import DownstreamExpert
    holder = types.SimpleNamespace(datarc={"file_path": str(FSC)})
    DownstreamExpert.get_dataset(holder)  # the expert's own csv reading and label tables
    assert (len(holder.train_df), len(holder.valid_df), len(holder.test_df)) == (16, 4, 4)
    assert holder.values_per_slot == [6, 6, 4]  # actions, objects, locations seen in training
    for df in (holder.train_df, holder.valid_df, holder.test_df):
        dataset = FluentCommandsDataset(df, holder.base_path, holder.Sy_intent)
        for i in range(len(dataset)):
            wav, label, stem = dataset[i]
            assert wav.ndim == 1 and 8000 < len(wav) < 16000 * 3
            assert label.shape == (3,)
            row = df.loc[i]
            assert [holder.Sy_intent[s][int(v)] for s, v in zip(("action", "object", "location"), label)] == \
                [row.action, row.object, row.location]
            assert stem == Path(row.path).stem and row.path.startswith(f"wavs/speakers/{row.speakerId}/")


# --------------------------------------------------------------------------- VoxCeleb1 identification
def test_voxceleb1_identification_split_through_s3prl(monkeypatch, tmp_path):
    from s3prl.downstream.voxceleb1 import dataset as vox
    monkeypatch.setattr(vox, "CACHE_PATH", str(tmp_path))  # s3prl caches file lists per mode inside its package
    sizes = {}
    for mode in ("train", "dev", "test"):
        data = vox.SpeakerClassifiDataset(mode, VOX, str(VOX / "iden_split_mini.txt"), max_timestep=16000)
        sizes[mode] = len(data)
        assert set(data.label) == {int(s[2:]) - 10001 for s in (*[f"id1000{i}" for i in range(1, 9)],
                                                                  "id10270", "id10271", "id10272", "id10273")}
        wav, label, name = data[0]
        assert wav.ndim == 1 and len(wav) <= 16000
        assert name.startswith(vox.SpeakerClassifiDataset.label2speaker([label])[0] + "-")
    assert sizes == {"train": 24, "dev": 12, "test": 12}


# --------------------------------------------------------------------------- LibriSpeech phones
def test_librispeech_lexicon_covers_transcripts_in_phoneme_vocabulary():
    """s3prl's libriphone reader (ctc/corpus/libriphone.py, not in the wheel) maps every word of a trans.txt line
    through the first lexicon entry of the word; the phones are encoded by s3prl's word text encoder."""
    from s3prl.downstream.ctc.text import load_text_encoder
    encoder = load_text_encoder("word", str(LIBRI / "phones" / "phoneme.txt"))
    assert encoder.vocab_size == 3 + 2 + 15 * 3 + 24
    lexicon = {}
    for line in (LIBRI / "phones" / "lexicon.txt").read_text().splitlines():
        word, *phones = line.split()
        assert phones and all(p in encoder._vocab2idx for p in phones), line
        lexicon.setdefault(word, phones)
    assert lexicon["SEVEN"] == ["S", "EH1", "V", "AH0", "N"]
    for trans in sorted(LIBRI.glob("*/*/*/*.trans.txt")):
        for line in trans.read_text().splitlines():
            phones = [p for w in line.split()[1:] for p in lexicon[w]]
            ids = encoder.encode(" ".join(phones))
            assert encoder.unk_idx not in ids and ids[-1] == encoder.eos_idx
            assert encoder.decode(ids) == " ".join(phones)


def test_arpabet_mapping_of_espeak_phonemes():
    make = _generator()
    assert make.to_arpabet("z'i@roU") == ["Z", "IY1", "R", "OW0"]
    assert make.to_arpabet("s'Ev@n") == ["S", "EH1", "V", "AH0", "N"]
    with pytest.raises(ValueError, match="no ARPAbet mapping"):
        make.to_arpabet("q'x")


# --------------------------------------------------------------------------- SNIPS
SNIPS_SPEAKERS = {  # the speakers s3prl's snips.yaml selects per split
    "train": ["Ivy", "Joanna", "Joey", "Justin", "Kendra", "Kimberly", "Matthew", "Salli"],
    "valid": ["Aditi", "Amy", "Geraint", "Nicole"],
    "test": ["Brian", "Emma", "Raveena", "Russell"],
}


def _snips_transcripts(name: str) -> dict[str, str]:
    """As s3prl's ctc/corpus/snips.py reads all-trans.txt / all.iob.snips.txt: uid, then the rest of the line."""
    out = {}
    for line in (SNIPS / name).read_text().splitlines():
        fields = line.strip().split(" ")
        out[fields[0]] = " ".join(fields[1:])
    return out


def test_snips_files_transcripts_and_slot_encoding():
    from s3prl.downstream.ctc.text import CharacterTextSlotEncoder
    iob, trans = _snips_transcripts("all.iob.snips.txt"), _snips_transcripts("all-trans.txt")
    assert set(iob) == set(trans)
    slots = (SNIPS / "slots.txt").read_text().split("\n")
    assert slots[0] == "O" and all(slots[1:])
    encoder = CharacterTextSlotEncoder([" "] + [chr(c) for c in range(ord("A"), ord("Z") + 1)] + ["'"],
                                       [f"{p}-{s}" for s in slots[1:] for p in "BE"])
    counts = {}
    for split, speakers in SNIPS_SPEAKERS.items():
        files = sorted((SNIPS / split).rglob("*.wav"))
        kept = [f for f in files if f.stem in iob and any(f.stem.startswith(s) for s in speakers)]
        assert kept == files, split
        counts[split] = len(files)
        for f in files:
            ids = encoder.encode(iob[f.stem])
            assert encoder.unk_idx not in ids
            decoded = encoder.decode(ids)
            assert re.sub(r"[BE]-\w+ ?", "", decoded).split() == trans[f.stem].split(), decoded
            sent, tags = iob[f.stem].split("\t")
            for slot in set(tags.split()[1:-1]) - {"O"}:
                assert f"B-{slot}" in decoded and f"E-{slot}" in decoded
            info = sf.info(str(f))
            assert (info.samplerate, info.channels) == (16000, 1)
    assert counts == {"train": 12, "valid": 4, "test": 4}


# --------------------------------------------------------------------------- Libri2Mix
def _kaldi(split: str, name: str) -> list[list[str]]:
    return [line.split() for line in (MIX / "data" / split / name).read_text().splitlines()]


@pytest.mark.parametrize("split,n_rec", [("train", 6), ("dev", 2), ("test", 2)])
def test_libri2mix_through_s3prl_diarization_dataset(monkeypatch, split, n_rec):
    from s3prl.downstream.diarization.dataset import DiarizationDataset
    monkeypatch.chdir(MIX)  # wav.scp paths are relative to corpora/Libri2Mix
    mode = "test" if split == "test" else "train"
    data = DiarizationDataset(mode, str(MIX / "data" / split), chunk_size=2000, frame_shift=160, num_speakers=2)
    segments = {}
    for utt, rec, st, et in _kaldi(split, "segments"):
        segments.setdefault(rec, []).append((float(st), float(et)))
    assert len(data) == n_rec == len(segments)
    rttm = sorted((r[1], r[3], r[4], r[7]) for r in _kaldi(split, "rttm"))
    utt2spk = dict(_kaldi(split, "utt2spk"))
    assert rttm == sorted((rec, st, f"{float(et) - float(st):.2f}", utt2spk[utt]) for utt, rec, st, et in _kaldi(split, "segments"))
    for i in range(len(data)):
        if mode == "test":
            (wav,), (labels,), rec = data[i]
        else:
            wav, labels = data[i]
            rec = data.chunk_indices[i][0]
        assert labels.shape == (len(wav) // 160, 2)
        assert len(wav) == round(float(data.data.reco2dur[rec]) * 16000)
        # each speaker column is active for exactly its segment, on the 10 ms frame grid
        spans = sorted(segments[rec])
        active = sorted((int(np.argmax(labels[:, k])), int(labels[:, k].sum())) for k in range(2))
        assert active == [(round(st * 100), round((et - st) * 100)) for st, et in spans]
        assert labels.sum(1).max() == 2  # the two speakers overlap
        inside = np.zeros(len(wav), bool)
        for st, et in spans:
            inside[round(st * 16000):round(et * 16000)] = True
        assert not np.any(wav[~inside]) and np.abs(wav[inside]).max() > 0.1


# --------------------------------------------------------------------------- QUESST14
@pytest.mark.parametrize("split,n_queries", [("dev", 3), ("eval", 3)])
def test_quesst14_through_s3prl(split, n_queries):
    from s3prl.downstream.quesst14_dtw.dataset import QUESST14Dataset
    data = QUESST14Dataset(split, dataset_root=str(QUESST))
    assert (data.n_queries, data.n_docs) == (n_queries, 18)  # the two Czech documents are filtered out
    wav, name = data[0]
    assert name == f"quesst14_{split}_0001" and wav.ndim == 1
    assert len(wav) == 2 * sf.info(str(QUESST / f"{split}_queries" / f"{name}.wav")).frames  # 8 kHz read as 16 kHz
    assert data[n_queries][1].startswith("quesst14_")
    assert all(p.is_file() for p in data.data)


@pytest.mark.parametrize("split", ["dev", "eval"])
def test_quesst14_ground_truth(split):
    gt = QUESST / "scoring" / f"groundtruth_quesst14_{split}"
    ecf = {e.get("audio_filename"): float(e.get("dur")) for e in ET.parse(gt / f"quesst14_{split}.ecf.xml").getroot()}
    for rel, dur in ecf.items():
        info = sf.info(str(QUESST / rel))
        assert info.samplerate == 8000 and info.frames == round(dur * 8000), rel
    terms = [t.get("termid") for t in ET.parse(gt / f"quesst14_{split}.tlist.xml").getroot()]
    queries = [line.split()[0].split("/")[-1][:-4] for line in
               (QUESST / "scoring" / f"language_key_{split}.lst").read_text().splitlines()]
    assert terms == queries
    hits = Counter()
    for line in (gt / f"quesst14_{split}.rttm").read_text().splitlines():
        kind, doc, chan, tbeg, dur, term, stype, name, conf = line.split()
        assert (kind, chan, stype, name, conf) == ("LEXEME", "1", "lex", term, "<NA>")
        assert term in terms and float(tbeg) + float(dur) <= ecf[f"Audio/{doc}.wav"]
        # the term's audio really is there: the span is louder than the word gaps around it
        wav, sr = sf.read(str(QUESST / "Audio" / f"{doc}.wav"))
        assert np.abs(wav[round(float(tbeg) * sr):round((float(tbeg) + float(dur)) * sr)]).max() > 0.05
        hits[term] += 1
    assert set(hits) == set(terms) and all(n == 2 for n in hits.values())


# --------------------------------------------------------------------------- reproducibility
def _same_tree(made: Path, committed: Path):
    made_files = sorted(p.relative_to(made) for p in made.rglob("*") if p.is_file())
    assert made_files == sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file()), committed
    for rel in made_files:
        assert filecmp.cmp(made / rel, committed / rel, shallow=False), rel


def test_generator_reproduces_libri2mix_and_iden_split(tmp_path):
    """Without espeak-ng: the mixtures (made from the committed LibriSpeech files) and the identification split."""
    make = _generator()
    make.make_libri2mix(tmp_path / "Libri2Mix", LIBRI, random.Random(make.SEED + 8), make.Stats())
    _same_tree(tmp_path / "Libri2Mix", MIX)
    shutil.copytree(VOX, tmp_path / "VoxCeleb1", ignore=shutil.ignore_patterns("iden_split_mini.txt"))
    make.make_voxceleb1_iden_split(tmp_path / "VoxCeleb1")
    assert filecmp.cmp(tmp_path / "VoxCeleb1" / "iden_split_mini.txt", VOX / "iden_split_mini.txt", shallow=False)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (apt-get install espeak-ng)")
@pytest.mark.parametrize("maker,folder,seed", [
    ("make_speech_commands", "SpeechCommands", 5), ("make_fluent_commands", "fluent_speech_commands_dataset", 6),
    ("make_snips", "SNIPS", 7), ("make_quesst14", "quesst14Database", 9)])
def test_generator_reproduces_synthesized_corpora_byte_for_byte(tmp_path, maker, folder, seed):
    make = _generator()
    synth = make.Synth(tmp_path)
    getattr(make, maker)(tmp_path / folder, synth, random.Random(make.SEED + seed), make.Stats())
    _same_tree(tmp_path / folder, CORPORA / folder)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (apt-get install espeak-ng)")
def test_generator_reproduces_librispeech_phones(tmp_path):
    make = _generator()
    make.make_librispeech_phones(tmp_path)
    _same_tree(tmp_path / "phones", LIBRI / "phones")
