"""s3prl's own ``--hub huggingface`` branch on current huggingface_hub, with an exported upstream.

The Hub repository is a folder written by ``s3prl-fusion export``, laid out as huggingface_hub's
cache (``models--<org>--<name>/snapshots/<commit>/``) and resolved offline (``HF_HUB_OFFLINE=1``)
by the real ``snapshot_download`` that s3prl's runner calls.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import huggingface_hub
import pytest
import s3prl
import torch
import yaml

from conftest import ASR_CONFIGS, DEMO_UPSTREAM, LIBRISPEECH_MINI, checked, run_python
from s3prl_fusion import compat
from s3prl_fusion.export import MODEL_FILE, export_upstream, load_exported_upstream

REPO_ID = "s3prl-fusion-org/fused-demo-upstream"
COMMIT = "0123456789abcdef0123456789abcdef01234567"

# an entry point (a script path or a module name) in a fresh interpreter, recording the upstream
# s3prl's runner built (its module file and weights) and the token the run ended with
RECORDING_RUN = """
import runpy, sys
import torch
from huggingface_hub import get_token
from s3prl.downstream import runner

record, entry, *arguments = sys.argv[1:]
get_upstream = runner.Runner._get_upstream
def recording_get_upstream(self):
    entry = get_upstream(self)
    torch.save({"expert_file": sys.modules["expert"].__file__, "weights": entry.model.state_dict()}, record)
    return entry
runner.Runner._get_upstream = recording_get_upstream
sys.argv = [entry, *arguments]
if entry.endswith(".py"):
    runpy.run_path(entry, run_name="__main__")
else:
    runpy.run_module(entry, run_name="__main__", alter_sys=True)
