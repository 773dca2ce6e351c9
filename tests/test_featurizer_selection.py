"""-s picks the featurizer: s3prl's own weighted sum stays untouched, ours are built by name."""
from __future__ import annotations

from argparse import Namespace

import pytest
import torch
from s3prl.downstream.runner import ModelEntry, Runner
from s3prl.upstream.interfaces import Featurizer

from conftest import DEMO_UPSTREAM
from s3prl_fusion.featurizer import FusionFeaturizer, FusionSetupMismatch
from s3prl_fusion.s3prl_adapter.patches.registration import hub_entries
from s3prl_fusion.interfaces import INTERFACES


@pytest.fixture(scope="module")
def fused_upstream():
    torch.manual_seed(0)
    return hub_entries()["fused"](model_config=str(DEMO_UPSTREAM)).eval()


def runner_with(upstream, selection: str, config: dict | None = None, init_ckpt: dict | None = None) -> Runner:
    runner = Runner.__new__(Runner)
    runner.args = Namespace(
        upstream_feature_selection=selection, upstream_layer_selection=None, device="cpu",
        upstream_feature_normalize=False, upstream="fused", local_rank=None,
    )
    runner.config = config or {}
    runner.init_ckpt = init_ckpt or {}
    runner.upstream = ModelEntry(upstream, "Upstream", False, ["get_downsample_rates"])
    return runner


def test_hidden_states_keeps_s3prl_featurizer(fused_upstream):
    entry = runner_with(fused_upstream, "hidden_states")._get_featurizer()
    assert type(entry.model) is Featurizer
    assert entry.model.layer_num == 5  # max(5, 4) hidden states after layer alignment
    assert entry.model.output_dim == 64 + 48  # members concatenated along D


@pytest.mark.parametrize("name", sorted(INTERFACES))
def test_interface_names_build_our_featurizer(fused_upstream, name):
    entry = runner_with(fused_upstream, name)._get_featurizer()
    assert isinstance(entry.model, FusionFeaturizer)
    assert type(entry.model.interface) is INTERFACES[name]
    wavs = [torch.randn(16000), torch.randn(9000)]
    with torch.no_grad():
        features = entry.model(wavs, fused_upstream(wavs))
    assert [f.shape for f in features] == [(50, entry.model.output_dim), (28, entry.model.output_dim)]


def test_interface_settings_come_from_the_task_config(fused_upstream):
    config = {"interface": {"hconv": {"normalize": True, "match_dims": "interpolate"}}}
    entry = runner_with(fused_upstream, "hconv", config)._get_featurizer()
    assert entry.model.setup["settings"] == {"normalize": True, "match_dims": "interpolate"}


def test_unknown_selection_suggests_nearest(fused_upstream):
    with pytest.raises(ValueError, match="Did you mean hconv"):
        runner_with(fused_upstream, "hcnv")._get_featurizer()


def test_checkpoint_from_another_interface_is_refused_before_training(fused_upstream):
    trained = runner_with(fused_upstream, "ws")._get_featurizer().model
    init_ckpt = {"Featurizer": trained.state_dict()}
    with pytest.raises(FusionSetupMismatch, match="interface: checkpoint 'ws' vs now 'hconv'"):
        runner_with(fused_upstream, "hconv", init_ckpt=init_ckpt)._get_featurizer()
    with pytest.raises(FusionSetupMismatch, match="trained with -s ws"):
        runner_with(fused_upstream, "hidden_states", init_ckpt=init_ckpt)._get_featurizer()


def test_checkpoint_with_other_members_is_refused(fused_upstream):
    trained = runner_with(fused_upstream, "hconv")._get_featurizer().model
    state = trained.state_dict()
    state["_extra_state"] = {**state["_extra_state"], "members": ["hubert", "whisper_small"], "layer_counts": [13, 13]}
    with pytest.raises(FusionSetupMismatch, match="members: checkpoint"):
        runner_with(fused_upstream, "hconv", init_ckpt={"Featurizer": state})._get_featurizer()
