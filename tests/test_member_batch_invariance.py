"""An utterance's features do not depend on the batch it is in, for every member kind.

Batches of mixed lengths (0.3-1.5 s) against each utterance alone: Hugging Face SSL encoders
(a base-size WavLM, 13 x 768, and every supported model type with both front-end norms),
Whisper in both length modes, s3prl hub members (s3prl's own WavLM, HuBERT and Data2Vec in the
released checkpoints' configurations, fbank, mel, spectrogram), all through the fused upstream,
and the feature cache built in batches against on-the-fly batched features.
"""
from __future__ import annotations

import pytest
import torch
from transformers import AutoConfig, AutoModel

from conftest import DEMO_UPSTREAM, LIBRISPEECH_MINI
from s3prl_fusion.upstreams.fused import FusedUpstream
from s3prl_fusion.upstreams.hf_ssl import HFSpeechUpstream

MIXED_LENGTHS = (24000, 4800, 11217, 16000, 7040, 19999)  # 1.5 s down to 0.3 s, none equal
SMALL = dict(hidden_size=64, num_hidden_layers=3, num_attention_heads=4, intermediate_size=128,
             conv_dim=[32] * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
BASE_WAVLM = dict(model_type="wavlm", hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                  intermediate_size=3072, feat_extract_norm="group")
HF_KINDS = {
    "wavlm-base-group-norm": BASE_WAVLM,
    "wavlm-layer-norm": dict(model_type="wavlm", feat_extract_norm="layer", do_stable_layer_norm=True, num_buckets=32, **SMALL),
    "hubert-group-norm": dict(model_type="hubert", feat_extract_norm="group", **SMALL),
    "wav2vec2-group-norm": dict(model_type="wav2vec2", feat_extract_norm="group", **SMALL),
    "wav2vec2-layer-norm": dict(model_type="wav2vec2", feat_extract_norm="layer", do_stable_layer_norm=True, **SMALL),
    "data2vec-audio": dict(model_type="data2vec-audio", **{**SMALL, "num_conv_pos_embeddings": 5, "conv_pos_kernel_size": 19}),
}
WHISPER_TINY = dict(d_model=64, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=128,
                    decoder_layers=1, decoder_attention_heads=4, decoder_ffn_dim=128, num_mel_bins=80)
S3PRL_WAVLM = dict(extractor_mode="default", encoder_layers=2, encoder_embed_dim=64, encoder_ffn_embed_dim=128,
                   encoder_attention_heads=4, conv_feature_layers="[(64,10,5)] + [(64,3,2)] * 4 + [(64,2,2)] * 2",
                   conv_pos=16, conv_pos_groups=4, relative_position_embedding=True, num_buckets=32, gru_rel_pos=True)

SMALL_S3PRL_ENCODER = dict(encoder_layers=2, encoder_embed_dim=64, encoder_ffn_embed_dim=128, encoder_attention_heads=4,
                           conv_feature_layers="[(64,10,5)] + [(64,3,2)] * 4 + [(64,2,2)] * 2", conv_pos_groups=4)
# the released Data2Vec Base / Large (s3prl's audio_base_ls.pt / vox_pretrained.pt, Hugging Face's
# Data2VecAudioConfig: 5 positional convs of kernel 19), small; Large's pre-LN encoder is covered both ways
DATA2VEC_RELEASED = dict(extractor_mode="layer_norm", conv_pos=95, pos_conv_depth=5, **SMALL_S3PRL_ENCODER)
S3PRL_CHECKPOINTS = {
    "data2vec_local": {"layer_norm_first False": dict(DATA2VEC_RELEASED, layer_norm_first=False),
                       "layer_norm_first True": dict(DATA2VEC_RELEASED, layer_norm_first=True)},
    "hubert_local": {"group-norm front end": dict(extractor_mode="default", conv_pos=16, label_rate=50, **SMALL_S3PRL_ENCODER)},
}


def s3prl_checkpoint(path, upstream: str, config: dict):
    """A randomly initialised checkpoint of s3prl's own ``upstream`` model, in the form its hub loads."""
    if upstream == "data2vec_local":
        from s3prl.upstream.data2vec.data2vec_model import Data2VecAudioConfig, Data2VecAudioModel

        model = Data2VecAudioModel(Data2VecAudioConfig(**config))
        model.remove_pretraining_modules()
        torch.save({"task_cfg": {"normalize": True}, "model_cfg": config, "model_weight": {**model.state_dict(), "_ema": None}}, path)
    else:
        from s3prl.upstream.hubert.hubert_model import HubertConfig, HubertModel, HubertPretrainingConfig

        task = {"normalize": False, "label_rate": 50}
        model = HubertModel(HubertConfig(**config), HubertPretrainingConfig(**task), [list("abcd")])
        torch.save({"task_cfg": task, "model_cfg": config, "model_weight": model.state_dict(), "dictionaries_symbols": [list("abcd")]}, path)
    return str(path)


def mixed_batch(lengths=MIXED_LENGTHS) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    return [0.1 * torch.randn(n, generator=generator) for n in lengths]


def assert_each_utterance_as_alone(upstream, wavs: list[torch.Tensor]) -> None:
    """Each utterance's valid frames in the batch equal its features alone within 1e-4 of the
    feature scale (float32), for every layer; frames past its length are zero."""
    with torch.no_grad():
        batch = upstream(wavs)
        for index, wav in enumerate(wavs):
            alone = upstream([wav])
            frames = int(alone["fusion_lengths"][0])
            assert int(batch["fusion_lengths"][index]) == frames
            for member, (batched, single) in enumerate(zip(batch["fusion_stacks"], alone["fusion_stacks"])):
                expected = single[:, 0, :frames]
                error = (batched[:, index, :frames] - expected).abs().max() / expected.abs().max()
                assert error < 1e-4, f"member {member}, utterance {index} ({wav.numel()} samples): {float(error):.2e}"
                assert not batched[:, index, frames:].any()


@pytest.mark.parametrize("kind", list(HF_KINDS))
def test_hugging_face_members_are_batch_invariant(kind):
    torch.manual_seed(0)
    config = HF_KINDS[kind]
    fused = FusedUpstream([{"name": kind, "kind": "hf", "config": config}]).eval()
    lengths = MIXED_LENGTHS[:4] if config is BASE_WAVLM else MIXED_LENGTHS
    assert_each_utterance_as_alone(fused, mixed_batch(lengths))


@pytest.mark.parametrize("length_mode", ["exact", "pad30"])
def test_whisper_and_s3prl_hub_members_are_batch_invariant(tmp_path, length_mode):
    from s3prl.upstream.wavlm.WavLM import WavLM, WavLMConfig

    torch.manual_seed(0)
    checkpoint = tmp_path / "s3prl-wavlm" / "tiny.pt"
    checkpoint.parent.mkdir()
    torch.save({"cfg": S3PRL_WAVLM, "model": WavLM(WavLMConfig(S3PRL_WAVLM)).state_dict()}, checkpoint)
    fused = FusedUpstream([
        {"upstream": "wavlm_local", "ckpt": str(checkpoint)},
        "fbank",
        {"name": "whisper", "kind": "whisper", "config": WHISPER_TINY, "length_mode": length_mode},
    ]).eval()
    assert_each_utterance_as_alone(fused, mixed_batch())


@pytest.mark.parametrize("upstream, configuration", [(upstream, name) for upstream, configs in S3PRL_CHECKPOINTS.items() for name in configs])
def test_s3prl_hub_model_members_are_batch_invariant(tmp_path, upstream, configuration):
    torch.manual_seed(0)
    checkpoint = s3prl_checkpoint(tmp_path / "model.pt", upstream, S3PRL_CHECKPOINTS[upstream][configuration])
    fused = FusedUpstream([{"upstream": upstream, "ckpt": checkpoint}]).eval()
    assert_each_utterance_as_alone(fused, mixed_batch())


def test_s3prl_hub_feature_members_are_batch_invariant():
    fused = FusedUpstream(["mel", "spectrogram", "fbank"]).eval()
    assert_each_utterance_as_alone(fused, mixed_batch())


def test_unpadded_features_equal_hugging_faces_own_forward_and_weights_keep_their_keys():
    torch.manual_seed(0)
    config = HF_KINDS["hubert-group-norm"]
    member = HFSpeechUpstream(config=config).eval()
    reference = AutoModel.from_config(AutoConfig.for_model(**config)).eval()
    reference.load_state_dict(member.model.state_dict(), strict=True)
    wav = mixed_batch()[0]
    with torch.no_grad():
        ours = member([wav])["hidden_states"]
        theirs = reference(wav[None], output_hidden_states=True).hidden_states
    assert len(ours) == len(theirs) == 4
    for mine, hugging_face in zip(ours, theirs):
        torch.testing.assert_close(mine, hugging_face, atol=1e-6, rtol=0)


def test_cache_built_in_batches_equals_batched_training_features(tmp_path):
    from s3prl_fusion.cache import CachedFusedUpstream
    from s3prl_fusion.cache.batches import BatchLimits
    from s3prl_fusion.cache.builder import build_cache, build_fused_upstream, cache_settings
    from s3prl_fusion.cache.sources import read_waveform
    from s3prl_fusion.upstreams import read_upstream_options

    files = sorted((LIBRISPEECH_MINI / "dev-clean").rglob("*.flac"))[:5]
    fused = build_fused_upstream("fused", None, str(DEMO_UPSTREAM), 1337).eval()
    out = tmp_path / "cache-fp32"
    settings = cache_settings(fused, "fused", None, 1337, "fp32", torch.device("cpu"))
    build_cache(fused, settings, files, out, torch.device("cpu"), BatchLimits(3), log=lambda message: None)
    wavs = [read_waveform(path) for path in files]
    assert len({wav.numel() for wav in wavs}) == len(wavs)
    training_batch = [wavs[4], wavs[0], wavs[2], wavs[1]]  # another grouping than the cache's batches
    cached = CachedFusedUpstream(out, read_upstream_options(str(DEMO_UPSTREAM)))(training_batch)
    with torch.no_grad():
        on_the_fly = fused(training_batch)
    assert torch.equal(cached["fusion_lengths"], on_the_fly["fusion_lengths"])
    for cached_stack, stack in zip(cached["fusion_stacks"], on_the_fly["fusion_stacks"]):
        torch.testing.assert_close(cached_stack, stack, atol=1e-5, rtol=0)
