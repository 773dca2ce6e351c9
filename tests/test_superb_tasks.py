"""SUPERB tasks through s3prl's unchanged runner with the plugin's shipped configs: each trains two
steps of tiny random fused members on its bundled miniature corpus, is evaluated on its test split,
and writes the prediction file SUPERB's submission script picks up; plus the fixes of the traps
s3prl's task code sets (the speaker-identification file lists) and the early data-path checks."""
from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch
import yaml
from torch.utils.data import WeightedRandomSampler

from s3prl_fusion.experiments.data_paths import MissingDataError, check_data_paths
from s3prl_fusion.errors import MissingPathError
from s3prl_fusion.experiments.task_dependencies import MissingTaskDependencyError, check_task_dependencies
from s3prl_fusion.s3prl_adapter.patches.speech_commands_task import DistributedSamplerWrapper

from conftest import DEMO_UPSTREAM, REPO_ROOT, run_python, runner_failure, user_error_line
from test_submit import submitted_alone
from test_superb_results import scored_through_the_command

CORPORA = REPO_ROOT / "corpora"
VOXCELEB1_MINI = CORPORA / "VoxCeleb1"
SMALL_RUN = ["config.runner.total_steps=2", "config.runner.save_step=2", "config.runner.log_step=1", "config.runner.gradient_accumulate_steps=1"]
CTC_CONFIGS = REPO_ROOT / "downstream_configs" / "ctc"
CTC_SMALL = ["config.downstream_expert.corpus.batch_size=2", "config.downstream_expert.corpus.num_workers=0"]
TASK_DATA = {
    "libriphone": [f"config.downstream_expert.corpus.path='{CORPORA / 'LibriSpeech'}'",
                   f"config.downstream_expert.corpus.lexicon=['{CORPORA / 'LibriSpeech' / 'phones' / 'lexicon.txt'}']", *CTC_SMALL],
    "snips": [f"config.downstream_expert.corpus.path='{CORPORA / 'SNIPS'}'", f"config.downstream_expert.text.slots_file='{CORPORA / 'SNIPS' / 'slots.txt'}'",
              "config.downstream_expert.model.project_dim=32", "config.downstream_expert.model.RNNs.dim=[32,32]", *CTC_SMALL],
    "fluent_commands": [f"config.downstream_expert.datarc.file_path='{CORPORA / 'fluent_speech_commands_dataset'}'",
                        "config.downstream_expert.datarc.train_batch_size=2", "config.downstream_expert.datarc.eval_batch_size=4",
                        "config.downstream_expert.datarc.num_workers=0"],
    "speech_commands": [f"config.downstream_expert.datarc.speech_commands_root='{CORPORA / 'SpeechCommands' / 'speech_commands_v0.01'}'",
                        f"config.downstream_expert.datarc.speech_commands_test_root='{CORPORA / 'SpeechCommands' / 'speech_commands_test_set_v0.01'}'",
                        "config.downstream_expert.datarc.batch_size=2", "config.downstream_expert.datarc.num_workers=0"],
    "diarization": [*(f"config.downstream_expert.loaderrc.{split}_dir='{{data}}/{split}'" for split in ("train", "dev", "test")),
                    "config.downstream_expert.loaderrc.train_batchsize=2", "config.downstream_expert.loaderrc.num_workers=0",
                    "config.downstream_expert.modelrc.hidden_size=32"],
    "voxceleb1": [f"config.downstream_expert.datarc.file_path='{VOXCELEB1_MINI}'",
                  f"config.downstream_expert.datarc.meta_data='{VOXCELEB1_MINI / 'iden_split_mini.txt'}'",
                  "config.downstream_expert.datarc.train_batch_size=2", "config.downstream_expert.datarc.eval_batch_size=4",
                  "config.downstream_expert.datarc.num_workers=0"],
}


def train_and_test(tmp_path: Path, task: str, interface: str, overrides: list[str] = ()) -> Path:
    """Train two steps of ``-d task -s interface`` with the shipped config, then evaluate the test split; the experiment folder.
    ``libriphone`` / ``snips`` are ``-d ctc`` with that shipped config."""
    expdir = tmp_path / f"{task}-{interface}"
    environment = {"S3PRL_FUSION_CACHE": str(tmp_path / "cache")}
    task_flags = ["-d", "ctc", "-c", str(CTC_CONFIGS / f"{task}.yaml")] if task in ("libriphone", "snips") else ["-d", task]
    run_python(["-m", "s3prl_fusion.run_downstream", "-m", "train", "-u", "fused", "-g", str(DEMO_UPSTREAM), "-s", interface, *task_flags,
                "-p", str(expdir), "--device", "cpu", "-o", ",,".join([*SMALL_RUN, *TASK_DATA[task], *overrides]).replace("{data}", str(tmp_path))],
               cwd=tmp_path, env=environment)
    assert (expdir / "states-2.ckpt").is_file()
    run_python(["-m", "s3prl_fusion.run_downstream", "-m", "evaluate", "-e", str(expdir / "states-2.ckpt"), "-t", "test", "--device", "cpu"],
               cwd=tmp_path, env=environment)
    return expdir


