"""Speaker diarization as SUPERB scores it: DER of hand-made RTTM pairs with known answers (no collar,
overlap scored), frame predictions to RTTM turns as s3prl's make_rttm.py makes them, SUPERB's Libri2Mix
preparation on the bundled corpus, and recipes/sd.sh end to end with a two-member fused upstream."""
from __future__ import annotations

import importlib.util
import json
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO_ROOT, checked, run_python, run_recipe, user_error_line
from s3prl_fusion.prepare.libri2mix import write_kaldi_folders
from s3prl_fusion.results.der import diarization_error_rate, errors_by_recording
from s3prl_fusion.results import ScoringError
from s3prl_fusion.results.diarization import frame_turns, read_result, speech_frames
from s3prl_fusion.results.outcomes import Outcomes, point_estimate, read_outcomes
from s3prl_fusion.results.rttm import RttmError, Turn, read_rttm

LIBRI2MIX = REPO_ROOT / "corpora" / "Libri2Mix"
SOURCE_RTTM = LIBRI2MIX / "metadata" / "LibriSpeech"
SD_OVERRIDES = ",,".join([
    "config.downstream_expert.loaderrc.train_batchsize=2",
    "config.downstream_expert.loaderrc.num_workers=0",
    "config.downstream_expert.modelrc.hidden_size=32",
    "config.runner.gradient_accumulate_steps=1",
])


def der(reference: list[tuple], hypothesis: list[tuple]) -> float:
    """DER (%) of (recording, onset, end, speaker) tuples."""
    turns = [[Turn(recording, onset, end - onset, speaker) for recording, onset, end, speaker in pairs] for pairs in (reference, hypothesis)]
    return diarization_error_rate(errors_by_recording(*turns))


TWO_SPEAKERS = [("r", 0, 10, "A"), ("r", 5, 15, "B")]  # 20 s of reference speech, 5 s of it overlapped


@pytest.mark.parametrize("hypothesis, expected", [
    ([("r", 0, 10, "s1"), ("r", 5, 15, "s2")], 0.0),  # other labels, mapped one to one
    ([("r", 0, 10, "s1"), ("r", 10, 15, "s2")], 25.0),  # B's overlapped 5 s missed
    ([("r", 0, 15, "s1")], 50.0),  # one speaker for both: 5 s missed in the overlap, 5 s confused after it
    ([("r", 0.1, 10.1, "s1"), ("r", 5, 15, "s2")], 1.0),  # no collar: 0.1 s missed + 0.1 s false alarm
    ([("r", 0, 10, "s1"), ("r", 5, 15, "s2"), ("r", 20, 25, "s2")], 25.0),  # speech past the reference is a false alarm
    ([("other", 0, 10, "s1")], 100.0),  # a recording without hypothesis turns: all missed
])
def test_der_of_hand_made_rttm_pairs(hypothesis, expected):
    assert der(TWO_SPEAKERS, hypothesis) == pytest.approx(expected)


def test_der_pools_error_seconds_over_reference_speech_of_all_recordings():
    reference = [*TWO_SPEAKERS, ("q", 0, 5, "C")]
    scored = errors_by_recording(*[[Turn(r, s, e - s, k) for r, s, e, k in pairs] for pairs in (reference, [("r", 0, 15, "x")])])
    assert {name: entry["error"] for name, entry in scored.items()} == pytest.approx({"r": 10.0, "q": 5.0})
    assert diarization_error_rate(scored) == pytest.approx(100 * 15 / 25)


def test_frame_predictions_become_turns_as_make_rttm_makes_them():
    activities = np.array([[0.9, 0.1], [0.8, 0.6], [0.2, 0.7], [0.9, 0.7], [0.9, 0.1]])
    speech = speech_frames(activities, 0.5, 1)
    assert speech.tolist() == [[1, 0], [1, 1], [0, 1], [1, 1], [1, 0]]
    assert frame_turns("rec", speech, 0.02) == [Turn("rec", 0.0, 0.04, "rec_0"), Turn("rec", 0.06, 0.04, "rec_0"), Turn("rec", 0.02, 0.06, "rec_1")]
    assert speech_frames(activities, 0.5, 3)[:, 0].tolist() == [1, 1, 1, 1, 1]  # the one-frame gap filled (zero-padded ends)
    assert speech_frames(activities, 0.5, 3)[:, 1].tolist() == [0, 1, 1, 1, 0]


