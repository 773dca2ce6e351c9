#!/usr/bin/env python3
"""Synthesize the miniature speech corpora shipped in ``corpora/``.

Every corpus is synthetic speech rendered with espeak-ng and laid out on disk
exactly like the real dataset it stands in for, so that each downstream task
can run end to end offline (tests, demo) on CPU:

* ``LibriSpeech/``   - ASR (digit words), FLAC, LibriSpeech layout.
* ``VoxCeleb1/``     - speaker verification, WAV, VoxCeleb1 layout + trial lists.
* ``IEMOCAP/``       - emotion recognition, WAV, IEMOCAP_full_release layout.
* ``ml_superb/``     - ML-SUPERB Mono-1h pairs, WAV + transcript_*.txt lists.
* ``SpeechCommands/`` - keyword spotting, Speech Commands v0.01 train and test layouts.
* ``fluent_speech_commands_dataset/`` - intent classification, csv with action/object/location.
* ``VoxCeleb1/iden_split_mini.txt`` - speaker identification split over ``VoxCeleb1``.
* ``LibriSpeech/phones/`` - ARPAbet lexicon and phone list for phone recognition.
* ``SNIPS/``         - slot filling, audio SNIPS layout with IOB transcripts.
* ``Libri2Mix/``     - diarization, two-speaker mixtures of ``LibriSpeech`` + Kaldi dirs + RTTM, and the
  mixture lists and source RTTMs that SUPERB's preparation (``s3prl-fusion prepare libri2mix``) reads.
* ``quesst14Database/`` - query-by-example, QUESST 2014 layout with NIST STD ground truth.

Usage::

    python corpora/make_corpora.py [--out corpora]

Requires the ``espeak-ng`` binary (tested with 1.51) and numpy, scipy and
soundfile.  The output depends only on the fixed seeds below and on the
espeak-ng version; with the same espeak-ng every file is byte-identical from
run to run.  The corpus folders named in ``CORPUS_DIRS`` under ``--out`` are
replaced.
"""

import argparse
import hashlib
import itertools
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

SAMPLE_RATE = 16000
ESPEAK_RATE = 22050
SEED = 20240611
CORPUS_DIRS = ("LibriSpeech", "VoxCeleb1", "IEMOCAP", "ml_superb", "SpeechCommands",
               "fluent_speech_commands_dataset", "SNIPS", "Libri2Mix", "quesst14Database")


