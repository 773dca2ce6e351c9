"""The paper's shapes: s3prl's runner with two base-size members of different kinds (13 hidden
states x 768 each, random weights), batches of 4 utterances of different lengths, gradient
accumulation 2, three checkpoints in a hyphenated folder, a fusion interface that aligns,
concatenates and projects; and every interface over a large-size member (25 x 1024) fused with a
base-size one.
"""
from __future__ import annotations

import pytest
import torch
import yaml

from conftest import ASR_CONFIGS, LIBRISPEECH_MINI, run_python
from s3prl_fusion.experiments.checkpoints import checkpoint_step, load_checkpoint
from s3prl_fusion.featurizer import FusionFeaturizer
from s3prl_fusion.interfaces import RunLength
from s3prl_fusion.upstreams.fused import FusedUpstream
from test_member_batch_invariance import assert_each_utterance_as_alone

BASE_SIZE_MEMBERS = {
    "members": [
        {"name": "wavlm_base_random", "kind": "hf", "config": {
            "model_type": "wavlm", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
            "intermediate_size": 3072}},
        {"name": "whisper_small_random", "kind": "whisper", "length_mode": "exact", "config": {
            "d_model": 768, "encoder_layers": 12, "encoder_attention_heads": 12, "encoder_ffn_dim": 3072,
            "decoder_layers": 1, "decoder_attention_heads": 12, "decoder_ffn_dim": 3072, "num_mel_bins": 80}},
    ]
}
TOTAL_STEPS, SAVE_STEP, ACCUMULATION, BATCH = 3, 1, 2, 4


def test_base_size_fusion_trains_with_accumulation_and_keeps_three_checkpoints(tmp_path, librispeech_buckets):
    members = tmp_path / "base-size-members.yaml"
    members.write_text(yaml.safe_dump(BASE_SIZE_MEMBERS))
    expdir = tmp_path / "real-shapes" / "wavlm-whisper-chconv"
    overrides = ",,".join([
        f"config.downstream_expert.datarc.libri_root='{LIBRISPEECH_MINI}'",
        f"config.downstream_expert.datarc.bucket_file='{librispeech_buckets}'",
        f"config.downstream_expert.datarc.train_batch_size={BATCH}",
        f"config.runner.total_steps={TOTAL_STEPS}",
        f"config.runner.save_step={SAVE_STEP}",
        f"config.runner.gradient_accumulate_steps={ACCUMULATION}",
        "config.runner.max_keep=3",
        "config.runner.log_step=1",
    ])
    result = run_python(["-m", "s3prl_fusion.run_downstream", "-m", "train", "-u", "fused", "-g", str(members), "-s", "chconv",
                         "-d", "asr", "-c", str(ASR_CONFIGS / "demo.yaml"), "-p", str(expdir), "--device", "cpu", "-o", overrides])
    assert "interface chconv over 2 member(s) ['wavlm_base_random', 'whisper_small_random'] (layers [13, 13], dims [768, 768])" in result.stderr

    checkpoints = sorted(expdir.glob("states-*.ckpt"), key=checkpoint_step)
    assert [checkpoint_step(path) for path in checkpoints] == [1, 2, 3]
    final = load_checkpoint(checkpoints[-1])
    assert final["Step"] == TOTAL_STEPS
    # one optimizer update per ACCUMULATION forwards: Adam has taken exactly TOTAL_STEPS steps
    adam_steps = {float(state["step"]) for state in final["Optimizer"]["state"].values()}
    assert adam_steps == {float(TOTAL_STEPS)}
    featurizer = final["Featurizer"]
    assert featurizer["_extra_state"]["layer_counts"] == [13, 13] and featurizer["_extra_state"]["dims"] == [768, 768]
    projection = [value for key, value in featurizer.items() if key.endswith("weight") and tuple(value.shape) == (768, 1536)]
    assert projection, "CHConv's Linear(2 x 768 -> 768) projection is missing from the checkpoint"
    assert list(expdir.glob("events.out.tfevents.*")), "no TensorBoard log"


LARGE_WAVLM = {"model_type": "wavlm", "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
               "intermediate_size": 4096, "feat_extract_norm": "layer", "do_stable_layer_norm": True, "conv_bias": True}


@pytest.fixture(scope="module")
def large_and_base_members():
    """A large-size WavLM (25 hidden states x 1024) fused with a base-size Whisper (13 x 768), random weights."""
    torch.manual_seed(0)
    whisper = BASE_SIZE_MEMBERS["members"][1]
    return FusedUpstream([{"name": "wavlm_large_random", "kind": "hf", "config": LARGE_WAVLM}, whisper]).eval()


@pytest.mark.parametrize("interface", ["ws", "gumd", "hconv", "chconv"])
def test_every_interface_fuses_a_large_and_a_base_member_over_a_mixed_length_batch(large_and_base_members, interface):
    featurizer = FusionFeaturizer(large_and_base_members, interface, run=RunLength(10))
    assert featurizer.setup["layer_counts"] == [25, 13] and featurizer.setup["dims"] == [1024, 768]
    generator = torch.Generator().manual_seed(1)
    wavs = [torch.randn(samples, generator=generator) for samples in (16000, 5200, 11000, 8000)]
    with torch.no_grad():
        features = large_and_base_members(wavs)
    fused = featurizer(wavs, features)
    assert [tuple(f.shape) for f in fused] == [(round(len(w) / 320), featurizer.output_dim) for w in wavs]
    sum(f.square().sum() for f in fused).backward()
    gradients = [p.grad for p in featurizer.parameters() if p.requires_grad]
    assert gradients and all(g is not None and torch.isfinite(g).all() for g in gradients)
    assert any(float(g.abs().sum()) > 0 for g in gradients)


def test_the_large_member_gives_each_utterance_its_own_features_in_a_batch(large_and_base_members):
    generator = torch.Generator().manual_seed(2)
    assert_each_utterance_as_alone(large_and_base_members, [torch.randn(samples, generator=generator) for samples in (12000, 4800, 9000, 6400)])
