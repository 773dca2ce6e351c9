"""`s3prl-fusion plot-interface` reads an s3prl checkpoint and draws the learned layer use."""
from __future__ import annotations

import argparse

import pytest
import torch
import yaml

from conftest import ASR_CONFIGS, DEMO_UPSTREAM, LIBRISPEECH_MINI, run_python
from s3prl_fusion.experiments.checkpoints import load_checkpoint
from s3prl_fusion.cli import main as cli_main
from s3prl_fusion.commands import plot_interface
from s3prl_fusion.featurizer import FusionFeaturizer
from s3prl_fusion.s3prl_adapter.patches.registration import hub_entries

AUDIO = LIBRISPEECH_MINI / "dev-clean"
SEED = 7
# one randomly initialised member with 13 hidden states: HConv's two convolutions, 13 -> 5 -> 2 layers
THIRTEEN_LAYERS = {"members": [{"name": "wavlm_13", "kind": "hf", "config": {
    "model_type": "wavlm", "hidden_size": 16, "num_hidden_layers": 12, "num_attention_heads": 2, "intermediate_size": 32,
    "conv_dim": [16] * 7, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4, "num_buckets": 32,
}}]}


def built_upstream(model_config) -> torch.nn.Module:
    """``-u fused -g model_config`` as the runner builds it with ``--seed SEED``."""
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        return hub_entries()["fused"](model_config=str(model_config)).eval()


def save_checkpoint(path, featurizer: FusionFeaturizer, model_config) -> None:
    """What s3prl's runner writes for a run of ``-u fused -g model_config --seed SEED``."""
    args = argparse.Namespace(upstream="fused", upstream_ckpt=None, upstream_model_config=str(model_config), seed=SEED, hub="torch")
    torch.save({"Featurizer": featurizer.state_dict(), "Step": 7, "Args": args}, path)


def plot(tmp_path, checkpoint, *audio) -> None:
    """``s3prl-fusion plot-interface`` in this process, writing tmp_path/layers.png."""
    cli_main(["plot-interface", str(checkpoint), "--out", str(tmp_path / "layers.png"), *audio])
    assert (tmp_path / "layers.png").stat().st_size > 5000


@pytest.fixture(scope="module")
def fused_upstream():
    return built_upstream(DEMO_UPSTREAM)


@pytest.mark.parametrize("interface", ["ws", "gumd"])
def test_weights_are_read_from_the_checkpoint(tmp_path, fused_upstream, interface, capsys):
    featurizer = FusionFeaturizer(fused_upstream, interface)
    if interface == "ws":
        with torch.no_grad():
            featurizer.interface.weights[1][2] = 5.0  # whisper member: layer 2 dominates
    path = tmp_path / "states-7.ckpt"
    save_checkpoint(path, featurizer, DEMO_UPSTREAM)
    plot(tmp_path, path)
    printed = capsys.readouterr().out
    assert "wavlm_small_random" in printed and "whisper_small_random" in printed
    assert {"ws": "softmax layer weight", "gumd": "share of feature dims selecting the layer"}[interface] in printed
    if interface == "ws":
        assert "whisper_small_random  L2 " in printed


@pytest.mark.parametrize("interface", ["hconv", "chconv"])
def test_hconv_without_audio_is_refused_rather_than_guessed(tmp_path, fused_upstream, interface, capsys):
    path = tmp_path / "states-7.ckpt"
    save_checkpoint(path, FusionFeaturizer(fused_upstream, interface), DEMO_UPSTREAM)
    with pytest.raises(SystemExit) as ended:
        cli_main(["plot-interface", str(path), "--out", str(tmp_path / "layers.png")])
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert f"error: -s {interface} has no layer weights to read" in err and "--data FOLDER" in err and "Traceback" not in err
    assert not (tmp_path / "layers.png").exists()


def test_hand_built_hconv_that_reads_one_layer_is_seen_to_read_it(tmp_path, capsys):
    """Only kernel tap 2 of the first conv (layers 0, 3, 6, 9, 12) and tap 4 of the second (first-conv
    position 2, which tap 2 reads at layer 6) are non-zero: the output depends on layer 6 alone, which
    no per-tap weight norm of the first conv can tell from layers 0, 3, 9 and 12."""
    model_config = tmp_path / "members.yaml"
    model_config.write_text(yaml.safe_dump(THIRTEEN_LAYERS))
    featurizer = FusionFeaturizer(built_upstream(model_config), "hconv", upstream_name="fused", upstream_model_config=str(model_config))
    first, second = featurizer.interface.conv.convs
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for conv, tap in ((first, 2), (second, 4)):
            conv.weight.zero_()
            conv.weight[:, :, tap] = torch.randn(conv.weight.shape[:2], generator=generator)
            conv.bias.fill_(1.0)  # most units stay above the ReLU
    path = tmp_path / "states-7.ckpt"
    save_checkpoint(path, featurizer, model_config)
    plot(tmp_path, path, "--data", str(AUDIO), "--utterances", "2")
    printed = capsys.readouterr().out
    assert "wavlm_13  L6 100.0%  L0 0.0%" in printed, printed
    assert "share of output sensitivity (Jacobian norm x layer RMS), 2 utterances" in printed