def evaluated_experiment(expdir: Path, silent_speaker: int | None = None, left_out: str | None = None) -> list[Turn]:
    """An experiment folder as s3prl leaves it after testing on the bundled test split: a checkpoint naming the data
    folder, ``frame_shift`` 160 and one ``T_hat`` per recording that is 1 exactly in its reference turns (speaker
    ``silent_speaker`` all 0); returns the reference turns."""
    import h5py

    data = LIBRI2MIX / "data" / "test"
    torch.save({"Step": 2, "Args": Namespace(upstream="fused"), "Config": {"downstream_expert": {"loaderrc": {"test_dir": str(data)}}}},
               expdir / "states-2.ckpt")
    (expdir / "frame_shift").write_text("160\n")
    (expdir / "scoring" / "predictions").mkdir(parents=True)
    reference = read_rttm(data / "rttm")
    durations = dict(line.split() for line in (data / "reco2dur").read_text().splitlines())
    for recording, seconds in durations.items():
        if recording == left_out:
            continue
        speakers = sorted({turn.speaker for turn in reference if turn.recording == recording})
        activities = np.zeros((round(float(seconds) * 100), len(speakers)))
        for turn in reference:
            if turn.recording == recording and speakers.index(turn.speaker) != silent_speaker:
                activities[round(turn.onset * 100):round(turn.end * 100), speakers.index(turn.speaker)] = 1.0
        with h5py.File(expdir / "scoring" / "predictions" / f"{recording}.h5", "w") as prediction:
            prediction.create_dataset("T_hat", data=activities)
    return reference


def test_predictions_matching_the_reference_score_zero_at_every_setting(tmp_path):
    evaluated_experiment(tmp_path)
    result = read_result(tmp_path, "test")
    assert result["value"] == 0.0 and set(result["der_by_setting"].values()) == {0.0} and len(result["der_by_setting"]) == 10
    assert (tmp_path / "scoring" / "hyp_0.5_11.rttm").is_file()


def test_a_silent_speaker_is_missed_speech(tmp_path):
    reference = evaluated_experiment(tmp_path, silent_speaker=1)
    recordings = sorted({turn.recording for turn in reference})
    silent = {recording: max(sorted({t.speaker for t in reference if t.recording == recording})) for recording in recordings}  # index 1 of sorted names
    missed = sum(turn.duration for turn in reference if turn.speaker == silent[turn.recording])
    result = read_result(tmp_path, "test")
    assert result["value"] == pytest.approx(100 * missed / sum(turn.duration for turn in reference))
    assert point_estimate(Outcomes.from_entry(result["outcomes"])) == pytest.approx(result["value"], abs=1e-9)
    assert result["outcomes"]["columns"]["missed"] == pytest.approx(
        [sum(t.duration for t in reference if t.recording == recording and t.speaker == silent[recording]) for recording in recordings])


def test_a_recording_without_prediction_is_named(tmp_path):
    evaluated_experiment(tmp_path, left_out="121-109375-0006_61-57895-0003")
    with pytest.raises(ScoringError, match=r"missing: \['121-109375-0006_61-57895-0003'\]"):
        read_result(tmp_path, "test")
    with pytest.raises(ScoringError, match="test split only"):
        read_result(tmp_path, "dev")


def test_a_malformed_rttm_line_is_named(tmp_path):
    path = tmp_path / "ref.rttm"
    path.write_text("SPEAKER r 1 0.00 1.00 <NA> <NA> A <NA> <NA>\nSPEAKER r 1 zero 1.00 <NA> <NA> B <NA> <NA>\n")
    with pytest.raises(RttmError, match=rf"{path}:2: onset 'zero'"):
        read_rttm(path)


def segment(recording: str, onset: float, end: float, speaker: str) -> tuple:
    return recording, round(onset, 3), round(end, 3), speaker


def test_prepare_libri2mix_writes_the_kaldi_folders_of_the_bundled_corpus(tmp_path):
    """From the mixture lists and source RTTMs the bundled corpus ships, the folders hold the mixtures, speakers and
    speech segments of its own data/ folders, with absolute wav paths."""
    assert write_kaldi_folders(LIBRI2MIX, SOURCE_RTTM, tmp_path, "mix_clean") == [tmp_path / split for split in ("train", "dev", "test")]
    for split in ("train", "dev", "test"):
        shipped, prepared = LIBRI2MIX / "data" / split, tmp_path / split
        wavs = dict(line.split() for line in (prepared / "wav.scp").read_text().splitlines())
        assert wavs == {recording: str(LIBRI2MIX / path) for recording, path in (line.split() for line in (shipped / "wav.scp").read_text().splitlines())}
        reference = sorted(segment(t.recording, t.onset, t.end, t.speaker) for t in read_rttm(shipped / "rttm"))
        assert [segment(t.recording, t.onset, t.end, t.speaker) for t in read_rttm(prepared / "rttm")] == reference
        speakers = dict(line.split() for line in (prepared / "utt2spk").read_text().splitlines())
        segments = sorted(segment(fields[1], float(fields[2]), float(fields[3]), speakers[fields[0]])
                          for fields in (line.split() for line in (prepared / "segments").read_text().splitlines()))
        assert segments == reference
        durations = {name: float(seconds) for name, seconds in (line.split() for line in (prepared / "reco2dur").read_text().splitlines())}
        assert durations == pytest.approx({name: float(seconds) for name, seconds in (line.split() for line in (shipped / "reco2dur").read_text().splitlines())})
        spk2utt = {fields[0]: set(fields[1:]) for fields in (line.split() for line in (prepared / "spk2utt").read_text().splitlines())}
        assert spk2utt == {speaker: {utt for utt, owner in speakers.items() if owner == speaker} for speaker in set(speakers.values())}


