"""One job of a grid, as every launcher runs it: ``python -m s3prl_fusion.grid.cell GRID JOB_ID``.

The job's folder is locked (``flock`` on ``FOLDER/.grid.lock``, held while the job runs and released by
the kernel when its process ends, however it ends): a second run of the same job, from any launcher,
refuses to start and says which run holds it, so two jobs never write one experiment folder. A cell
whose ``result.json`` exists is not run again. Each attempt is recorded in ``state/<job>.json``
(started, host, process, SLURM job; then its exit status) and its output appended to ``logs/<job>.log``.
The job's script resumes an unfinished cell from its newest intact checkpoint (the task recipes do).
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from s3prl_fusion.errors import UserError, report_user_errors
from s3prl_fusion.grid.plan import Job, Plan, read_plan

LOCK_FILE = ".grid.lock"


class FolderBusy(UserError, RuntimeError):
    """Another run holds the job's folder."""


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime()) + f".{int(time.time() * 1000) % 1000:03d}"


def read_state(plan: Plan, job: Job) -> dict:
    path = plan.state(job)
    return json.loads(path.read_text()) if path.is_file() else {}


def write_state(plan: Plan, job: Job, state: dict) -> None:
    path = plan.state(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(partial, path)


def is_done(plan: Plan, job: Job) -> bool:
    """A cell is done when its result.json exists; a cache build or report when its last attempt succeeded."""
    if job.kind == "cell":
        return job.result.is_file()
    state = read_state(plan, job)
    return state.get("status") == "ended" and state.get("rc") == 0


def needs_run(plan: Plan, job: Job) -> bool:
    """Whether a launch runs ``job``: a cell or cache build until it is done, the report every time (the
    cells it reads may have ended since it last ran)."""
    return job.kind == "report" or not is_done(plan, job)


def folder_lock(job: Job, blocking: bool = False) -> IO | None:
    """The job folder's lock, held (released when the returned file is closed); None when another run holds it."""
    job.folder.mkdir(parents=True, exist_ok=True)
    lock = open(job.folder / LOCK_FILE, "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        lock.close()
        return None
    return lock


def is_locked(job: Job) -> bool:
    """Whether a run holds the job's folder now."""
    if not (job.folder / LOCK_FILE).exists():
        return False
    lock = folder_lock(job)
    if lock is None:
        return True
    lock.close()
    return False


def _copy_lines(source: IO[bytes], targets: list[IO[bytes]]) -> None:
    for line in iter(source.readline, b""):
        for target in targets:
            target.write(line)
            target.flush()


def _run_script(script: Path, log: IO[bytes], echo: bool) -> int:
    """bash SCRIPT with its output appended to LOG (and copied to this process's stdout / stderr with ``echo``)."""
    if not echo:
        return subprocess.run(["bash", str(script)], stdout=log, stderr=subprocess.STDOUT).returncode
    process = subprocess.Popen(["bash", str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    copies = [threading.Thread(target=_copy_lines, args=(process.stdout, [log, sys.stdout.buffer])),
              threading.Thread(target=_copy_lines, args=(process.stderr, [log, sys.stderr.buffer]))]
    for copy in copies:
        copy.start()
    for copy in copies:
        copy.join()
    return process.wait()


def _end_on_termination(signum, frame) -> None:
    raise SystemExit(128 + signum)


def run_job(plan: Plan, job: Job, echo: bool = False) -> int:
    """Run ``job`` once (nothing when it is done); returns its exit status. Raises FolderBusy when another
    run holds its folder."""
    if not needs_run(plan, job):
        print(f"[grid] {job.id}: done, skipping", flush=True)
        return 0
    lock = folder_lock(job)
    if lock is None:
        holder = read_state(plan, job)
        raise FolderBusy(
            f"{job.folder} is being written by another run of {job.id} (pid {holder.get('pid', '?')} on {holder.get('host', '?')}"
            f"{', SLURM job ' + str(holder['slurm_job']) if holder.get('slurm_job') else ''}): not starting a second one; "
            f"wait for it, or end it first"
        )
    with lock:
        state = {"status": "running", "started": now(), "host": socket.gethostname(), "pid": os.getpid(),
                 "slurm_job": os.environ.get("SLURM_JOB_ID"), "attempt": read_state(plan, job).get("attempt", 0) + 1}
        write_state(plan, job, state)
        plan.log(job).parent.mkdir(parents=True, exist_ok=True)
        rc = 1
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _end_on_termination) if main_thread else None
        try:
            with open(plan.log(job), "ab") as log:
                log.write(f"[grid] {job.id}: attempt {state['attempt']} started {state['started']} on {state['host']}\n".encode())
                log.flush()
                rc = _run_script(plan.script(job), log, echo)
                log.write(f"[grid] {job.id}: ended with exit status {rc}\n".encode())
        except SystemExit as ended:
            rc = ended.code
            raise
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, previous)
            write_state(plan, job, {**state, "status": "ended", "rc": rc, "ended": now()})
    return rc


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m s3prl_fusion.grid.cell", description="Run one job of a grid.")
    parser.add_argument("grid", type=Path, help="the grid folder (OUT_DIR/grid)")
    parser.add_argument("job", help="the job's id in plan.tsv")
    parser.add_argument("--echo", action="store_true", help="copy the job's output to this terminal besides its log")
    args = parser.parse_args(argv)
    plan = read_plan(args.grid)
    sys.exit(run_job(plan, plan.job(args.job), echo=args.echo))


if __name__ == "__main__":
    main()
