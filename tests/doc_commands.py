"""The command lines the README and docs/*.md show, checked against the code without running them.

Collected: every line of a fenced code block, and every inline code span, that starts (after an
optional ``$ `` prompt and ``NAME=value`` environment settings) with ``s3prl-fusion``, one of the
runner's other names (``s3prl-fusion-run-downstream``, ``python -m s3prl_fusion.run_downstream``,
``run_downstream.py``), ``torchrun ... -m s3prl_fusion.cli|s3prl_fusion.run_downstream`` or
``recipes/<name>.sh``. A fenced line ending in ``\\`` continues on the next; blocks marked ``text``
are left out.

Checked:
- ``s3prl-fusion <command> ...``: parsed by the command line's own parser (``cli.build_parser``),
  so an unknown subcommand, an unknown flag or a value outside a flag's choices is a problem;
- the runner's names and ``s3prl-fusion run``: parsed by s3prl's own parser, the one
  ``run_downstream.get_downstream_args`` builds (taken as it calls ``parse_args``);
- ``recipes/X.sh``: the script exists, each ``NAME=value`` in front is a knob the recipes read,
  and a task recipe's s3prl flags (after its positional arguments) parse as the runner's.

Placeholders parse: ``<anything>`` and an all-capitals word (``DIR``, ``N``) stand for a value
that fits the flag they follow; ``a|b`` is checked for each of ``a`` and ``b``; ``[ ]`` around
optional parts are dropped; ``...`` stands for omitted arguments, so a line with it (and an
inline span, which names a command in prose) may leave out required ones.
"""
from __future__ import annotations

import argparse
import itertools
import re
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from unittest import mock

from conftest import REPO_ROOT

PLACEHOLDER = "PLACEHOLDER"
OMITTED = "..."
RECIPES = REPO_ROOT / "recipes"
# recipes/<task>.sh -> its arguments before the s3prl flags (UPSTREAM INTERFACE DATA_ROOT OUT_DIR; qbe: UPSTREAM DATA_ROOT OUT_DIR)
TASK_RECIPES = {"asr": 4, "sv": 4, "emotion": 4, "ml_superb": 4, "sd": 4, "qbe": 3, "ks": 4, "ic": 4, "sid": 4, "pr": 4, "sf": 4, "superb": 3}
RUNNER_NAMES = (("s3prl-fusion", "run"), ("s3prl-fusion-run-downstream",), ("python", "-m", "s3prl_fusion.run_downstream"), ("run_downstream.py",))
TORCHRUN_MODULES = {"s3prl_fusion.cli": "cli", "s3prl_fusion.run_downstream": "runner"}
ENVIRONMENT_SETTING = re.compile(r"[A-Z][A-Z0-9_]*=\S*")
CAPITALS = re.compile(r"[A-Z][A-Z0-9_]*")
RECIPE = re.compile(r"recipes/\S+\.sh")


@dataclass(frozen=True)
class DocumentedCommand:
    """One command line as a page shows it; ``complete``: a fenced line without ``...``, which
    must give every required argument."""

    where: str
    line: str
    complete: bool


class ParseProblem(Exception):
    """What argparse would print before exiting with status 2."""


def _raise_problem(parser: argparse.ArgumentParser, message: str) -> None:
    raise ParseProblem(message)


