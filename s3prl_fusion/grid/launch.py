"""Run a grid's plan: ``python -m s3prl_fusion.grid.launch --launcher serial|local|slurm [--jobs N] GRID``.

    serial  one job after another in plan order, output on this terminal; stops at the first failure
    local   cache builds, then cells, then the report, each stage N jobs at once (``concurrent.futures``),
            one GPU each (``CUDA_VISIBLE_DEVICES``) where the machine has GPUs; a cell whose cache build
            failed is not started
    slurm   one sbatch job per cache build, cell and report: a cell after its cache build (``afterok``),
            the report after every cell (``afterany``); finished jobs get no job, a job still pending or
            running keeps its job and gets no second one; a cell pending behind a dependency that can
            never be met (its cache build failed) is cancelled and submitted again behind the new build

Every launcher skips finished cells and cache builds (the report runs on every launch, over the results
there are by then), and a started cell resumes from its newest intact checkpoint (the
task recipes do). Every run ends with the list of failed jobs (exit status 1 while there are any, for
serial and local). The jobs themselves run through ``s3prl_fusion.grid.cell`` (folder lock, attempt
record, log); the local launcher's concurrency is ``concurrent.futures`` and SLURM's is SLURM's.
"""
from __future__ import annotations

import argparse
import os
import queue
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from s3prl_fusion.errors import SettingError, report_user_errors
from s3prl_fusion.grid import slurm
from s3prl_fusion.grid.cell import is_done, is_locked, needs_run
from s3prl_fusion.grid.plan import Job, Plan, read_plan
from s3prl_fusion.grid.resources import task_resources
from s3prl_fusion.grid.status import failed_lines, grid_states

LAUNCHERS = ("serial", "local", "slurm")


