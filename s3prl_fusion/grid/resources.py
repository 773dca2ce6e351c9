"""What each job of a grid asks SLURM for: the defaults, in one place, and their environment overrides.

    task      GPUs  CPUs  memory  time         (one job = one cell: row x task x fold x seed)
    asr       1     8     64G     2-00:00:00   LibriSpeech train-clean-100, 200k steps
    mono      1     4     32G     1-00:00:00   ML-SUPERB Mono-1h, every language of the cell in turn
    multi     1     8     64G     1-00:00:00   ML-SUPERB Multi-1h
    sv        1     8     64G     2-00:00:00   VoxCeleb1, every checkpoint scored on the test trials
    emotion   1     4     32G     0-12:00:00   IEMOCAP, one fold
    cache     1     8     64G     1-00:00:00   a feature cache build of one upstream set on one task's data
    report    0     1     4G      0-01:00:00   the report, once every cell has ended
    (other)   1     8     64G     1-00:00:00   any other task (the SUPERB tasks)

Each field is overridden for every job by ``GRID_GPUS``, ``GRID_CPUS``, ``GRID_MEM``, ``GRID_TIME``,
``GRID_PARTITION``, ``GRID_ACCOUNT``, and for one task's jobs by ``GRID_<TASK>_<FIELD>`` (e.g.
``GRID_ASR_GPUS=4``, ``GRID_CACHE_TIME=0-06:00:00``), which wins. Partition and account are unset by
default (the cluster's defaults). ``RANKS`` (``GRID_RANKS``, ``GRID_<TASK>_RANKS``) is the number of
torchrun processes of the job: by default its GPU count (at least 1); a cell of G GPUs is one SLURM
task holding G GPUs that trains under ``torchrun --nproc_per_node G`` (s3prl's DDP), and a cache job
of G GPUs builds with G ranks.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace

from s3prl_fusion.errors import SettingError

FIELDS = ("gpus", "cpus", "mem", "time", "partition", "account", "ranks")
COUNTS = ("gpus", "cpus", "ranks")


@dataclass(frozen=True)
class Resources:
    gpus: int
    cpus: int
    mem: str
    time: str
    partition: str = ""
    account: str = ""
    ranks: int = 0  # 0: the GPU count, at least 1

    @property
    def processes(self) -> int:
        """The job's torchrun processes."""
        return self.ranks or max(self.gpus, 1)


DEFAULT = Resources(gpus=1, cpus=8, mem="64G", time="1-00:00:00")
DEFAULTS = {
    "asr": replace(DEFAULT, time="2-00:00:00"),
    "mono": replace(DEFAULT, cpus=4, mem="32G"),
    "multi": DEFAULT,
    "sv": replace(DEFAULT, time="2-00:00:00"),
    "emotion": replace(DEFAULT, cpus=4, mem="32G", time="0-12:00:00"),
    "cache": DEFAULT,
    "report": Resources(gpus=0, cpus=1, mem="4G", time="0-01:00:00"),
}


def _variable(task: str, field: str) -> str:
    return f"GRID_{re.sub(r'[^A-Za-z0-9]', '_', task).upper()}_{field.upper()}"


def task_resources(task: str, environ: dict | None = None) -> Resources:
    """The resources of ``task``'s jobs: its defaults, then GRID_<FIELD>, then GRID_<TASK>_<FIELD>."""
    environ = os.environ if environ is None else environ
    chosen = {}
    for field in FIELDS:
        for variable in (f"GRID_{field.upper()}", _variable(task, field)):
            value = environ.get(variable, "").strip()
            if not value:
                continue
            if field in COUNTS:
                if not value.isdigit() or (field == "ranks" and int(value) == 0):
                    raise SettingError(f"{variable}={value} is not a {'positive ' if field == 'ranks' else ''}whole number; "
                                       f"set it to a count of {field}")
                chosen[field] = int(value)
            else:
                chosen[field] = value
    return replace(DEFAULTS.get(task, DEFAULT), **chosen)