# --------------------------------------------------------------------------- #
# audio helpers
# --------------------------------------------------------------------------- #
class Synth:
    """Thin wrapper around the espeak-ng command line."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.count = 0

    def __call__(self, text, voice, speed=175, pitch=50, amplitude=100, gap=None):
        self.count += 1
        tmp = self.workdir / f"s{self.count}.wav"
        cmd = ["espeak-ng", "-v", voice, "-s", str(int(speed)), "-p", str(int(pitch)),
               "-a", str(int(amplitude)), "-w", str(tmp)]
        if gap is not None:
            cmd += ["-g", str(int(gap))]
        cmd.append(text)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wav, sr = sf.read(str(tmp), dtype="float64")
        tmp.unlink()
        if wav.ndim > 1:
            wav = wav.mean(axis=1)
        if sr != ESPEAK_RATE:
            raise RuntimeError(f"unexpected espeak-ng sample rate {sr}")
        # 22050 -> 16000 Hz: 16000 / 22050 = 320 / 441
        return scipy.signal.resample_poly(wav, 320, 441)


def trim(wav, margin_s=0.025, rel_db=-35.0):
    """Cut leading/trailing silence, keeping ``margin_s`` seconds on each side."""
    frame = SAMPLE_RATE // 100
    n = len(wav) // frame
    if n == 0:
        return wav
    rms = np.sqrt(np.mean(wav[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    active = np.nonzero(20 * np.log10(rms / rms.max()) > rel_db)[0]
    margin = int(margin_s * SAMPLE_RATE)
    start = max(0, active[0] * frame - margin)
    end = min(len(wav), (active[-1] + 1) * frame + margin)
    return wav[start:end]


def to_int16(wav, peak):
    """Scale so that the absolute peak equals ``peak`` (of full scale)."""
    wav = wav * (peak / max(np.abs(wav).max(), 1e-9))
    return np.round(np.clip(wav, -1.0, 1.0) * 32767.0).astype(np.int16)


def write_audio(path, samples):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".flac":
        sf.write(str(path), samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16",
                 compression_level=1.0)
    else:
        sf.write(str(path), samples, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return len(samples) / SAMPLE_RATE


def write_text(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")


# --------------------------------------------------------------------------- #
# LibriSpeech
# --------------------------------------------------------------------------- #
LS_WORDS = ["ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT",
            "NINE", "YES", "NO"]
# speaker id -> (espeak voice, pitch, speed)
LS_TRAIN = {
    "19": ("en+m1", 40, 185), "26": ("en+f3", 62, 180), "27": ("en+m3", 48, 190),
    "32": ("en+f2", 70, 178), "39": ("en-us+m2", 38, 182), "40": ("en-us+f1", 66, 188),
    "60": ("en+m4", 52, 176), "78": ("en-us+f4", 58, 184),
}
# dev/test speakers re-use the training voices with another pitch and speed
LS_DEV = {"84": ("en+f3", 56, 188), "174": ("en-us+m2", 44, 178)}
LS_TEST = {"61": ("en+m1", 46, 178), "121": ("en-us+f1", 60, 182)}
LS_PLAN = {  # split -> (speakers, chapters per speaker, utterances per chapter)
    "train-clean-100": (LS_TRAIN, 2, 8),
    "dev-clean": (LS_DEV, 1, 8),
    "test-clean": (LS_TEST, 1, 8),
}


def make_librispeech(root, synth, rng, stats):
    chapters_used = set()
    for split, (speakers, n_chap, n_utt) in LS_PLAN.items():
        for spk, (voice, pitch, speed) in speakers.items():
            for _ in range(n_chap):
                chapter = rng.randint(1000, 199999)
                while chapter in chapters_used:
                    chapter = rng.randint(1000, 199999)
                chapters_used.add(chapter)
                chap_dir = root / split / spk / str(chapter)
                lines = []
                for i in range(n_utt):
                    n_words = rng.choice([2, 2, 3])
                    words = [rng.choice(LS_WORDS) for _ in range(n_words)]
                    text = " ".join(words)
                    wav = synth(text.lower(), voice, speed=speed + rng.randint(-8, 8),
                                pitch=pitch + rng.randint(-4, 4))
                    uid = f"{spk}-{chapter}-{i:04d}"
                    dur = write_audio(chap_dir / f"{uid}.flac", to_int16(trim(wav), 0.15))
                    stats.add("LibriSpeech", split, dur)
                    lines.append(f"{uid} {text}")
                write_text(chap_dir / f"{spk}-{chapter}.trans.txt", lines)


# --------------------------------------------------------------------------- #
# VoxCeleb1
# --------------------------------------------------------------------------- #
VOX_SENTENCES = [
    "that was a great idea", "we had so much fun", "it was my first time",
    "it came out in June", "she called me back", "we never planned that",
    "that song changed me", "my family lives there", "I did not expect that",
    "the crowd was amazing", "we worked for years", "he taught me to play",
    "they sent the script", "I remember that day", "it took a long time",
    "we spent winter there", "you have to trust it", "the band played late",
    "my mother loved it", "the show was cancelled", "I was so nervous",
    "we laughed for weeks", "they asked me back", "it is about friends",
    "I grew up in a town", "it felt like a dream", "we recorded at home",
    "the team worked hard", "she is a great actor", "everyone was waiting",
    "the weather was awful", "I read it twice", "we drove all night",
    "it was a special moment", "my brother gave me that", "the audience sang",
    "I still have the photos", "we talked for hours", "he had a clear vision",
    "it was hard to leave", "I learned a lot", "we finally got the call",
    "that was the best year", "the role was for her", "I loved the ending",
    "we moved here in May", "the kids loved it", "I will never forget it",
]
# speaker id -> (espeak voice, pitch, speed); voices differ in variant and pitch
VOX_DEV = {
    "id10001": ("en+m1", 30, 185), "id10002": ("en+f2", 72, 190),
    "id10003": ("en-us+m3", 45, 200), "id10004": ("en-us+f3", 58, 180),
    "id10005": ("en+m7", 55, 193), "id10006": ("en+f4", 66, 205),
    "id10007": ("en-us+m5", 36, 175), "id10008": ("en+f1", 80, 187),
}
VOX_TEST = {
    "id10270": ("en-us+m2", 40, 190), "id10271": ("en+f5", 64, 183),
    "id10272": ("en+m6", 50, 197), "id10273": ("en-us+f2", 76, 193),
}
VOX_VIDEOS_PER_SPK = 2
VOX_DEV_UTTS, VOX_TEST_UTTS = 4, 4
YT_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _video_id(rng):
    return rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") + "".join(
        rng.choice(YT_CHARS) for _ in range(10))


def _vox_split(root, speakers, n_utts, synth, rng, sentences, stats, split):
    files = {}
    for spk, (voice, pitch, speed) in speakers.items():
        videos = [_video_id(rng) for _ in range(VOX_VIDEOS_PER_SPK)]
        files[spk] = []
        for i in range(n_utts):
            video = videos[i % len(videos)]
            utt = i // len(videos) + 1
            rel = f"{spk}/{video}/{utt:05d}.wav"
            wav = synth(sentences.pop(), voice, speed=speed + rng.randint(-10, 10),
                        pitch=pitch + rng.randint(-3, 3))
            dur = write_audio(root / rel, to_int16(trim(wav), rng.uniform(0.4, 0.8)))
            stats.add("VoxCeleb1", split, dur)
            files[spk].append(rel)
    return files


def _trials(files, rng):
    """All target pairs plus as many random non-target pairs, sorted by enrollment."""
    spks = sorted(files)
    target = [(1, a, b) for s in spks for a, b in itertools.combinations(files[s], 2)]
    cross = [(0, a, b) for s1, s2 in itertools.combinations(spks, 2)
             for a in files[s1] for b in files[s2]]
    nontarget = rng.sample(cross, len(target))
    trials = []
    for label, a, b in target + nontarget:
        if rng.random() < 0.5:
            a, b = b, a
        trials.append((label, a, b))
    trials.sort(key=lambda t: (t[1], t[2]))
    return [f"{label} {a} {b}" for label, a, b in trials]


def make_voxceleb1(root, synth, rng, stats):
    sentences = list(VOX_SENTENCES)
    rng.shuffle(sentences)
    dev = _vox_split(root / "dev" / "wav", VOX_DEV, VOX_DEV_UTTS, synth, rng, sentences,
                     stats, "dev")
    test = _vox_split(root / "test" / "wav", VOX_TEST, VOX_TEST_UTTS, synth, rng,
                      sentences, stats, "test")
    write_text(root / "veri_test_mini.txt", _trials(test, rng))
    write_text(root / "veri_dev_mini.txt", _trials(dev, rng))


# --------------------------------------------------------------------------- #
# IEMOCAP
# --------------------------------------------------------------------------- #
IEMO_SENTENCES = [
    "I told you yesterday", "where are you going", "we leave at nine",
    "this is the last one", "he will call back", "look at the letter",
    "I did not know that", "they are coming home", "you can keep the car",
    "it is in the kitchen", "she got the job", "we are moving away",
    "the flight was cancelled", "I saw him today", "that is what he wants",
    "so you finally did it", "come over here", "the money is gone",
    "it happened last night", "I need to talk to you",
]
# emotion -> (speed factor, pitch offset, gain, espeak word gap)
IEMO_PROSODY = {
    "neu": (1.00, 0, 0.45, None),
    "hap": (1.15, 18, 0.60, None),
    "ang": (1.30, 12, 0.95, None),
    "sad": (0.72, -18, 0.18, 4),
}
EMOTIONS = ["neu", "hap", "ang", "sad"]
# one female and one male voice per session: (voice, base pitch, base speed)
IEMO_VOICES = {
    1: {"F": ("en+f2", 62, 180), "M": ("en+m1", 40, 175)},
    2: {"F": ("en-us+f3", 58, 185), "M": ("en-us+m3", 42, 180)},
    3: {"F": ("en+f4", 60, 175), "M": ("en+m3", 38, 185)},
    4: {"F": ("en-us+f1", 64, 183), "M": ("en+m7", 45, 177)},
    5: {"F": ("en+f5", 56, 187), "M": ("en-us+m2", 36, 183)},
}
IEMO_VAD = {"neu": "[3.0000, 2.5000, 3.0000]", "hap": "[4.0000, 3.5000, 3.0000]",
            "exc": "[4.0000, 4.0000, 3.5000]", "ang": "[1.5000, 4.0000, 4.0000]",
            "sad": "[1.5000, 2.0000, 2.0000]"}
IEMO_NAMES = {"neu": "Neutral", "hap": "Happiness", "exc": "Excited", "ang": "Anger",
              "sad": "Sadness"}


def make_iemocap(root, synth, rng, stats):
    base = root / "IEMOCAP_full_release"
    for session in range(1, 6):
        sess = base / f"Session{session}"
        dialogs = [f"Ses0{session}F_impro0{session}", f"Ses0{session}M_script0{session}_1"]
        # each speaker says every emotion once; 2 utterances per emotion per session
        f_emos = EMOTIONS[:]
        m_emos = EMOTIONS[:]
        rng.shuffle(f_emos)
        rng.shuffle(m_emos)
        sentences = rng.sample(IEMO_SENTENCES, 8)
        for d, dialog in enumerate(dialogs):
            turns = [("F", f_emos[2 * d]), ("M", m_emos[2 * d]),
                     ("F", f_emos[2 * d + 1]), ("M", m_emos[2 * d + 1])]
            counters = {"F": 0, "M": 0}
            clock = round(rng.uniform(2.0, 6.0), 4)
            eval_lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
            trans_lines = []
            for t, (gender, emo) in enumerate(turns):
                voice, pitch, speed = IEMO_VOICES[session][gender]
                speed_f, pitch_off, gain, gap = IEMO_PROSODY[emo]
                text = sentences[4 * d + t]
                wav = synth(text, voice, speed=speed * speed_f, pitch=pitch + pitch_off,
                            gap=gap)
                utt = f"{dialog}_{gender}{counters[gender]:03d}"
                counters[gender] += 1
                dur = write_audio(sess / "sentences" / "wav" / dialog / f"{utt}.wav",
                                  to_int16(trim(wav), gain))
                stats.add("IEMOCAP", f"Session{session}", dur)
                start, end = clock, clock + dur
                clock = round(end + rng.uniform(0.3, 1.5), 4)
                # the male speaker's happy turn is annotated "exc" (merged into
                # "hap" by s3prl's IEMOCAP_preprocess.py, as for the real data)
                label = "exc" if (emo == "hap" and gender == "M") else emo
                name = IEMO_NAMES[label]
                eval_lines.append(
                    f"[{start:.4f} - {end:.4f}]\t{utt}\t{label}\t{IEMO_VAD[label]}")
                for ev in ("C-E1", "C-E2", "C-E3"):
                    eval_lines.append(f"{ev}:\t{name};\t()")
                for ev in ("A-E1", "A-E2"):
                    v, a, dm = IEMO_VAD[label].strip("[]").split(", ")
                    eval_lines.append(f"{ev}:\tval {float(v):.0f}; act {float(a):.0f}; "
                                      f"dom  {float(dm):.0f};\t()")
                eval_lines.append("")
                trans_lines.append(f"{utt} [{start:08.4f}-{end:08.4f}]: {text.capitalize()}.")
            write_text(sess / "dialog" / "EmoEvaluation" / f"{dialog}.txt", eval_lines)
            write_text(sess / "dialog" / "transcriptions" / f"{dialog}.txt", trans_lines)


# --------------------------------------------------------------------------- #
# ML-SUPERB (Mono-1h language/source pairs)
# --------------------------------------------------------------------------- #
ML_TEXT = {
    ("mls", "eng"): [
        "The old man went home.", "She read the letter.", "The river was cold.",
        "He closed the door.", "A bird sang.", "They waited all night.",
        "The ship sailed away.", "Her voice was soft.", "The children ran.",
        "We heard the bells.",
    ],
    ("nchlt", "eng"): [
        "The bus is late.", "Bring me water, please.", "My brother works.",
        "The shop is open.", "It is raining.", "We played football.",
        "The phone is here.", "I will call you.", "The dog is sleeping.",
        "She bought bread.",
    ],
    ("voxpopuli", "eng"): [
        "Parliament voted today.", "We support this.", "The Commission must act.",
        "This report matters.", "Thank you, President.", "The debate is closed.",
        "We need clear rules.", "States must cooperate.", "I welcome this.",
        "We vote tomorrow.",
    ],
    ("voxforge", "fra"): [
        "Il fait beau.", "J'aime les livres.", "Où est la gare ?",
        "Nous habitons ici.", "Un verre d'eau.", "Le train arrive.",
        "Elle travaille.", "Merci beaucoup.", "Les enfants jouent.",
        "Demain, il pleut.",
    ],
    ("voxpopuli", "fra"): [
        "Le Parlement a voté.", "La Commission répond.", "Des règles claires.",
        "Le chat dort.", "Je bois du café.", "Le livre est là.",
        "Ma sœur est à Paris.", "La fenêtre est ouverte.", "Nous partons demain.",
        "La séance est levée.",
    ],
    ("swc", "deu"): [
        "Das Wetter ist schön.", "Ich lese gern.", "Wo ist der Bahnhof?",
        "Wir wohnen hier.", "Ein Glas Wasser, bitte.", "Der Zug kommt.",
        "Sie arbeitet viel.", "Vielen Dank.", "Die Kinder spielen.",
        "Morgen wird es kalt.",
    ],
    ("voxpopuli", "deu"): [
        "Das Parlament stimmt ab.", "Die Kommission berichtet.", "Wir brauchen Regeln.",
        "Der Hund schläft.", "Ich trinke Kaffee.", "Das Buch liegt hier.",
        "Sie wohnt in Berlin.", "Das Fenster ist offen.", "Wir gehen einkaufen.",
        "Die Sitzung ist geschlossen.",
    ],
    ("M-AILABS", "rus"): [
        "Хорошая погода.", "Я люблю книги.", "Где вокзал?", "Мы живём здесь.",
        "Дайте воды.", "Завтра холодно.", "Он работает.", "Это интересно.",
        "Спасибо за помощь.", "Поезд пришёл.",
    ],
    ("ALFFA", "swa"): [
        "Habari za asubuhi.", "Ninapenda vitabu.", "Watoto wanacheza.",
        "Mvua inanyesha.", "Nipe maji, tafadhali.", "Soko liko wapi?",
        "Mama anapika.", "Tutaonana kesho.", "Asante sana.", "Gari limefika.",
    ],
    ("NST", "swe"): [
        "Det är fint väder.", "Jag läser gärna.", "Var är stationen?",
        "Vi bor här.", "Ett glas vatten, tack.", "Tåget kommer.",
        "Hon arbetar.", "Tack för hjälpen.", "Barnen leker.", "Det blir kallt.",
    ],
    # word-level, space-separated tokens (kana)
    ("commonvoice", "jpn"): [
        "きょう は はれ です", "わたし は がくせい", "えき は どこ",
        "みず を ください", "あした きます", "ほん を よむ",
        "ねこ が すき", "でんしゃ が きた", "ありがとう ございます",
        "おはよう ございます",
    ],
    # word-level, space-separated tokens (hanzi) | pinyin actually spoken
    ("fleurs", "cmn"): [
        "天气 很 好|tian1 qi4 hen3 hao3",
        "我 喜欢 茶|wo3 xi3 huan1 cha2",
        "他 在 学习|ta1 zai4 xue2 xi2",
        "我们 吃饭|wo3 men2 chi1 fan4",
        "这 本 书|zhe4 ben3 shu1",
        "明天 去 北京|ming2 tian1 qu4 bei3 jing1",
        "她 是 朋友|ta1 shi4 peng2 you3",
        "请 开 窗|qing3 kai1 chuang1",
        "火车 到 了|huo3 che1 dao4 le5",
        "你 叫 什么|ni3 jiao4 shen2 me5",
    ],
    # espeak-ng has no Mixtec voice: Spanish sentences spoken by a Spanish voice
    ("mexico-el", "xty"): [
        "Buenos días.", "El maíz crece.", "Mi casa está cerca.", "Vamos al mercado.",
        "Llegó la lluvia.", "El niño come.", "Mi madre teje.", "El perro duerme.",
        "Hace calor.", "Gracias por todo.",
    ],
}
# two voices per pair, alternated over utterances: (voice, pitch, speed)
ML_VOICES = {
    ("mls", "eng"): [("en-us+m3", 42, 190), ("en-us+f2", 66, 185)],
    ("nchlt", "eng"): [("en+f3", 60, 187), ("en+m2", 45, 193)],
    ("voxpopuli", "eng"): [("en+m1", 38, 195), ("en+f4", 64, 191)],
    ("voxforge", "fra"): [("fr-fr+m1", 42, 185), ("fr-fr+f2", 64, 183)],
    ("voxpopuli", "fra"): [("fr-fr+f3", 58, 190), ("fr-fr+m3", 40, 187)],
    ("swc", "deu"): [("de+m2", 44, 183), ("de+f1", 62, 180)],
    ("voxpopuli", "deu"): [("de+f3", 60, 187), ("de+m1", 38, 185)],
    ("M-AILABS", "rus"): [("ru+m1", 42, 180), ("ru+f2", 64, 177)],
    ("ALFFA", "swa"): [("sw+m3", 44, 175), ("sw+f1", 62, 173)],
    ("NST", "swe"): [("sv+f2", 62, 183), ("sv+m1", 42, 180)],
    ("commonvoice", "jpn"): [("ja+f3", 64, 175), ("ja+m2", 42, 173)],
    ("fleurs", "cmn"): [("cmn-latn-pinyin+m1", 44, 180), ("cmn-latn-pinyin+f2", 64, 178)],
    ("mexico-el", "xty"): [("es-419+m3", 42, 180), ("es-419+f3", 62, 177)],
}
ML_PREFIX = {"commonvoice": "cv"}
ML_N_TRAIN, ML_N_10MIN, ML_N_DEV, ML_N_TEST = 3, 2, 1, 1


def make_ml_superb(root, synth, rng, stats):
    for (dataset, lang), texts in ML_TEXT.items():
        pair_dir = root / dataset / lang
        voices = ML_VOICES[(dataset, lang)]
        order = list(range(len(texts)))
        rng.shuffle(order)
        n_total = ML_N_TRAIN + ML_N_DEV + ML_N_TEST
        ids = sorted(rng.sample(range(1, 400), n_total))
        entries = []
        for k in range(n_total):
            item = texts[order[k]]
            text, spoken = item.split("|") if "|" in item else (item, item)
            voice, pitch, speed = voices[k % len(voices)]
            wav = synth(spoken, voice, speed=speed + rng.randint(-8, 8),
                        pitch=pitch + rng.randint(-4, 4))
            utt_id = f"{ML_PREFIX.get(dataset, dataset)}_{lang}_{ids[k]:06d}"
            dur = write_audio(pair_dir / "wav" / f"{utt_id}.wav",
                              to_int16(trim(wav), rng.uniform(0.4, 0.8)))
            stats.add("ml_superb", f"{dataset}/{lang}", dur)
            entries.append(f"{utt_id} {dataset} {text}")
        train = entries[:ML_N_TRAIN]
        write_text(pair_dir / "transcript_1h_train.txt", train)
        write_text(pair_dir / "transcript_10min_train.txt", train[:ML_N_10MIN])
        write_text(pair_dir / "transcript_10min_dev.txt",
                   entries[ML_N_TRAIN:ML_N_TRAIN + ML_N_DEV])
        write_text(pair_dir / "transcript_10min_test.txt", entries[ML_N_TRAIN + ML_N_DEV:])


# --------------------------------------------------------------------------- #
# Speech Commands v0.01 (keyword spotting)
# --------------------------------------------------------------------------- #
SC_KEYWORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
SC_UNKNOWN = ["bed", "cat"]  # non-keyword folders: s3prl maps them to _unknown_
SC_TRAIN_VOICES = [("en+m1", 42, 170), ("en-us+f2", 66, 165)]
SC_VALID_VOICES = [("en+f3", 60, 168)]
SC_TEST_VOICE = ("en-us+m3", 46, 172)
SC_NOISES = {"white_noise.wav": 0.0, "pink_noise.wav": 1.0}  # name -> spectral tilt (0 white, 1 pink)


def speech_commands_bucket(filename):
    """Percentage bucket (0-100) of a file in the dataset's hash split (README of Speech Commands):
    < 10 validation, < 20 testing, else training; it depends only on the speaker part of the name."""
    speaker = filename.split("_nohash_")[0]
    digest = int(hashlib.sha1(speaker.encode("utf-8")).hexdigest(), 16)
    max_per_class = 2 ** 27 - 1
    return (digest % (max_per_class + 1)) * (100.0 / max_per_class)


def _speaker_hashes(rng, n, bucket_ok):
    """``n`` random 8-hex-digit speaker ids whose hash bucket satisfies ``bucket_ok``."""
    out = []
    while len(out) < n:
        cand = f"{rng.getrandbits(32):08x}"
        if bucket_ok(speech_commands_bucket(cand + "_nohash_0.wav")) and cand not in out:
            out.append(cand)
    return out


def _one_second(wav, rng, peak):
    """Place a trimmed word at a random offset inside a 1 s clip (16000 samples)."""
    wav = trim(wav)[:SAMPLE_RATE]
    clip = np.zeros(SAMPLE_RATE)
    start = rng.randint(0, SAMPLE_RATE - len(wav))
    clip[start:start + len(wav)] = wav
    return to_int16(clip, peak)


def _noise(seconds, tilt, seed):
    """Stationary noise: white (tilt 0) or 1/f (tilt 1), from numpy's frozen legacy generator."""
    n = int(seconds * SAMPLE_RATE)
    spec = np.fft.rfft(np.random.RandomState(seed).standard_normal(n))
    freqs = np.arange(len(spec), dtype=np.float64)
    freqs[0] = 1.0
    return np.fft.irfft(spec / freqs ** (tilt / 2), n)