@pytest.mark.parametrize("interface", ["ws"])  # -s hconv: every task in tests/test_superb_recipe.py
def test_intent_classification_writes_test_predict_csv(tmp_path, interface):
    expdir = train_and_test(tmp_path, "fluent_commands", interface)
    with open(CORPORA / "fluent_speech_commands_dataset" / "data" / "test_data.csv") as listed:
        test_files = {Path(row["path"]).stem for row in csv.DictReader(listed)}
    rows = [line.split(",") for line in (expdir / "test_predict.csv").read_text().splitlines()]
    assert {row[0] for row in rows} == test_files and all(len(row) == 4 for row in rows)  # file, action, object, location
    scored_through_the_command(expdir, "fluent_commands")
    submitted_alone(tmp_path, "ic", expdir, "predict/ic_public/predict.csv")


@pytest.mark.parametrize("interface", ["ws", "hidden_states"])  # -s hconv: every task in tests/test_superb_recipe.py
def test_speaker_identification_writes_test_predict_txt(tmp_path, interface):
    expdir = train_and_test(tmp_path, "voxceleb1", interface)
    test_files = [line.split()[1] for line in (VOXCELEB1_MINI / "iden_split_mini.txt").read_text().splitlines() if line.split()[0] == "3"]
    predicted = dict(line.split() for line in (expdir / "test_predict.txt").read_text().splitlines())
    assert sorted(predicted) == sorted(path.replace("/", "-").removesuffix(".wav") for path in test_files)
    assert all(speaker.startswith("id1") for speaker in predicted.values())
    scored_through_the_command(expdir, "voxceleb1")
    submitted_alone(tmp_path, "sid", expdir, "predict/sid_public/predict.txt")


@pytest.mark.parametrize("interface", ["ws"])  # -s hconv: every task in tests/test_superb_recipe.py
def test_keyword_spotting_writes_test_predict_txt(tmp_path, interface):
    expdir = train_and_test(tmp_path, "speech_commands", interface)
    test_root = CORPORA / "SpeechCommands" / "speech_commands_test_set_v0.01"
    predicted = dict(line.split() for line in (expdir / "test_predict.txt").read_text().splitlines())
    assert sorted(predicted) == sorted(f"{path.parent.name}-{path.name}" for path in test_root.glob("*/*.wav"))
    assert set(predicted.values()) <= {folder.name for folder in test_root.iterdir()}
    scored_through_the_command(expdir, "speech_commands")
    submitted_alone(tmp_path, "ks", expdir, "predict/ks_public/predict.txt")


def test_keyword_spotting_expert_imports_without_catalyst():
    from s3prl.downstream.speech_commands import expert

    assert expert.DistributedSamplerWrapper is DistributedSamplerWrapper
    assert not any(name == "catalyst" or name.startswith("catalyst.") for name in sys.modules)


def test_sampler_wrapper_splits_one_draw_between_ranks():
    weights = [0.1, 0.2, 0.3, 0.4, 1.0, 2.0]
    torch.manual_seed(0)  # the ranks' common seed: every rank draws the same weighted sample
    drawn = list(WeightedRandomSampler(weights, 12))
    shares = []
    for rank in range(3):
        torch.manual_seed(0)
        shares.append(list(DistributedSamplerWrapper(WeightedRandomSampler(weights, 12), num_replicas=3, rank=rank)))
    assert [len(share) for share in shares] == [4, 4, 4]
    assert sorted(sum(shares, [])) == sorted(drawn)


def test_keyword_spotting_test_folder_is_checked_before_training(tmp_path):
    stderr = runner_failure(tmp_path, "-u", "fused", "-g", str(DEMO_UPSTREAM), "-s", "hconv", "-d", "speech_commands",
                            "-o", f"config.downstream_expert.datarc.speech_commands_root='{CORPORA / 'SpeechCommands' / 'speech_commands_v0.01'}'")
    assert "config.downstream_expert.datarc.speech_commands_test_root = /path/to/speech_commands_test_set_v0.01 (dir not found)" in stderr


