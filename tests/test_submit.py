"""`s3prl-fusion submit`: SUPERB's predict.zip laid out as s3prl's submit.py lays it out, each file's
format checked, missing tasks named. ``submitted_alone`` is also called by the tests that train and
evaluate each task for real (tests/test_superb_tasks.py), on the files s3prl's experts wrote."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from conftest import command_failure, run_python
from s3prl_fusion.submission.build import build_submission
from s3prl_fusion.submission.layout import ENTRIES

# s3prl's s3prl/submit/submit.py (0.4.18), read for these facts: the task folder recipes/superb.sh gives
# each task, the file submit.py takes from that task's experiment folder, and where it puts it in the zip.
SUBMIT_PY_FACTS = [
    ("pr", "test-hyp.ark", "predict/pr_public/predict.ark"),
    ("sid", "test_predict.txt", "predict/sid_public/predict.txt"),
    ("ks", "test_predict.txt", "predict/ks_public/predict.txt"),
    ("ic", "test_predict.csv", "predict/ic_public/predict.csv"),
    ("er", "fold1/test_fold1_predict.txt", "predict/er_fold1_public/predict.txt"),
    ("er", "fold2/test_fold2_predict.txt", "predict/er_fold2_public/predict.txt"),
    ("er", "fold3/test_fold3_predict.txt", "predict/er_fold3_public/predict.txt"),
    ("er", "fold4/test_fold4_predict.txt", "predict/er_fold4_public/predict.txt"),
    ("er", "fold5/test_fold5_predict.txt", "predict/er_fold5_public/predict.txt"),
    ("asr", "test-clean-noLM-hyp.ark", "predict/asr_public/predict.ark"),
    ("asr", "test-clean-LM-hyp.ark", "predict/asr_lm_public/predict.ark"),
    ("qbe", "benchmark.stdlist.xml", "predict/qbe_public/benchmark.stdlist.xml"),
    ("sf", "test-hyp.ark", "predict/sf_public/predict.ark"),
    ("asv", "test_predict.txt", "predict/sv_public/predict.txt"),
    ("sd", "scoring/predictions", "predict/sd_public/scoring/predictions"),  # the whole folder
    ("sd", "frame_shift", "predict/sd_public/frame_shift"),  # copied when present
]
STDLIST = """<?xml version='1.0' encoding='UTF-8'?>
<stdlist termlist_filename="benchmark.stdlist.xml" indexing_time="1.00" language="english" index_size="1" system_id="benchmark">
  <detected_termlist termid="quesst14_dev_0001" term_search_time="1.0" oov_term_count="1">
    <term file="quesst14_00001" channel="1" tbeg="0.000" dur="0.00" score="2.1000" decision="YES"/>
    <term file="quesst14_00002" channel="1" tbeg="0.000" dur="0.00" score="-0.5000" decision="NO"/>
  </detected_termlist>