def run_cell_process(plan: Plan, job: Job, echo: bool = False, gpu: str | None = None) -> int:
    """The job through ``python -m s3prl_fusion.grid.cell`` (on GPU ``gpu`` when given); its exit status."""
    env = {**os.environ, **({"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else {})}
    command = [sys.executable, "-m", "s3prl_fusion.grid.cell", str(plan.grid), job.id, *(["--echo"] if echo else [])]
    if echo:
        return subprocess.run(command, env=env).returncode
    return subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT).returncode


def _skip_message(job: Job) -> str:
    what = f"{job.result} exists" if job.kind == "cell" else "done"
    return f"[grid] {job.id}: {what}, skipping"


def launch_serial(plan: Plan) -> None:
    for job in plan.jobs:
        if not needs_run(plan, job):
            print(_skip_message(job), flush=True)
            continue
        print(f"[grid] {job.id}: running ({job.kind})", flush=True)
        if run_cell_process(plan, job, echo=True) != 0:
            return


def visible_gpus() -> list[str]:
    """The GPUs this machine offers: CUDA_VISIBLE_DEVICES when set, else those ``nvidia-smi -L`` lists (none without it)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", "").strip():
        return [gpu.strip() for gpu in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if gpu.strip()]
    if shutil.which("nvidia-smi") is None:
        return []
    listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    return [str(index) for index, line in enumerate(listing.stdout.splitlines()) if line.startswith("GPU ")]


def launch_local(plan: Plan, jobs: int) -> None:
    gpus = visible_gpus()
    if gpus and jobs > len(gpus):
        raise SettingError(f"JOBS={jobs} runs {jobs} cells at once, one GPU each, but this machine shows {len(gpus)} GPUs "
                           f"({','.join(gpus)}): set JOBS={len(gpus)} or less")
    free_gpus: queue.Queue = queue.Queue()
    for gpu in gpus[:jobs]:
        free_gpus.put(gpu)

    def run(job: Job) -> int:
        gpu = free_gpus.get() if gpus else None
        try:
            print(f"[grid] {job.id}: started{f' on GPU {gpu}' if gpu is not None else ''}", flush=True)
            rc = run_cell_process(plan, job, gpu=gpu)
            print(f"[grid] {job.id}: {'ended' if rc == 0 else f'FAILED (exit status {rc}), log {plan.log(job)}'}", flush=True)
            return rc
        finally:
            if gpu is not None:
                free_gpus.put(gpu)

    failed: set[str] = set()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for kind in ("cache", "cell", "report"):
            stage = []
            for job in plan.of_kind(kind):
                if not needs_run(plan, job):
                    print(_skip_message(job), flush=True)
                elif failed.intersection(job.after):
                    print(f"[grid] {job.id}: not started, its cache build {', '.join(sorted(failed.intersection(job.after)))} failed", flush=True)
                else:
                    stage.append(job)
            for job, rc in zip(stage, pool.map(run, stage)):
                if rc != 0:
                    failed.add(job.id)


def launch_slurm(plan: Plan) -> None:
    queued = slurm.queued_jobs(plan)
    active: dict[str, str] = {}
    for job in [*plan.of_kind("cache"), *plan.of_kind("cell")]:
        current = queued.get(job.id)
        if is_done(plan, job):
            print(_skip_message(job), flush=True)
            continue
        if current is not None and current.reason == "DependencyNeverSatisfied":
            print(f"[grid] {job.id}: SLURM job {current.slurm_id} waits on a failed job: cancelling it, submitting again", flush=True)
            slurm.cancel(current.slurm_id)
        elif current is not None:
            print(f"[grid] {job.id}: SLURM job {current.slurm_id} is {current.state.lower()}, not submitting another", flush=True)
            active[job.id] = current.slurm_id
            continue
        elif is_locked(job):
            print(f"[grid] {job.id}: running outside SLURM (its folder lock is held), not submitting", flush=True)
            continue
        after = [active[name] for name in job.after if name in active]
        dependency = f"afterok:{':'.join(after)}" if after else ""
        active[job.id] = slurm.submit(plan, job, task_resources(job.task), dependency)
        print(f"[grid] {job.id}: submitted as SLURM job {active[job.id]}{f' ({dependency})' if dependency else ''}", flush=True)
    for job in plan.of_kind("report"):
        current = queued.get(job.id)
        if current is not None and current.state == "PENDING":
            slurm.cancel(current.slurm_id)  # replaced by one that waits for this submission's cells too
        cells = [active[cell.id] for cell in plan.of_kind("cell") if cell.id in active]
        dependency = f"afterany:{':'.join(cells)}" if cells else ""
        slurm_id = slurm.submit(plan, job, task_resources(job.task), dependency)
        print(f"[grid] {job.id}: submitted as SLURM job {slurm_id}{f' ({dependency})' if dependency else ''}", flush=True)


def launch(plan: Plan, launcher: str, jobs: int) -> int:
    """Run or submit ``plan``, then list the failed jobs: for serial and local those of this run (exit
    status 1 while there are any); for slurm those that had failed before this submission, which it
    submitted again (exit status 0 once submitted)."""
    if launcher == "slurm":
        failed = failed_lines(grid_states(plan))
        launch_slurm(plan)
        if failed:
            print(f"[grid] {len(failed)} job(s) had failed, submitted again:", *failed, sep="\n", file=sys.stderr, flush=True)
        print(f"[grid] submitted; follow it with: s3prl-fusion grid status {plan.grid.parent}", flush=True)
        return 0
    if launcher == "serial":
        launch_serial(plan)
    else:
        launch_local(plan, jobs)
    failed = failed_lines(grid_states(plan))
    if failed:
        print(f"[grid] {len(failed)} failed job(s):", *failed, sep="\n", file=sys.stderr, flush=True)
    return 1 if failed else 0


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m s3prl_fusion.grid.launch", description=__doc__.splitlines()[0])
    parser.add_argument("--launcher", choices=LAUNCHERS, default="serial")
    parser.add_argument("--jobs", type=int, default=1, help="local: jobs at once")
    parser.add_argument("grid", type=Path, help="the grid folder (OUT_DIR/grid) holding plan.tsv")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        raise SettingError(f"JOBS={args.jobs}: set JOBS to the number of cells to run at once (1 or more)")
    sys.exit(launch(read_plan(args.grid), args.launcher, args.jobs))


if __name__ == "__main__":
    main()
