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
    featurizer = InterfaceFeaturizer(upstream, interface=interface, total_updates=10)
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


@pytest.fixture(scope="module")
def frozen_upstream():
    torch.manual_seed(0)
    return FusedS3PRLUpstream("fused", extra_conf={"model_config": str(DEMO_UPSTREAM)})


def test_members_are_frozen_by_default_whatever_train_the_caller_runs(frozen_upstream):
    """s3prl.nn builds its upstream in train mode; a frozen one stays in eval mode (as the runner's
    members do) and its forward records no autograd graph, even with gradients on."""
    frozen_upstream.train()
    assert not any(module.training for module in frozen_upstream.modules())
    assert not any(parameter.requires_grad for parameter in frozen_upstream.parameters())
    all_hs, _ = frozen_upstream(torch.randn(2, 16000), torch.tensor([16000, 9000]))
    assert not any(layer.requires_grad for layer in all_hs) and not any(stack.requires_grad for stack in all_hs.member_stacks)
    featurizer = InterfaceFeaturizer(frozen_upstream, interface="ws")
    hs, _ = featurizer(all_hs, [torch.tensor([49, 28])])
    hs.sum().backward()  # the interface trains on frozen features
    assert all(parameter.grad is not None for parameter in featurizer.parameters())


def test_trainable_members_run_in_train_mode_and_get_gradients():
    torch.manual_seed(0)
    upstream = FusedS3PRLUpstream("fused", extra_conf={"model_config": str(DEMO_UPSTREAM)}, trainable=True)
    assert upstream.training and all(parameter.requires_grad for parameter in upstream.parameters())
    all_hs, _ = upstream(torch.randn(1, 16000), torch.tensor([16000]))
    all_hs[-1].sum().backward()
    assert any(parameter.grad is not None for parameter in upstream.parameters())


@pytest.mark.parametrize("interface", ["ws", "gumd", "hconv", "chconv"])
def test_building_a_featurizer_leaves_torch_s_generator_as_it_was_and_is_seeded(frozen_upstream, interface, capsys):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    first = InterfaceFeaturizer(frozen_upstream, interface=interface, total_updates=10)
    assert torch.equal(torch.rand(3), expected)
    torch.manual_seed(5)
    again = InterfaceFeaturizer(frozen_upstream, interface=interface, total_updates=10)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))
    assert f"[InterfaceFeaturizer] - interface {interface} over 2 member(s) (layers [5, 4], dims [64, 48]): " in capsys.readouterr().err


def test_gumd_needs_the_run_s_updates_prints_its_schedule_and_counts_optimizer_steps(frozen_upstream, capsys):
    with pytest.raises(SettingError, match=r"interface='gumd'.*pass total_updates=<the optimizer updates your run makes>"):
        InterfaceFeaturizer(frozen_upstream, interface="gumd")
    featurizer = InterfaceFeaturizer(frozen_upstream, interface="gumd", total_updates=3, tau_start=2.0, tau_end=0.5)
    assert ("[InterfaceFeaturizer] - gumd temperature 2 -> 0.5 (exponential) over 3 optimizer updates (total_updates), "
            "counted at each optimizer step") in capsys.readouterr().err
    optimizer = torch.optim.Adam(featurizer.parameters(), lr=0.01)
    all_hs, all_lens = frozen_upstream(torch.randn(2, 16000), torch.tensor([16000, 9000]))
    temperatures = []
    for update in range(2):
        for _ in range(3):  # accumulated forwards
            temperatures.append(featurizer.interface.temperature)
            featurizer(all_hs, all_lens)[0].sum().backward()
        optimizer.step()
        optimizer.zero_grad()
    assert temperatures == [2.0] * 3 + [pytest.approx(1.0)] * 3 and int(featurizer.interface.step) == 2