print("token after the run:", get_token())
"""


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory) -> Path:
    """A huggingface_hub cache holding REPO_ID at COMMIT: the export of the demo fused upstream."""
    cache = tmp_path_factory.mktemp("hf-hub-cache")
    repo = cache / f"models--{REPO_ID.replace('/', '--')}"
    torch.manual_seed(0)
    export_upstream("fused", repo / "snapshots" / COMMIT, model_config=str(DEMO_UPSTREAM))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    return cache


@pytest.fixture(scope="module", params=["run_downstream.py", "s3prl_fusion.run_downstream"])
def leaderboard_run(request, tmp_path_factory, hub_cache, librispeech_buckets) -> tuple[Path, dict, str]:
    """(the experiment folder, the recorded upstream, stdout) of two updates of s3prl's runner with
    ``--hub huggingface -u REPO_ID``, no credentials in the environment, started by s3prl's own
    script in a checkout or by the plugin's entry point."""
    work = tmp_path_factory.mktemp("s3prl-checkout")
    shutil.copy(Path(s3prl.__file__).parent / "run_downstream.py", work / "run_downstream.py")
    config = yaml.safe_load((ASR_CONFIGS / "demo.yaml").read_text())
    config["downstream_expert"]["datarc"].update(
        libri_root=str(LIBRISPEECH_MINI), bucket_file=str(librispeech_buckets), dict_path=str(ASR_CONFIGS / "char.dict"),
        train_batch_size=4,
    )
    config["runner"].update(total_steps=2, gradient_accumulate_steps=2, save_step=1, log_step=1, max_keep=2)
    (work / "downstream" / "asr").mkdir(parents=True)
    (work / "downstream" / "asr" / "config.yaml").write_text(yaml.safe_dump(config))
    expdir = work / "result" / "hub-run" / "fused-hconv"
    record = work / "upstream-record.pt"
    credentials = {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_USERNAME", "HF_PASSWORD"}
    env = {key: value for key, value in os.environ.items() if key not in credentials}
    env.update(
        HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(hub_cache), HF_HOME=str(work / "hf-home"),
        PYTHONUNBUFFERED="1", OMP_NUM_THREADS="2",
    )
    result = checked(subprocess.run(
        [sys.executable, "-c", RECORDING_RUN, str(record), request.param, "-m", "train", "--hub", "huggingface",
         "-u", REPO_ID, "--upstream_revision", COMMIT, "-s", "hconv", "-d", "asr", "-p", str(expdir), "--device", "cpu"],
        cwd=work, env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    ))
    return expdir, torch.load(record, weights_only=False), result.stdout


def test_s3prl_hub_branch_loads_the_exported_upstream_from_the_snapshot(leaderboard_run, hub_cache):
    _, record, stdout = leaderboard_run
    snapshot = hub_cache / f"models--{REPO_ID.replace('/', '--')}" / "snapshots" / COMMIT
    assert f"[Runner] - Downloading upstream model {REPO_ID} from the Hugging Face Hub" in stdout
    assert "0. s3prl-fusion>=" in stdout  # the export's requirements.txt, listed by the runner
    assert Path(record["expert_file"]).resolve() == (snapshot / "expert.py").resolve()
    exported = load_exported_upstream(str(snapshot / MODEL_FILE)).state_dict()
    assert record["weights"].keys() == {f"upstream.{key}" for key in exported}
    for key, value in exported.items():
        assert torch.equal(record["weights"][f"upstream.{key}"], value), key
    assert "token after the run: None" in stdout  # no credentials: nothing was logged in or prompted for


def test_s3prl_hub_branch_trains_the_fused_upstream(leaderboard_run):
    expdir, _, _ = leaderboard_run
    checkpoint = torch.load(expdir / "states-2.ckpt", map_location="cpu", weights_only=False)
    assert checkpoint["Step"] == 2
    assert checkpoint["Args"].hub == "huggingface" and checkpoint["Args"].upstream == REPO_ID
    setup = checkpoint["Featurizer"]["_extra_state"]
    assert setup["interface"] == "hconv"
    assert setup["members"] == ["wavlm_small_random", "whisper_small_random"]
    assert setup["layer_counts"] == [5, 4] and setup["dims"] == [64, 48]
    assert sorted(path.name for path in expdir.glob("states-*.ckpt")) == ["states-1.ckpt", "states-2.ckpt"]


def test_hf_password_is_the_runs_access_token(monkeypatch):
    """s3prl logs in with ``HfApi().login(username=HF_USERNAME, password=HF_PASSWORD)`` and then
    ``HfFolder.save_token``; the Hub takes access tokens only, so the password is used as one
    (without a request: this machine has no route to the Hub)."""
    monkeypatch.setenv("HF_TOKEN", "hf_token_from_the_environment")
    token = huggingface_hub.HfApi().login(username="someone", password="hf_token_in_hf_password")
    huggingface_hub.HfFolder.save_token(token)
    assert token == huggingface_hub.get_token() == "hf_token_in_hf_password"


def test_login_without_a_password_keeps_the_saved_token(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_token_from_the_environment")
    token = huggingface_hub.HfApi().login(username=None, password=None)
    huggingface_hub.HfFolder.save_token(token)
    assert token == huggingface_hub.get_token() == "hf_token_from_the_environment"


def test_snapshot_download_that_takes_s3prls_arguments_is_left_alone():
    def snapshot_download(repo_id, revision=None, use_auth_token=None):
        return repo_id

    module = types.SimpleNamespace(snapshot_download=snapshot_download)
    compat.patch_snapshot_download(module)
    assert module.snapshot_download is snapshot_download


def test_push_to_hf_hub_names_an_upload_command_that_exists():
    with pytest.raises(RuntimeError, match="`hf upload") as raised:
        huggingface_hub.Repository(local_dir="exp", clone_from="someone/exp")
    command = str(raised.value).split("`")[1].split()[0]
    assert shutil.which(command, path=str(Path(sys.executable).parent)), command


def test_compat_only_mode_has_the_hub_branch_patches(monkeypatch):
    monkeypatch.setenv("S3PRL_FUSION_COMPAT_ONLY", "1")
    script = (
        "import inspect\n"
        "from huggingface_hub import HfApi, snapshot_download\n"
        "assert hasattr(HfApi, 'login')\n"
        "assert 'use_auth_token' in inspect.signature(snapshot_download, follow_wrapped=False).parameters\n"
        "print('ok')\n"
    )
    assert run_python(["-c", script]).stdout.strip() == "ok"
