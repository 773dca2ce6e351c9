"""Runs killed at any point resume from their last complete checkpoint; a changed set-up is refused."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import ASR_CONFIGS, DEMO_UPSTREAM, LIBRISPEECH_MINI, run_python
from s3prl_fusion.experiments.checkpoints import atomic_save, load_checkpoint


def train_command(expdir, buckets, upstream_yaml, steps, save_step):
    overrides = ",,".join([
        f"config.downstream_expert.datarc.libri_root='{LIBRISPEECH_MINI}'",
        f"config.downstream_expert.datarc.bucket_file='{buckets}'",
        f"config.runner.total_steps={steps}",
        f"config.runner.save_step={save_step}",
        "config.runner.max_keep=2",
    ])
    return ["-m", "s3prl_fusion.run_downstream", "-m", "train", "-u", "fused", "-g", str(upstream_yaml), "-s", "gumd",
            "-d", "asr", "-c", str(ASR_CONFIGS / "demo.yaml"), "-p", str(expdir), "--device", "cpu", "-o", overrides]


def test_killed_run_resumes_to_the_same_final_step(tmp_path, librispeech_buckets):
    expdir = tmp_path / "exp"
    process = subprocess.Popen([sys.executable, *train_command(expdir, librispeech_buckets, DEMO_UPSTREAM, 200, 4)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while not (expdir / "states-8.ckpt").exists():
        assert process.poll() is None, "training ended before it could be interrupted"
        assert time.time() < deadline
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    surviving = sorted(expdir.glob("states-*.ckpt"))
    assert surviving, "the kill lost every checkpoint"
    for path in surviving:
        load_checkpoint(path)  # every checkpoint left behind is complete
    run_python(["-m", "s3prl_fusion.run_downstream", "-m", "train", "-e", str(expdir), "--device", "cpu",
                "-o", "config.runner.total_steps=16,,config.interface.gumd.anneal_steps=200"])  # GumD's schedule of the killed run
    final = load_checkpoint(expdir / "states-16.ckpt")
    assert final["Step"] == 16
    assert not list(expdir.glob(".*partial*"))


def test_crash_while_saving_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "states-10.ckpt"
    atomic_save({"Step": 10}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_save({"Step": 20, "bad": Unpicklable()}, path)
    assert torch.load(path)["Step"] == 10
    assert [p.name for p in tmp_path.iterdir()] == ["states-10.ckpt"]


def test_resume_with_changed_members_stops_before_any_step(tmp_path, librispeech_buckets):
    members = tmp_path / "members.yaml"
    shutil.copy(DEMO_UPSTREAM, members)
    expdir = tmp_path / "exp"
    run_python(train_command(expdir, librispeech_buckets, members, 2, 2))
    members.write_text(members.read_text().replace("encoder_layers: 3", "encoder_layers: 2"))
    result = run_python(["-m", "s3prl_fusion.run_downstream", "-m", "train", "-e", str(expdir), "--device", "cpu",
                         "-o", "config.runner.total_steps=4"], check=False)
    assert result.returncode != 0
    assert "different fusion set-up" in result.stderr and "layer_counts: checkpoint [5, 4] vs now [5, 3]" in result.stderr
    assert sorted(p.name for p in expdir.glob("states-*.ckpt")) == ["states-2.ckpt"]
