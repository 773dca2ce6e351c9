"""Checkpoint rotation and resuming through s3prl's runner: old checkpoints are deleted only after
the new one is written (at any ``max_keep``), partial writes of killed runs are cleaned up, and
``-e`` with flags that contradict the checkpoint stops instead of being silently overwritten."""
from __future__ import annotations

import argparse
import shutil
import textwrap
from pathlib import Path

import pytest
import s3prl

from conftest import ASR_CONFIGS, DEMO_UPSTREAM, LIBRISPEECH_MINI, run_python, user_error_line
from s3prl_fusion.experiments.checkpoints import checkpoint_step, load_checkpoint
from s3prl_fusion.experiments.resume_flags import ResumeFlagsMismatch, check_resume_flags

# Runs s3prl's runner through the plugin's entry point, and kills the process (SIGKILL) in the
# middle of writing the checkpoint named by argv[1], after part of it reached the disk.
KILLED_WHILE_SAVING = textwrap.dedent(
    """
    import os, signal, sys
    import s3prl_fusion.experiments.checkpoints as checkpoints
    from s3prl_fusion.run_downstream import main

    kill_at, stock_write = sys.argv[1], checkpoints.write_atomically

    def write_atomically(path, write):
        if path.name != kill_at:
            return stock_write(path, write)

        def write_part_then_die(handle):
            handle.write(b"PK\\x03\\x04 the first bytes of a checkpoint")
            handle.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        return stock_write(path, write_part_then_die)

    checkpoints.write_atomically = write_atomically
    main(sys.argv[2:])
    """
)
FULL_DISK = Path(__file__).with_name("full_disk.py")


def asr_overrides(buckets, **runner) -> str:
    items = [
        f"config.downstream_expert.datarc.libri_root='{LIBRISPEECH_MINI}'",
        f"config.downstream_expert.datarc.bucket_file='{buckets}'",
        *(f"config.runner.{key}={value}" for key, value in runner.items()),
    ]
    return ",,".join(items)


def train_flags(expdir, buckets, upstream_yaml=DEMO_UPSTREAM, **runner) -> list[str]:
    return ["-m", "train", "-u", "fused", "-g", str(upstream_yaml), "-s", "hconv", "-d", "asr",
            "-c", str(ASR_CONFIGS / "demo.yaml"), "-p", str(expdir), "--device", "cpu", "-o", asr_overrides(buckets, **runner)]


def checkpoint_steps(expdir) -> list[int]:
    return sorted(checkpoint_step(path) for path in expdir.glob("states-*.ckpt"))


def test_checkpoint_step_is_read_from_the_file_name_alone():
    assert checkpoint_step("result/wavlm-ws/sv-run-3/states-200000.ckpt") == 200000
    assert checkpoint_step("result/wavlm-ws/sv/states-90000.ckpt") == 90000
    assert checkpoint_step("result/wavlm-ws/dev-clean-best.ckpt") is None
    assert checkpoint_step("result/x/.states-4.ckpt.partial-123") is None


def test_max_keep_1_killed_while_saving_keeps_the_previous_checkpoint(tmp_path, librispeech_buckets):
    expdir = tmp_path / "wavlm-whisper" / "asr-max-keep-1"
    script = tmp_path / "killed_while_saving.py"
    script.write_text(KILLED_WHILE_SAVING)
    flags = train_flags(expdir, librispeech_buckets, total_steps=6, save_step=2, max_keep=1)
    killed = run_python([str(script), "states-4.ckpt", *flags], check=False)
    assert killed.returncode == -9, killed.stderr[-3000:]

    assert checkpoint_steps(expdir) == [2], "the kill while saving step 4 lost step 2's checkpoint"
    assert load_checkpoint(expdir / "states-2.ckpt")["Step"] == 2
    assert [path.name for path in expdir.glob(".states-4.ckpt.partial-*")], "the killed write left no partial file"

    resumed = run_python(["-m", "s3prl_fusion.run_downstream", "-m", "train", "-e", str(expdir), "--device", "cpu"])
    assert "left by a write that was killed" in resumed.stderr
    assert not list(expdir.glob(".*partial*"))
    assert checkpoint_steps(expdir) == [6]
    assert load_checkpoint(expdir / "states-6.ckpt")["Step"] == 6


