"""The SUPERB tasks and the feature cache: IC and ctc's PR / SF hand the upstream each file whole and
unchanged, so they train from a cache (ic.sh with CACHE=1, its run equal to the one on the fly); KS,
SID, SD and QbE are refused at start with why; `cache plan` knows every task."""
from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import pytest
import torch

import s3prl_fusion  # noqa: F401  (s3prl's runner and torchaudio calls go through the plugin)
from conftest import DEMO_UPSTREAM, REPO_ROOT, checked, run_python, run_recipe, user_error_line
from s3prl_fusion.cache.keys import waveform_key
from s3prl_fusion.cache.manifest import Manifest
from s3prl_fusion.cache.plan import audio_from_data, epoch_batches, read_training
from s3prl_fusion.cache.sources import read_waveform
from s3prl_fusion.cache.task_files import fluent_commands_files
from s3prl_fusion.cache.tasks import UNCACHEABLE_TASKS, UncacheableTaskError, check_cached_task
from s3prl_fusion.cli import main as cli_main
from s3prl_fusion.errors import SettingError
from s3prl_fusion.experiments.checkpoints import load_checkpoint

CORPORA = REPO_ROOT / "corpora"
FLUENT_MINI = CORPORA / "fluent_speech_commands_dataset"
CTC_CONFIGS = REPO_ROOT / "downstream_configs" / "ctc"
IC_OVERRIDES = ",,".join([
    "config.downstream_expert.datarc.train_batch_size=2", "config.downstream_expert.datarc.eval_batch_size=4",
    "config.downstream_expert.datarc.num_workers=0", "config.runner.gradient_accumulate_steps=1",
])
REFUSED = {"speech_commands": ("sox effects", "_silence_", "recipes/ks.sh"), "voxceleb1": ("random segment", "max_timestep", "recipes/sid.sh"),
           "diarization": ("chunks of each recording", "chunk_size", "recipes/sd.sh"), "quesst14_dtw": ("sox effects", "resampled", "recipes/qbe.sh")}


def keys_of(paths) -> set[str]:
    return {waveform_key(read_waveform(path)) for path in paths}


# What each cached task hands the upstream ----------------------------------------------------------


def test_intent_classification_dataset_hands_the_upstream_each_listed_file_unchanged():
    from s3prl.downstream.fluent_commands.expert import DownstreamExpert

    listed = fluent_commands_files(FLUENT_MINI)
    assert len(listed) == 24 and keys_of(listed) == keys_of(FLUENT_MINI.glob("wavs/speakers/*/*.wav"))
    expert = DownstreamExpert(64, {"datarc": {"file_path": str(FLUENT_MINI), "num_workers": 0, "train_batch_size": 2, "eval_batch_size": 4},
                                   "modelrc": {"projector_dim": 8, "select": "UtteranceLevel", "UtteranceLevel": {"pooling": "MeanPooling"}}}, "unused")
    handed = []
    for dataset in (expert.train_dataset, expert.dev_dataset, expert.test_dataset):
        for index in range(len(dataset)):
            wav, _, stem = dataset[index]
            handed.append(waveform_key(torch.FloatTensor(wav)))
            assert handed[-1] == waveform_key(read_waveform(next(FLUENT_MINI.glob(f"wavs/speakers/*/{stem}.wav"))))
    assert set(handed) == keys_of(listed)


