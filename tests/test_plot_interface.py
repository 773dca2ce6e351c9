"""`s3prl-fusion plot-interface` reads an s3prl checkpoint and draws the learned layer use."""
from __future__ import annotations

import argparse

import pytest
import torch

from conftest import DEMO_UPSTREAM
from s3prl_fusion.commands import plot_interface
from s3prl_fusion.featurizer import FusionFeaturizer
from s3prl_fusion.s3prl_adapter.patches.registration import hub_entries


@pytest.fixture(scope="module")
def fused_upstream():
    torch.manual_seed(0)
    return hub_entries()["fused"](model_config=str(DEMO_UPSTREAM)).eval()


@pytest.mark.parametrize("interface", ["ws", "gumd", "hconv", "chconv"])
def test_plot_from_checkpoint(tmp_path, fused_upstream, interface, capsys):
    featurizer = FusionFeaturizer(fused_upstream, interface)
    if interface == "ws":
        with torch.no_grad():
            featurizer.interface.weights[1][2] = 5.0  # whisper member: layer 2 dominates
    path = tmp_path / "states-7.ckpt"
    torch.save({"Featurizer": featurizer.state_dict(), "Step": 7, "Args": argparse.Namespace(upstream="fused")}, path)
    plot_interface.run(argparse.Namespace(checkpoint=str(path), out=str(tmp_path / "layers.png")))
    printed = capsys.readouterr().out
    assert (tmp_path / "layers.png").stat().st_size > 5000
    assert "wavlm_small_random" in printed and "whisper_small_random" in printed
    if interface == "ws":
        assert "whisper_small_random  L2 " in printed


def test_stock_weighted_sum_checkpoint(tmp_path, capsys):
    path = tmp_path / "states-1.ckpt"
    torch.save({"Featurizer": {"weights": torch.tensor([0.0, 3.0, 0.0])}, "Step": 1}, path)
    plot_interface.run(argparse.Namespace(checkpoint=str(path), out=str(tmp_path / "stock.png")))
    assert "upstream  L1 " in capsys.readouterr().out