def test_each_set_up_flag_typed_with_e_must_match_the_checkpoint(tmp_path):
    members = tmp_path / "members-a.yaml"
    members.write_text("members: [fbank]")
    other = tmp_path / "members-b.yaml"
    other.write_text("members: [fbank]")
    saved = argparse.Namespace(past_exp=str(tmp_path / "exp"), upstream="fused", upstream_ckpt=None, upstream_model_config=str(members),
                               upstream_feature_selection="hconv", upstream_layer_selection=None)
    for flags, named in [
        (["-s", "ws"], "-s ws (checkpoint: hconv)"),
        (["--upstream_feature_selection", "ws"], "-s ws (checkpoint: hconv)"),
        (["-u", "fused_hubert_wavlm"], "-u fused_hubert_wavlm (checkpoint: fused)"),
        (["-g", str(other)], f"-g {other} (checkpoint: {members})"),
        (["-l", "3"], "-l 3 (checkpoint: None)"),
        (["-k", "wavlm_base_plus"], "-k wavlm_base_plus (checkpoint: None)"),
    ]:
        with pytest.raises(ResumeFlagsMismatch) as refused:
            check_resume_flags(["-m", "train", "-e", saved.past_exp, *flags], saved)
        assert named in str(refused.value)
    same = ["-u", "fused", "-s", "hconv", "-g", f"{tmp_path}/../{tmp_path.name}/members-a.yaml"]
    check_resume_flags(["-m", "train", "-e", saved.past_exp, *same], saved)
    check_resume_flags(["-m", "train", "-s", "ws"], argparse.Namespace(**{**vars(saved), "past_exp": None}))


def test_runner_refuses_e_with_another_interface_and_resumes_with_the_same(tmp_path, librispeech_buckets):
    expdir = tmp_path / "hubert-wavlm" / "asr-hconv"
    run_python(["-m", "s3prl_fusion.run_downstream", *train_flags(expdir, librispeech_buckets, total_steps=2, save_step=2, max_keep=3)])
    resume = ["-m", "s3prl_fusion.run_downstream", "-m", "train", "-e", str(expdir), "--device", "cpu",
              "-o", "config.runner.total_steps=6,,config.runner.save_step=2"]

    checkout = tmp_path / "s3prl-checkout"
    checkout.mkdir()
    shutil.copy(Path(s3prl.__file__).parent / "run_downstream.py", checkout / "run_downstream.py")
    for command, cwd in [(resume, None), (["run_downstream.py", *resume[2:]], checkout)]:
        refused = run_python([*command, "-s", "ws"], cwd=cwd, check=False)
        assert refused.returncode == 2, refused.stderr[-3000:]
        assert "Traceback" not in refused.stderr
        assert "error: -e" in refused.stderr and "-s ws (checkpoint: hconv)" in refused.stderr
        assert "resumes a checkpoint made with other flags" in refused.stderr
        assert checkpoint_steps(expdir) == [2]

    run_python([*resume, "-s", "hconv", "-u", "fused", "-g", str(DEMO_UPSTREAM)])
    assert checkpoint_steps(expdir) == [2, 4, 6], "max_keep 3 keeps the three newest checkpoints"
    assert load_checkpoint(expdir / "states-6.ckpt")["Args"].upstream_feature_selection == "hconv"


def test_a_full_disk_while_saving_is_one_message_and_keeps_the_previous_checkpoint(tmp_path, librispeech_buckets):
    """The disk fills up while the runner writes states-4.ckpt (``full_disk.py``): exit status 2, one message
    naming the file, the space free and the checkpoint kept; step 2's checkpoint is intact and resumes."""
    expdir = tmp_path / "asr-max-keep-1"
    flags = train_flags(expdir, librispeech_buckets, total_steps=4, save_step=2, max_keep=1)
    full = run_python([str(FULL_DISK), "states-4.ckpt", "s3prl_fusion.run_downstream", *flags], check=False)
    message = user_error_line(full)
    assert f"no space left to write {expdir / 'states-4.ckpt'} (No space left on device)" in message, message
    assert " free on its file system" in message and f"the previous checkpoint {expdir / 'states-2.ckpt'} is kept" in message, message
    assert checkpoint_steps(expdir) == [2] and load_checkpoint(expdir / "states-2.ckpt")["Step"] == 2
    assert not list(expdir.glob(".*partial*"))
