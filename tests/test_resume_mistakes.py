"""Mistakes in what ``-e`` names, and member sources written as local paths that do not exist,
end ``s3prl-fusion run``, ``python -m s3prl_fusion.run_downstream`` and s3prl's own
``run_downstream.py`` in a checkout with one message and exit status 2; an experiment folder
whose newest checkpoint is damaged resumes (-e, -a) from its newest intact one, with a warning."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import s3prl
import torch
import yaml
from test_checkpoint_rotation import checkpoint_steps, train_flags

from conftest import REPO_ROOT, run_python
from s3prl_fusion.experiments.checkpoints import load_checkpoint
from s3prl_fusion.errors import MissingPathError
from s3prl_fusion.experiments.resume import UnreadableCheckpointError, checked_past_experiment
from s3prl_fusion.s3prl_adapter.patches.script import auto_resumed
from s3prl_fusion.upstreams.hf_ssl import HFSpeechUpstream
from s3prl_fusion.upstreams.local_sources import local_path_named
from s3prl_fusion.upstreams.members import build_member, normalize_member
from s3prl_fusion.upstreams.whisper import WhisperEncoderUpstream

SHARED = REPO_ROOT.parent / "shared"
SHARED_WHISPER = SHARED / "models" / "whisper-tiny.en"


@pytest.fixture(scope="module")
def experiment(tmp_path_factory, librispeech_buckets) -> Path:
    """A real 3-step run of the demo fused upstream with HConv: states-1, -2 and -3.ckpt."""
    expdir = tmp_path_factory.mktemp("runs") / "wavlm-whisper" / "asr-hconv"
    flags = train_flags(expdir, librispeech_buckets, total_steps=3, save_step=1, max_keep=3, log_step=1)
    run_python(["-m", "s3prl_fusion.run_downstream", *flags])
    assert checkpoint_steps(expdir) == [1, 2, 3]
    return expdir


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """A folder holding s3prl's own run_downstream.py, as a source checkout does."""
    root = tmp_path_factory.mktemp("s3prl-checkout")
    shutil.copy(Path(s3prl.__file__).parent / "run_downstream.py", root / "run_downstream.py")
    return root


def truncated_copy(source: Path, target: Path) -> Path:
    """``target``: the first half of ``source``'s bytes, as a crash while writing leaves a file."""
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    return target


def folder_of_copies(experiment: Path, folder: Path, steps: dict[int, int], truncated: tuple[int, ...] = ()) -> Path:
    """``folder`` with ``states-<new>.ckpt`` copied from the experiment's ``states-<old>.ckpt`` for
    each new: old of ``steps``; those in ``truncated`` cut in half."""
    folder.mkdir(parents=True)
    for new, old in steps.items():
        source, target = experiment / f"states-{old}.ckpt", folder / f"states-{new}.ckpt"
        truncated_copy(source, target) if new in truncated else shutil.copy(source, target)
    return folder


def assert_refused(result, *expected: str) -> None:
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("error: "), result.stderr[-3000:]
    for text in expected:
        assert text in message, message


# -e: what it names, checked before s3prl reads it


def test_a_folder_without_checkpoints_is_named(tmp_path):
    folder = tmp_path / "asr-hconv-no-steps"
    folder.mkdir()
    (folder / "states-best.ckpt").write_bytes(b"")  # not a states-<step>.ckpt
    with pytest.raises(MissingPathError, match=rf"-e {folder}: the folder holds no intact states-<step>.ckpt"):
        checked_past_experiment(["-m", "train", "-e", str(folder)])


def test_a_missing_truncated_or_foreign_file_is_named_with_what_is_wrong(tmp_path, experiment):
    missing = tmp_path / "asr-hconv" / "states-7.ckpt"
    with pytest.raises(MissingPathError, match=rf"-e {missing}: no such checkpoint file or experiment folder"):
        checked_past_experiment(["-m", "evaluate", "-e", str(missing)])

    truncated = truncated_copy(experiment / "states-3.ckpt", tmp_path / "states-3.ckpt")
    empty = tmp_path / "dev-clean-best.ckpt"
    empty.write_bytes(b"")
    foreign = tmp_path / "model.pt"
    torch.save({"weight": torch.zeros(3)}, foreign)
    for path, problem in [
        (truncated, "it cannot be read, it may be truncated or damaged (PytorchStreamReader failed"),
        (empty, "it cannot be read, it may be truncated or damaged"),
        (foreign, "it is not a checkpoint of s3prl's runner (it holds no Args and Config)"),
    ]:
        with pytest.raises(UnreadableCheckpointError) as refused:
            checked_past_experiment(["-m", "train", "--past_exp", str(path)])
        assert str(refused.value).startswith(f"-e {path} cannot be resumed or evaluated: {problem}")

    intact = ["-m", "evaluate", "-e", str(experiment / "states-2.ckpt")]
    assert checked_past_experiment(intact) == intact


