"""Presets offline: every preset with random stand-ins, a 3-member fusion mismatched in layers,
frames and dims trained through s3prl's runner, and members loaded from saved checkpoints."""
from __future__ import annotations

import pytest
import torch
import yaml
from transformers import WhisperConfig, WhisperModel

from conftest import ASR_CONFIGS, LIBRISPEECH_MINI, run_python
from s3prl_fusion.s3prl_adapter.patches.registration import hub_entries
from s3prl_fusion.upstreams.fused import FusedUpstream
from s3prl_fusion.upstreams.hf_ssl import HFSpeechUpstream
from s3prl_fusion.upstreams.presets import PRESETS
from s3prl_fusion.upstreams.random_members import random_preset_options
from s3prl_fusion.upstreams.whisper import WhisperEncoderUpstream

SAMPLES = (16000, 9000)


def waveforms() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [0.1 * torch.randn(samples, generator=generator) for samples in SAMPLES]


def write_yaml(path, content) -> str:
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return str(path)


def ssl_config(model_type: str, layers: int, dim: int, conv_stride: list[int]) -> dict:
    return {
        "model_type": model_type,
        "hidden_size": dim,
        "num_hidden_layers": layers,
        "num_attention_heads": 4,
        "intermediate_size": 2 * dim,
        "conv_dim": [32] * 7,
        "conv_stride": conv_stride,
        "conv_kernel": [10, 3, 3, 3, 3, 2, max(2, conv_stride[-1])],
        "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 4,
    }


WHISPER_CONFIG = {
    "d_model": 48, "encoder_layers": 3, "encoder_attention_heads": 4, "encoder_ffn_dim": 96,
    "decoder_layers": 1, "decoder_attention_heads": 4, "decoder_ffn_dim": 96, "num_mel_bins": 80,
}
# L (hidden states) 5 / 4 / 3, D 64 / 48 / 32, frames per second 50 / 50 / 25
MISMATCHED_MEMBERS = [
    {"name": "wavlm_random", "kind": "hf", "config": ssl_config("wavlm", 4, 64, [5, 2, 2, 2, 2, 2, 2])},
    {"name": "whisper_random", "kind": "whisper", "config": WHISPER_CONFIG},
    {"name": "hubert_random_640", "kind": "hf", "config": ssl_config("hubert", 2, 32, [5, 2, 2, 2, 2, 2, 4])},
]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_builds_offline_with_random_stand_ins_and_aligns(preset, tmp_path):
    options = write_yaml(tmp_path / "random.yaml", random_preset_options(PRESETS[preset]))
    upstream = hub_entries()[preset](model_config=options).eval()
    with torch.no_grad():
        features = upstream(waveforms())
        member_frames = [member(waveforms())["hidden_states"][0].size(1) for member in upstream.members]
    stacks = features["fusion_stacks"]
    assert len(stacks) == len(PRESETS[preset])
    assert {stack.size(1) for stack in stacks} == {len(SAMPLES)}
    assert {stack.size(2) for stack in stacks} == {max(member_frames)}
    assert features["fusion_lengths"].tolist()[0] == max(member_frames)
    expected_shapes = [(member.num_hidden_states, member.hidden_size) for member in upstream.members]
    assert [(stack.size(0), stack.size(-1)) for stack in stacks] == expected_shapes
    assert len(features["hidden_states"]) == max(layers for layers, _ in expected_shapes)
    assert features["hidden_states"][0].size(-1) == sum(dim for _, dim in expected_shapes)


def test_mismatched_members_differ_in_layers_frames_and_dims():
    upstream = FusedUpstream(MISMATCHED_MEMBERS).eval()
    with torch.no_grad():
        outputs = [member(waveforms())["hidden_states"] for member in upstream.members]
        features = upstream(waveforms())
    assert len({len(hidden_states) for hidden_states in outputs}) == 3
    assert len({hidden_states[0].size(1) for hidden_states in outputs}) == 3
    assert len({hidden_states[0].size(-1) for hidden_states in outputs}) == 3
    assert upstream.member_downsample_rates == [320, 320, 640]
    assert {stack.size(2) for stack in features["fusion_stacks"]} == {max(hidden_states[0].size(1) for hidden_states in outputs)}


def test_three_mismatched_members_train_through_the_runner(tmp_path, librispeech_buckets):
    config = yaml.safe_load((ASR_CONFIGS / "demo.yaml").read_text())
    config["downstream_expert"]["datarc"].update(
        libri_root=str(LIBRISPEECH_MINI), bucket_file=str(librispeech_buckets), dict_path=str(ASR_CONFIGS / "char.dict")
    )
    config["runner"].update(total_steps=2, save_step=2, log_step=1)
    expdir = tmp_path / "exp"
    result = run_python([
        "-m", "s3prl_fusion.run_downstream", "-m", "train", "-u", "fused",
        "-g", write_yaml(tmp_path / "members.yaml", {"members": MISMATCHED_MEMBERS}),
        "-s", "hconv", "-d", "asr", "-c", write_yaml(tmp_path / "config.yaml", config),
        "-p", str(expdir), "--device", "cpu",
    ], cwd=tmp_path)
    assert "interface hconv over 3 member(s)" in result.stderr
    checkpoint = torch.load(expdir / "states-2.ckpt", map_location="cpu", weights_only=False)
    setup = checkpoint["Featurizer"]["_extra_state"]
    assert checkpoint["Step"] == 2
    assert setup["layer_counts"] == [5, 4, 3] and setup["dims"] == [64, 48, 32]


def test_members_saved_with_save_pretrained_load_by_path_with_identical_hidden_states(tmp_path):
    torch.manual_seed(0)
    wavlm = HFSpeechUpstream(config=MISMATCHED_MEMBERS[0]["config"]).eval()
    wavlm.model.save_pretrained(tmp_path / "wavlm")
    whisper_model = WhisperModel(WhisperConfig(**WHISPER_CONFIG))
    whisper_model.save_pretrained(tmp_path / "whisper")
    whisper = WhisperEncoderUpstream(config=WHISPER_CONFIG).eval()
    whisper.encoder.load_state_dict(whisper_model.get_encoder().state_dict())

    options = write_yaml(tmp_path / "members.yaml", {"members": [{"upstream": str(tmp_path / "wavlm")}, {"upstream": str(tmp_path / "whisper")}]})
    fused = hub_entries()["fused"](model_config=options).eval()
    assert [entry["kind"] for entry in fused.member_entries] == ["hf", "whisper"]
    with torch.no_grad():
        for in_memory, loaded in zip((wavlm, whisper), fused.members):
            expected, got = in_memory(waveforms())["hidden_states"], loaded(waveforms())["hidden_states"]
            assert len(got) == len(expected)
            for got_layer, expected_layer in zip(got, expected):
                assert torch.equal(got_layer, expected_layer)