</stdlist>
"""


def test_the_layout_is_submit_pys():
    assert [(entry.task, entry.source, entry.target) for entry in ENTRIES] == SUBMIT_PY_FACTS
    assert [entry.target for entry in ENTRIES if entry.optional] == ["predict/sd_public/frame_shift"]


def write_h5(path: Path, frames: int = 20) -> None:
    import h5py
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        handle.create_dataset("T_hat", data=np.random.default_rng(0).random((frames, 2)))


def superb_out(out: Path, tasks=("pr", "ks", "ic", "sid", "er", "asr", "qbe", "sf", "asv", "sd")) -> Path:
    """An output folder with each of ``tasks`` holding well-formed prediction files."""
    files = {
        "pr": {"test-hyp.ark": "1272-128104-0000 HH AH0 L OW1\n1272-128104-0001 \n"},
        "ks": {"test_predict.txt": "yes-0a_nohash_0.wav yes\n_silence_-0b_nohash_1.wav _unknown_\n"},
        "ic": {"test_predict.csv": "e882bb8b-28d6,decrease,heat,washroom\nd25b9a46-f6ab,change language,German,none\n"},
        "sid": {"test_predict.txt": "id10270-5r0dWxy17C8-00001 id10270\nid10271-1gtz-A3MKoo-00002 id10309\n"},
        **{"er": {f"fold{k}/test_fold{k}_predict.txt": f"Ses0{k}F_impro01_F000 neu\nSes0{k}M_script02_M010 ang\n" for k in range(1, 6)}},
        "asr": {"test-clean-noLM-hyp.ark": "1089-134686-0000 HE HOPED\n", "test-clean-LM-hyp.ark": "1089-134686-0000 HE HOPED THERE\n"},
        "qbe": {"benchmark.stdlist.xml": STDLIST},
        "sf": {"test-hyp.ark": "Brian-snips-test-0 PLAY B-artist ABBA E-artist\n"},
        "asv": {"test_predict.txt": "id10270-x-00001_id10300-y-00002 0.61\nid10270-x-00001_id10301-z-00003 -0.2\n"},
        "sd": {"frame_shift": "160\n"},
    }
    for task in tasks:
        for name, text in files[task].items():
            (out / task / name).parent.mkdir(parents=True, exist_ok=True)
            (out / task / name).write_text(text)
    if "sd" in tasks:
        write_h5(out / "sd" / "scoring" / "predictions" / "mix_0001.h5")
        write_h5(out / "sd" / "scoring" / "predictions" / "mix_0002.h5")
    return out


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_a_complete_output_folder_becomes_submit_pys_zip(tmp_path):
    out = superb_out(tmp_path / "out")
    result = run_python(["-m", "s3prl_fusion.cli", "submit", str(out), "--out", str(tmp_path / "predict.zip"), "--require-all"])
    assert "warning" not in result.stderr
    names = zip_names(tmp_path / "predict.zip")
    files = [name for name in names if not name.endswith("/")]
    expected = [target for _, _, target in SUBMIT_PY_FACTS if target != "predict/sd_public/scoring/predictions"]
    expected += ["predict/sd_public/scoring/predictions/mix_0001.h5", "predict/sd_public/scoring/predictions/mix_0002.h5"]
    assert sorted(files) == sorted(expected)
    assert {name for name in names if name.endswith("/")} >= {"predict/", "predict/pr_public/", "predict/sd_public/scoring/predictions/"}
    with zipfile.ZipFile(tmp_path / "predict.zip") as archive:
        for task, source, target in SUBMIT_PY_FACTS:
            if task != "sd" or source == "frame_shift":
                assert archive.read(target) == (out / task / source).read_bytes()
        assert archive.read("predict/sd_public/scoring/predictions/mix_0002.h5") == (out / "sd/scoring/predictions/mix_0002.h5").read_bytes()
    assert "15 entries" in result.stdout and "er_fold5_public" in result.stdout


def test_missing_tasks_are_named_and_left_out(tmp_path):
    out = superb_out(tmp_path / "out", tasks=("ks", "asr"))
    (out / "asr" / "test-clean-LM-hyp.ark").unlink()
    (out / "er" / "fold1").mkdir(parents=True)
    (out / "er" / "fold1" / "test_fold1_predict.txt").write_text("Ses01F_impro01_F000 sad\n")
    result = run_python(["-m", "s3prl_fusion.cli", "submit", str(out)])
    assert "warning: er: only er_fold1_public are there: the leaderboard scores ER only when all 5 folds are submitted" in result.stderr
    partial = next(line for line in result.stderr.splitlines() if "partial submission" in line)
    for missing in ("pr (pr_public)", "ic (ic_public)", "sid (sid_public)", "er (er_fold2_public, er_fold3_public, er_fold4_public, er_fold5_public)",
                    "asr (asr_lm_public)", "qbe (qbe_public)", "sf (sf_public)", "asv (sv_public)", "sd (sd_public)"):
        assert missing in partial
    assert "ks (" not in partial
    files = sorted(name for name in zip_names(out / "predict.zip") if not name.endswith("/"))
    assert files == ["predict/asr_public/predict.ark", "predict/er_fold1_public/predict.txt", "predict/ks_public/predict.txt"]


def test_require_all_stops_on_a_missing_task_and_writes_nothing(tmp_path):
    out = superb_out(tmp_path / "out", tasks=("pr", "ks", "ic", "sid", "er", "asr", "qbe", "sf", "asv"))
    message = command_failure("submit", str(out), "--require-all")
    assert "--require-all" in message and "lacks sd (sd_public)" in message
    assert not (out / "predict.zip").exists()


def test_an_empty_output_folder_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    assert "no prediction file under" in command_failure("submit", str(tmp_path / "out"))


MALFORMED = {
    "pr": ("test-hyp.ark", "1272-128104-0000\n", "line 1 is '1272-128104-0000', not '<utterance> <text>'"),
    "ks": ("test_predict.txt", "yes-0a_nohash_0.wav maybe\n", "line 1 predicts 'maybe', not one of the 12 classes"),
    "sid": ("test_predict.txt", "id10270-a-00001 speaker7\n", "not a VoxCeleb1 speaker id1xxxx"),
    "ic": ("test_predict.csv", "e882bb8b,decrease,heat\n", "row 1 is ['e882bb8b', 'decrease', 'heat'], not <file>,<action>,<object>,<location>"),
    "asv": ("test_predict.txt", "a_b nan\n", "not '<trial> <score>' with a finite score"),
    "qbe": ("benchmark.stdlist.xml", "<stdlist><detected_termlist termid='q'>", "not well-formed XML"),
    "sf": ("test-hyp.ark", "", "it is empty"),
    "asr": ("test-clean-noLM-hyp.ark", "u1 A\nu1 B\n", "line 2 repeats 'u1' of line 1"),
    "sd": ("scoring/predictions/mix_0001.h5", "not hdf5", "mix_0001.h5 is not an HDF5 file"),
}


@pytest.mark.parametrize("task", sorted(MALFORMED))
def test_a_malformed_file_stops_the_command_naming_task_and_file(tmp_path, task):
    name, text, fault = MALFORMED[task]
    out = superb_out(tmp_path / "out")
    (out / task / name).write_text(text)
    message = command_failure("submit", str(out))
    assert f"task {task} (" in message and fault in message
    assert str(out / task / ("scoring/predictions" if task == "sd" else name)) in message
    assert not (out / "predict.zip").exists()


def test_an_emotion_fold_with_an_unknown_class_is_malformed(tmp_path):
    out = superb_out(tmp_path / "out", tasks=("er",))
    (out / "er" / "fold3" / "test_fold3_predict.txt").write_text("Ses03F_impro01_F000 exc\n")
    message = command_failure("submit", str(out))
    assert "task er (er_fold3_public)" in message and "predicts 'exc', not one of ['ang', 'hap', 'neu', 'sad']" in message


def test_the_stdlist_needs_its_elements(tmp_path):
    out = superb_out(tmp_path / "out", tasks=("qbe",))
    (out / "qbe" / "benchmark.stdlist.xml").write_text(STDLIST.replace(' decision="YES"', ""))
    assert "a <term> of query quesst14_dev_0001 lacks ['decision']" in command_failure("submit", str(out))


def test_a_diarization_prediction_without_t_hat_is_malformed(tmp_path):
    import h5py

    out = superb_out(tmp_path / "out", tasks=("sd",))
    with h5py.File(out / "sd" / "scoring" / "predictions" / "mix_0001.h5", "w") as handle:
        handle.create_dataset("other", data=[1.0])
    assert "mix_0001.h5 holds no 2-D T_hat" in command_failure("submit", str(out))


def test_seeds_need_a_choice_when_there_are_several(tmp_path):
    out = tmp_path / "out"
    for seed, label in ((1, "yes"), (2, "no")):
        (out / "ks" / f"seed{seed}").mkdir(parents=True)
        (out / "ks" / f"seed{seed}" / "test_predict.txt").write_text(f"yes-0a_nohash_0.wav {label}\n")
    message = command_failure("submit", str(out))
    assert f"{out / 'ks'} holds runs of seeds [1, 2]: pass --seed K" in message
    assert "no seed3/ (its seeds: [1, 2])" in command_failure("submit", str(out), "--seed", "3")
    build_submission(out, tmp_path / "two.zip", seed=2)
    with zipfile.ZipFile(tmp_path / "two.zip") as archive:
        assert archive.read("predict/ks_public/predict.txt") == b"yes-0a_nohash_0.wav no\n"
    shutil.rmtree(out / "ks" / "seed1")
    build_submission(out, tmp_path / "only.zip")  # the one seed there is taken
    with zipfile.ZipFile(tmp_path / "only.zip") as archive:
        assert archive.read("predict/ks_public/predict.txt") == b"yes-0a_nohash_0.wav no\n"


def test_a_missing_frame_shift_is_a_warning(tmp_path):
    out = superb_out(tmp_path / "out", tasks=("sd",))
    (out / "sd" / "frame_shift").unlink()
    submission = build_submission(out, tmp_path / "predict.zip")
    assert any("frame_shift is missing" in warning for warning in submission.warnings)
    assert "predict/sd_public/frame_shift" not in zip_names(tmp_path / "predict.zip")


def submitted_alone(tmp_path: Path, task_folder: str, expdir: Path, *targets: str) -> None:
    """The evaluated experiment ``expdir`` as ``OUT/<task_folder>`` of an otherwise empty output
    folder: its files pass the checks and land at ``targets`` in the zip, byte for byte."""
    out = tmp_path / "submission"
    shutil.copytree(expdir, out / task_folder, ignore=shutil.ignore_patterns("*.ckpt"))
    submission = build_submission(out, tmp_path / "predict.zip")
    sources = {entry.target: source for entry, source in submission.files}
    assert sorted(sources) == sorted(targets)
    with zipfile.ZipFile(tmp_path / "predict.zip") as archive:
        for target, source in sources.items():
            if source.is_file():
                assert archive.read(target) == source.read_bytes()
            else:
                assert sorted(name for name in archive.namelist() if name.startswith(target + "/") and not name.endswith("/")) == \
                    sorted(f"{target}/{path.name}" for path in source.iterdir())
    shutil.rmtree(out)


def test_an_unreadable_prediction_is_malformed_not_a_crash(tmp_path):
    out = superb_out(tmp_path / "out", tasks=("sid", "ks"))
    (out / "sid" / "test_predict.txt").write_bytes(b"\xff\xfe\x00 binary")
    assert f"task sid (sid_public): {out / 'sid' / 'test_predict.txt'} is malformed" in command_failure("submit", str(out))
    (out / "sid" / "test_predict.txt").unlink()
    (out / "ks" / "test_predict.txt").unlink()
    (out / "ks" / "test_predict.txt").mkdir()
    assert f"task ks (ks_public): {out / 'ks' / 'test_predict.txt'} is malformed" in command_failure("submit", str(out))