def test_prepare_libri2mix_names_a_missing_mixture_list(tmp_path):
    result = run_python(["-m", "s3prl_fusion.cli", "prepare", "libri2mix", "--root", str(LIBRI2MIX), "--source-rttm", str(SOURCE_RTTM),
                         "--out", str(tmp_path / "data")], check=False)  # SUPERB's mix_both: the miniature has mix_clean only
    assert result.returncode == 2
    assert f"{LIBRI2MIX}/wav16k/max/metadata/mixture_train-100_mix_both.csv not found" in user_error_line(result)
    assert not (tmp_path / "data").exists()


def test_prepare_libri2mix_refuses_source_segments_of_another_speaker(tmp_path):
    rttm_dir = tmp_path / "rttm"
    rttm_dir.mkdir()
    for path in SOURCE_RTTM.glob("*.rttm"):
        (rttm_dir / path.name).write_text(path.read_text().replace(" 121 <NA>", " 999 <NA>"))
    with pytest.raises(ValueError, match="gives 109375-0000 speaker 999, but mixture 121-109375-0000_61-57895-0000 names speaker 121"):
        write_kaldi_folders(LIBRI2MIX, rttm_dir, tmp_path / "data", "mix_clean")


@pytest.mark.skipif(importlib.util.find_spec("h5py") is None, reason="s3prl's diarization code imports h5py, not installed here (pip install h5py)")
def test_sd_recipe_trains_tests_and_scores_der_and_a_rerun_skips_the_test(tmp_path):
    data, out_dir = tmp_path / "data", tmp_path / "fused-hconv"
    write_kaldi_folders(LIBRI2MIX, SOURCE_RTTM, data, "mix_clean")
    checked(run_recipe("sd.sh", ["fused", "hconv", str(data), str(out_dir)], STEPS="2", OVERRIDES=SD_OVERRIDES))
    recordings = sorted(line.split()[0] for line in (data / "test" / "wav.scp").read_text().splitlines())
    assert sorted(path.stem for path in (out_dir / "scoring" / "predictions").glob("*")) == recordings  # what SUPERB's submission packs
    assert int((out_dir / "frame_shift").read_text()) == 320  # the fused members' 20 ms frames
    assert len(list((out_dir / "scoring").glob("hyp_*_*.rttm"))) == 10
    result = json.loads((out_dir / "result.json").read_text())
    assert result["task"] == "diarization" and result["metric"] == "der" and result["lower_is_better"] and result["interface"] == "hconv"
    assert result["value"] == min(result["der_by_setting"].values())
    assert result["der_by_setting"][f"th{result['threshold']}_med{result['median']}"] == result["value"]
    outcomes = read_outcomes(out_dir / "result.json")  # the file result.json records, its checksum checked
    assert list(outcomes.ids) == recordings and result["outcomes"]["units"] == "recording"
    assert point_estimate(outcomes) == pytest.approx(result["value"], abs=1e-9)
    hypothesis = read_rttm(out_dir / "scoring" / f"hyp_{result['threshold']}_{result['median']}.rttm")
    assert der([(t.recording, t.onset, t.end, t.speaker) for t in read_rttm(data / "test" / "rttm")],
               [(t.recording, t.onset, t.end, t.speaker) for t in hypothesis]) == pytest.approx(result["value"])
    rerun = checked(run_recipe("sd.sh", ["fused", "hconv", str(data), str(out_dir)], STEPS="2", OVERRIDES=SD_OVERRIDES))
    assert "was tested already: scoring its predictions" in rerun.stdout
    assert json.loads((out_dir / "result.json").read_text())["value"] == result["value"]


def test_sd_recipe_names_a_missing_data_folder(tmp_path):
    run = run_recipe("sd.sh", ["fused", "hconv", str(tmp_path / "nodata"), str(tmp_path / "out")])
    assert run.returncode != 0 and f"Libri2Mix train Kaldi folder not found at {tmp_path}/nodata/train/wav.scp" in run.stderr
    assert "s3prl-fusion prepare libri2mix" in run.stderr
