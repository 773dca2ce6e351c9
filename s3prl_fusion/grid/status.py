"""The state of every job of a grid, read from what its runs leave behind, for every launcher:

    done      a cell's result.json exists (its number is shown); a cache build or report succeeded
    running   a run holds the job's folder lock, or its SLURM job runs
    pending   its SLURM job waits in the queue (SLURM's reason is shown)
    failed    its last attempt ended without success, or was killed (the last error line of its log is shown)
    waiting   not started yet
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from s3prl_fusion.grid.cell import is_done, is_locked, read_state
from s3prl_fusion.grid.plan import Job, Plan
from s3prl_fusion.grid.slurm import Queued, SlurmMissing, queued_jobs

STATES = ("done", "running", "pending", "failed", "waiting")
TERMINAL_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # progress bars' cursor moves
ERROR_LINE = re.compile(r"error|exception|traceback|killed|cancelled|due to time limit|out of memory|oom", re.IGNORECASE)


@dataclass(frozen=True)
class JobState:
    job: Job
    state: str
    detail: str
    log: Path


def last_error_line(log: Path) -> str:
    """The last line of ``log`` that reads like an error (else its last line); the launcher's own lines left out."""
    if not log.is_file():
        return "no log"
    text = TERMINAL_CONTROL.sub("", log.read_text(errors="replace"))
    lines = [line.strip() for line in re.split(r"[\r\n]", text) if line.strip() and not line.startswith("[grid]")]
    errors = [line for line in lines if ERROR_LINE.search(line)]
    if not errors:
        return (lines or ["empty log"])[-1]
    line = errors[-1]  # from the word holding the error on (a progress bar may share its line)
    return line[line.rfind(" ", 0, ERROR_LINE.search(line).start()) + 1:]


def _done_detail(job: Job) -> str:
    if job.kind != "cell":
        return ""
    result = json.loads(job.result.read_text())
    return f"{result.get('metric', 'value')} {float(result['value']):.4g}"


def job_state(plan: Plan, job: Job, queued: Queued | None) -> JobState:
    log = plan.log(job)
    if is_done(plan, job):
        return JobState(job, "done", _done_detail(job), log)
    if is_locked(job) or (queued is not None and queued.state != "PENDING"):
        return JobState(job, "running", f"SLURM job {queued.slurm_id}" if queued else "", log)
    if queued is not None:
        return JobState(job, "pending", f"SLURM job {queued.slurm_id} ({queued.reason})", log)
    state = read_state(plan, job)
    if not state:
        return JobState(job, "waiting", "", log)
    if state.get("status") == "running":
        return JobState(job, "failed", f"ended without recording its end (killed?): {last_error_line(log)}", log)
    if state.get("rc") == 0:
        return JobState(job, "failed", f"ended without {job.result.name}: {last_error_line(log)}", log)
    return JobState(job, "failed", f"exit status {state.get('rc')}: {last_error_line(log)}", log)


def grid_states(plan: Plan) -> list[JobState]:
    """Every job of ``plan`` with its state (SLURM asked once; where it cannot be asked, said so and the
    jobs' own records read alone)."""
    try:
        queued = queued_jobs(plan)
    except SlurmMissing as error:
        print(f"warning: {error}; the states below leave SLURM's queue out", file=sys.stderr)
        queued = {}
    return [job_state(plan, job, queued.get(job.id)) for job in plan.jobs]


def failed_lines(states: list[JobState]) -> list[str]:
    """One line per failed job: its id, last error line and log."""
    return [f"  {state.job.id}: {state.detail}\n    log: {state.log}" for state in states if state.state == "failed"]


def status_lines(states: list[JobState]) -> list[str]:
    width = max((len(state.job.id) for state in states), default=0)
    lines = [f"{state.state:8} {state.job.id:{width}}  {state.detail}".rstrip() for state in states]
    counts = ", ".join(f"{sum(state.state == name for state in states)} {name}" for name in STATES)
    lines.append(f"{len(states)} jobs: {counts}")
    failed = failed_lines(states)
    if failed:
        lines += ["failed:", *failed]
    return lines
