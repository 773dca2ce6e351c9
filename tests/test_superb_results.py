"""Result readers of the SUPERB tasks trained through the runner (IC, KS, SID, PR, SF): each metric on
hand-made prediction files with a known answer, SF's against s3prl's own ctc metric functions, and
``scored_through_the_command`` (called by tests/test_superb_tasks.py on its real evaluated
experiments): ``s3prl-fusion score`` writes the reader's value, and the per-utterance outcomes
recompute it."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml

from s3prl_fusion.cli import main as cli_main
from s3prl_fusion.errors import MissingPathError
from s3prl_fusion.results import ScoringError, task_module
from s3prl_fusion.results.outcomes import Outcomes, point_estimate

SUPERB_READERS = ("fluent_commands", "speech_commands", "voxceleb1", "libriphone", "snips")


def scored_through_the_command(expdir: Path, task: str, split: str = "test") -> dict:
    """``s3prl-fusion score --task task`` on an evaluated experiment: its result.json holds the reader's
    value, and the reader's outcomes recompute that value (to 1e-9)."""
    direct = task_module(task).read_result(expdir, split)
    assert point_estimate(Outcomes.from_entry(direct["outcomes"])) == pytest.approx(direct["value"], abs=1e-9)
    for name, spec in direct["outcomes"]["metrics"].items():
        if name != "value":
            assert point_estimate(Outcomes.from_entry(direct["outcomes"]), name) == pytest.approx(direct[name], abs=1e-9)
    cli_main(["score", "--task", task, "--expdir", str(expdir), "--split", split])
    written = json.loads((expdir / "result.json").read_text())
    assert written["task"] == task and written["metric"] == direct["metric"] and written["value"] == pytest.approx(direct["value"])
    assert len(direct["outcomes"]["ids"]) > 0 and direct["outcome_units"]
    return direct


def test_every_superb_reader_is_registered_for_the_score_command():
    for task in SUPERB_READERS:
        module = task_module(task)
        assert module.METRIC and isinstance(module.LOWER_IS_BETTER, bool)


# --- keyword spotting -------------------------------------------------------------------------

def test_keyword_spotting_truth_is_the_folder_of_each_file(tmp_path):
    (tmp_path / "test_predict.txt").write_text(
        "yes-aa_nohash_0.wav yes\nyes-bb_nohash_0.wav no\n_unknown_-aa_nohash_1.wav _unknown_\n_silence_-cc_nohash_0.wav yes\n"
    )
    result = task_module("speech_commands").read_result(tmp_path, "test")
    assert result["metric"] == "acc" and result["value"] == pytest.approx(50.0)
    assert result["outcomes"]["units"] == ["cc", "aa", "aa", "bb"]  # the speaker before _nohash_
    assert result["outcomes"]["columns"]["correct"] == [0.0, 1.0, 1.0, 0.0]  # ids sorted: _silence_, _unknown_, yes-aa, yes-bb


def test_keyword_spotting_labels_the_training_folders_as_s3prl_does():
    from s3prl_fusion.results.speech_commands import true_class

    assert [true_class(name) for name in ("go-x.wav", "bed-x.wav", "_background_noise_-white_noise.wav", "_silence_-x.wav")] == [
        "go", "_unknown_", "_silence_", "_silence_"]


def test_a_prediction_line_that_is_not_two_fields_names_the_file_and_line(tmp_path):
    (tmp_path / "test_predict.txt").write_text("yes-a.wav yes\nbroken line here\n")
    with pytest.raises(ScoringError, match=r"test_predict.txt line 2 is 'broken line here'"):
        task_module("speech_commands").read_result(tmp_path, "test")


# --- speaker identification -------------------------------------------------------------------

def test_speaker_identification_truth_is_the_speaker_of_each_utterance_id(tmp_path):
    (tmp_path / "test_predict.txt").write_text(
        "id10001-a-b-00001 id10001\nid10001-a-b-00002 id10002\nid10002-Xy_9-00001 id10002\n"
    )
    result = task_module("voxceleb1").read_result(tmp_path, "test")
    assert result["value"] == pytest.approx(200 / 3)
    assert result["outcomes"]["units"] == ["id10001-a-b", "id10001-a-b", "id10002-Xy_9"]  # the video, with its own dashes
    assert result["outcome_units"] == "recording"


# --- intent classification --------------------------------------------------------------------