@pytest.mark.parametrize("config, folders", [
    ("libriphone", [CORPORA / "LibriSpeech" / split for split in ("train-clean-100", "dev-clean", "test-clean")]),
    ("snips", [CORPORA / "SNIPS" / split for split in ("train", "valid", "test")]),
])
def test_ctc_batches_hand_the_upstream_each_file_of_the_cached_folders_unchanged(config, folders):
    """s3prl's ctc loader (``collect_audio_batch``) over the plugin's libriphone / snips readers: every
    waveform of every split is a file of the folders pr.sh / sf.sh cache, read whole."""
    import yaml
    from s3prl.downstream.ctc.data import load_dataset
    from s3prl.downstream.ctc.text import load_text_encoder

    settings = yaml.safe_load((CTC_CONFIGS / f"{config}.yaml").read_text())["downstream_expert"]
    text = settings["text"]
    vocabulary = str(CTC_CONFIGS / Path(text["vocab_file"]).name)
    tokenizer = load_text_encoder(text["mode"], vocabulary, text.get("slots_file") and str(CORPORA / "SNIPS" / "slots.txt"))
    corpus = {**settings["corpus"], "path": str(folders[0].parent), "batch_size": 2, "num_workers": 0}
    if config == "libriphone":
        corpus["lexicon"] = [str(CORPORA / "LibriSpeech" / "phones" / "lexicon.txt")]
    cached = keys_of(path for folder in folders for path in folder.rglob("*") if path.suffix in (".flac", ".wav"))
    handed = set()
    for split in ("train", "dev", "test"):
        for wavs, _, _ in load_dataset(split, tokenizer, dict(corpus)):
            handed |= {waveform_key(torch.FloatTensor(wav)) for wav in wavs}
    assert handed and handed <= cached


# Refused tasks --------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", sorted(REFUSED))
def test_a_task_the_cache_cannot_serve_is_refused_naming_why_and_its_recipe(task, tmp_path):
    check_cached_task("fused", task)
    with pytest.raises(UncacheableTaskError) as refused:
        check_cached_task("fused_cache", task, str(tmp_path))
    message = str(refused.value)
    assert message.startswith(f"-d {task} cannot train or be evaluated from a feature cache (-u fused_cache): ")
    assert all(word in message for word in REFUSED[task][:2]) and f"{REFUSED[task][2]} runs it on the fly, also with CACHE=1" in message


def test_ks_recipe_with_cache_says_why_and_runs_the_members_on_the_fly(tmp_path):
    result = run_recipe("ks.sh", ["fused", "ws", str(tmp_path / "SpeechCommands"), str(tmp_path / "out")], CACHE="1")
    assert "[recipe] CACHE=1: speech_commands passes every clip through sox effects" in result.stdout
    assert "running the members on the fly" in result.stdout
    assert "Speech Commands v0.01 training folder not found" in user_error_line(result)


# The plan -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("task, config", [("fluent_commands", None), ("speech_commands", None), ("voxceleb1", None), ("diarization", None),
                                          ("ctc", "libriphone.yaml"), ("ctc", "snips.yaml")])
def test_cache_plan_counts_every_superb_task(task, config, capsys):
    flags = ["-c", str(CTC_CONFIGS / config)] if config else []
    capsys.readouterr()
    cli_main(["cache", "plan", "-u", "fused", "-g", str(DEMO_UPSTREAM), "--data", str(CORPORA / "LibriSpeech" / "dev-clean"), "-d", task, *flags])
    printed = capsys.readouterr().out
    assert f"member passes (-d {task}, " in printed and "on the fly:" in printed
    if task in UNCACHEABLE_TASKS:
        assert f"from the cache: not possible: -d {task}: {UNCACHEABLE_TASKS[task]}" in printed
    else:
        assert "from the cache: 16 utterance passes per member, one per utterance when it is built" in printed


def test_cache_plan_of_qbe_says_it_trains_nothing():
    with pytest.raises(SettingError, match="-d quesst14_dtw trains nothing .*no training forwards to count; nor can a feature cache serve it: .*sox"):
        read_training("quesst14_dtw", REPO_ROOT / "downstream_configs" / "quesst14_dtw" / "config.yaml")


