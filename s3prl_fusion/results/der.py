"""Diarization error rate per recording, as SUPERB scores speaker diarization, with pyannote.metrics.

SUPERB scores RTTM turns with dscore (s3prl's ``downstream/diarization/score.sh`` runs
``score.py -r <test>/rttm -s <hyp>.rttm`` with no other flag), so dscore's defaults hold: no
collar (0 s), overlapped speech scored (no ``--ignore_overlaps``), and without a UEM file each
recording is scored from the earliest to the latest turn of its reference and hypothesis; speakers
are mapped one to one to maximise the overlap. pyannote.metrics' ``DiarizationErrorRate`` with
``collar=0``, ``skip_overlap=False`` and that extent as the UEM computes the same quantity:
(missed speech + false alarm + speaker confusion) / reference speech, where overlapped speech counts
once per speaker.
"""
from __future__ import annotations

import warnings
from collections import defaultdict

from pyannote.core import Annotation, Segment, Timeline
from pyannote.metrics.diarization import DiarizationErrorRate

from s3prl_fusion.results.rttm import Turn

COLLAR = 0.0  # dscore's default, as score.sh runs it
SKIP_OVERLAP = False  # dscore scores overlapped speech unless --ignore_overlaps


def annotation(recording: str, turns: list[Turn]) -> Annotation:
    labelled = Annotation(uri=recording)
    for index, turn in enumerate(turns):
        labelled[Segment(turn.onset, turn.end), index] = turn.speaker
    return labelled


def scored_extent(recording: str, turns: list[Turn]) -> Timeline:
    """dscore's scoring region without a UEM file: from the earliest onset to the latest end of the given turns."""
    return Timeline([Segment(min(turn.onset for turn in turns), max(turn.end for turn in turns))], uri=recording)


def errors_by_recording(reference: list[Turn], hypothesis: list[Turn]) -> dict[str, dict[str, float]]:
    """{recording: {"error": seconds, "speech": reference speech seconds, "missed", "false_alarm", "confusion"}} for every
    recording of ``reference`` (a recording the hypothesis lacks is all missed speech)."""
    references, hypotheses = defaultdict(list), defaultdict(list)
    for turn in reference:
        references[turn.recording].append(turn)
    for turn in hypothesis:
        hypotheses[turn.recording].append(turn)
    metric = DiarizationErrorRate(collar=COLLAR, skip_overlap=SKIP_OVERLAP)
    scored = {}
    for recording in sorted(references):
        reference_turns, hypothesis_turns = references[recording], hypotheses.get(recording, [])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyannote warns about label types it converts; the UEM is given
            components = metric(annotation(recording, reference_turns), annotation(recording, hypothesis_turns),
                                uem=scored_extent(recording, reference_turns + hypothesis_turns), detailed=True)
        missed, false_alarm, confusion = components["missed detection"], components["false alarm"], components["confusion"]
        scored[recording] = {"error": missed + false_alarm + confusion, "speech": components["total"],
                             "missed": missed, "false_alarm": false_alarm, "confusion": confusion}
    return scored


def diarization_error_rate(scored: dict[str, dict[str, float]]) -> float:
    """DER in percent over the recordings: their error seconds over their reference speech seconds."""
    return 100.0 * sum(entry["error"] for entry in scored.values()) / max(sum(entry["speech"] for entry in scored.values()), 1e-12)
