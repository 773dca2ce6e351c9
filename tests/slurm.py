"""The one-node SLURM cluster of the grid tests (``slurm_cluster.sh``): started for a test module
where Debian's slurmctld, slurmd and munged are installed and this is root, stopped by its pid files."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

CLUSTER_SCRIPT = Path(__file__).with_name("slurm_cluster.sh")
PROGRAMS = ("/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged")


def missing_reason() -> str | None:
    """Why no cluster can start here, or None."""
    absent = [program for program in PROGRAMS if not os.path.exists(program)]
    if absent:
        return f"{', '.join(absent)} not installed (apt-get install slurmd slurmctld slurm-client munge)"
    if shutil.which("sbatch") is None:
        return "sbatch not installed (apt-get install slurm-client)"
    if os.geteuid() != 0:
        return "the test cluster's daemons run as root"
    return None


def start_cluster(folder: Path) -> dict:
    """Start the cluster with its state in ``folder``; returns the environment its clients need."""
    reason = missing_reason()
    if reason:
        pytest.skip(f"no SLURM cluster: {reason}")
    started = subprocess.run(["bash", str(CLUSTER_SCRIPT), "start", str(folder)], capture_output=True, text=True, timeout=60)
    if started.returncode != 0:
        raise AssertionError(f"the test SLURM cluster did not start:\n{started.stdout}\n{started.stderr}")
    return {"SLURM_CONF": started.stdout.strip().splitlines()[-1]}


def stop_cluster(folder: Path) -> None:
    subprocess.run(["bash", str(CLUSTER_SCRIPT), "stop", str(folder)], check=True, timeout=60)


def squeue(env: dict) -> list[str]:
    """The job ids in the queue."""
    listing = subprocess.run(["squeue", "-h", "-o", "%i"], env={**os.environ, **env}, capture_output=True, text=True, check=True)
    return listing.stdout.split()


def wait_until(condition, timeout: float, what: str, interval: float = 0.2):
    """Poll ``condition`` until it returns something true; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
