"""Where a task's config comes from when ``-c`` is not given.

s3prl reads ``./downstream/<task>/config.yaml`` relative to the working directory; outside an
s3prl checkout that file does not exist, so the plugin's own ``downstream_configs/<task>/``
is used instead.
"""
from __future__ import annotations

from pathlib import Path

from s3prl_fusion.errors import MissingPathError, UnknownNameError

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # s3prl_fusion/


def config_root() -> Path:
    """The folder of shipped task configs: the repository's (source / editable installs) or the
    copy inside the installed package."""
    for candidate in (PACKAGE_DIR.parent / "downstream_configs", PACKAGE_DIR / "downstream_configs"):
        if candidate.is_dir():
            return candidate
    raise MissingPathError("the plugin's downstream_configs folder is missing from this installation")


def available_tasks() -> list[str]:
    return sorted(path.parent.name for path in config_root().glob("*/config.yaml"))


def resolve_task_config(task: str, working_dir: Path | None = None) -> Path:
    """s3prl's ``./downstream/<task>/config.yaml`` if present, else the shipped one."""
    local = (working_dir or Path.cwd()) / "downstream" / task / "config.yaml"
    if local.is_file():
        return local
    shipped = config_root() / task / "config.yaml"
    if shipped.is_file():
        return shipped
    choices = sorted(config_root().glob(f"{task}/*.yaml"))
    if choices:
        raise UnknownNameError(f"task -d {task} has one shipped config per corpus: pass -c with one of {', '.join(map(str, choices))}")
    raise UnknownNameError(
        f"no config for task -d {task}: neither {local} nor a shipped one exists. "
        f"Shipped tasks: {', '.join(available_tasks())}; or pass -c <config.yaml>."
    )
