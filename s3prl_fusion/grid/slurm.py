"""SLURM through its own commands: ``sbatch`` submits a job (with ``--dependency``), ``squeue`` says
which are still queued, ``scancel`` ends one.

sbatch itself rather than submitit: every job of a grid is a shell command (a task recipe), not a
Python function to pickle, so submitit's pickling and result files would add a dependency and
nothing else; job dependencies are sbatch's own ``--dependency`` either way; and the batch commands
come with every SLURM installation. The job ids submitted are appended to ``GRID/slurm_jobs.tsv``
(``JOB<TAB>SLURM_ID``; the last line of a job wins) so that a resubmission asks ``squeue`` about them.
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass

from s3prl_fusion.errors import UserError
from s3prl_fusion.grid.plan import Job, Plan
from s3prl_fusion.grid.resources import Resources

JOBS_FILE = "slurm_jobs.tsv"
ACTIVE_STATES = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING"}


class SlurmMissing(UserError, RuntimeError):
    """LAUNCHER=slurm on a machine without SLURM's commands."""


class SubmissionFailed(UserError, RuntimeError):
    """sbatch refused a job."""


@dataclass(frozen=True)
class Queued:
    slurm_id: str
    state: str  # squeue's long state: PENDING, RUNNING, ...
    reason: str


def _command(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SlurmMissing(f"LAUNCHER=slurm needs SLURM's {name} on PATH (run on a login node of the cluster), "
                           f"or use LAUNCHER=local JOBS=N on this machine")
    return path


def recorded_jobs(plan: Plan) -> dict[str, str]:
    """{job id: the SLURM id last submitted for it}."""
    path = plan.grid / JOBS_FILE
    if not path.is_file():
        return {}
    return dict(line.split("\t")[:2] for line in path.read_text().splitlines() if line.count("\t") >= 1)


def record_job(plan: Plan, job: Job, slurm_id: str) -> None:
    with open(plan.grid / JOBS_FILE, "a") as file:
        file.write(f"{job.id}\t{slurm_id}\n")


def queued_jobs(plan: Plan) -> dict[str, Queued]:
    """{job id: its SLURM job} for each job of ``plan`` whose recorded SLURM job is still queued or running."""
    recorded = recorded_jobs(plan)
    if not recorded or shutil.which("squeue") is None:
        return {}
    listing = subprocess.run([_command("squeue"), "-h", "-o", "%i|%T|%r"], capture_output=True, text=True)
    if listing.returncode != 0:
        raise SlurmMissing(f"squeue failed ({listing.stderr.strip()}): is the SLURM controller reachable?")
    queue = {}
    for line in listing.stdout.splitlines():
        slurm_id, state, reason = (line.split("|") + ["", ""])[:3]
        queue[slurm_id.strip()] = Queued(slurm_id.strip(), state.strip(), reason.strip())
    return {job: queue[slurm_id] for job, slurm_id in recorded.items() if slurm_id in queue and queue[slurm_id].state in ACTIVE_STATES}


def sbatch_arguments(plan: Plan, job: Job, resources: Resources, dependency: str = "") -> list[str]:
    """sbatch's flags for ``job``: one task with the job's CPUs, memory, time and GPUs, its log, its dependency."""
    arguments = [
        "--parsable", f"--job-name={plan.grid.parent.name}:{job.id}", f"--output={plan.log(job)}", "--open-mode=append",
        "--ntasks=1", f"--cpus-per-task={resources.cpus}", f"--mem={resources.mem}", f"--time={resources.time}",
    ]
    if resources.gpus:
        arguments.append(f"--gres=gpu:{resources.gpus}")
    if resources.partition:
        arguments.append(f"--partition={resources.partition}")
    if resources.account:
        arguments.append(f"--account={resources.account}")
    if dependency:
        arguments.append(f"--dependency={dependency}")
    return arguments


def submit(plan: Plan, job: Job, resources: Resources, dependency: str = "") -> str:
    """Submit ``job`` (``python -m s3prl_fusion.grid.cell``) and record its SLURM id; returns it."""
    plan.log(job).parent.mkdir(parents=True, exist_ok=True)
    # RANKS: the cell's torchrun processes; CACHE_RANKS: a cache build's (lib.sh)
    wrapped = (f"exec env RANKS={resources.processes} CACHE_RANKS={resources.processes} "
               f"{shlex.quote(sys.executable)} -m s3prl_fusion.grid.cell {shlex.quote(str(plan.grid))} {shlex.quote(job.id)}")
    command = [_command("sbatch"), *sbatch_arguments(plan, job, resources, dependency), f"--wrap={wrapped}"]
    submitted = subprocess.run(command, capture_output=True, text=True)
    if submitted.returncode != 0:
        raise SubmissionFailed(f"sbatch refused {job.id}: {submitted.stderr.strip()} (resources come from GRID_* variables: "
                               f"see s3prl_fusion/grid/resources.py)")
    slurm_id = submitted.stdout.strip().split(";")[0]
    record_job(plan, job, slurm_id)
    return slurm_id


def cancel(slurm_id: str) -> None:
    subprocess.run([_command("scancel"), slurm_id], check=True)
