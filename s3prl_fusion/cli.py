"""``s3prl-fusion``: the plugin's command line.

Each subcommand is a module of ``s3prl_fusion.commands`` with ``add_arguments(parser)`` and
``run(args)``; the first line of its docstring is its help text. Only the module of the command
being run is imported (the full list is imported for ``--help``).
"""
from __future__ import annotations

import argparse
import importlib
import sys

from s3prl_fusion.errors import report_user_errors

COMMANDS = {
    "bench": "s3prl_fusion.commands.bench",
    "cache": "s3prl_fusion.commands.cache",
    "demo": "s3prl_fusion.commands.demo",
    "list": "s3prl_fusion.commands.listing",
    "prepare": "s3prl_fusion.commands.prepare",
    "random-config": "s3prl_fusion.commands.random_config",
    "upstream-config": "s3prl_fusion.commands.upstream_config",
    "report": "s3prl_fusion.commands.report",
    "export": "s3prl_fusion.commands.export",
    "grid": "s3prl_fusion.commands.grid",
    "score": "s3prl_fusion.commands.score",
    "submit": "s3prl_fusion.commands.submit",
    "qbe": "s3prl_fusion.commands.qbe",
    "plot-interface": "s3prl_fusion.commands.plot_interface",
}


def _add_run_command(subparsers) -> None:
    subparsers.add_parser(
        "run",
        help="s3prl's run_downstream.py with the plugin loaded (takes exactly s3prl's flags)",
        add_help=False,
    )


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with every subcommand, or only ``command`` when it is a known one."""
    parser = argparse.ArgumentParser(prog="s3prl-fusion", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_run_command(subparsers)
    selected = {command: COMMANDS[command]} if command in COMMANDS else COMMANDS
    for name, module_name in selected.items():
        module = importlib.import_module(module_name)
        subparser = subparsers.add_parser(name, help=module.__doc__.strip().splitlines()[0], description=module.__doc__)
        module.add_arguments(subparser)
        subparser.set_defaults(handler=module.run)
    return parser


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        from s3prl_fusion.run_downstream import main as run_downstream

        run_downstream(argv[1:])
        return
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main()