def make_speech_commands(root, synth, rng, stats):
    train_root = root / "speech_commands_v0.01"
    test_root = root / "speech_commands_test_set_v0.01"
    words = SC_KEYWORDS + SC_UNKNOWN
    speakers = list(zip(_speaker_hashes(rng, len(SC_TRAIN_VOICES), lambda b: b >= 20), SC_TRAIN_VOICES))
    speakers += list(zip(_speaker_hashes(rng, len(SC_VALID_VOICES), lambda b: b < 10), SC_VALID_VOICES))
    for spk, (voice, pitch, speed) in speakers:
        for word in words:
            wav = synth(word, voice, speed=speed + rng.randint(-8, 8), pitch=pitch + rng.randint(-4, 4))
            write_audio(train_root / word / f"{spk}_nohash_0.wav", _one_second(wav, rng, rng.uniform(0.3, 0.7)))
            stats.add("SpeechCommands", "train+valid", 1.0)
    for k, (name, tilt) in enumerate(SC_NOISES.items()):
        dur = write_audio(train_root / "_background_noise_" / name, to_int16(_noise(1.5, tilt, SEED + 50 + k), 0.3))
        stats.add("SpeechCommands", "_background_noise_", dur)
    (test_spk,) = _speaker_hashes(rng, 1, lambda b: True)
    voice, pitch, speed = SC_TEST_VOICE
    for word in SC_KEYWORDS + ["_unknown_"]:
        said = rng.choice(SC_UNKNOWN) if word == "_unknown_" else word
        wav = synth(said, voice, speed=speed, pitch=pitch)
        write_audio(test_root / word / f"{test_spk}_nohash_0.wav", _one_second(wav, rng, rng.uniform(0.3, 0.7)))
        stats.add("SpeechCommands", "test", 1.0)
    for k, tilt in enumerate(SC_NOISES.values()):
        clip = to_int16(_noise(1.0, tilt, SEED + 60 + k), rng.uniform(0.05, 0.2))
        write_audio(test_root / "_silence_" / f"{_speaker_hashes(rng, 1, lambda b: True)[0]}_nohash_{k}.wav", clip)
        stats.add("SpeechCommands", "test", 1.0)


