"""The fused upstream: aligned per-member stacks, s3prl's hidden_states view, frozen vs fine-tuned."""
from __future__ import annotations

import pytest
import torch

from conftest import DEMO_UPSTREAM
from s3prl_fusion.s3prl_adapter.patches.registration import hub_entries
from s3prl_fusion.interfaces import build_interface


@pytest.fixture()
def fused():
    torch.manual_seed(0)
    return hub_entries()["fused"](model_config=str(DEMO_UPSTREAM))


def test_stacks_are_time_aligned_per_utterance(fused):
    fused.eval()
    wavs = [torch.randn(16000), torch.randn(7000)]
    with torch.no_grad():
        features = fused(wavs)
    wavlm, whisper = features["fusion_stacks"]
    assert wavlm.shape[:3] == (5, 2, 50) and whisper.shape[:3] == (4, 2, 50)
    assert features["fusion_lengths"].tolist() == [50, 22]  # Whisper's ceil((N // 160) / 2) is the larger count
    assert torch.count_nonzero(whisper[:, 1, 22:]) == 0 and torch.count_nonzero(wavlm[:, 1, 22:]) == 0
    assert features["fusion_members"] == ["wavlm_small_random", "whisper_small_random"]


def test_hidden_states_view_for_s3prls_weighted_sum(fused):
    fused.eval()
    with torch.no_grad():
        features = fused([torch.randn(8000)])
    assert "hidden_states" in features and "hidden_states" in features.keys()
    layers = features["hidden_states"]
    assert len(layers) == 5 and layers[0].shape == (1, 25, 64 + 48)
    assert torch.equal(layers[0][..., :64], features["fusion_stacks"][0][0])  # first layers map onto first layers
    assert torch.equal(layers[-1][..., 64:], features["fusion_stacks"][1][-1])  # last onto last


def test_frozen_members_build_no_graph(fused):
    fused.eval()
    features = fused([torch.randn(8000)])
    assert all(not stack.requires_grad for stack in features["fusion_stacks"])


def test_fine_tuning_reaches_every_member(fused):
    fused.train()
    features = fused([torch.randn(8000), torch.randn(6000)])
    sum(stack.sum() for stack in features["fusion_stacks"]).backward()
    for member, name in zip(fused.members, fused.member_names):
        grads = [p.grad for p in member.parameters() if p.requires_grad]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), name


def test_comma_separated_members_from_k():
    with pytest.raises(ValueError, match="unknown upstream name 'not_an_upstream'"):
        hub_entries()["fused"](ckpt="not_an_upstream,whisper_small")


@pytest.mark.parametrize("autocast, dtype", [("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_autocast_runs_members_low_precision_and_hands_on_fp32(tmp_path, autocast, dtype):
    config = tmp_path / "upstream.yaml"
    config.write_text(DEMO_UPSTREAM.read_text() + f"autocast: {autocast}\n")
    torch.manual_seed(0)
    low = hub_entries()["fused"](model_config=str(config)).eval()
    torch.manual_seed(0)
    full = hub_entries()["fused"](model_config=str(DEMO_UPSTREAM)).eval()
    linear_dtypes = set()
    for module in low.modules():
        if isinstance(module, torch.nn.Linear):
            module.register_forward_hook(lambda _module, _inputs, output: linear_dtypes.add(output.dtype))
    wavs = [torch.randn(16000), torch.randn(9000)]
    low_stacks = low(wavs)["fusion_stacks"]
    with torch.no_grad():
        full_stacks = full(wavs)["fusion_stacks"]
    assert linear_dtypes == {dtype}
    for mixed, reference in zip(low_stacks, full_stacks):
        assert mixed.dtype == torch.float32 and not mixed.requires_grad
        assert (mixed - reference).norm() / reference.norm() < 0.05
    interface = build_interface("hconv", [5, 4], [64, 48])
    interface(low_stacks).pow(2).mean().backward()
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in interface.parameters())
