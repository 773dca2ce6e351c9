"""The same seed and data give the same training, for every interface (GumD's sampling included)."""
from __future__ import annotations

import pytest
import torch

from conftest import ASR_CONFIGS, DEMO_UPSTREAM, LIBRISPEECH_MINI, run_python
from s3prl_fusion.experiments.checkpoints import load_checkpoint
from s3prl_fusion.featurizer import FusionFeaturizer
from s3prl_fusion.s3prl_adapter.patches.registration import hub_entries
from s3prl_fusion.interfaces import INTERFACES


@pytest.fixture(scope="module")
def upstream():
    torch.manual_seed(0)
    return hub_entries()["fused"](model_config=str(DEMO_UPSTREAM)).eval()


def loss_curve(upstream, interface: str, seed: int, steps: int = 6) -> list[float]:
    torch.manual_seed(seed)
    featurizer = FusionFeaturizer(upstream, interface).train()
    head = torch.nn.Linear(featurizer.output_dim, 5)
    optimizer = torch.optim.Adam([*featurizer.parameters(), *head.parameters()], lr=1e-2)
    generator = torch.Generator().manual_seed(seed)
    wavs = [torch.randn(12000, generator=generator), torch.randn(9000, generator=generator)]
    with torch.no_grad():
        features = upstream(wavs)
    losses = []
    for _ in range(steps):
        outputs = featurizer(wavs, features)
        loss = sum(head(output).logsumexp(-1).mean() for output in outputs)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("interface", sorted(INTERFACES))
def test_same_seed_same_loss_curve(upstream, interface):
    first, second = loss_curve(upstream, interface, seed=3), loss_curve(upstream, interface, seed=3)
    assert first == second
    assert loss_curve(upstream, interface, seed=4) != first


def test_runner_runs_with_the_same_seed_end_identical(tmp_path, librispeech_buckets):
    overrides = ",,".join([
        f"config.downstream_expert.datarc.libri_root='{LIBRISPEECH_MINI}'",
        f"config.downstream_expert.datarc.bucket_file='{librispeech_buckets}'",
        "config.runner.total_steps=4", "config.runner.save_step=4",
    ])
    states = []
    for run in ("a", "b"):
        run_python(["-m", "s3prl_fusion.run_downstream", "-m", "train", "-u", "fused", "-g", str(DEMO_UPSTREAM), "-s", "gumd",
                    "-d", "asr", "-c", str(ASR_CONFIGS / "demo.yaml"), "-p", str(tmp_path / run), "--device", "cpu", "-o", overrides])
        states.append(load_checkpoint(tmp_path / run / "states-4.ckpt"))
    for module in ("Featurizer", "Downstream"):
        for key, value in states[0][module].items():
            if torch.is_tensor(value):
                assert torch.equal(value, states[1][module][key]), f"{module}.{key} differs between identical runs"
