"""Fused upstreams and the interfaces through s3prl.nn (the API ESPnet's s3prl frontend uses)."""
from __future__ import annotations

import pytest
import torch
import yaml
from s3prl.nn import Featurizer

from conftest import DEMO_UPSTREAM
from s3prl_fusion.errors import SettingError
from s3prl_fusion.nn import FusedS3PRLUpstream, InterfaceFeaturizer

SSL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
           conv_dim=[32] * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)


@pytest.fixture(scope="module")
def upstream():
    torch.manual_seed(0)
    return FusedS3PRLUpstream("fused", extra_conf={"model_config": str(DEMO_UPSTREAM)}).eval()


@pytest.mark.parametrize("interface", ["ws", "gumd", "hconv", "chconv"])
def test_pair_runs_a_batch_and_trains(upstream, interface):
    featurizer = InterfaceFeaturizer(upstream, interface=interface)
    wavs, wavs_len = torch.randn(2, 16000), torch.tensor([16000, 11000])
    all_hs, all_lens = upstream(wavs, wavs_len)
    hs, hs_len = featurizer(all_hs, all_lens)
    assert hs.shape == (2, 50, featurizer.output_size)
    assert hs_len.tolist() == [50, 34]  # the fused upstream's own lengths: 11000 samples make 34 frames in both members
    hs.sum().backward()
    assert all(p.grad is not None for p in featurizer.parameters())


def test_a_feature_cache_is_refused_with_what_to_pass_instead():
    with pytest.raises(SettingError, match=r"no feature cache holds; pass the upstream the cache was built from .*-u fused_cache -k"):
        FusedS3PRLUpstream("fused_cache", "/any/cache")


def test_s3prl_weighted_sum_still_accepts_the_output(upstream):
    featurizer = Featurizer(upstream)
    hs, hs_len = featurizer(*upstream(torch.randn(2, 16000), torch.tensor([16000, 8000])))
    assert hs.shape == (2, 50, 64 + 48) and hs_len.tolist() == [50, 25]


@pytest.mark.parametrize("model_types", [["wavlm"], ["hubert", "wavlm"]])
def test_lengths_and_frames_agree_for_ssl_only_member_sets(tmp_path, model_types):
    members = [{"name": model_type, "kind": "hf", "config": {"model_type": model_type, **SSL}} for model_type in model_types]
    members_file = tmp_path / "ssl-members.yaml"
    members_file.write_text(yaml.safe_dump({"members": members}))
    torch.manual_seed(0)
    ssl = FusedS3PRLUpstream("fused", extra_conf={"model_config": str(members_file)}).eval()
    samples = [32000, 20000, 11000]
    with torch.no_grad():
        all_hs, all_lens = ssl(torch.randn(3, 32000), torch.tensor(samples))
        hs, hs_len = InterfaceFeaturizer(ssl, interface="hconv")(all_hs, all_lens)
    expected = [(n - 400) // 320 + 1 for n in samples]  # 99, 62, 34
    assert all(lengths.tolist() == expected for lengths in all_lens)
    assert {layer.size(1) for layer in all_hs} == {99} and hs.size(1) == 99 and hs_len.tolist() == expected
