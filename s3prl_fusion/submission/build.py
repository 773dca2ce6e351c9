"""Build SUPERB's ``predict.zip`` from an output folder of ``recipes/superb.sh``: each task's
experiment folder is ``OUT/<task>/`` (``layout.TASK_FOLDERS``), or with several seeds
``OUT/<task>/seed<k>/``, one seed chosen for every task; each entry of ``layout.ENTRIES`` found there
is checked (``formats``) and written to its target path in the zip, under ``predict/`` as s3prl's
``submit.py`` zips it. What is missing is named: the zip may be partial unless ``require_all``.
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from s3prl_fusion.errors import MissingPathError, UserError
from s3prl_fusion.experiments.atomic_files import write_atomically
from s3prl_fusion.submission.formats import CHECKS, MalformedPrediction
from s3prl_fusion.submission.layout import ENTRIES, TASK_FOLDERS, Entry

SEED_FOLDER = re.compile(r"seed(\d+)")


class SubmissionError(UserError, ValueError):
    """A submission that cannot be built as asked: a malformed prediction file, a missing task
    under ``--require-all``, an ambiguous seed."""


@dataclass
class Submission:
    """What goes into the zip (``files``: (entry, source path)) and what the leaderboard will lack."""

    files: list[tuple[Entry, Path]] = field(default_factory=list)
    missing: list[Entry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def missing_summary(self) -> str:
        """``task (entry, ...)`` for every task with a missing entry, or ``""``."""
        by_task: dict[str, list[str]] = {}
        for entry in self.missing:
            by_task.setdefault(entry.task, []).append(entry.name)
        return "; ".join(f"{task} ({', '.join(names)})" for task, names in by_task.items())


def seed_folders(task_folder: Path) -> dict[int, Path]:
    return {int(match.group(1)): path for path in task_folder.iterdir() if path.is_dir() and (match := SEED_FOLDER.fullmatch(path.name))}


def experiment_folders(out: Path, seed: int | None) -> dict[str, Path]:
    """{task: its experiment folder} for each task folder under ``out``: the folder itself, or its
    ``seed<seed>`` (the only seed there when ``seed`` is None)."""
    folders = {}
    for task in TASK_FOLDERS:
        task_folder = out / task
        if not task_folder.is_dir():
            continue
        seeds = seed_folders(task_folder)
        if not seeds:
            folders[task] = task_folder
        elif seed is None and len(seeds) == 1:
            folders[task] = next(iter(seeds.values()))
        elif seed is None:
            raise SubmissionError(f"{task_folder} holds runs of seeds {sorted(seeds)}: pass --seed K to choose the one submitted")
        elif seed not in seeds:
            raise SubmissionError(f"{task_folder} has no seed{seed}/ (its seeds: {sorted(seeds)}): pass --seed with one of them")
        else:
            folders[task] = seeds[seed]
    return folders


def plan_submission(out: Path, seed: int | None = None) -> Submission:
    """The checked files of ``out`` and what is missing; a SubmissionError names a malformed file and its task."""
    out = Path(out)
    if not out.is_dir():
        raise MissingPathError(f"{out} is not a folder: pass the output folder of recipes/superb.sh")
    folders = experiment_folders(out, seed)
    submission = Submission()
    for entry in ENTRIES:
        source = folders[entry.task] / entry.source if entry.task in folders else None
        if source is None or not source.exists():
            if entry.optional and entry.task in folders:
                submission.warnings.append(f"{entry.task}: {source} is missing ({entry.target} is left out, as s3prl's submit.py does)")
            elif not entry.optional:
                submission.missing.append(entry)
            continue
        try:
            CHECKS[entry.kind](source)
        except (MalformedPrediction, UnicodeDecodeError, OSError) as error:
            raise SubmissionError(f"task {entry.task} ({entry.name}): {source} is malformed: {error}; evaluate the task again") from None
        submission.files.append((entry, source))
    er_folds = [entry.name for entry, _ in submission.files if entry.task == "er"]
    if 0 < len(er_folds) < 5:
        submission.warnings.append(f"er: only {', '.join(er_folds)} are there: the leaderboard scores ER only when all 5 folds are submitted")
    if not submission.files:
        raise SubmissionError(f"no prediction file under {out}: expected task folders {', '.join(TASK_FOLDERS)} as recipes/superb.sh writes them")
    return submission


def zip_members(submission: Submission) -> list[tuple[str, Path | None]]:
    """(name in the zip, file or None for a folder) in order: ``predict/``, each entry's folders, its files."""
    members: dict[str, Path | None] = {"predict/": None}
    for entry, source in submission.files:
        files = sorted(path for path in source.rglob("*") if path.is_file()) if source.is_dir() else [source]
        for path in files:
            target = entry.target if not source.is_dir() else f"{entry.target}/{path.relative_to(source).as_posix()}"
            parts = target.split("/")
            for depth in range(1, len(parts)):
                members.setdefault("/".join(parts[:depth]) + "/", None)
            members[target] = path
    return list(members.items())


def write_zip(submission: Submission, zip_path: Path) -> list[str]:
    """Write the zip (atomically); the names of its files."""
    members = zip_members(submission)

    def write(handle) -> None:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, path in members:
                if path is None:
                    archive.writestr(zipfile.ZipInfo(name), b"")
                else:
                    archive.write(path, name)

    Path(zip_path).parent.mkdir(parents=True, exist_ok=True)
    write_atomically(Path(zip_path), write)
    return [name for name, path in members if path is not None]


def build_submission(out: Path, zip_path: Path, seed: int | None = None, require_all: bool = False) -> Submission:
    """Check ``out``'s prediction files and write ``zip_path``; with ``require_all`` a missing entry
    stops it before anything is written."""
    submission = plan_submission(out, seed)
    if require_all and submission.missing:
        raise SubmissionError(f"--require-all: {Path(out)} lacks {submission.missing_summary()}; run those tasks (recipes/superb.sh) or drop --require-all")
    write_zip(submission, zip_path)
    return submission