def test_a_folder_resumes_from_its_newest_intact_checkpoint_by_step_number(tmp_path, experiment, capsys):
    # by name, states-9 sorts after states-10 and states-11; by step, 11 is newest, 10 the newest intact
    folder = folder_of_copies(experiment, tmp_path / "asr-hconv-crashed", {9: 1, 10: 2, 11: 3}, truncated=(11,))
    arguments = checked_past_experiment(["-m", "train", "-e", str(folder), "--device", "cpu"])
    assert arguments == ["-m", "train", "-e", str(folder), "--device", "cpu", "-e", str(folder / "states-10.ckpt")]
    warnings = capsys.readouterr().err
    assert f"warning: skipped {folder / 'states-11.ckpt'}: it cannot be read, it may be truncated or damaged" in warnings
    assert f"resuming from the newest intact checkpoint, {folder / 'states-10.ckpt'}" in warnings


def test_a_folder_with_no_intact_checkpoint_names_each_one(tmp_path, experiment):
    folder = folder_of_copies(experiment, tmp_path / "asr-hconv-all-damaged", {1: 1, 2: 2}, truncated=(1, 2))
    with pytest.raises(MissingPathError) as refused:
        checked_past_experiment(["-m", "train", "-e", str(folder)])
    message = str(refused.value)
    assert message.startswith(f"-e {folder}: the folder holds no intact states-<step>.ckpt checkpoint to resume from")
    assert f"{folder / 'states-2.ckpt'}: it cannot be read" in message and f"{folder / 'states-1.ckpt'}: it cannot be read" in message


def test_s3prl_checkout_script_resumes_a_crashed_folder_from_its_newest_intact_checkpoint(tmp_path, experiment, checkout, librispeech_buckets):
    folder = folder_of_copies(experiment, tmp_path / "wavlm-whisper" / "asr-hconv-crashed", {1: 1, 2: 2, 3: 3}, truncated=(3,))
    result = run_python(
        ["run_downstream.py", "-m", "train", "-e", str(folder), "--device", "cpu",
         "-o", f"args.expdir={folder},,config.runner.total_steps=4"],
        cwd=checkout,
    )
    assert f"Resume from {folder / 'states-2.ckpt'}" in result.stdout
    assert f"warning: skipped {folder / 'states-3.ckpt'}: it cannot be read" in result.stderr
    resumed = load_checkpoint(folder / "states-4.ckpt")
    assert resumed["Step"] == 4
    assert {int(state["step"]) for state in resumed["Optimizer"]["state"].values()} == {4}  # 2 restored + 2 updates
    assert load_checkpoint(folder / "states-3.ckpt")["Step"] == 3  # the damaged file was written anew


def test_s3prl_checkout_script_names_a_folder_without_checkpoints(tmp_path, checkout):
    folder = tmp_path / "asr-hconv-empty"
    folder.mkdir()
    assert_refused(run_python(["run_downstream.py", "-m", "train", "-e", str(folder)], cwd=checkout, check=False),
                   f"-e {folder}: the folder holds no intact states-<step>.ckpt")


def test_s3prl_fusion_run_names_a_missing_and_a_foreign_checkpoint_file(tmp_path):
    missing = tmp_path / "asr-hconv" / "dev-clean-best.ckpt"
    assert_refused(run_python(["-m", "s3prl_fusion.cli", "run", "-m", "evaluate", "-e", str(missing), "-t", "test-clean"], check=False),
                   f"-e {missing}: no such checkpoint file")
    foreign = tmp_path / "model.pt"
    torch.save({"weight": torch.zeros(3)}, foreign)
    assert_refused(run_python(["-m", "s3prl_fusion.cli", "run", "-m", "evaluate", "-e", str(foreign)], check=False),
                   f"-e {foreign} cannot be resumed or evaluated: it is not a checkpoint of s3prl's runner")


def test_run_downstream_module_names_a_truncated_file_and_a_folder_of_damaged_ones(tmp_path, experiment):
    truncated = truncated_copy(experiment / "states-2.ckpt", tmp_path / "states-2.ckpt")
    assert_refused(run_python(["-m", "s3prl_fusion.run_downstream", "-m", "train", "-e", str(truncated)], check=False),
                   f"-e {truncated} cannot be resumed or evaluated: it cannot be read, it may be truncated or damaged")
    folder = folder_of_copies(experiment, tmp_path / "asr-hconv-damaged", {3: 3}, truncated=(3,))
    assert_refused(run_python(["-m", "s3prl_fusion.run_downstream", "-m", "train", "-e", str(folder)], check=False),
                   f"-e {folder}: the folder holds no intact states-<step>.ckpt", f"{folder / 'states-3.ckpt'}: it cannot be read")


# member sources written as local paths


def test_which_member_sources_are_local_paths():
    for local in ["/models/wavlm", "./wavlm", "../models/wavlm", "~/models/wavlm", ".", "..", "models/ssl/wavlm", "microsoft/", "/"]:
        assert local_path_named(local), local
    for remote in ["microsoft/wavlm-base-plus", "facebook/hubert-base-ls960", "wavlm_base_plus", "https://host.org/a/b/model.pt"]:
        assert not local_path_named(remote), remote


