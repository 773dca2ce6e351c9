"""s3prl's ``run_downstream.py`` with the plugin loaded, runnable from any directory.

    python -m s3prl_fusion.run_downstream -m train -u fused_wavlm_whisper -s hconv -d asr -n exp1
    s3prl-fusion-run-downstream ...   (the same, as a console script)

Takes exactly s3prl's flags. When neither ``-c`` nor ``-e`` is given and the working directory
has no ``./downstream/<task>/config.yaml``, the plugin's shipped config for the task is used.
``-a`` / ``-e`` are checked first (``s3prl_fusion.s3prl_adapter.patches.script``): a folder resumes from
its newest intact checkpoint, and a folder or file with nothing to load stops with a message.
"""
from __future__ import annotations

import sys

import s3prl_fusion  # noqa: F401  (installs the hooks before s3prl is imported)
from s3prl_fusion.errors import report_user_errors
from s3prl_fusion.s3prl_adapter.patches.script import run_s3prl_script
from s3prl_fusion.experiments.command_line import typed_flags
from s3prl_fusion.experiments.task_configs import resolve_task_config


def with_task_config(argv: list[str]) -> list[str]:
    """Add ``-c <shipped config>`` to s3prl arguments that need a config and name none."""
    typed = typed_flags(argv, "config", "downstream", "past_exp")
    if typed.get("config") or typed.get("past_exp") or not typed.get("downstream"):
        return list(argv)
    return [*argv, "-c", str(resolve_task_config(typed["downstream"]))]


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    run_s3prl_script(with_task_config(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
