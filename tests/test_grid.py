"""The grid launchers against a real one-node SLURM cluster (``slurm_cluster.sh``; skipped where
slurmctld is not installed), and their pieces that need no cluster.

One SMOKE grid on the bundled ML-SUPERB corpus (Mono-1h eng1, one fused row, CACHE=1 built by two
torchrun ranks, SEEDS="1 2", 4 steps saving every 2) goes through a grid's life in one test, each phase's output kept for the
checks that follow it: submission (cache build job, two cells after it, report after them), a
resubmission while they wait, seed 2 killed once its first checkpoint is written, the grid left to
end, a resubmission that resumes seed 2 only.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from conftest import REPO_ROOT
from slurm import squeue, start_cluster, stop_cluster, wait_until
from s3prl_fusion.grid.cell import LOCK_FILE, folder_lock
from s3prl_fusion.grid.plan import Job, read_plan
from s3prl_fusion.grid.resources import task_resources
from s3prl_fusion.grid.slurm import sbatch_arguments
from test_table_recipes import run_table, smoke_environment

ROW = "hubert_wavlm-hconv"
CACHE_JOB = "caches/fused_hubert_wavlm-random/ml_superb"
GRID = {"LAUNCHER": "slurm", "CACHE": "1", "ROWS": ROW, "TASKS": "mono", "LANGUAGES": "eng1", "SEEDS": "1 2", "STEPS": "4",
        "GRID_GPUS": "0", "GRID_CPUS": "1", "GRID_MEM": "500M", "GRID_CACHE_RANKS": "2"}


def grid_status(out_dir: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "s3prl_fusion.cli", "grid", "status", str(out_dir)], env={**smoke_environment(), **env},
                          capture_output=True, text=True, timeout=60)


def status_line(status: subprocess.CompletedProcess, job: str) -> str:
    return next(line for line in status.stdout.splitlines() if line.split()[1:2] == [job])


def slurm_ids(out_dir: Path, job: str) -> list[str]:
    """The SLURM jobs submitted for ``job``, first first."""
    lines = (out_dir / "grid" / "slurm_jobs.tsv").read_text().splitlines()
    return [line.split("\t")[1] for line in lines if line.split("\t")[0] == job]


@pytest.fixture
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slurm")
    env = start_cluster(folder)
    yield env
    subprocess.run(["scancel", "--user", "root"], env={**os.environ, **env}, check=False)
    stop_cluster(folder)


def test_a_grid_on_slurm_from_its_submission_to_its_resumed_end(cluster, tmp_path):
    """One test, so that test workers never run the grid twice: its phases, then each promise checked."""
    out_dir = tmp_path
    environment = {**cluster, **GRID, "OVERRIDES": "config.runner.save_step=2"}
    seed2 = out_dir / ROW / "mono" / "seed2"
    phases = {"submitted": run_table("table1.sh", out_dir, **environment)}
    phases["queue"] = squeue(cluster)
    phases["waiting"] = grid_status(out_dir, cluster)
    phases["resubmitted"] = run_table("table1.sh", out_dir, **environment)
    phases["queue again"] = squeue(cluster)
    wait_until(lambda: (seed2 / "eng1" / "states-2.ckpt").is_file(), 600, "seed 2's first checkpoint", interval=0.05)
    phases["running"] = grid_status(out_dir, cluster)
    killed = slurm_ids(out_dir, f"{ROW}/mono/seed2")[-1]
    subprocess.run(["scancel", killed], env={**os.environ, **cluster}, check=True)
    wait_until(lambda: not squeue(cluster), 600, "the grid's jobs to end")
    phases["killed"] = grid_status(out_dir, cluster)
    phases["killed log"] = (out_dir / "grid" / "logs" / f"{ROW}__mono__seed2.log").read_text()
    phases["resumed"] = run_table("table1.sh", out_dir, **environment)
    wait_until(lambda: not squeue(cluster), 600, "the resubmitted jobs to end")
    phases["ended"] = grid_status(out_dir, cluster)
    for check in (check_cache_build_is_a_job_that_the_cells_wait_for_and_the_report_waits_for_every_cell,
                  check_a_resubmission_while_jobs_wait_submits_no_second_job_for_them,
                  check_a_killed_cell_is_resumed_from_its_newest_checkpoint_and_finished_ones_are_skipped,
                  check_grid_status_shows_each_state_and_fails_while_a_cell_failed):
        check(out_dir, phases, killed)


def check_cache_build_is_a_job_that_the_cells_wait_for_and_the_report_waits_for_every_cell(out_dir, phases, killed):
    submitted = phases["submitted"].stdout
    cache_id = slurm_ids(out_dir, CACHE_JOB)[0]
    cells = [slurm_ids(out_dir, f"{ROW}/mono/seed{seed}")[0] for seed in (1, 2)]
    assert f"{CACHE_JOB}: submitted as SLURM job {cache_id}\n" in submitted
    for seed, cell in zip((1, 2), cells):
        assert f"{ROW}/mono/seed{seed}: submitted as SLURM job {cell} (afterok:{cache_id})" in submitted
    assert f"(afterany:{cells[0]}:{cells[1]})" in submitted
    for seed in (1, 2):
        arguments = [yaml.safe_load(path.read_text()) for path in (out_dir / ROW / "mono" / f"seed{seed}" / "eng1").glob("args_*.yaml")]
        assert arguments and all(args["upstream"] == "fused_cache" and args["seed"] == seed for args in arguments)
        assert Path(arguments[0]["upstream_ckpt"]) == out_dir / CACHE_JOB
    assert "built by its own job" in (out_dir / "grid" / "logs" / f"{ROW}__mono__seed1.log").read_text()
    cache_log = (out_dir / "grid" / "logs" / f"{CACHE_JOB.replace('/', '__')}.log").read_text()
    assert "[rank 1/2]" in cache_log and "[rank 0/2]" in cache_log  # GRID_CACHE_RANKS=2: a two-rank torchrun build
    assert (out_dir / "report" / "main.csv").is_file()


def check_a_resubmission_while_jobs_wait_submits_no_second_job_for_them(out_dir, phases, killed):
    resubmitted = phases["resubmitted"].stdout
    for job in (f"{ROW}/mono/seed1", f"{ROW}/mono/seed2"):
        assert f"{job}: SLURM job {slurm_ids(out_dir, job)[0]} is pending, not submitting another" in resubmitted
    assert "not submitting another" in resubmitted.split(CACHE_JOB)[1].splitlines()[0]
    first, second = set(phases["queue"]), set(phases["queue again"])
    assert len(first) == 4 and len(second) == 4 and len(first & second) == 3  # the report job alone is replaced
    recorded = [line.split("\t")[0] for line in (out_dir / "grid" / "slurm_jobs.tsv").read_text().splitlines()]
    assert recorded.count(f"{ROW}/mono/seed1") == 1 and recorded.count(CACHE_JOB) == 1


def check_a_killed_cell_is_resumed_from_its_newest_checkpoint_and_finished_ones_are_skipped(out_dir, phases, killed):
    assert "CANCELLED" in phases["killed log"] and "resuming" not in phases["killed log"]
    resumed = phases["resumed"].stdout
    assert f"{ROW}/mono/seed1: {out_dir / ROW / 'mono' / 'seed1'}/result.json exists, skipping" in resumed
    assert f"{CACHE_JOB}: done, skipping" in resumed
    new_id = slurm_ids(out_dir, f"{ROW}/mono/seed2")[-1]
    assert new_id != killed and f"{ROW}/mono/seed2: submitted as SLURM job {new_id}\n" in resumed  # no dependency: the cache is built
    log = (out_dir / "grid" / "logs" / f"{ROW}__mono__seed2.log").read_text()[len(phases["killed log"]):]
    assert f"resuming {out_dir / ROW / 'mono' / 'seed2' / 'eng1'} from its newest checkpoint" in log
    result = json.loads((out_dir / ROW / "mono" / "seed2" / "result.json").read_text())
    assert result["per_language"]["eng1"] >= 0
    checkpoint = torch.load(out_dir / ROW / "mono" / "seed2" / "eng1" / "states-4.ckpt", map_location="cpu", weights_only=False)
    assert checkpoint["Step"] == 4


def check_grid_status_shows_each_state_and_fails_while_a_cell_failed(out_dir, phases, killed):
    waiting = phases["waiting"]
    assert waiting.returncode == 0
    assert status_line(waiting, f"{ROW}/mono/seed1").startswith("pending") and "(Dependency)" in status_line(waiting, f"{ROW}/mono/seed1")
    assert status_line(phases["running"], f"{ROW}/mono/seed2").startswith("running")
    killed = phases["killed"]
    assert killed.returncode == 1
    assert status_line(killed, CACHE_JOB).startswith("done")
    seed1 = json.loads((out_dir / ROW / "mono" / "seed1" / "result.json").read_text())
    assert status_line(killed, f"{ROW}/mono/seed1") == f"done     {ROW}/mono/seed1" + " " * (len(CACHE_JOB) - len(f"{ROW}/mono/seed1")) + f"  cer {seed1['value']:.4g}"
    failed = status_line(killed, f"{ROW}/mono/seed2")
    assert failed.startswith("failed") and "CANCELLED" in failed
    assert f"log: {out_dir / 'grid' / 'logs' / (ROW + '__mono__seed2.log')}" in killed.stdout
    assert f"{ROW}/mono/seed2: exit status" in phases["resumed"].stderr.split("had failed, submitted again:")[1]  # listed by the launcher
    ended = phases["ended"]
    assert ended.returncode == 0 and "4 jobs: 4 done, 0 running, 0 pending, 0 failed, 0 waiting" in ended.stdout


def test_resources_have_defaults_and_environment_overrides():
    assert task_resources("asr", {}).gpus == 1 and task_resources("report", {}).gpus == 0
    chosen = task_resources("asr", {"GRID_GPUS": "2", "GRID_ASR_GPUS": "4", "GRID_PARTITION": "gpu", "GRID_ASR_TIME": "3-00:00:00"})
    assert (chosen.gpus, chosen.partition, chosen.time, chosen.processes) == (4, "gpu", "3-00:00:00", 4)
    assert task_resources("sv", {"GRID_GPUS": "2", "GRID_SV_RANKS": "1"}).processes == 1
    with pytest.raises(Exception, match="GRID_ASR_GPUS=two is not a whole number"):
        task_resources("asr", {"GRID_ASR_GPUS": "two"})


def test_a_cell_of_several_gpus_is_one_task_holding_them(tmp_path):
    (tmp_path / "plan.tsv").write_text(f"cell\tr/asr\tasr\t{tmp_path / 'r' / 'asr'}\t-\n")
    plan = read_plan(tmp_path)
    arguments = sbatch_arguments(plan, plan.jobs[0], task_resources("asr", {"GRID_ASR_GPUS": "4", "GRID_ACCOUNT": "lab"}), "afterok:7")
    assert {"--ntasks=1", "--gres=gpu:4", "--account=lab", "--dependency=afterok:7", "--cpus-per-task=8", "--mem=64G"} <= set(arguments)


def test_a_second_run_of_a_cell_whose_folder_is_held_refuses(tmp_path):
    folder = tmp_path / "out" / "row" / "asr"
    (tmp_path / "plan.tsv").write_text(f"cell\trow/asr\tasr\t{folder}\t-\n")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "row__asr.sh").write_text(f"touch {tmp_path / 'ran'}\n")
    held = folder_lock(Job("cell", "row/asr", "asr", folder, ()))
    try:
        refused = subprocess.run([sys.executable, "-m", "s3prl_fusion.grid.cell", str(tmp_path), "row/asr"], capture_output=True, text=True)
    finally:
        held.close()
    assert refused.returncode == 2 and not (tmp_path / "ran").exists()
    assert f"{folder} is being written by another run of row/asr" in refused.stderr
    assert (folder / LOCK_FILE).exists()
    ran = subprocess.run([sys.executable, "-m", "s3prl_fusion.grid.cell", str(tmp_path), "row/asr"], capture_output=True, text=True)
    assert ran.returncode == 0 and (tmp_path / "ran").exists()


def test_a_cell_is_one_job_per_seed_and_fold_each_running_its_recipe_with_them(tmp_path):
    planned = subprocess.run(
        ["bash", "-c", 'set -euo pipefail; source "$1/grid_lib.sh"; grid_begin "$2"; '
                       'grid_cells row/emotion emotion "1 2" caches/x/emotion bash recipe.sh "an argument"; cat "$GRID_DIR/plan.tsv.partial"',
         "plan", str(REPO_ROOT / "recipes"), str(tmp_path / "out")],
        env={**os.environ, "SEEDS": "3 4"}, capture_output=True, text=True, check=True)
    out = tmp_path / "out"
    lines = [line.split("\t") for line in planned.stdout.splitlines()]
    assert lines == [["cell", f"row/emotion/seed{seed}/fold{fold}", "emotion", str(out / f"row/emotion/seed{seed}/fold{fold}"), "caches/x/emotion"]
                     for seed in (3, 4) for fold in (1, 2)]
    script = (out / "grid" / "scripts" / "row__emotion__seed4__fold1.sh").read_text()
    assert script.splitlines()[-1] == "env SEEDS=4 FOLD=1 bash recipe.sh an\\ argument "