def test_ctc_plan_counts_the_buckets_s3prls_loader_forwards():
    from s3prl.downstream.ctc.data import load_dataset
    from s3prl.downstream.ctc.text import load_text_encoder

    training = read_training("ctc", CTC_CONFIGS / "libriphone.yaml")
    tokenizer = load_text_encoder("word", str(CTC_CONFIGS / "phoneme.txt"))
    corpus = {"name": "libriphone", "path": str(CORPORA / "LibriSpeech"), "lexicon": [str(CORPORA / "LibriSpeech" / "phones" / "lexicon.txt")],
              "train": ["train-clean-100"], "bucketing": True, "batch_size": training.batch_size, "num_workers": 0}
    batches = [len(wavs) for wavs, _, _ in load_dataset("train", tokenizer, corpus)]
    assert epoch_batches(training, audio_from_data([str(CORPORA / "LibriSpeech" / "train-clean-100")])) == (len(batches), sum(batches))


# IC from a cache equals IC on the fly ---------------------------------------------------------------


@pytest.fixture(scope="module")
def cached_ic_run(tmp_path_factory) -> Path:
    out_dir = tmp_path_factory.mktemp("cached_ic") / "fused-hconv"
    result = checked(run_recipe("ic.sh", ["fused", "hconv", str(FLUENT_MINI), str(out_dir)], CACHE="1", CACHE_DTYPE="fp32", STEPS="2",
                                OVERRIDES=IC_OVERRIDES))
    assert result.stdout.count(f"[recipe] CACHE=1: feature cache {out_dir / 'cache'} of -u fused") == 1
    return out_dir


def runner_from(checkpoint: dict, path: Path, **upstream):
    """s3prl's Runner as ``-m evaluate -e path`` builds it (weights from the checkpoint), its upstream set by ``upstream``."""
    from s3prl.downstream.runner import Runner

    args = argparse.Namespace(**{**vars(checkpoint["Args"]), "init_ckpt": str(path), "device": "cpu", **upstream})
    torch.manual_seed(args.seed)  # as the runner seeds before building: random members come out the same
    runner = Runner(args, checkpoint["Config"])
    for entry in runner.all_entries:
        entry.model.eval()
    return runner


def test_intent_classification_from_the_cache_equals_it_on_the_fly(cached_ic_run):
    """ic.sh's CACHE=1 run trained and was tested from the cache; its checkpoint, evaluated by s3prl's
    Runner with the cache and with the members on the fly, gives the head the same features and the
    same loss on every test batch."""
    out_dir = cached_ic_run
    assert len(Manifest.load(out_dir / "cache").utterances) == 24
    assert (out_dir / "test_predict.csv").is_file()
    path = out_dir / "states-2.ckpt"
    checkpoint = load_checkpoint(path)
    assert checkpoint["Args"].upstream == "fused_cache" and Path(checkpoint["Args"].upstream_ckpt) == out_dir / "cache"
    cached = runner_from(checkpoint, path)
    on_the_fly = runner_from(checkpoint, path, upstream="fused", upstream_ckpt=None, upstream_model_config=str(DEMO_UPSTREAM))
    batches = 0
    with torch.no_grad():
        for wavs, labels, names in cached.downstream.model.get_dataloader("test"):
            wavs = [torch.FloatTensor(wav) for wav in wavs]
            losses = []
            for runner in (cached, on_the_fly):
                features = runner.featurizer.model(wavs, runner.upstream.model(wavs))
                losses.append((features, runner.downstream.model("test", features, labels, names, defaultdict(list))))
            for first, second in zip(losses[0][0], losses[1][0]):
                torch.testing.assert_close(first, second, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(losses[0][1], losses[1][1], atol=1e-5, rtol=1e-5)
            batches += 1
    assert batches == 1  # the 4 test utterances, eval_batch_size 4


def test_a_refused_task_stops_at_start_with_an_existing_cache(cached_ic_run, tmp_path):
    result = run_python(["-m", "s3prl_fusion.run_downstream", "-m", "train", "-u", "fused_cache", "-k", str(cached_ic_run / "cache"),
                         "-s", "ws", "-d", "speech_commands", "-p", str(tmp_path / "ks"), "--device", "cpu"], check=False)
    message = user_error_line(result)
    assert "-d speech_commands cannot train or be evaluated from a feature cache" in message and "recipes/ks.sh" in message
    assert not list((tmp_path / "ks").glob("*.ckpt"))