def test_speaker_identification_lists_follow_the_split_file(tmp_path, monkeypatch):
    """s3prl caches the file lists by split name alone: a second split file would reuse the first one's lists."""
    from s3prl.downstream.voxceleb1.dataset import SpeakerClassifiDataset

    lines = (VOXCELEB1_MINI / "iden_split_mini.txt").read_text().splitlines()
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("\n".join(lines) + "\n")
    second.write_text("\n".join(line for line in lines if "id10001" not in line) + "\n")
    monkeypatch.setenv("S3PRL_FUSION_CACHE", str(tmp_path / "cache"))
    assert len(SpeakerClassifiDataset("train", VOXCELEB1_MINI, str(first)).dataset) == 24
    reread = SpeakerClassifiDataset("train", VOXCELEB1_MINI, str(second))
    assert len(reread.dataset) == 22 and not any("id10001" in path for path in reread.dataset)
    assert sorted(set(reread.label)) == [index for index in range(8) if index != 0] + list(range(269, 273))


def test_speaker_identification_split_file_is_checked_before_training(tmp_path):
    stderr = runner_failure(tmp_path, "-u", "fused", "-g", str(DEMO_UPSTREAM), "-s", "hconv", "-d", "voxceleb1",
                            "-o", f"config.downstream_expert.datarc.file_path='{VOXCELEB1_MINI}'")
    assert "config.downstream_expert.datarc.meta_data = /path/to/VoxCeleb1/iden_split.txt (file not found)" in stderr


def test_intent_classification_data_folder_is_checked_before_training(tmp_path):
    stderr = runner_failure(tmp_path, "-u", "fused", "-g", str(DEMO_UPSTREAM), "-s", "hconv", "-d", "fluent_commands")
    assert "config.downstream_expert.datarc.file_path = /path/to/fluent_speech_commands_dataset (dir not found)" in stderr


def ark_ids(path: Path) -> list[str]:
    return sorted(line.split(" ", 1)[0] for line in path.read_text().splitlines())


@pytest.mark.parametrize("interface", ["ws"])  # -s hconv: every task in tests/test_superb_recipe.py
def test_phone_recognition_writes_test_hyp_ark(tmp_path, interface):
    expdir = train_and_test(tmp_path, "libriphone", interface)
    assert ark_ids(expdir / "test-hyp.ark") == sorted(path.stem for path in (CORPORA / "LibriSpeech" / "test-clean").rglob("*.flac"))
    phones = set((CTC_CONFIGS / "phoneme.txt").read_text().split())
    references = [line.split()[1:] for line in (expdir / "test-ref.ark").read_text().splitlines()]
    assert all(reference and set(reference) <= phones for reference in references)  # the lexicon's phones of each transcript
    scored_through_the_command(expdir, "libriphone")
    submitted_alone(tmp_path, "pr", expdir, "predict/pr_public/predict.ark")


@pytest.mark.parametrize("interface", ["ws"])  # -s hconv: every task in tests/test_superb_recipe.py
def test_slot_filling_writes_test_hyp_ark(tmp_path, interface):
    expdir = train_and_test(tmp_path, "snips", interface)
    test_files = sorted(path.stem for path in (CORPORA / "SNIPS" / "test").glob("*.wav") if path.stem.startswith(("Brian", "Emma")))
    assert ark_ids(expdir / "test-hyp.ark") == test_files and len(test_files) == 4
    references = dict(line.split(" ", 1) for line in (expdir / "test-ref.ark").read_text().splitlines())
    assert references["Brian-snips-test-0"] == "PLAY B-artist THE BEATLES E-artist ON B-service SPOTIFY E-service"  # read with the slot tags
    scored_through_the_command(expdir, "snips")
    submitted_alone(tmp_path, "sf", expdir, "predict/sf_public/predict.ark")


def test_ctc_loaders_keep_the_configured_workers():
    """s3prl's load_dataset popped num_workers on its first call: every later loader used 12."""
    from s3prl.downstream.ctc.data import load_dataset
    from s3prl.downstream.ctc.text import load_text_encoder

    tokenizer = load_text_encoder("word", str(CTC_CONFIGS / "phoneme.txt"))
    corpus = {"name": "libriphone", "path": str(CORPORA / "LibriSpeech"), "lexicon": [str(CORPORA / "LibriSpeech" / "phones" / "lexicon.txt")],
              "train": ["train-clean-100"], "dev": ["dev-clean"], "test": ["test-clean"], "bucketing": True, "batch_size": 2, "num_workers": 0}
    assert [load_dataset(split, tokenizer, corpus).num_workers for split in ("train", "dev", "test")] == [0, 0, 0]
    assert corpus["num_workers"] == 0


