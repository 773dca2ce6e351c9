"""``write_atomically`` on a file system that is really full: a tmpfs of 64 KiB mounted in a user and
mount namespace of its own (``unshare``), where numpy's and torch's writes fail as they do on a full
disk (numpy: an OSError without errno; torch: a RuntimeError raised while handling the OSError)."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

WRITES_ON_A_FULL_DISK = """
import sys
from pathlib import Path
import numpy as np, torch
from s3prl_fusion.experiments.atomic_files import DiskFullError, write_atomically

folder = Path(sys.argv[1])
(folder / "states-2.ckpt").write_bytes(b"the previous checkpoint")
writes = {
    "shard-00000.m0.npy": lambda handle: np.save(handle, np.ones((1000, 100), np.float32)),
    "states-2.ckpt": lambda handle: torch.save({"weights": torch.ones(1000, 100)}, handle),
}
for name, write in writes.items():
    try:
        write_atomically(folder / name, write)
    except DiskFullError as error:
        print(f"{name}: {error}")
print("left:", sorted(path.name for path in folder.iterdir()), (folder / "states-2.ckpt").read_bytes().decode())
"""


def _on_a_full_disk(script: str, tmp_path) -> subprocess.CompletedProcess:
    folder = tmp_path / "tmpfs"
    folder.mkdir()
    command = f'mount -t tmpfs -o size=64k tmpfs "{folder}" && exec "{sys.executable}" -c "$0" "{folder}"'
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", command, script], capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}, timeout=300)


def _can_mount_a_tmpfs(tmp_path) -> bool:
    return shutil.which("unshare") is not None and _on_a_full_disk("pass", tmp_path / "probe").returncode == 0


def test_numpy_and_torch_writes_on_a_full_disk_are_disk_full_errors(tmp_path):
    (tmp_path / "probe").mkdir()
    if not _can_mount_a_tmpfs(tmp_path):
        pytest.skip("cannot mount a small tmpfs here (unshare of a user and mount namespace refused)")
    result = _on_a_full_disk(WRITES_ON_A_FULL_DISK, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    folder = tmp_path / "tmpfs"
    for name in ("shard-00000.m0.npy", "states-2.ckpt"):
        line = next((line for line in lines if line.startswith(f"{name}: ")), None)
        assert line is not None and f"no space left to write {folder / name} (No space left on device): " in line, result.stdout
        assert line.endswith(" free on its file system"), line
    assert lines[-1] == "left: ['states-2.ckpt'] the previous checkpoint", result.stdout
