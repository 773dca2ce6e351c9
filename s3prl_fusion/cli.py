"""``s3prl-fusion``: the plugin's command line.

Each subcommand is a module with ``add_arguments(parser)`` and ``run(args)``; the first line of
its docstring is its help text.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "bench": "s3prl_fusion.bench",
    "cache": "s3prl_fusion.cache.command",
    "demo": "s3prl_fusion.demo",
    "list": "s3prl_fusion.listing",
    "prepare": "s3prl_fusion.prepare.command",
    "random-config": "s3prl_fusion.random_config",
    "report": "s3prl_fusion.report",
    "score": "s3prl_fusion.score",
    "plot-interface": "s3prl_fusion.plot_interface",
}


def _add_run_command(subparsers) -> None:
    subparsers.add_parser(
        "run",
        help="s3prl's run_downstream.py with the plugin loaded (takes exactly s3prl's flags)",
        add_help=False,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s3prl-fusion", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_run_command(subparsers)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        subparser = subparsers.add_parser(name, help=module.__doc__.strip().splitlines()[0], description=module.__doc__)
        module.add_arguments(subparser)
        subparser.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        from s3prl_fusion.run_downstream import main as run_downstream

        run_downstream(argv[1:])
        return
    args = build_parser().parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main()