def test_ctc_without_a_config_names_the_shipped_ones(tmp_path):
    stderr = runner_failure(tmp_path, "-u", "fused", "-g", str(DEMO_UPSTREAM), "-s", "hconv", "-d", "ctc")
    assert "task -d ctc has one shipped config per corpus: pass -c with one of" in stderr and "libriphone.yaml" in stderr and "snips.yaml" in stderr


def test_phone_recognition_lexicon_is_checked_before_training(tmp_path):
    stderr = runner_failure(tmp_path, "-u", "fused", "-g", str(DEMO_UPSTREAM), "-s", "hconv", "-d", "ctc", "-c", str(CTC_CONFIGS / "libriphone.yaml"),
                            "-o", f"config.downstream_expert.corpus.path='{CORPORA / 'LibriSpeech'}'")
    assert "config.downstream_expert.corpus.lexicon = /path/to/lexicon/librispeech-lexicon-200k-g2p.txt (file not found)" in stderr
    assert "config.downstream_expert.text.vocab_file" not in stderr  # the shipped phone list beside the config is found


@pytest.mark.parametrize("task, missing", [("diarization", "h5py"), ("quesst14_dtw", "dtw-python, lxml")])
def test_a_task_package_s3prl_installs_only_with_its_dev_extras_is_named(monkeypatch, task, missing):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingTaskDependencyError, match=rf"-d {task} needs {missing}, .*: pip install {missing.replace(',', '')}"):
        check_task_dependencies(task)
    check_task_dependencies("fluent_commands")


def test_diarization_without_h5py_stops_before_the_runner_imports_it(tmp_path):
    """The entry point in a Python where h5py cannot be imported (a ``sitecustomize`` hides an
    installed one, as a plain install lacks it): one message, exit 2, before s3prl's import fails."""
    libri2mix_data_folders(tmp_path)
    hide = tmp_path / "without_h5py"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['h5py'] = None  # import h5py fails, find_spec finds nothing\n")
    python_path = os.pathsep.join(filter(None, [str(hide), os.environ.get("PYTHONPATH")]))
    result = run_python(["-m", "s3prl_fusion.run_downstream", "-m", "train", "-p", str(tmp_path / "exp"), "--device", "cpu",
                         "-u", "fused", "-g", str(DEMO_UPSTREAM), "-s", "hconv", "-d", "diarization",
                         "-o", ",,".join(TASK_DATA["diarization"]).replace("{data}", str(tmp_path))],
                        cwd=tmp_path, check=False, env={"PYTHONPATH": python_path})
    message = user_error_line(result)
    assert "-d diarization needs h5py" in message and "pip install h5py" in message


def test_diarization_data_folders_are_checked_before_training(monkeypatch):
    config = yaml.safe_load((REPO_ROOT / "downstream_configs" / "diarization" / "config.yaml").read_text())
    config["downstream_expert"]["loaderrc"].update({f"{split}_dir": str(CORPORA / "Libri2Mix" / "data" / split) for split in ("train", "dev")})
    with pytest.raises(MissingDataError, match=r"config.downstream_expert.loaderrc.test_dir = /path/to/libri2mix/data/test \(dir not found\)") as missing:
        check_data_paths("diarization", config)
    assert "train_dir" not in str(missing.value)


def libri2mix_data_folders(folder: Path) -> None:
    """The miniature Libri2Mix's Kaldi folders under ``folder``, their wav.scp paths made absolute."""
    for split in ("train", "dev", "test"):
        shutil.copytree(CORPORA / "Libri2Mix" / "data" / split, folder / split)
        scp = folder / split / "wav.scp"
        scp.write_text("".join(f"{recording} {CORPORA / 'Libri2Mix' / path}\n" for recording, path in (line.split() for line in scp.read_text().splitlines())))


@pytest.mark.skipif(importlib.util.find_spec("h5py") is None, reason="s3prl's diarization code imports h5py, not installed here (pip install h5py)")
@pytest.mark.parametrize("interface", ["ws"])  # -s hconv: every task in tests/test_superb_recipe.py
def test_diarization_writes_scoring_predictions(tmp_path, interface):
    import h5py

    libri2mix_data_folders(tmp_path)
    expdir = train_and_test(tmp_path, "diarization", interface)
    recordings = sorted(line.split()[0] for line in (tmp_path / "test" / "wav.scp").read_text().splitlines())
    predictions = sorted((expdir / "scoring" / "predictions").glob("*.h5"))
    assert [path.stem for path in predictions] == recordings
    for path in predictions:
        with h5py.File(path) as prediction:
            frames, speakers = prediction["T_hat"].shape
        assert speakers == 2 and frames > 0
    submitted_alone(tmp_path, "sd", expdir, "predict/sd_public/scoring/predictions", "predict/sd_public/frame_shift")