def test_layers_read_by_the_same_tap_are_told_apart(tmp_path, fused_upstream):
    """The demo's members align to 5 layers: layers 0 and 3 are both read by kernel tap 2 alone, so
    a per-tap weight norm gives them equal shares whatever was learned; measured, they differ."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        featurizer = FusionFeaturizer(fused_upstream, "hconv")
    path = tmp_path / "states-7.ckpt"
    save_checkpoint(path, featurizer, DEMO_UPSTREAM)
    files = sorted(AUDIO.rglob("*.flac"))[:2]
    layer_use = plot_interface.measured_layer_use(load_checkpoint(path), files, "cpu")
    assert [shares.shape for shares in layer_use.shares] == [(5,), (4,)]
    for shares in layer_use.shares:
        torch.testing.assert_close(shares.sum(), torch.tensor(1.0))
    wavlm = layer_use.shares[0]  # 5 hidden states, read as they are
    assert abs(float(wavlm[0] - wavlm[3])) > 0.005, wavlm


def test_an_upstream_that_changed_since_training_is_refused(tmp_path, capsys):
    model_config = tmp_path / "members.yaml"
    model_config.write_text(yaml.safe_dump(THIRTEEN_LAYERS))
    featurizer = FusionFeaturizer(built_upstream(model_config), "hconv", upstream_name="fused", upstream_model_config=str(model_config))
    path = tmp_path / "states-7.ckpt"
    save_checkpoint(path, featurizer, model_config)
    changed = yaml.safe_load(model_config.read_text())
    changed["members"][0]["config"]["num_hidden_layers"] = 6
    model_config.write_text(yaml.safe_dump(changed))
    with pytest.raises(SystemExit) as ended:
        cli_main(["plot-interface", str(path), "--out", str(tmp_path / "layers.png"), "--data", str(AUDIO), "--utterances", "1"])
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert "is not the one its interface was trained on" in err and "layer_counts: checkpoint [13] vs built [7]" in err, err[-2000:]


def test_trained_hconv_checkpoint_end_to_end(tmp_path, librispeech_buckets):
    """A checkpoint s3prl's runner wrote after two steps of -s hconv on the demo upstream, plotted
    from the bundled corpus's audio by the command line as a user runs it."""
    expdir = tmp_path / "exp"
    overrides = ",,".join([
        f"config.downstream_expert.datarc.libri_root='{LIBRISPEECH_MINI}'",
        f"config.downstream_expert.datarc.bucket_file='{librispeech_buckets}'",
        "config.runner.total_steps=2", "config.runner.save_step=2",
    ])
    run_python(["-m", "s3prl_fusion.run_downstream", "-m", "train", "-u", "fused", "-g", str(DEMO_UPSTREAM), "-s", "hconv", "-d", "asr",
                "-c", str(ASR_CONFIGS / "demo.yaml"), "-p", str(expdir), "--device", "cpu", "-o", overrides])
    result = run_python(["-m", "s3prl_fusion.cli", "plot-interface", str(expdir / "states-2.ckpt"), "--out", str(tmp_path / "layers.png"),
                         "--data", str(AUDIO), "--utterances", "3", "--device", "cpu"])
    assert (tmp_path / "layers.png").read_bytes().startswith(b"\x89PNG")
    lines = result.stdout.splitlines()
    assert "-s hconv over wavlm_small_random + whisper_small_random: share of output sensitivity" in lines[0]
    assert "3 utterances" in lines[0]
    assert [line.split()[0] for line in lines[2:4]] == ["wavlm_small_random", "whisper_small_random"]
    assert all(line.split()[1].startswith("L") and line.endswith("%") for line in lines[2:4])


def test_stock_weighted_sum_checkpoint(tmp_path, capsys):
    path = tmp_path / "states-1.ckpt"
    torch.save({"Featurizer": {"weights": torch.tensor([0.0, 3.0, 0.0])}, "Step": 1}, path)
    plot(tmp_path, path)
    assert "upstream  L1 " in capsys.readouterr().out
