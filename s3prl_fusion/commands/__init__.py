"""The ``s3prl-fusion`` subcommands, one module each (``s3prl_fusion.cli`` maps names to them).

Each module has ``add_arguments(parser)`` and ``run(args)``; the first line of its docstring is
the subcommand's help text.
"""
