"""The tests' preloaded ``python`` (``preloaded_python.py``) ends an entry point's run as a fresh
interpreter does: the same output, the same exit status, the same message for a mistake."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from conftest import TEST_ENVIRONMENT, preloaded_python
from preloaded_python import import_time_environment, preloaded_module

RUNS = (
    ["-m", "s3prl_fusion.cli", "list"],
    ["-m", "s3prl_fusion.cli", "cache", "build", "--out", "x"],  # a mistake: exit 2, one message
    ["-m", "s3prl_fusion.run_downstream", "-m", "train", "-u", "fused_wavlm_whispr", "-d", "asr"],
    ["-m", "s3prl_fusion.cli", "--no-such-flag"],  # argparse: exit 2
)


def _run(command: list[str], arguments: list[str], env: dict, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([*command, *arguments], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_entry_points_end_as_in_a_fresh_interpreter(tmp_path):
    command, preloaded = preloaded_python()
    env = {**os.environ, **TEST_ENVIRONMENT}
    for arguments in RUNS:
        assert preloaded_module(arguments) is not None
        forked = _run(command, arguments, {**env, **preloaded}, tmp_path)
        fresh = _run([sys.executable], arguments, env, tmp_path)
        assert (forked.returncode, forked.stdout) == (fresh.returncode, fresh.stdout), arguments
        assert forked.stderr.splitlines()[-1:] == fresh.stderr.splitlines()[-1:], (forked.stderr[-2000:], fresh.stderr[-2000:])


def test_import_time_variables_and_other_commands_run_fresh():
    assert preloaded_module(["-c", "print(1)"]) is None and preloaded_module(["-m", "pytest"]) is None
    environment = {"PYTHONPATH": "x", "HF_HOME": "y", "PYTHON": "z", "PYTHONUNBUFFERED": "1", "RANK": "0"}
    assert import_time_environment(environment) == {"PYTHONPATH": "x", "HF_HOME": "y"}
    command, preloaded = preloaded_python()
    run = _run(command, ["-c", "import sys; print(sys.argv)"], {**os.environ, **TEST_ENVIRONMENT, **preloaded}, None)
    assert (run.returncode, run.stdout.strip()) == (0, "['-c']")


def test_a_signal_to_the_client_reaches_the_run(tmp_path):
    """SIGINT to the client is the run's KeyboardInterrupt: the run ends killed by SIGINT, as a
    fresh interpreter does."""
    command, preloaded = preloaded_python()
    process = subprocess.Popen([*command, "-m", "s3prl_fusion.cli", "demo", "--steps", "100000", "--out", str(tmp_path / "demo")],
                               env={**os.environ, **TEST_ENVIRONMENT, **preloaded}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == -signal.SIGINT and "KeyboardInterrupt" in stderr, (process.returncode, stderr[-2000:])
