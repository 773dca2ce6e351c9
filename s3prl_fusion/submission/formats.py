"""What the leaderboard reads in each submitted file, checked before it is zipped: every check
takes the file (SD: the folder) and raises ``MalformedPrediction`` with the first fault it finds.

- ``text_ark`` (PR, ASR, SF): lines ``<utterance> <text>`` as s3prl's experts write them (the text
  may be empty, the space after the id is there), ids unique;
- ``keyword_labels`` / ``speaker_labels`` / ``emotion_labels`` (KS, SID, ER): lines
  ``<utterance> <label>``, ids unique, the label one of the task's classes (KS's 12, ER's four,
  a VoxCeleb1 speaker ``id1xxxx``);
- ``intent_csv`` (IC): csv rows ``<file>,<action>,<object>,<location>``, no header;
- ``trial_scores`` (ASV): lines ``<trial> <score>``, a finite number;
- ``stdlist_xml`` (QbE): an XML ``stdlist`` of ``detected_termlist`` elements (``termid``) holding
  ``term`` elements with ``file``, ``channel``, ``tbeg``, ``dur``, ``score`` (a number) and
  ``decision`` (YES / NO), as s3prl's quesst14_dtw expert writes it;
- ``diarization_predictions`` (SD): a folder of ``<recording>.h5`` files, each an HDF5 file (its
  signature) holding a 2-D ``T_hat`` (frames x speakers, read with h5py where it is installed);
- ``frame_shift`` (SD): one integer.

The XML is read with the standard library's ElementTree: a well-formedness and element check needs
no more.
"""
from __future__ import annotations

import csv
import importlib.util
import math
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

KEYWORD_CLASSES = frozenset({"yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "_unknown_", "_silence_"})
EMOTION_CLASSES = frozenset({"neu", "hap", "ang", "sad"})
VOXCELEB1_SPEAKER = re.compile(r"id1\d{4}")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
TERM_ATTRIBUTES = ("file", "channel", "tbeg", "dur", "score", "decision")


class MalformedPrediction(ValueError):
    """A prediction file the leaderboard could not read; the message says where and why."""


def _lines(path: Path) -> list[tuple[int, str]]:
    numbered = [(number, line) for number, line in enumerate(Path(path).read_text().splitlines(), start=1) if line.strip()]
    if not numbered:
        raise MalformedPrediction("it is empty")
    return numbered


def _unique(ids: list[tuple[int, str]]) -> None:
    seen = {}
    for number, name in ids:
        if name in seen:
            raise MalformedPrediction(f"line {number} repeats {name!r} of line {seen[name]}")
        seen[name] = number


def text_ark(path: Path) -> None:
    ids = []
    for number, line in _lines(path):
        name, space, _ = line.partition(" ")
        if not name or not space:
            raise MalformedPrediction(f"line {number} is {line!r}, not '<utterance> <text>'")
        ids.append((number, name))
    _unique(ids)


def _labels(path: Path, valid, described: str) -> None:
    ids = []
    for number, line in _lines(path):
        fields = line.split()
        if len(fields) != 2:
            raise MalformedPrediction(f"line {number} is {line!r}, not '<utterance> <label>'")
        if not valid(fields[1]):
            raise MalformedPrediction(f"line {number} predicts {fields[1]!r}, not {described}")
        ids.append((number, fields[0]))
    _unique(ids)


def keyword_labels(path: Path) -> None:
    _labels(path, KEYWORD_CLASSES.__contains__, f"one of the 12 classes {sorted(KEYWORD_CLASSES)}")


def emotion_labels(path: Path) -> None:
    _labels(path, EMOTION_CLASSES.__contains__, f"one of {sorted(EMOTION_CLASSES)}")


def speaker_labels(path: Path) -> None:
    _labels(path, VOXCELEB1_SPEAKER.fullmatch, "a VoxCeleb1 speaker id1xxxx")


def intent_csv(path: Path) -> None:
    with open(path, newline="") as handle:
        rows = [(number, row) for number, row in enumerate(csv.reader(handle), start=1) if row]
    if not rows:
        raise MalformedPrediction("it is empty")
    for number, row in rows:
        if len(row) != 4 or not all(field.strip() for field in row):
            raise MalformedPrediction(f"row {number} is {row}, not <file>,<action>,<object>,<location>")
    _unique([(number, row[0]) for number, row in rows])


def trial_scores(path: Path) -> None:
    ids = []
    for number, line in _lines(path):
        fields = line.split()
        try:
            valid = len(fields) == 2 and math.isfinite(float(fields[1]))
        except ValueError:
            valid = False
        if not valid:
            raise MalformedPrediction(f"line {number} is {line!r}, not '<trial> <score>' with a finite score")
        ids.append((number, fields[0]))
    _unique(ids)


def stdlist_xml(path: Path) -> None:
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise MalformedPrediction(f"it is not well-formed XML ({error})") from None
    if root.tag != "stdlist":
        raise MalformedPrediction(f"its root element is <{root.tag}>, not <stdlist>")
    termlists = root.findall("detected_termlist")
    if not termlists:
        raise MalformedPrediction("it holds no <detected_termlist>")
    for termlist in termlists:
        if not termlist.get("termid"):
            raise MalformedPrediction("a <detected_termlist> has no termid")
        for term in termlist.findall("term"):
            missing = [name for name in TERM_ATTRIBUTES if term.get(name) is None]
            if missing:
                raise MalformedPrediction(f"a <term> of query {termlist.get('termid')} lacks {missing}")
            try:
                float(term.get("score"))
            except ValueError:
                raise MalformedPrediction(f"a <term> of query {termlist.get('termid')} has score {term.get('score')!r}, not a number") from None
            if term.get("decision") not in ("YES", "NO"):
                raise MalformedPrediction(f"a <term> of query {termlist.get('termid')} has decision {term.get('decision')!r}, not YES or NO")


def diarization_predictions(folder: Path) -> None:
    predictions = sorted(Path(folder).glob("*.h5"))
    if not predictions:
        raise MalformedPrediction("it holds no <recording>.h5 prediction")
    h5py = importlib.import_module("h5py") if importlib.util.find_spec("h5py") else None
    for path in predictions:
        with open(path, "rb") as handle:
            if handle.read(len(HDF5_SIGNATURE)) != HDF5_SIGNATURE:
                raise MalformedPrediction(f"{path.name} is not an HDF5 file")
        if h5py is not None:
            with h5py.File(path, "r") as prediction:
                if "T_hat" not in prediction or prediction["T_hat"].ndim != 2:
                    raise MalformedPrediction(f"{path.name} holds no 2-D T_hat (frames x speakers)")


def frame_shift(path: Path) -> None:
    text = Path(path).read_text().strip()
    if not text.isdigit() or int(text) <= 0:
        raise MalformedPrediction(f"it holds {text!r}, not a positive whole number of samples")


CHECKS = {check.__name__: check for check in (
    text_ark, keyword_labels, emotion_labels, speaker_labels, intent_csv, trial_scores, stdlist_xml, diarization_predictions, frame_shift,
)}