@pytest.mark.parametrize("source", ["./no-such-wavlm", "../exp-1/saved/wavlm-base", "/no/such/dir/wavlm"])
def test_a_missing_local_source_is_named_instead_of_a_repo_id_error(source):
    with pytest.raises(MissingPathError) as refused:
        HFSpeechUpstream(source=source)
    assert str(refused.value).startswith(f"member source {source}: local directory {Path(source).absolute()} does not exist.")
    with pytest.raises(MissingPathError, match="does not exist"):
        WhisperEncoderUpstream(source=source)


def test_a_tilde_source_a_file_and_a_folder_without_config_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(MissingPathError, match=rf"'~' is not expanded here: write {tmp_path}/models/wavlm"):
        build_member(normalize_member({"upstream": "~/models/wavlm"}))
    not_saved = tmp_path / "wavlm-base-download"
    not_saved.mkdir()
    with pytest.raises(MissingPathError, match="the local directory has no config.json"):
        build_member(normalize_member({"upstream": str(not_saved), "kind": "hf"}))
    weights = not_saved / "pytorch_model.bin"
    weights.write_bytes(b"")
    with pytest.raises(MissingPathError, match=rf"member source {weights} is a file"):
        WhisperEncoderUpstream(source=str(weights))
    with pytest.raises(MissingPathError, match=r"ckpt of member wavlm_local \./checkpoints/no-such\.pt: local file /.*/checkpoints/no-such\.pt does not exist"):
        build_member(normalize_member({"upstream": "wavlm_local", "ckpt": "./checkpoints/no-such.pt"}))


def test_an_existing_local_directory_still_loads():
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} (with the real Whisper tiny.en checkpoint) is absent")
    assert WhisperEncoderUpstream(source=str(SHARED_WHISPER)).num_hidden_states == 5


def test_s3prl_checkout_script_names_a_missing_member_directory(tmp_path, checkout, librispeech_buckets):
    members = tmp_path / "members-local.yaml"
    members.write_text(yaml.safe_dump({"members": [{"upstream": "../saved-models/wavlm-base-plus"}, {"upstream": "whisper_tiny_en"}]}))
    flags = train_flags(tmp_path / "asr-hconv", librispeech_buckets, upstream_yaml=members, total_steps=1)
    result = run_python(["run_downstream.py", *flags], cwd=checkout, check=False)
    assert_refused(result, f"member source ../saved-models/wavlm-base-plus: local directory {checkout / '../saved-models/wavlm-base-plus'} does not exist")


def test_s3prl_fusion_run_names_a_missing_hf_ssl_directory(tmp_path, librispeech_buckets):
    flags = train_flags(tmp_path / "asr-hconv", librispeech_buckets, total_steps=1)
    flags[flags.index("fused") : flags.index("fused") + 3] = ["hf_ssl", "-k", "/no/such/models/hubert-base"]
    assert_refused(run_python(["-m", "s3prl_fusion.cli", "run", *flags], check=False),
                   "member source /no/such/models/hubert-base: local directory /no/such/models/hubert-base does not exist")


# -a (auto-resume): the experiment folder's newest intact checkpoint, as -e <folder>


def test_auto_resume_takes_the_newest_intact_checkpoint_or_starts_anew(tmp_path, experiment):
    folder = folder_of_copies(experiment, tmp_path / "asr-hconv-auto", {9: 1, 10: 2, 11: 3}, truncated=(11,))
    assert auto_resumed(["-m", "train", "-a", "-p", str(folder)]) == ["-m", "train", "-p", str(folder), "-e", str(folder / "states-10.ckpt")]
    fresh = tmp_path / "asr-hconv-fresh"
    assert auto_resumed(["-m", "train", "--auto_resume", "-p", str(fresh)]) == ["-m", "train", "-p", str(fresh)]
    damaged = folder_of_copies(experiment, tmp_path / "asr-hconv-auto-damaged", {4: 3}, truncated=(4,))
    with pytest.raises(MissingPathError, match=rf"-e {damaged}: the folder holds no intact states-<step>.ckpt"):
        auto_resumed(["-m", "train", "-a", "-p", str(damaged)])


def test_s3prl_checkout_script_auto_resumes_a_crashed_folder_from_its_newest_intact_checkpoint(tmp_path, experiment, checkout):
    folder = folder_of_copies(experiment, tmp_path / "wavlm-whisper" / "asr-hconv-auto", {1: 1, 2: 2, 3: 3}, truncated=(3,))
    result = run_python(
        ["run_downstream.py", "-m", "train", "-a", "-p", str(folder), "--device", "cpu",
         "-o", f"args.expdir={folder},,config.runner.total_steps=3"],
        cwd=checkout,
    )
    assert f"Resume from {folder / 'states-2.ckpt'}" in result.stdout
    assert f"warning: skipped {folder / 'states-3.ckpt'}: it cannot be read" in result.stderr
    assert load_checkpoint(folder / "states-3.ckpt")["Step"] == 3  # the damaged file was written anew
