"""Every command line the README and docs/*.md show parses with the code's own parsers (see
doc_commands.py): the documentation cannot name a subcommand, flag, choice, recipe or recipe knob
that does not exist."""
from __future__ import annotations

import pytest

from doc_commands import DocumentedCommand, command_problems, documentation_pages, documented_commands

SHOWN = [command for page in documentation_pages() for command in documented_commands(page)]


def test_the_pages_show_commands_of_every_kind():
    lines = [command.line for command in SHOWN]
    for start in ("s3prl-fusion run ", "s3prl-fusion cache build ", "s3prl-fusion cache plan ", "s3prl-fusion cache verify ",
                  "s3prl-fusion prepare ", "s3prl-fusion export ", "python -m s3prl_fusion.run_downstream ", "torchrun ",
                  "recipes/asr.sh ", "CACHE=1 recipes/", "MODE=mono recipes/ml_superb.sh "):
        assert any(line.startswith(start) for line in lines), start


@pytest.mark.parametrize("command", SHOWN, ids=[command.where for command in SHOWN])
def test_each_shown_command_parses(command):
    assert command_problems(command) == []


@pytest.mark.parametrize("line, problem", [
    ("s3prl-fusion cache build -u fused_wavlm_whisper --data x --out y --no-such-flag", "unrecognized arguments: --no-such-flag"),
    ("s3prl-fusion cache build --no-such-flag ...", "unrecognized arguments: --no-such-flag"),
    ("s3prl-fusion no-such-command --out x", "invalid choice: 'no-such-command'"),
    ("s3prl-fusion cache compress -u x", "invalid choice: 'compress'"),
    ("s3prl-fusion cache build -u x --data y --out z --dtype int4", "invalid choice: 'int4'"),
    ("s3prl-fusion cache plan --hours 1", "the following arguments are required: -u/--upstream"),
    ("s3prl-fusion run -m train -u fused_wavlm_whisper -s hconv -d asr --no-such-flag 1", "unrecognized arguments: --no-such-flag 1"),
    ("torchrun --nproc_per_node 2 -m s3prl_fusion.run_downstream -m train ... --no-such-flag", "unrecognized arguments: --no-such-flag"),
    ("recipes/no_such_task.sh fused_wavlm_whisper hconv /data x", "recipes/no_such_task.sh: no such recipe"),
    ("NO_SUCH_KNOB=1 recipes/asr.sh fused_wavlm_whisper hconv /data x", "NO_SUCH_KNOB: no recipe reads this environment variable"),
    ("recipes/asr.sh fused_wavlm_whisper hconv /data x --no-such-flag", "unrecognized arguments: --no-such-flag"),
    ("recipes/qbe.sh fused_wavlm_whisper /data x --no-such-flag", "unrecognized arguments: --no-such-flag"),
    ("recipes/<task>.sh UPSTREAM INTERFACE DATA_ROOT OUT_DIR s3prl flags", "unrecognized arguments: s3prl flags"),
])
def test_the_checker_names_what_does_not_exist(line, problem):
    problems = command_problems(DocumentedCommand("made-up", line, "..." not in line))
    assert any(problem in reported for reported in problems), problems


def test_a_page_naming_a_flag_the_code_lacks_fails(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("Build one with `s3prl-fusion cache verify <folder> --deep`, or:\n\n"
                    "```bash\n$ s3prl-fusion cache build -u <upstream> [-g ...] \\\n    --data <folder> --out cache/train --no-such-flag\n```\n\n"
                    "```text\ns3prl_fusion/\n  run_downstream.py  the runner's entry point\n```\n")
    commands = documented_commands(page)
    assert [command.line for command in commands] == [
        "s3prl-fusion cache build -u <upstream> [-g ...] --data <folder> --out cache/train --no-such-flag",
        "s3prl-fusion cache verify <folder> --deep",
    ]
    assert [bool(command_problems(command)) for command in commands] == [True, True]


def test_placeholders_omissions_and_alternatives_parse():
    for line in ("s3prl-fusion cache build -u <upstream> [-g ...] --data ... --out cache/train --storage per-member|merged --dtype fp16|int8",
                 "s3prl-fusion cache plan -u <upstream> --hours H [--utterances N] -d asr",
                 "SV_HEAD=simplified CACHE=1 recipes/<task>.sh UPSTREAM INTERFACE DATA_ROOT OUT_DIR -o ..."):
        assert command_problems(DocumentedCommand("made-up", line, "..." not in line)) == []
