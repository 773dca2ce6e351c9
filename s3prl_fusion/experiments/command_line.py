"""s3prl's ``run_downstream.py`` flags as typed on a command line, read before s3prl parses them."""
from __future__ import annotations

import argparse

# argument name in s3prl's Namespace -> its short flag (None: long flag only)
SHORT_FLAGS = {
    "config": "-c",
    "downstream": "-d",
    "past_exp": "-e",
    "upstream": "-u",
    "upstream_ckpt": "-k",
    "upstream_model_config": "-g",
    "upstream_feature_selection": "-s",
    "upstream_layer_selection": "-l",
    "expdir": "-p",
    "expname": "-n",
    "auto_resume": "-a",
    "backend": None,
    "device": None,
    "local_rank": None,
}
SWITCHES = {"auto_resume"}  # flags that take no value


def typed_flags(argv: list[str], *names: str) -> dict[str, str]:
    """{name: value as typed} for those of s3prl's flags ``names`` that ``argv`` gives (the last
    one where a flag is repeated, as argparse takes it; True for a switch); flags not typed are absent."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for name in names:
        flags = [flag for flag in (SHORT_FLAGS[name], f"--{name}") if flag]
        kind = {"action": "store_true"} if name in SWITCHES else {}
        parser.add_argument(*flags, dest=name, default=argparse.SUPPRESS, **kind)
    typed, _ = parser.parse_known_args(argv)
    return vars(typed)