def fluent_experiment(tmp_path: Path, predictions: str) -> Path:
    """An experiment folder whose recorded test evaluation ran on a hand-made dataset folder."""
    data = tmp_path / "fsc"
    (data / "data").mkdir(parents=True)
    (data / "data" / "test_data.csv").write_text(
        ",path,speakerId,transcription,action,object,location\n"
        "0,wavs/speakers/s1/u1.wav,s1,Turn on the lights,activate,lights,none\n"
        "1,wavs/speakers/s1/u2.wav,s1,Lights off in the kitchen,deactivate,lights,kitchen\n"
        "2,wavs/speakers/s2/u3.wav,s2,Louder,increase,volume,none\n"
    )
    expdir = tmp_path / "exp"
    expdir.mkdir()
    for tag, mode, folder in (("2025-01-01-00-00-00", "train", "/trained/elsewhere"), ("2025-01-01-00-10-00", "evaluate", str(data))):
        (expdir / f"args_{tag}.yaml").write_text(yaml.safe_dump({"mode": mode, "evaluate_split": "test"}))
        (expdir / f"config_{tag}.yaml").write_text(yaml.safe_dump({"downstream_expert": {"datarc": {"file_path": folder}}}))
    (expdir / "test_predict.csv").write_text(predictions)
    return expdir


def test_intent_is_right_only_with_all_three_slots_against_the_dataset_csv(tmp_path):
    expdir = fluent_experiment(tmp_path, "u1,activate,lights,none\nu2,deactivate,lights,none\nu3,increase,volume,none\n")
    (expdir / "test_truth.csv").write_text("u1,wrong,wrong,wrong\n")  # the expert's copy is not what is scored against
    result = task_module("fluent_commands").read_result(expdir, "test")
    assert result["value"] == pytest.approx(200 / 3)
    assert result["outcomes"]["columns"]["correct"] == [1.0, 0.0, 1.0] and result["outcomes"]["units"] == ["s1", "s1", "s2"]


def test_intent_predictions_of_another_dataset_are_refused(tmp_path):
    expdir = fluent_experiment(tmp_path, "u1,activate,lights,none\nzz,activate,lights,none\n")
    with pytest.raises(ScoringError, match=r"does not predict exactly the evaluated utterances \(2 missing.*1 unknown"):
        task_module("fluent_commands").read_result(expdir, "test")


def test_intent_without_a_recorded_evaluation_says_what_to_run(tmp_path):
    expdir = fluent_experiment(tmp_path, "u1,activate,lights,none\n")
    for path in expdir.glob("args_*10-00.yaml"):
        path.unlink()
    with pytest.raises(MissingPathError, match="no evaluation of split test is recorded.*-m evaluate"):
        task_module("fluent_commands").read_result(expdir, "test")


# --- phone recognition ------------------------------------------------------------------------

