"""The plan of a grid: ``OUT/grid/plan.tsv``, written by the recipe, one job per line:

    KIND<TAB>ID<TAB>TASK<TAB>FOLDER<TAB>AFTER

KIND is ``cache`` (a feature cache build), ``cell`` (one experiment: row x task x fold x seed) or
``report`` (runs once every cell has ended); ID names the job (the cell's folder below OUT for a cell);
TASK chooses the job's resources; FOLDER is the folder it writes (a cell is done when
``FOLDER/result.json`` exists); AFTER lists, comma-separated, the jobs it needs to have succeeded
(``-``: none). The job's command is ``scripts/<file name of ID>.sh``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from s3prl_fusion.errors import MissingPathError, SettingError

KINDS = ("cache", "cell", "report")
PLAN_FILE = "plan.tsv"
RESULT_FILE = "result.json"


@dataclass(frozen=True)
class Job:
    kind: str
    id: str
    task: str
    folder: Path
    after: tuple[str, ...]

    @property
    def file_name(self) -> str:
        """The job's name in scripts/, logs/ and state/ (its id with ``/`` as ``__``)."""
        return self.id.replace("/", "__")

    @property
    def result(self) -> Path:
        return self.folder / RESULT_FILE


@dataclass(frozen=True)
class Plan:
    grid: Path
    jobs: tuple[Job, ...]

    def of_kind(self, kind: str) -> list[Job]:
        return [job for job in self.jobs if job.kind == kind]

    def job(self, job_id: str) -> Job:
        for job in self.jobs:
            if job.id == job_id:
                return job
        raise SettingError(f"{self.grid / PLAN_FILE} has no job {job_id!r}")

    def script(self, job: Job) -> Path:
        return self.grid / "scripts" / f"{job.file_name}.sh"

    def log(self, job: Job) -> Path:
        return self.grid / "logs" / f"{job.file_name}.log"

    def state(self, job: Job) -> Path:
        return self.grid / "state" / f"{job.file_name}.json"


def grid_folder(out_dir: Path) -> Path:
    """The grid folder of a recipe's OUT_DIR."""
    return Path(out_dir) / "grid"


def read_plan(grid: Path) -> Plan:
    """The plan in ``grid`` (``OUT/grid``); a folder without one names the recipe that writes it."""
    path = Path(grid) / PLAN_FILE
    if not path.is_file():
        raise MissingPathError(f"{path} does not exist: {grid} is not a grid folder (a table recipe writes OUT_DIR/grid/ when it starts)")
    jobs = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 5 or fields[0] not in KINDS:
            raise SettingError(f"{path} line {number} is not KIND ID TASK FOLDER AFTER (tab-separated, KIND one of {', '.join(KINDS)}): {line!r}")
        kind, job_id, task, folder, after = fields
        jobs.append(Job(kind, job_id, task, Path(folder), tuple(name for name in after.split(",") if name not in ("", "-"))))
    return Plan(Path(grid).resolve(), tuple(jobs))