# --------------------------------------------------------------------------- #
# Fluent Speech Commands (intent classification)
# --------------------------------------------------------------------------- #
FSC_INTENTS = [  # transcription, action, object, location
    ("Turn on the lights in the kitchen", "activate", "lights", "kitchen"),
    ("Switch off the lights in the bedroom", "deactivate", "lights", "bedroom"),
    ("Turn up the heat", "increase", "heat", "none"),
    ("Turn the heat down in the washroom", "decrease", "heat", "washroom"),
    ("Decrease the volume", "decrease", "volume", "none"),
    ("Play the music", "activate", "music", "none"),
    ("Bring me my shoes", "bring", "shoes", "none"),
    ("Change language to German", "change language", "German", "none"),
]
FSC_SPEAKERS = {  # split -> voices
    "train": [("en+m2", 44, 175), ("en-us+f4", 62, 180)],
    "valid": [("en+f1", 70, 178)],
    "test": [("en-us+m5", 40, 182)],
}
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _uuid1_like(rng):
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-11e9-{h[16:20]}-{h[20:32]}"


def make_fluent_commands(root, synth, rng, stats):
    for split, voices in FSC_SPEAKERS.items():
        rows = []
        for voice, pitch, speed in voices:
            spk = "".join(rng.choice(ALNUM) for _ in range(16))
            # training speakers say every intent (s3prl builds the label sets from train_data.csv), others half
            intents = FSC_INTENTS if split == "train" else rng.sample(FSC_INTENTS, len(FSC_INTENTS) // 2)
            for text, action, obj, location in intents:
                rel = f"wavs/speakers/{spk}/{_uuid1_like(rng)}.wav"
                wav = synth(text, voice, speed=speed + rng.randint(-8, 8), pitch=pitch + rng.randint(-4, 4))
                dur = write_audio(root / rel, to_int16(trim(wav), rng.uniform(0.4, 0.8)))
                stats.add("fluent_speech_commands_dataset", split, dur)
                rows.append([rel, spk, text, action, obj, location])
        lines = [",path,speakerId,transcription,action,object,location"]
        lines += [",".join([str(i)] + row) for i, row in enumerate(rows)]
        write_text(root / "data" / f"{split}_data.csv", lines)


# --------------------------------------------------------------------------- #
# VoxCeleb1 identification split (over the VoxCeleb1 files above)
# --------------------------------------------------------------------------- #
def make_voxceleb1_iden_split(root):
    """``iden_split.txt`` format, ``<set> <id>/<video>/<nnnnn>.wav`` with set 1 train, 2 dev, 3 test:
    every speaker of dev/wav and test/wav gives its first two files to training, the third to dev, the fourth to test."""
    lines = []
    for split in ("dev", "test"):
        wav_root = root / split / "wav"
        for spk in sorted(p.name for p in wav_root.iterdir()):
            files = sorted(p.relative_to(wav_root).as_posix() for p in (wav_root / spk).glob("*/*.wav"))
            lines += [f"{1 if i < 2 else i} {rel}" for i, rel in enumerate(files)]
    write_text(root / "iden_split_mini.txt", lines)


# --------------------------------------------------------------------------- #
# LibriSpeech phones (lexicon of the words the LibriSpeech miniature says)
# --------------------------------------------------------------------------- #
# espeak-ng English phoneme mnemonics (``espeak-ng -x``) -> ARPAbet; vowels take a stress digit
ESPEAK_TO_ARPABET = {
    "i@": "IY", "oU": "OW", "u:": "UW", "o@": "AO", "aI": "AY", "eI": "EY", "0": "AA", "V": "AH", "I": "IH",
    "E": "EH", "@": "AH", "a": "AE", "3:": "ER", "O": "AO", "i:": "IY", "aU": "AW", "OI": "OY", "U": "UH",
    "z": "Z", "r": "R", "w": "W", "t": "T", "T": "TH", "f": "F", "v": "V", "s": "S", "k": "K", "n": "N",
    "j": "Y", "D": "DH", "l": "L", "b": "B", "d": "D", "g": "G", "p": "P", "m": "M", "h": "HH", "S": "SH",
    "Z": "ZH", "N": "NG", "tS": "CH", "dZ": "JH",
}
ARPABET_VOWELS = ["AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"]
ARPABET_CONSONANTS = ["B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG", "P", "R", "S", "SH",
                      "T", "TH", "V", "W", "Y", "Z", "ZH"]
LS_ACCENTS = ("en", "en-us")  # the voices of the LibriSpeech miniature; "en" has more training speakers


def espeak_phonemes(word, voice):
    out = subprocess.run(["espeak-ng", "-q", "-x", "-v", voice, word], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def to_arpabet(mnemonics):
    """``z'i@roU`` -> ``['Z', 'IY1', 'R', 'OW0']``: longest match over ``ESPEAK_TO_ARPABET``;
    ``'`` and ``,`` give the next vowel stress 1 and 2, other vowels take 0."""
    phones, stress, i = [], "0", 0
    keys = sorted(ESPEAK_TO_ARPABET, key=len, reverse=True)
    while i < len(mnemonics):
        ch = mnemonics[i]
        if ch in "',":
            stress, i = ("1" if ch == "'" else "2"), i + 1
            continue
        key = next((k for k in keys if mnemonics.startswith(k, i)), None)
        if key is None:
            raise ValueError(f"no ARPAbet mapping for espeak-ng phoneme {mnemonics[i:]!r} in {mnemonics!r}")
        phone = ESPEAK_TO_ARPABET[key]
        if phone in ARPABET_VOWELS:
            phone, stress = phone + stress, "0"
        phones.append(phone)
        i += len(key)
    return phones


def make_librispeech_phones(root):
    """``lexicon.txt`` (``WORD PH1 PH2 ...``, one line per distinct pronunciation, the ``en`` one first) and
    ``phoneme.txt`` (SIL, SPN and the ARPAbet phones, vowels with stress 0/1/2)."""
    lines = []
    for word in LS_WORDS:
        prons = []
        for accent in LS_ACCENTS:
            pron = " ".join(to_arpabet(espeak_phonemes(word.lower(), accent)))
            if pron not in prons:
                prons.append(pron)
        lines += [f"{word} {pron}" for pron in prons]
    write_text(root / "phones" / "lexicon.txt", lines)
    vocab = ["SIL", "SPN"] + sorted([v + s for v in ARPABET_VOWELS for s in "012"] + ARPABET_CONSONANTS)
    write_text(root / "phones" / "phoneme.txt", vocab)


# --------------------------------------------------------------------------- #
# SNIPS (spoken slot filling, audio SNIPS layout)
# --------------------------------------------------------------------------- #
SNIPS_TEMPLATES = [  # (intent, words with {slot} placeholders)
    ("GetWeather", "WHAT IS THE WEATHER IN {city}"),
    ("GetWeather", "WILL IT RAIN IN {city} {timeRange}"),
    ("PlayMusic", "PLAY {artist} ON {service}"),
    ("AddToPlaylist", "ADD THIS SONG TO {playlist}"),
    ("BookRestaurant", "BOOK A TABLE FOR {party_size_number} IN {city}"),
]
SNIPS_VALUES = {
    "city": ["PARIS", "NEW YORK", "BERLIN", "TOKYO"], "timeRange": ["TOMORROW", "TONIGHT"],
    "artist": ["THE BEATLES", "MILES DAVIS", "ADELE"], "service": ["SPOTIFY", "DEEZER"],
    "playlist": ["MY FAVORITES", "ROAD TRIP"], "party_size_number": ["TWO", "FOUR"],
}
# speaker names as in s3prl's snips.yaml lists, so its default speaker split selects these files
SNIPS_SPEAKERS = {  # split folder -> {speaker: voice}, utterances per speaker
    "train": ({"Ivy": ("en-us+f1", 64, 178), "Joanna": ("en-us+f3", 58, 183), "Joey": ("en-us+m1", 42, 180),
               "Justin": ("en-us+m4", 50, 185)}, 3),
    "valid": ({"Aditi": ("en+f2", 68, 176), "Amy": ("en+f4", 60, 181)}, 2),
    "test": ({"Brian": ("en+m3", 40, 179), "Emma": ("en+f5", 62, 182)}, 2),
}


def _snips_utterance(rng):
    intent, template = rng.choice(SNIPS_TEMPLATES)
    words, tags = [], []
    for token in template.split():
        if token.startswith("{"):
            slot = token.strip("{}")
            value = rng.choice(SNIPS_VALUES[slot]).split()
            words += value
            tags += [slot] * len(value)
        else:
            words.append(token)
            tags.append("O")
    return intent, words, tags


def make_snips(root, synth, rng, stats):
    """Files ``<split>/<Speaker>-snips-<split>-<n>.wav``; ``all-trans.txt`` (``uid TEXT``), ``all.iob.snips.txt``
    (``uid BOS words EOS<TAB>O tags intent``, a tag is the slot name or ``O``) and ``slots.txt`` (first line ``O``)."""
    trans, iob = [], []
    for split, (speakers, n_utt) in SNIPS_SPEAKERS.items():
        for spk, (voice, pitch, speed) in speakers.items():
            for n in range(n_utt):
                intent, words, tags = _snips_utterance(rng)
                uid = f"{spk}-snips-{split}-{n}"
                wav = synth(" ".join(words).lower(), voice, speed=speed + rng.randint(-8, 8),
                            pitch=pitch + rng.randint(-4, 4))
                dur = write_audio(root / split / f"{uid}.wav", to_int16(trim(wav), rng.uniform(0.4, 0.8)))
                stats.add("SNIPS", split, dur)
                trans.append(f"{uid} {' '.join(words)}")
                iob.append(f"{uid} BOS {' '.join(words)} EOS\tO {' '.join(tags)} {intent}")
    write_text(root / "all-trans.txt", trans)
    write_text(root / "all.iob.snips.txt", iob)
    # s3prl's slot encoder skips the first line and reads one slot per line: no trailing newline (an empty slot)
    (root / "slots.txt").write_text("\n".join(["O"] + sorted(SNIPS_VALUES)), encoding="utf-8")


# --------------------------------------------------------------------------- #
# Libri2Mix (speaker diarization): two LibriSpeech-miniature utterances per mixture
# --------------------------------------------------------------------------- #
LIBRIMIX_PLAN = {  # mixture split -> (LibriSpeech split, number of mixtures)
    "train": ("train-clean-100", 6),
    "dev": ("dev-clean", 2),
    "test": ("test-clean", 2),
}
LIBRIMIX_DIR = {"train": "train-100", "dev": "dev", "test": "test"}
HOP = SAMPLE_RATE // 100  # onsets and lengths on a 10 ms grid, so that every time is exact with 2 decimals


def _on_grid(n_samples):
    return n_samples - n_samples % HOP


def make_libri2mix(root, librispeech, rng, stats):
    """``wav16k/max/<split>/mix_clean/<utt1>_<utt2>.wav`` and Kaldi dirs ``data/<split>/`` (wav.scp with paths
    relative to this folder, segments, utt2spk, spk2utt, reco2dur, rttm); plus the inputs of SUPERB's
    preparation as s3prl's LibriMix fork lays them out: the mixture lists
    ``wav16k/max/metadata/mixture_<split>_mix_clean.csv`` and the source utterances' speech segments
    ``metadata/LibriSpeech/<librispeech split>.rttm`` (times from the mixture's start, where the real
    "max" mode starts every source)."""
    for split, (ls_split, n_mix) in LIBRIMIX_PLAN.items():
        by_spk = {}
        for flac in sorted((librispeech / ls_split).rglob("*.flac")):
            by_spk.setdefault(flac.parent.parent.name, []).append(flac)
        kaldi = {name: [] for name in ("wav.scp", "segments", "utt2spk", "reco2dur", "rttm")}
        spk2utt = {}
        mixtures, source_rttm = [], []
        for files in by_spk.values():
            rng.shuffle(files)
        for _ in range(n_mix):  # every source utterance is used once
            spk1, spk2 = rng.sample(sorted(by_spk), 2)
            src = [by_spk[spk1].pop(), by_spk[spk2].pop()]
            wavs = [sf.read(str(p), dtype="float64")[0] for p in src]
            wavs = [w[:_on_grid(len(w))] for w in wavs]
            onsets = [_on_grid(rng.randint(0, HOP * 30))]
            onsets.append(_on_grid(onsets[0] + int(len(wavs[0]) * rng.uniform(0.5, 0.9))))  # partial overlap
            total = _on_grid(max(o + len(w) for o, w in zip(onsets, wavs)) + HOP * rng.randint(5, 30))
            mix = np.zeros(total)
            for o, w in zip(onsets, wavs):
                mix[o:o + len(w)] += w
            rec = f"{src[0].stem}_{src[1].stem}"
            rel = f"wav16k/max/{LIBRIMIX_DIR[split]}/mix_clean/{rec}.wav"
            dur = write_audio(root / rel, to_int16(mix, 0.5))
            stats.add("Libri2Mix", split, dur)
            kaldi["wav.scp"].append(f"{rec} {rel}")
            mixtures.append(f"{rec},Libri2Mix/{rel}," + ",".join(f"{p.relative_to(librispeech).as_posix()}" for p in src) + f",{total}")
            kaldi["reco2dur"].append(f"{rec} {total / SAMPLE_RATE:.2f}")
            for spk, o, w in zip((spk1, spk2), onsets, wavs):
                utt = f"{spk}_{rec}"
                st, et = o / SAMPLE_RATE, (o + len(w)) / SAMPLE_RATE
                kaldi["segments"].append(f"{utt} {rec} {st:.2f} {et:.2f}")
                kaldi["utt2spk"].append(f"{utt} {spk}")
                kaldi["rttm"].append(f"SPEAKER {rec} 1 {st:.2f} {et - st:.2f} <NA> <NA> {spk} <NA> <NA>")
                spk2utt.setdefault(spk, []).append(utt)
            for spk, o, w, source in zip((spk1, spk2), onsets, wavs, src):
                st, et = o / SAMPLE_RATE, (o + len(w)) / SAMPLE_RATE
                source_rttm.append(f"SPEAKER {source.stem[len(spk) + 1:]} 1 {st:.2f} {et - st:.2f} <NA> <NA> {spk} <NA> <NA>")
        data_dir = root / "data" / split
        for name, lines in kaldi.items():
            write_text(data_dir / name, sorted(lines))
        write_text(data_dir / "spk2utt", [f"{s} {' '.join(sorted(u))}" for s, u in sorted(spk2utt.items())])
        write_text(root / "wav16k" / "max" / "metadata" / f"mixture_{LIBRIMIX_DIR[split]}_mix_clean.csv",
                   ["mixture_ID,mixture_path,source_1_path,source_2_path,length", *sorted(mixtures)])
        write_text(root / "metadata" / "LibriSpeech" / f"{ls_split.replace('-', '_')}.rttm", sorted(source_rttm))


# --------------------------------------------------------------------------- #
# QUESST 2014 (query-by-example spoken term detection)
# --------------------------------------------------------------------------- #
QUESST_RATE = 8000  # the real release is 8 kHz; s3prl resamples to 16 kHz
QUESST_TERMS = {"dev": ["garden", "window", "river"], "eval": ["morning", "yellow", "doctor"]}
QUESST_FILLER = ["the", "old", "house", "has", "a", "green", "door", "we", "saw", "her", "near", "that",
                 "little", "bridge", "after", "lunch", "my", "friend", "found", "small"]
QUESST_DOC_VOICES = [("en+m1", 44, 170), ("en-us+f2", 64, 168), ("en+f4", 60, 172), ("en-us+m2", 40, 166)]
QUESST_QUERY_VOICES = [("en+m6", 50, 160), ("en-us+f1", 68, 158)]
QUESST_DOCS_PER_TERM = 2
QUESST_CZECH = ["dobry den", "kde je nadrazi"]  # non-English documents: s3prl keeps only "nnenglish"
WORD_GAP = 0.08


def _spoken_doc(words, voice, synth, rng):
    """Concatenate single-word renders with 80 ms gaps; returns 16 kHz audio and each word's (start, dur) in s."""
    voice_name, pitch, speed = voice
    pieces, times, pos = [], [], int(WORD_GAP * SAMPLE_RATE)
    gap = np.zeros(pos)
    pieces.append(gap)
    for word in words:
        w = trim(synth(word, voice_name, speed=speed + rng.randint(-6, 6), pitch=pitch), margin_s=0.0)
        w = w[:len(w) - len(w) % 2]  # whole 8 kHz samples
        times.append((pos / SAMPLE_RATE, len(w) / SAMPLE_RATE))
        pieces += [w, gap]
        pos += len(w) + len(gap)
    return np.concatenate(pieces), times


def _write_8k(path, wav16k, peak):
    wav = scipy.signal.resample_poly(wav16k, 1, 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), to_int16(wav, peak), QUESST_RATE, format="WAV", subtype="PCM_16")
    return len(wav) / QUESST_RATE


def make_quesst14(root, synth, rng, stats):
    """``Audio/quesst14_<nnnnn>.wav`` documents, ``{dev,eval}_queries/quesst14_<set>_<nnnn>.wav`` queries and
    ``scoring/``: language keys and per set ``groundtruth_quesst14_<set>/`` (NIST STD ecf.xml, tlist.xml, rttm)."""
    terms = [t for ts in QUESST_TERMS.values() for t in ts]
    docs = []  # (words, language)
    for term in terms:
        for _ in range(QUESST_DOCS_PER_TERM):
            words = rng.sample(QUESST_FILLER, rng.randint(2, 3))
            words.insert(rng.randint(0, len(words)), term)
            docs.append((words, "nnenglish"))
    for _ in range(len(terms)):  # documents with no term at all
        docs.append((rng.sample(QUESST_FILLER, rng.randint(3, 4)), "nnenglish"))
    docs += [(text.split(), "czech") for text in QUESST_CZECH]
    rng.shuffle(docs)
    doc_lines, hits, ecf = [], {}, {}
    for n, (words, lang) in enumerate(docs, start=1):
        name = f"quesst14_{n:05d}"
        voice = ("cs", 50, 160) if lang == "czech" else rng.choice(QUESST_DOC_VOICES)
        wav, times = _spoken_doc(words, voice, synth, rng)
        dur = _write_8k(root / "Audio" / f"{name}.wav", wav, rng.uniform(0.4, 0.8))
        stats.add("quesst14Database", "Audio", dur)
        doc_lines.append(f"quesst14Database/Audio/{name}.wav {lang}")
        ecf[name] = dur
        for word, (start, length) in zip(words, times):
            if word in terms:
                hits.setdefault(word, []).append((name, start, length))
    write_text(root / "scoring" / "language_key_utterances.lst", doc_lines)
    for qset, qterms in QUESST_TERMS.items():
        query_lines, tlist, rttm = [], [], []
        for n, term in enumerate(qterms, start=1):
            termid = f"quesst14_{qset}_{n:04d}"
            wav, _ = _spoken_doc([term], QUESST_QUERY_VOICES[n % len(QUESST_QUERY_VOICES)], synth, rng)
            dur = _write_8k(root / f"{qset}_queries" / f"{termid}.wav", wav, rng.uniform(0.4, 0.8))
            stats.add("quesst14Database", f"{qset}_queries", dur)
            query_lines.append(f"quesst14Database/{qset}_queries/{termid}.wav nnenglish")
            tlist.append(f'  <term termid="{termid}"><termtext>{termid}</termtext></term>')
            rttm += [f"LEXEME {doc} 1 {start:.6f} {length:.6f} {termid} lex {termid} <NA>"
                     for doc, start, length in hits[term]]
        write_text(root / "scoring" / f"language_key_{qset}.lst", query_lines)
        gt = root / "scoring" / f"groundtruth_quesst14_{qset}"
        write_text(gt / f"quesst14_{qset}.rttm", rttm)
        write_text(gt / f"quesst14_{qset}.tlist.xml", [
            f'<termlist ecf_filename="quesst14_{qset}.ecf.xml" version="1" language="multiple" encoding="UTF-8">',
            *tlist, "</termlist>"])
        write_text(gt / f"quesst14_{qset}.ecf.xml", [
            f'<ecf source_signal_duration="{sum(ecf.values()):.6f}" language="multiple" version="1">',
            *[f'  <excerpt audio_filename="Audio/{name}.wav" channel="1" tbeg="0.000" dur="{d:.6f}" '
              f'source_type="splitcts"/>' for name, d in ecf.items()], "</ecf>"])


# --------------------------------------------------------------------------- #
class Stats:
    def __init__(self):
        self.data = {}

    def add(self, corpus, part, dur):
        entry = self.data.setdefault(corpus, {}).setdefault(part, [0, 0.0])
        entry[0] += 1
        entry[1] += dur

    def report(self):
        for corpus, parts in self.data.items():
            n = sum(v[0] for v in parts.values())
            secs = sum(v[1] for v in parts.values())
            print(f"{corpus}: {n} files, {secs:.1f} s")
            for part, (cnt, sec) in parts.items():
                print(f"  {part}: {cnt} files, {sec:.1f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent),
                        help="output folder (default: the folder of this script)")
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng not found (apt-get install espeak-ng)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in CORPUS_DIRS:
        if (out / name).exists():
            shutil.rmtree(out / name)
    stats = Stats()
    with tempfile.TemporaryDirectory() as tmp:
        synth = Synth(tmp)
        # one independent generator per corpus so each can be changed alone
        make_librispeech(out / "LibriSpeech", synth, random.Random(SEED + 1), stats)
        make_voxceleb1(out / "VoxCeleb1", synth, random.Random(SEED + 2), stats)
        make_iemocap(out / "IEMOCAP", synth, random.Random(SEED + 3), stats)
        make_ml_superb(out / "ml_superb", synth, random.Random(SEED + 4), stats)
        make_speech_commands(out / "SpeechCommands", synth, random.Random(SEED + 5), stats)
        make_fluent_commands(out / "fluent_speech_commands_dataset", synth, random.Random(SEED + 6), stats)
        make_voxceleb1_iden_split(out / "VoxCeleb1")
        make_librispeech_phones(out / "LibriSpeech")
        make_snips(out / "SNIPS", synth, random.Random(SEED + 7), stats)
        make_libri2mix(out / "Libri2Mix", out / "LibriSpeech", random.Random(SEED + 8), stats)
        make_quesst14(out / "quesst14Database", synth, random.Random(SEED + 9), stats)
    stats.report()


if __name__ == "__main__":
    main()