def write_arks(folder: Path, pairs: dict[str, tuple[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test-hyp.ark").write_text("".join(f"{name} {hyp}\n" for name, (hyp, _) in pairs.items()))
    (folder / "test-ref.ark").write_text("".join(f"{name} {ref}\n" for name, (_, ref) in pairs.items()))
    return folder


def test_phone_error_rate_sums_edits_over_reference_phones(tmp_path):
    write_arks(tmp_path, {
        "1-2-0000": ("HH AH0 L OW1", "HH AH0 L OW1"),    # 0 edits / 4
        "1-2-0001": ("W ER1 L D", "W ER1 L D Z"),          # 1 deletion / 5
        "3-4-0000": ("", "AY1 AE1 M"),                    # 3 / 3
    })
    result = task_module("libriphone").read_result(tmp_path, "test")
    assert result["metric"] == "per" and result["value"] == pytest.approx(100 * 4 / 12)
    assert result["outcomes"]["units"] == ["1", "1", "3"] and result["outcomes"]["columns"]["errors"] == [0.0, 1.0, 3.0]


def test_phone_files_listing_different_utterances_are_refused(tmp_path):
    write_arks(tmp_path, {"1-2-0000": ("A", "A")})
    (tmp_path / "test-hyp.ark").write_text("9-9-9999 A\n")
    with pytest.raises(ScoringError, match="do not list the same utterances"):
        task_module("libriphone").read_result(tmp_path, "test")


# --- slot filling -----------------------------------------------------------------------------

SLOT_CASES = {
    # hypothesis, reference
    "both_empty": ("PLAY SOMETHING", "PLAY SOMETHING"),
    "exact": ("PLAY B-artist THE BEATLES E-artist", "PLAY B-artist THE BEATLES E-artist"),
    "value_typo": ("PLAY B-artist THE BEATLS E-artist ON B-service SPOTIFY E-service", "PLAY B-artist THE BEATLES E-artist ON B-service SPOTIFY E-service"),
    "missing_type": ("PLAY B-artist ABBA E-artist", "PLAY B-artist ABBA E-artist ON B-service DEEZER E-service"),
    "extra_type": ("B-city PARIS E-city  B-time NOW E-time", "WEATHER IN B-city PARIS E-city"),
    "hyp_only": ("B-city ROME E-city", "HELLO"),
    "two_values": ("B-city ROME E-city B-city PARIS E-city", "B-city PARIS E-city AND B-city OSLO E-city"),
    "nested": ("B-city B-x ROME E-city", "B-city ROME E-city"),
}


def test_slot_filling_known_answers(tmp_path):
    write_arks(tmp_path, {f"u{index}": pair for index, pair in enumerate(SLOT_CASES.values())})
    result = task_module("snips").read_result(tmp_path, "test")
    f1s = result["outcomes"]["columns"]["f1"]
    # per utterance: 1 (no slots), 1, 1, P=1 R=1/2 -> 2/3, P=1/2 R=1 -> 2/3, 0 (reference has none), 1, 1 (nested tag removed)
    assert f1s == pytest.approx([1, 1, 1, 2 / 3, 2 / 3, 0, 1, 1])
    assert result["value"] == pytest.approx(100 * (5 + 4 / 3) / 8)
    # reference values, each against its closest hypothesis value of the same type (edits / characters):
    # THE BEATLES<-THE BEATLS 1/11, SPOTIFY 0/7; ABBA 0/4, DEEZER unmatched 6/6; PARIS 0/5;
    # PARIS<-PARIS 0/5, OSLO<-ROME 4/4 (PARIS would be 5/4); ROME 0/4 (the nested tag removed)
    assert result["outcomes"]["columns"]["value_chars"] == [0, 11, 18, 10, 5, 0, 9, 4]
    assert result["outcomes"]["columns"]["value_errors"] == [0, 0, 1, 6, 0, 0, 4, 0]
    assert result["cer"] == pytest.approx(100 * 11 / 57)


def random_tagged_text(generator: random.Random) -> str:
    words = ["PLAY", "THE", "BEATLES", "ROME", "PARIS", "A", "B", "NOW", "ON"]
    parts = []
    for _ in range(generator.randint(0, 6)):
        if generator.random() < 0.3:
            slot_type = generator.choice(["artist", "city", "time"])
            value = " ".join(generator.choice(words) for _ in range(generator.randint(1, 3)))
            closing = slot_type if generator.random() < 0.9 else "other"
            parts.append(f"B-{slot_type} {value}{'  ' if generator.random() < 0.2 else ' '}E-{closing}")
        else:
            parts.append(generator.choice(words))
    return " ".join(parts) or "A"


def test_slot_filling_equals_s3prls_ctc_metrics_on_generated_texts(tmp_path):
    """Corpus-level numbers equal s3prl's slot_type_f1 / slot_value_cer (fractions there, percent here)."""
    from s3prl.downstream.ctc.metric import slot_type_f1, slot_value_cer

    generator = random.Random(7)
    pairs = {f"u{index}": (random_tagged_text(generator), random_tagged_text(generator)) for index in range(300)}
    pairs.update({f"case_{name}": pair for name, pair in SLOT_CASES.items()})
    write_arks(tmp_path, pairs)
    result = task_module("snips").read_result(tmp_path, "test")
    hypotheses, references = [hyp for hyp, _ in pairs.values()], [ref for _, ref in pairs.values()]
    assert result["value"] == pytest.approx(100 * slot_type_f1(hypotheses, references), abs=1e-9)
    assert result["cer"] == pytest.approx(100 * slot_value_cer(hypotheses, references), abs=1e-9)


@pytest.mark.parametrize("task", SUPERB_READERS)
def test_an_unevaluated_experiment_says_what_to_run(tmp_path, task):
    with pytest.raises(MissingPathError, match="-m evaluate"):
        task_module(task).read_result(tmp_path, "test")
