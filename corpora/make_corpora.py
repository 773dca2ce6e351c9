#!/usr/bin/env python3
"""Synthesize the miniature speech corpora shipped in ``corpora/``.

Every corpus is synthetic speech rendered with espeak-ng and laid out on disk
exactly like the real dataset it stands in for, so that each downstream task
can run end to end offline (tests, demo) on CPU:

* ``LibriSpeech/``   - ASR (digit words), FLAC, LibriSpeech layout.
* ``VoxCeleb1/``     - speaker verification, WAV, VoxCeleb1 layout + trial lists.
* ``IEMOCAP/``       - emotion recognition, WAV, IEMOCAP_full_release layout.
* ``ml_superb/``     - ML-SUPERB Mono-1h pairs, WAV + transcript_*.txt lists.

Usage::

    python corpora/make_corpora.py [--out corpora]

Requires the ``espeak-ng`` binary (tested with 1.51) and numpy, scipy and
soundfile.  The output depends only on the fixed seeds below and on the
espeak-ng version; with the same espeak-ng the audio is byte-identical from
run to run.  Existing ``LibriSpeech``, ``VoxCeleb1``, ``IEMOCAP`` and
``ml_superb`` folders under ``--out`` are replaced.
"""

import argparse
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
CORPUS_DIRS = ("LibriSpeech", "VoxCeleb1", "IEMOCAP", "ml_superb")


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
    stats.report()


if __name__ == "__main__":
    main()
