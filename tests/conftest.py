"""Shared fixtures: paths to the repository's bundled configs and corpora, and a runner helper."""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from preloaded_python import SOCKET_ENV

REPO_ROOT = Path(__file__).resolve().parent.parent
ASR_CONFIGS = REPO_ROOT / "downstream_configs" / "asr"
DEMO_UPSTREAM = ASR_CONFIGS / "demo_upstream.yaml"
LIBRISPEECH_MINI = REPO_ROOT / "corpora" / "LibriSpeech"
# a real pretrained checkpoint beside the checkout (absent from a user's clone: tests that need it skip)
WHISPER_TINY_EN = REPO_ROOT.parent / "shared" / "models" / "whisper-tiny.en"
PRELOADED_PYTHON = Path(__file__).with_name("preloaded_python.py")
TEST_ENVIRONMENT = {"OMP_NUM_THREADS": "2", "PYTHONUNBUFFERED": "1"}
_preloaded_server: list[tuple[subprocess.Popen, dict]] = []  # once started: the server, and what reaches it


def preloaded_python() -> tuple[list[str], dict]:
    """A ``python`` command that runs the plugin's entry points in forks of one interpreter that
    has imported them (``preloaded_python.py``), and the environment it needs; the server starts
    on first use and stops with this process."""
    if not _preloaded_server:
        folder = Path(tempfile.mkdtemp(prefix="preloaded-python-"))
        address = str(folder / "socket")
        server = subprocess.Popen([sys.executable, str(PRELOADED_PYTHON), "serve", address], env={**os.environ, **TEST_ENVIRONMENT},
                                  stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        atexit.register(shutil.rmtree, folder, True)
        atexit.register(server.kill)
        if server.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the preloaded python server did not start (exit status {server.wait()})")
        command = folder / "python"  # what a recipe's $PYTHON can name
        command.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{PRELOADED_PYTHON}" "$@"\n')
        command.chmod(0o755)
        _preloaded_server.append((server, {SOCKET_ENV: address, "PYTHON": str(command)}))
    server, environment = _preloaded_server[0]
    return [environment["PYTHON"]], environment


def run_recipe(script: str, arguments: list[str], **environment: str) -> subprocess.CompletedProcess:
    """``bash recipes/<script> <arguments>`` on the CPU with the demo fused upstream."""
    _, preloaded = preloaded_python()
    env = {**os.environ, **TEST_ENVIRONMENT, **preloaded, "DEVICE": "cpu", "UPSTREAM_CONFIG": str(DEMO_UPSTREAM), **environment}
    return subprocess.run(["bash", str(REPO_ROOT / "recipes" / script), *arguments], env=env, capture_output=True, text=True, timeout=900)


def checked(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """The process's result, or an AssertionError carrying the tail of its output."""
    if result.returncode != 0:
        raise AssertionError(f"exited {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-8000:]}")
    return result


def run_python(args: list[str], cwd: Path | None = None, timeout: int = 600, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python <args>`` with ``env`` added to this process's environment: ``-m <entry point>``
    in a fork of the preloaded interpreter unless ``env`` changes what imports do, anything else in
    a fresh interpreter (``preloaded_python.py``)."""
    command, preloaded = preloaded_python()
    env = {**os.environ, **TEST_ENVIRONMENT, **preloaded, **(env or {})}
    result = subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"python {' '.join(args)} exited {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-8000:]}")
    return result


def user_error_line(result: subprocess.CompletedProcess) -> str:
    """The one ``error:`` line of a run that a user's mistake stopped: exit status 2, no traceback."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr[-3000:]
    return errors[0]


def command_failure(*arguments: str) -> str:
    """The ``error:`` line of ``s3prl-fusion <arguments>`` run in a process of its own (``run_python``), which a mistake stops."""
    return user_error_line(run_python(["-m", "s3prl_fusion.cli", *arguments], check=False))


def runner_failure(tmp_path: Path, *flags: str) -> str:
    """The stderr of a runner start (``-p tmp_path/exp``) that a mistake stops: exit status 2, one
    message, no traceback, no checkpoint written."""
    result = run_python(["-m", "s3prl_fusion.run_downstream", "-m", "train", "-p", str(tmp_path / "exp"), "--device", "cpu", *flags],
                        cwd=tmp_path, check=False)
    user_error_line(result)
    assert not list((tmp_path / "exp").glob("states-*.ckpt"))
    return result.stderr


@pytest.fixture(scope="session")
def librispeech_buckets(tmp_path_factory) -> Path:
    """Length tables of the bundled mini LibriSpeech, as s3prl's asr task reads them."""
    from s3prl_fusion.prepare.librispeech import write_length_tables

    out = tmp_path_factory.mktemp("len_for_bucket")
    write_length_tables(LIBRISPEECH_MINI, out, ("train-clean-100", "dev-clean", "test-clean"))
    return out
