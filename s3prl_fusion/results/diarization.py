"""Speaker diarization (Libri2Mix): diarization error rate of s3prl's frame predictions, scored as SUPERB scores them.

What s3prl writes: its ``diarization`` expert saves ``<expdir>/frame_shift`` when it is built (the
label frame shift in samples: the upstream's downsample rate, 320 for 20 ms features, unless the
config sets ``datarc.frame_shift``; score.sh falls back to 160 without the file, this reader stops
and asks for a re-evaluation) and, evaluating the test split, one ``<expdir>/scoring/predictions/<recording>.h5``
per recording (dataset ``T_hat``: (frames, speakers) sigmoid speaker activities at that frame
shift). SUPERB's submission packs that predictions folder and ``frame_shift`` as they are; scoring
only reads them.

How SUPERB turns them into RTTM and a DER (s3prl's ``downstream/diarization/score.sh`` with
``make_rttm.py``; the same steps, our code):

- every threshold of 0.3, 0.4, 0.5, 0.6, 0.7 with median filter widths 1 and 11: a frame is a
  speaker's speech where its activity is above the threshold; a width above 1 runs
  ``scipy.signal.medfilt`` over the 0/1 frames of each speaker along time (zero-padded ends);
- each run of speech frames [s, e) is a turn from s f to e f seconds, f = frame_shift x
  subsampling / 16000 with subsampling 1 (score.sh's value), printed to 10 ms as make_rttm's
  ``%7.2f`` does; the speaker label is ``<recording>_<k>``; written to
  ``<expdir>/scoring/hyp_<threshold>_<median>.rttm``;
- each file is scored against the ``rttm`` of the split's data folder (``loaderrc.<split>_dir`` of
  the experiment's newest checkpoint) with dscore's settings (``s3prl_fusion.results.der``: no
  collar, overlapped speech scored);
- the reported DER is the lowest of the ten (s3prl's docs: "report the lowest number"): the
  threshold and filter are chosen on the test set itself, as SUPERB does. The result records the
  chosen setting and every setting's DER.

Outcomes: one row per recording (unit: the recording) of the chosen setting, columns ``error``
and ``speech`` (seconds) and the error's parts; ``value`` = 100 error / speech, pooled.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.signal import medfilt
from tqdm import tqdm

from s3prl_fusion.errors import MissingPathError
from s3prl_fusion.experiments.checkpoints import load_checkpoint
from s3prl_fusion.results import ScoringError
from s3prl_fusion.results.der import diarization_error_rate, errors_by_recording
from s3prl_fusion.results.provenance import newest_checkpoints_under
from s3prl_fusion.results.rttm import Turn, read_rttm, write_rttm

METRIC = "der"
LOWER_IS_BETTER = True
OUTCOME_UNITS = "recording"
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)  # score.sh's grid
MEDIAN_WIDTHS = (1, 11)
SAMPLE_RATE = 16000
SUBSAMPLING = 1  # score.sh passes --subsampling=1
RTTM_DECIMALS = 2  # make_rttm.py prints times with %7.2f
PREDICTIONS = Path("scoring") / "predictions"


def speech_frames(activities: np.ndarray, threshold: float, median: int) -> np.ndarray:
    """(frames, speakers) 0/1 speech of (frames, speakers) activities: above ``threshold``, then median-filtered along time."""
    speech = (activities > threshold).astype(np.int64)
    if median > 1:
        speech = medfilt(speech, (median, 1))
    return speech


def frame_turns(recording: str, speech: np.ndarray, seconds_per_frame: float) -> list[Turn]:
    """The turns of (frames, speakers) 0/1 speech, speaker by speaker, times rounded to 10 ms."""
    turns = []
    for speaker, frames in enumerate(speech.T):
        changes = np.flatnonzero(np.diff(np.pad(frames, (1, 1))))
        for start, end in zip(changes[::2], changes[1::2]):
            onset, duration = round(start * seconds_per_frame, RTTM_DECIMALS), round((end - start) * seconds_per_frame, RTTM_DECIMALS)
            turns.append(Turn(recording, onset, duration, f"{recording}_{speaker}"))
    return turns


def read_frame_shift(expdir: Path) -> int:
    path = Path(expdir) / "frame_shift"
    if not path.is_file():
        raise MissingPathError(f"{path} is missing: s3prl's diarization expert writes it when built; evaluate the checkpoint again (-m evaluate -e <ckpt>)")
    return int(path.read_text().split()[0])


def read_predictions(expdir: Path) -> dict[str, np.ndarray]:
    """{recording: (frames, speakers) activities} of ``<expdir>/scoring/predictions/*.h5``."""
    import h5py  # the superb extra's; s3prl's diarization code needs it to write these files at all

    files = sorted((Path(expdir) / PREDICTIONS).glob("*.h5"))
    if not files:
        raise MissingPathError(f"no {PREDICTIONS}/*.h5 in {expdir}: evaluate the test split first (-m evaluate -e <ckpt> -t test)")
    predictions = {}
    for path in files:
        with h5py.File(path, "r") as prediction:
            predictions[path.stem] = prediction["T_hat"][:]
    return predictions


def reference_rttm(expdir: Path, split: str) -> Path:
    """``<loaderrc.<split>_dir>/rttm`` as the experiment's newest checkpoint configures it."""
    checkpoints = newest_checkpoints_under(expdir)
    if not checkpoints:
        raise MissingPathError(f"no states-<step>.ckpt in {expdir}: the reference RTTM is found through the checkpoint's loaderrc.{split}_dir")
    data_dir = load_checkpoint(checkpoints[-1])["Config"]["downstream_expert"]["loaderrc"][f"{split}_dir"]
    path = Path(data_dir) / "rttm"
    if not path.is_file():
        raise MissingPathError(f"{path}, the reference of config.downstream_expert.loaderrc.{split}_dir, not found: the data folder needs its rttm to be scored")
    return path


def score_setting(predictions: dict[str, np.ndarray], reference: list[Turn], seconds_per_frame: float,
                  threshold: float, median: int, rttm: Path) -> dict[str, dict[str, float]]:
    """Write one setting's hypothesis RTTM and score it per recording (``der.errors_by_recording``)."""
    hypothesis = [turn for recording, activities in sorted(predictions.items())
                  for turn in frame_turns(recording, speech_frames(activities, threshold, median), seconds_per_frame)]
    write_rttm(hypothesis, rttm, RTTM_DECIMALS)
    return errors_by_recording(reference, hypothesis)


def read_result(expdir: Path, split: str) -> dict:
    if split != "test":
        raise ScoringError(f"--split {split}: s3prl's diarization expert saves frame predictions of the test split only (-m evaluate -t test)")
    expdir = Path(expdir)
    reference_file = reference_rttm(expdir, split)
    reference = read_rttm(reference_file)
    predictions = read_predictions(expdir)
    recordings = {turn.recording for turn in reference}
    if set(predictions) != recordings:
        missing, extra = sorted(recordings - set(predictions)), sorted(set(predictions) - recordings)
        raise ScoringError(f"{expdir / PREDICTIONS} does not hold one prediction per recording of {reference_file} "
                           f"(missing: {missing[:5]}, not in the reference: {extra[:5]}): evaluate the test split of this data again into a fresh scoring folder")
    frame_shift = read_frame_shift(expdir)
    seconds_per_frame = frame_shift * SUBSAMPLING / SAMPLE_RATE
    settings = [(threshold, median) for median in MEDIAN_WIDTHS for threshold in THRESHOLDS]
    grid = {(threshold, median): score_setting(predictions, reference, seconds_per_frame, threshold, median,
                                               expdir / "scoring" / f"hyp_{threshold}_{median}.rttm")
            for threshold, median in tqdm(settings, desc="DER per threshold and median filter")}
    rates = {setting: diarization_error_rate(scored) for setting, scored in grid.items()}
    threshold, median = min(rates, key=lambda setting: (rates[setting], setting[1], setting[0]))
    chosen = grid[(threshold, median)]
    ids = sorted(chosen)
    columns = {name: [chosen[recording][name] for recording in ids] for name in ("error", "speech", "missed", "false_alarm", "confusion")}
    return {
        "metric": METRIC, "value": rates[(threshold, median)], "threshold": threshold, "median": median,
        "frame_shift": frame_shift, "reference": str(reference_file),
        "der_by_setting": {f"th{setting[0]}_med{setting[1]}": rate for setting, rate in rates.items()},
        "outcomes": {"ids": ids, "units": ids, "strata": None, "columns": columns,
                     "metrics": {"value": {"statistic": "ratio", "numerator": "error", "denominator": "speech", "scale": 100.0, "combine": "pooled"}}},
        "outcome_units": OUTCOME_UNITS,
    }