def evaluate_query_by_example(tmp_path: Path, *feature_flags: str) -> Path:
    expdir = tmp_path / "quesst14_dtw"
    run_python(["-m", "s3prl_fusion.run_downstream", "-m", "evaluate", "-t", "dev", "-u", "fused", "-g", str(DEMO_UPSTREAM), *feature_flags,
                "-d", "quesst14_dtw", "-p", str(expdir), "--device", "cpu", "-o", ",,".join([
                    f"config.downstream_expert.datarc.dataset_root='{CORPORA / 'quesst14Database'}'",
                    "config.downstream_expert.datarc.num_workers=0", "config.downstream_expert.max_workers=1"])], cwd=tmp_path)
    return expdir


@pytest.mark.skipif(any(importlib.util.find_spec(name) is None for name in ("dtw", "lxml")),
                    reason="s3prl's quesst14_dtw code imports dtw-python and lxml, not installed here (pip install dtw-python lxml)")
def test_query_by_example_writes_the_detection_list(tmp_path):
    """With s3prl's weighted sum as initialised (one layer, -l N: tests/test_qbe_recipe.py, against the layer sweep)."""
    expdir = evaluate_query_by_example(tmp_path, "-s", "hidden_states")
    detections = ET.parse(expdir / "benchmark.stdlist.xml").getroot().findall("detected_termlist")
    queries = sorted(path.stem for path in (CORPORA / "quesst14Database" / "dev_queries").glob("*.wav"))
    english = sorted(line.split()[0].rsplit("/", 1)[-1].removesuffix(".wav") for line in
                     (CORPORA / "quesst14Database" / "scoring" / "language_key_utterances.lst").read_text().splitlines() if line.split()[1] == "nnenglish")
    assert sorted(termlist.get("termid") for termlist in detections) == queries
    for termlist in detections:
        assert sorted(term.get("file") for term in termlist.findall("term")) == english
    submitted_alone(tmp_path, "qbe", expdir, "predict/qbe_public/benchmark.stdlist.xml")


def test_query_by_example_data_root_is_checked_before_evaluating():
    config = yaml.safe_load((REPO_ROOT / "downstream_configs" / "quesst14_dtw" / "config.yaml").read_text())
    with pytest.raises(MissingDataError, match=r"config.downstream_expert.datarc.dataset_root = /path/to/quesst14Database \(dir not found\)"):
        check_data_paths("quesst14_dtw", config)
    config["downstream_expert"]["datarc"]["dataset_root"] = str(CORPORA / "quesst14Database")
    check_data_paths("quesst14_dtw", config)


def test_speaker_identification_names_a_listed_file_missing_from_the_data_folder(tmp_path, monkeypatch):
    from s3prl.downstream.voxceleb1.dataset import SpeakerClassifiDataset

    monkeypatch.setenv("S3PRL_FUSION_CACHE", str(tmp_path / "cache"))
    split = tmp_path / "split.txt"
    split.write_text("1 id10001/nosuchvideo/00001.wav\n")
    with pytest.raises(MissingPathError, match=rf"id10001/nosuchvideo/00001.wav of the VoxCeleb1 split file is not under {VOXCELEB1_MINI}/\*/wav/"):
        SpeakerClassifiDataset("train", VOXCELEB1_MINI, str(split))


@pytest.mark.parametrize("interface", ["ws", "hconv"])
def test_query_by_example_with_a_trainable_interface_stops_naming_the_protocol(tmp_path, interface):
    """QbE trains nothing, so a trainable interface would be scored as initialised: one message, exit 2."""
    result = run_python(["-m", "s3prl_fusion.run_downstream", "-m", "evaluate", "-t", "dev", "-u", "fused", "-g", str(DEMO_UPSTREAM),
                         "-s", interface, "-d", "quesst14_dtw", "-p", str(tmp_path / "exp"), "--device", "cpu", "-o",
                         f"config.downstream_expert.datarc.dataset_root='{CORPORA / 'quesst14Database'}'"], cwd=tmp_path, check=False)
    message = user_error_line(result)
    assert f"-d quesst14_dtw with -s {interface}: SUPERB's QbE protocol trains nothing" in message
    assert "-s hidden_states -l <layer>" in message and "`s3prl-fusion qbe` (recipes/qbe.sh) sweeps every layer" in message
