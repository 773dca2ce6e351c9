"""Fused upstreams and the interfaces through s3prl.nn (the API ESPnet's s3prl frontend uses)."""
from __future__ import annotations

import pytest
import torch
from s3prl.nn import Featurizer

from conftest import DEMO_UPSTREAM
from s3prl_fusion.nn import FusedS3PRLUpstream, FusionFeaturizer


@pytest.fixture(scope="module")
def upstream():
    torch.manual_seed(0)
    return FusedS3PRLUpstream("fused", extra_conf={"model_config": str(DEMO_UPSTREAM)}).eval()


@pytest.mark.parametrize("interface", ["ws", "gumd", "hconv", "chconv"])
def test_pair_runs_a_batch_and_trains(upstream, interface):
    featurizer = FusionFeaturizer(upstream, interface=interface)
    wavs, wavs_len = torch.randn(2, 16000), torch.tensor([16000, 11000])
    all_hs, all_lens = upstream(wavs, wavs_len)
    hs, hs_len = featurizer(all_hs, all_lens)
    assert hs.shape == (2, 50, featurizer.output_size)
    assert hs_len.tolist() == [50, 35]
    hs.sum().backward()
    assert all(p.grad is not None for p in featurizer.parameters())


def test_s3prl_weighted_sum_still_accepts_the_output(upstream):
    featurizer = Featurizer(upstream)
    hs, hs_len = featurizer(*upstream(torch.randn(2, 16000), torch.tensor([16000, 8000])))
    assert hs.shape == (2, 50, 64 + 48) and hs_len.tolist() == [50, 25]