def _fenced_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every line inside a fenced code block, continuation lines joined;
    blocks marked ``text`` (file trees, printed output) hold no command and are left out."""
    lines, inside, joined = [], None, None
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            inside = None if inside is not None else line.lstrip()[3:].strip()
            continue
        if inside is None or inside == "text":
            continue
        if joined is not None:
            joined = (joined[0], joined[1] + " " + line.strip())
        else:
            joined = (number, line.strip())
        if joined[1].endswith("\\"):
            joined = (joined[0], joined[1][:-1].rstrip())
            continue
        lines.append(joined)
        joined = None
    return lines


def _inline_spans(text: str) -> list[tuple[int, str]]:
    """(line number, text) of every inline code span outside fenced blocks, line breaks as spaces."""
    prose = re.sub(r"^\s*```.*?^\s*```", lambda block: "\n" * block.group(0).count("\n"), text, flags=re.S | re.M)
    return [(prose.count("\n", 0, span.start()) + 1, " ".join(span.group(1).split())) for span in re.finditer(r"`([^`]+)`", prose)]


def _is_command(line: str) -> bool:
    words = _without_prompt(line).split()
    while words and ENVIRONMENT_SETTING.fullmatch(words[0]):
        words.pop(0)
    if not words:
        return False
    return (words[0] in ("s3prl-fusion", "s3prl-fusion-run-downstream", "run_downstream.py", "torchrun") or RECIPE.fullmatch(words[0]) is not None
            or words[:3] == ["python", "-m", "s3prl_fusion.run_downstream"])


def _without_prompt(line: str) -> str:
    return line[2:] if line.startswith("$ ") else line


def documented_commands(path: Path) -> list[DocumentedCommand]:
    """Every command line ``path`` (a Markdown file) shows."""
    text = path.read_text(encoding="utf-8")
    name = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
    commands = [DocumentedCommand(f"{name}:{number}", _without_prompt(line), OMITTED not in line)
                for number, line in _fenced_lines(text) if _is_command(line)]
    commands += [DocumentedCommand(f"{name}:{number}", span, False) for number, span in _inline_spans(text) if _is_command(span)]
    return commands


def _words(line: str) -> list[str]:
    """The line's words as a shell splits them, comments dropped, ``<placeholder>`` one word,
    ``[`` and ``]`` of optional parts removed."""
    line = re.sub(r"<[^>]*>", PLACEHOLDER, line)
    words = shlex.split(line, comments=True)
    return [word.strip("[]") for word in words if word.strip("[]")]


@cache
def s3prl_runner_parser() -> argparse.ArgumentParser:
    """The parser s3prl's ``run_downstream.get_downstream_args`` builds, taken when it calls
    ``parse_args`` (nothing after that runs)."""
    from s3prl import run_downstream

    captured = []

    def capture(parser, *args, **kwargs):
        captured.append(parser)
        raise ParseProblem("captured")

    with mock.patch.object(argparse.ArgumentParser, "parse_args", capture):
        try:
            run_downstream.get_downstream_args()
        except ParseProblem:
            pass
    return captured[0]


@cache
def cli_parser() -> argparse.ArgumentParser:
    from s3prl_fusion.cli import build_parser

    return build_parser()


def _leaf_parser(parser: argparse.ArgumentParser, words: list[str]) -> argparse.ArgumentParser:
    """The (sub)parser that ``words`` reach by their leading subcommand names."""
    for word in words:
        choices = [action.choices for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
        if not choices or word not in choices[0]:
            return parser
        parser = choices[0][word]
    return parser


def _fill_placeholders(parser: argparse.ArgumentParser, words: list[str]) -> list[list[str]]:
    """Variants of ``words`` with each placeholder replaced by a value its flag takes, each
    ``a|b`` by each alternative, and each ``...`` dropped (a flag it follows gets a placeholder)."""
    leaf = _leaf_parser(parser, words)
    filled = []
    for index, word in enumerate(words):
        previous = words[index - 1] if index else ""
        action = leaf._option_string_actions.get(previous)
        if word == OMITTED:
            if action is not None and action.nargs != 0:
                filled.append([_value_for(action)])
            continue
        if word == PLACEHOLDER or (CAPITALS.fullmatch(word) and not ENVIRONMENT_SETTING.fullmatch(word)):
            filled.append([_value_for(action) if action is not None else PLACEHOLDER])
        elif "|" in word and not word.startswith("-"):
            filled.append(word.split("|"))
        else:
            filled.append([word])
    return [list(variant) for variant in itertools.islice(itertools.product(*filled), 64)]


def _value_for(action: argparse.Action) -> str:
    if action.choices:
        return str(next(iter(action.choices)))
    if action.type in (int, float):
        return "1"
    return PLACEHOLDER


def _all_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The actions of ``parser`` and of every subparser below it."""
    actions = list(parser._actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            actions += [nested for subparser in action.choices.values() for nested in _all_actions(subparser)]
    return actions


@contextmanager
def _required_arguments_optional(parser: argparse.ArgumentParser, optional: bool) -> Iterator[None]:
    """With ``optional``: no argument of ``parser`` or its subparsers is required while inside."""
    relaxed = [action for action in _all_actions(parser) if optional and action.required]
    for action in relaxed:
        action.required = False
    try:
        yield
    finally:
        for action in relaxed:
            action.required = True


def parse_problems(parser: argparse.ArgumentParser, words: list[str], complete: bool) -> list[str]:
    """What ``parser`` says of each variant of ``words`` (nothing when all parse); required
    arguments may be missing unless ``complete``."""
    problems = []
    for variant in _fill_placeholders(parser, words):
        with (mock.patch.object(argparse.ArgumentParser, "error", _raise_problem), mock.patch.object(argparse.ArgumentParser, "exit", _raise_problem),
              _required_arguments_optional(parser, not complete)):
            try:
                parser.parse_args(variant)
            except ParseProblem as problem:
                problems.append(f"{shlex.join(variant)}: {problem}")
    return problems


@cache
def recipe_knobs() -> frozenset[str]:
    """Environment variables the recipes read: ``$NAME`` or ``${NAME...}`` in recipes/*.sh, and the data
    roots a grid recipe reads by name (``${!variable}``), which its ``task_data_variable`` echoes."""
    text = "\n".join(path.read_text() for path in RECIPES.glob("*.sh"))
    return frozenset(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", text)) | frozenset(re.findall(r"\becho ([A-Z][A-Z0-9_]*) ;;", text))


def _recipe_problems(words: list[str], settings: list[str], complete: bool) -> list[str]:
    script, arguments = words[0], words[1:]
    scripts = sorted(REPO_ROOT.glob(script.replace(PLACEHOLDER, "*")))  # recipes/<task>.sh: any recipe
    problems = [] if scripts else [f"{script}: no such recipe"]
    unknown = [setting.split("=")[0] for setting in settings if setting.split("=")[0] not in recipe_knobs()]
    problems += [f"{name}: no recipe reads this environment variable" for name in unknown]
    positional = max((TASK_RECIPES[path.stem] for path in scripts if path.stem in TASK_RECIPES), default=None)
    if positional is not None and len(arguments) > positional:
        problems += parse_problems(s3prl_runner_parser(), ["-m", "train", *arguments[positional:]], complete)
    return problems


def command_problems(command: DocumentedCommand) -> list[str]:
    """Why ``command`` would not parse; empty when it does."""
    words = _words(command.line)
    settings = []
    while words and ENVIRONMENT_SETTING.fullmatch(words[0]):
        settings.append(words.pop(0))
    if words and words[0] == "torchrun":
        module_at = words.index("-m") + 1 if "-m" in words else len(words)
        kind = TORCHRUN_MODULES.get(words[module_at] if module_at < len(words) else "")
        if kind is None:
            return [f"torchrun runs no module of the plugin's command line: {command.line}"]
        words = ["s3prl-fusion", *words[module_at + 1:]] if kind == "cli" else ["run_downstream.py", *words[module_at + 1:]]
    if words[0].startswith("recipes/"):
        return _recipe_problems(words, settings, command.complete)
    for name in RUNNER_NAMES:
        if tuple(words[:len(name)]) == name:
            return parse_problems(s3prl_runner_parser(), words[len(name):], command.complete)
    return parse_problems(cli_parser(), words[1:], command.complete)


def documentation_pages() -> list[Path]:
    return [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
