"""A recipe's grid of runs as jobs: serially, N at once on one machine, or on SLURM.

A grid recipe (``recipes/table*.sh``) writes its plan into ``OUT/grid/`` and hands it to a launcher:

    plan.py       the plan: one line per job (cache build, cell, report) and the shell script each runs
    cell.py       one job's run: its folder locked, its attempt recorded, its output logged
    resources.py  the resources of each task's jobs on SLURM (defaults in one place, environment overrides)
    slurm.py      sbatch / squeue / scancel: submission with dependencies, the jobs still queued
    launch.py     the launchers: serial, local (concurrent.futures), slurm (sbatch)
    status.py     every job's state: done (with its number), running, pending, failed, waiting

The grid folder holds ``plan.tsv``, ``scripts/``, ``logs/`` (one log per job), ``state/`` (one record per
job: its last attempt) and ``slurm_jobs.tsv`` (job ids submitted, so that a resubmission asks SLURM
about them instead of submitting again).
"""
