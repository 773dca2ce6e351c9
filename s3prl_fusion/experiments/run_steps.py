"""A short run (the recipes' ``STEPS``) that still saves a checkpoint.

s3prl's runner saves ``states-<step>.ckpt`` when the step is a multiple of ``runner.save_step``
and scores dev when it is one of ``runner.eval_step``; a run of ``total_steps`` below them trains,
saves nothing and leaves nothing to evaluate. ``steps_overrides`` lowers each of them that is above
the run's length to that length, after the task config and the ``-o`` items already given.

    python -m s3prl_fusion.experiments.run_steps --task TASK [--config CONFIG] --steps N --overrides "a=1,,b=2"

prints the ``-o`` string with the lowered items appended, and a note for each on stderr.
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import yaml

from s3prl_fusion.errors import MissingPathError, SettingError, report_user_errors
from s3prl_fusion.experiments.task_configs import resolve_task_config

STEP_KEYS = ("save_step", "eval_step")


def override_items(overrides: str) -> list[tuple[str, object]]:
    """s3prl's ``-o`` string -> (key, value) items in order, each value read as s3prl's ``override`` reads it
    (a Python literal, else the text)."""
    items = []
    for option in filter(None, (option.strip() for option in overrides.split(",,"))):
        key, _, text = option.partition("=")
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            value = text.strip()
        items.append((key.strip(), value))
    return items


def runner_settings(config: Path, overrides: str) -> dict:
    """The ``runner`` section of ``config`` after the ``config.runner.*`` items of ``overrides``."""
    if not Path(config).is_file():
        raise MissingPathError(f"task config {config} does not exist: point CONFIG at a config.yaml, or leave it unset for the shipped one")
    runner = dict((yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}).get("runner") or {})
    for key, value in override_items(overrides):
        if key.startswith("config.runner."):
            runner[key.removeprefix("config.runner.")] = value
    return runner


def steps_overrides(config: Path, steps: int, overrides: str) -> tuple[str, list[str]]:
    """(``overrides`` with ``config.runner.<key>=<steps>`` appended for each of save_step / eval_step
    above ``steps``, a note for each); ``steps`` becomes the run's total_steps."""
    if steps < 1:
        raise SettingError(f"STEPS={steps}: a run needs at least one step")
    runner = runner_settings(config, overrides)
    items, notes = [overrides] if overrides else [], []
    for key in STEP_KEYS:
        value = runner.get(key)
        if isinstance(value, int) and value > steps:
            items.append(f"config.runner.{key}={steps}")
            verb = "saving" if key == "save_step" else "scoring dev"
            notes.append(f"[recipe] STEPS={steps} < {key} {value}: {verb} every {steps} steps")
    return ",,".join(items), notes


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m s3prl_fusion.experiments.run_steps", description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", required=True, help="the runner's -d, whose shipped config is read without --config")
    parser.add_argument("--config", type=Path, help="the runner's -c")
    parser.add_argument("--steps", type=int, required=True, help="the run's total_steps")
    parser.add_argument("--overrides", default="", help="the run's -o string")
    args = parser.parse_args(argv)
    config = args.config or resolve_task_config(args.task)
    overrides, notes = steps_overrides(config, args.steps, args.overrides)
    for note in notes:
        print(note, file=sys.stderr)
    print(overrides)


if __name__ == "__main__":
    main()
