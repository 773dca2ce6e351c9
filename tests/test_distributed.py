"""s3prl's DDP path on CPU: two torchrun processes (gloo) train the fused demo upstream with HConv on the bundled corpus."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from conftest import ASR_CONFIGS, DEMO_UPSTREAM, LIBRISPEECH_MINI
from s3prl_fusion.s3prl_adapter.patches.distributed import RANK_REPORT_ENV, ddp_on_module_device

STEPS = 20


def torchrun(report: Path, run_args: list[str], overrides: list[str]) -> str:
    """Two processes of the plugin's run_downstream under torchrun; returns their stdout."""
    shared = [f"config.downstream_expert.datarc.libri_root='{LIBRISPEECH_MINI}'", "config.runner.log_step=2"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", RANK_REPORT_ENV: str(report)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "s3prl_fusion.run_downstream", "-m", "train", "--backend", "gloo", "--device", "cpu",
               *run_args, "-o", ",,".join([*shared, *overrides])]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"torchrun exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def trained(tmp_path_factory, librispeech_buckets):
    root = tmp_path_factory.mktemp("ddp")
    run_args = ["-u", "fused", "-g", str(DEMO_UPSTREAM), "-s", "hconv", "-d", "asr", "-c", str(ASR_CONFIGS / "demo.yaml"), "-p", str(root / "exp")]
    overrides = [f"config.downstream_expert.datarc.bucket_file='{librispeech_buckets}'", f"config.runner.total_steps={STEPS}", "config.runner.save_step=10"]
    stdout = torchrun(root / "report", run_args, overrides)
    return root, stdout


def rank_reports(folder: Path) -> list[dict]:
    return [torch.load(folder / f"rank-{rank}.pt", weights_only=False) for rank in (0, 1)]


def test_both_ranks_end_with_identical_weights(trained):
    root, _ = trained
    first, second = rank_reports(root / "report")
    assert (first["rank"], second["rank"]) == (0, 1) and first["pid"] != second["pid"]
    assert set(first["states"]) == {"Featurizer", "Downstream"}
    for name, state in first["states"].items():
        tensors = [key for key, value in state.items() if torch.is_tensor(value)]
        assert tensors and all(torch.equal(state[key], second["states"][name][key]) for key in tensors)
    checkpoint = torch.load(root / "exp" / f"states-{STEPS}.ckpt", weights_only=False)
    assert checkpoint["WorldSize"] == 2 and checkpoint["Args"].local_rank == 0
    assert checkpoint["Featurizer"]["_extra_state"]["interface"] == "hconv"
    for name in ("Featurizer", "Downstream"):
        assert all(torch.equal(value, first["states"][name][key]) for key, value in checkpoint[name].items() if torch.is_tensor(value))


def test_only_rank_zero_writes_checkpoints_and_logs(trained):
    root, stdout = trained
    first, second = rank_reports(root / "report")
    assert first["saved"] == [str(root / "exp" / f"states-{step}.ckpt") for step in (10, STEPS)]
    assert first["log_dirs"] == [str(root / "exp")]
    assert second["saved"] == [] and second["log_dirs"] == []
    assert len(list((root / "exp").glob("events.out.tfevents.*"))) == 1
    assert len(re.findall(r"train loss: ", stdout)) == STEPS // 2


def test_loss_falls(trained):
    _, stdout = trained
    losses = [float(value) for value in re.findall(r"train loss: ([0-9.]+)", stdout)]
    assert sum(losses[-3:]) / 3 < 0.6 * sum(losses[:3]) / 3


def test_resume_under_torchrun_continues_the_distributed_run(trained):
    root, _ = trained
    stdout = torchrun(root / "resumed", ["-e", str(root / "exp")], [f"config.runner.total_steps={STEPS + 4}", "config.runner.save_step=4"])
    assert f"Resume from {root / 'exp'}/states-{STEPS}.ckpt" in stdout
    resumed = torch.load(root / "exp" / f"states-{STEPS + 4}.ckpt", weights_only=False)
    assert resumed["Step"] == STEPS + 4 and resumed["WorldSize"] == 2
    first, second = rank_reports(root / "resumed")
    for name, state in first["states"].items():
        assert all(torch.equal(value, second["states"][name][key]) for key, value in state.items() if torch.is_tensor(value))


def test_cpu_modules_are_wrapped_without_device_ids(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        wrapped = ddp_on_module_device(torch.nn.Linear(3, 2), device_ids=[0], find_unused_parameters=True)
        assert wrapped.device_ids is None
        assert wrapped(torch.ones(1, 3)).shape == (1, 2)
    finally:
        dist.destroy_process_group()
