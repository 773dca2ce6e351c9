"""How members are built: float32 whatever a checkpoint is stored in, every layer in train mode,
and each member's own frame rule for its valid frames."""
from __future__ import annotations

import shutil
import socket

import pytest
import torch
import yaml
from transformers import AutoConfig, AutoModel

from conftest import ASR_CONFIGS, DEMO_UPSTREAM, LIBRISPEECH_MINI, WHISPER_TINY_EN, run_python, user_error_line
from s3prl_fusion.upstreams.fused import FusedUpstream
from s3prl_fusion.upstreams.hf_ssl import HFSpeechUpstream
from s3prl_fusion.upstreams.members import FrameCounter

SMALL_HUBERT = dict(model_type="hubert", hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
                    intermediate_size=128, conv_dim=[32] * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
S3PRL_WAVLM = dict(extractor_mode="default", encoder_layers=2, encoder_embed_dim=64, encoder_ffn_embed_dim=128,
                   encoder_attention_heads=4, conv_feature_layers="[(64,10,5)] + [(64,3,2)] * 4 + [(64,2,2)] * 2",
                   conv_pos=16, conv_pos_groups=4)
LENGTHS = (24000, 16399, 16400, 16719, 16720, 8000, 4801)


def wavs_of(lengths) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    return [0.1 * torch.randn(n, generator=generator) for n in lengths]


@pytest.mark.skipif(not WHISPER_TINY_EN.is_dir(), reason="needs ../shared/models/whisper-tiny.en (real float16 checkpoint)")
def test_real_float16_whisper_checkpoint_runs_in_float32(tmp_path):
    members = tmp_path / "members-g.yaml"
    members.write_text(yaml.safe_dump({"members": [{"upstream": str(WHISPER_TINY_EN)}]}))
    from s3prl_fusion.upstreams import read_upstream_options

    fused = FusedUpstream(**read_upstream_options(str(members))).eval()
    assert {parameter.dtype for parameter in fused.parameters()} == {torch.float32}
    whisper = fused.members[0]
    with torch.no_grad():
        output = whisper(wavs_of((16000, 9000)))
    assert output["hidden_states"][-1].dtype == torch.float32 and len(output["hidden_states"]) == 5
    assert torch.isfinite(output["hidden_states"][-1]).all()


def test_hf_checkpoint_saved_in_float16_loads_in_float32(tmp_path):
    torch.manual_seed(0)
    config = dict(SMALL_HUBERT)
    saved = AutoModel.from_config(AutoConfig.for_model(**config)).half()
    folder = tmp_path / "hubert-fp16"
    saved.save_pretrained(folder)
    assert AutoModel.from_pretrained(folder).dtype == torch.float16  # what transformers does by default
    member = HFSpeechUpstream(source=str(folder)).eval()
    assert {parameter.dtype for parameter in member.parameters()} == {torch.float32}
    with torch.no_grad():
        hidden = member(wavs_of((16000, 8000)))["hidden_states"]
    assert {layer.dtype for layer in hidden} == {torch.float32}
    torch.testing.assert_close(member.model.encoder.layers[0].attention.k_proj.weight, saved.encoder.layers[0].attention.k_proj.weight.float())


def test_trained_members_never_drop_layers():
    torch.manual_seed(0)
    fused = FusedUpstream([
        {"name": "hubert", "kind": "hf", "config": {**SMALL_HUBERT, "layerdrop": 0.9}},
        {"name": "whisper", "kind": "whisper", "config": dict(
            d_model=48, encoder_layers=3, encoder_attention_heads=4, encoder_ffn_dim=96, decoder_layers=1,
            decoder_attention_heads=4, decoder_ffn_dim=96, num_mel_bins=80, encoder_layerdrop=0.9)},
    ]).train()
    for _ in range(6):
        stacks = fused(wavs_of((8000, 6000)))["fusion_stacks"]
        assert [stack.size(0) for stack in stacks] == [5, 4]


def test_trained_members_mask_no_time_steps():
    torch.manual_seed(0)
    no_dropout = {key: 0.0 for key in ("hidden_dropout", "attention_dropout", "activation_dropout", "feat_proj_dropout", "final_dropout")}
    member = HFSpeechUpstream(config={**SMALL_HUBERT, **no_dropout, "mask_time_prob": 0.5, "mask_time_length": 2})
    wavs = wavs_of((16000, 12000))
    with torch.no_grad():
        evaluated = member.eval()(wavs)["hidden_states"]
        trained = member.train()(wavs)["hidden_states"]
    for eval_layer, train_layer in zip(evaluated, trained):
        torch.testing.assert_close(train_layer, eval_layer)


def test_s3prl_hub_members_report_their_own_frame_rule(tmp_path):
    from s3prl.upstream.wavlm.WavLM import WavLM, WavLMConfig

    torch.manual_seed(0)
    checkpoint = tmp_path / "s3prl-wavlm" / "tiny.pt"
    checkpoint.parent.mkdir()
    torch.save({"cfg": S3PRL_WAVLM, "model": WavLM(WavLMConfig(S3PRL_WAVLM)).state_dict()}, checkpoint)
    wavlm = FusedUpstream([{"upstream": "wavlm_local", "ckpt": str(checkpoint)}]).eval()
    fbank = FusedUpstream(["fbank"]).eval()
    with torch.no_grad():
        wavlm_lengths = wavlm(wavs_of(LENGTHS))["fusion_lengths"].tolist()
        fbank_lengths = fbank(wavs_of(LENGTHS))["fusion_lengths"].tolist()
    assert wavlm_lengths == [(n - 400) // 320 + 1 for n in LENGTHS]
    assert fbank_lengths == [(n - 400) // 160 + 1 for n in LENGTHS]
    assert wavlm.members[0].frame_counter.offset == -80 and fbank.members[0].frame_counter.offset == -240


def test_frame_counter_probes_each_length_of_an_upstream_without_a_conv_rule():
    probes = []

    def frames_alone(num_samples: int) -> int:
        probes.append(num_samples)
        return round(num_samples ** 0.5)

    counter = FrameCounter(frames_alone, rate=320)
    assert counter.offset is None
    assert [counter(n) for n in (900, 10000, 900)] == [30, 100, 30]
    assert probes.count(900) == 1


def test_fine_tuned_members_keep_every_layer_through_the_runner(tmp_path, librispeech_buckets):
    """-f trains the members (train mode) with LayerDrop 0.9 in their configs; the weighted sum is
    built for a fixed layer count, so a forward with a dropped layer would stop the run."""
    members = yaml.safe_load(DEMO_UPSTREAM.read_text())
    members["members"][0]["config"]["layerdrop"] = 0.9
    members["members"][1]["config"]["encoder_layerdrop"] = 0.9
    upstream_config = tmp_path / "members-layerdrop.yaml"
    upstream_config.write_text(yaml.safe_dump(members))
    config = yaml.safe_load((ASR_CONFIGS / "demo.yaml").read_text())
    config["downstream_expert"]["datarc"].update(
        libri_root=str(LIBRISPEECH_MINI), bucket_file=str(librispeech_buckets), dict_path=str(ASR_CONFIGS / "char.dict"),
        train_batch_size=4)
    config["runner"].update(total_steps=1, gradient_accumulate_steps=3, save_step=1, log_step=1, max_keep=1)
    config_path = tmp_path / "asr-config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    shutil.copy(ASR_CONFIGS / "char.dict", tmp_path / "char.dict")
    expdir = tmp_path / "result-f" / "ws-finetune"
    run_python(["-m", "s3prl_fusion.run_downstream", "-m", "train", "-u", "fused", "-g", str(upstream_config), "-s", "ws",
                "-f", "-d", "asr", "-c", str(config_path), "-p", str(expdir), "--device", "cpu"], cwd=tmp_path)
    checkpoint = torch.load(expdir / "states-1.ckpt", map_location="cpu", weights_only=False)
    assert checkpoint["Step"] == 1 and "Upstream" in checkpoint
    assert checkpoint["Featurizer"]["_extra_state"]["layer_counts"] == [5, 4]



def closed_local_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def train_with_members(tmp_path, buckets, members: list[dict], env: dict | None = None):
    """``run_downstream -m train -u fused -g <members>`` on the bundled mini LibriSpeech (asr)."""
    options = tmp_path / "members.yaml"
    options.write_text(yaml.safe_dump({"members": members}))
    overrides = f"config.downstream_expert.datarc.libri_root='{LIBRISPEECH_MINI}',,config.downstream_expert.datarc.bucket_file='{buckets}'"
    return run_python(
        ["-m", "s3prl_fusion.run_downstream", "-m", "train", "-u", "fused", "-g", str(options), "-s", "hconv", "-d", "asr",
         "-c", str(ASR_CONFIGS / "demo.yaml"), "-p", str(tmp_path / "exp"), "--device", "cpu", "-o", overrides],
        check=False, env=env,
    )


@pytest.mark.parametrize("member, hub, expected", [
    ({"name": "wavlm", "upstream": "microsoft/wavlm-base-plux"}, "offline",
     ["microsoft/wavlm-base-plux: it is not in the local Hugging Face cache and the hub was not asked (HF_HUB_OFFLINE=1)",
      "Did you mean microsoft/wavlm-base-plus?", "`hf download microsoft/wavlm-base-plux`"]),
    ({"name": "whisper", "upstream": "whisper_tiny_en"}, "unreachable",
     ["openai/whisper-tiny.en: it is not in the local Hugging Face cache and the hub at http://127.0.0.1:", "could not be reached",
      "`hf download openai/whisper-tiny.en`", "then run with HF_HUB_OFFLINE=1"]),
])
def test_a_member_the_hub_cannot_give_stops_with_one_message(tmp_path, librispeech_buckets, member, hub, expected):
    """An id neither in the (empty) Hugging Face cache nor loadable, offline or with the hub
    unreachable (a closed local port, never the internet): exit 2, one message naming the member,
    the id, what the hub said and how to fetch it ahead."""
    hub_settings = {"HF_HUB_OFFLINE": "1"} if hub == "offline" else {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": f"http://127.0.0.1:{closed_local_port()}"}
    cache = {"HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_CACHE": str(tmp_path / "hf-home" / "hub")}
    message = user_error_line(train_with_members(tmp_path, librispeech_buckets, [member], env={**cache, **hub_settings}))
    assert message.startswith(f"error: fused member {member['name']}: cannot load the Hugging Face model "), message
    for text in expected:
        assert text in message, message
    assert hub == "offline" or "Did you mean" not in message, "a known id is not its own typo: " + message


def test_a_member_folder_without_a_model_stops_with_one_message(tmp_path, librispeech_buckets):
    folder = tmp_path / "downloads" / "wavlm"
    folder.mkdir(parents=True)
    message = user_error_line(train_with_members(tmp_path, librispeech_buckets, [{"name": "wavlm", "upstream": str(folder)}]))
    assert message == f"error: fused member wavlm, source {folder}: the local directory has no config.json; give a folder written by save_pretrained"
