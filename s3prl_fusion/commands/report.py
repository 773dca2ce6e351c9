"""Collect result.json files into the paper's tables: Markdown, CSV and a PNG chart.

    s3prl-fusion report --results result/ --out report/

Writes ``main.md`` / ``main.csv`` (Tables I and II: rows = upstream set x interface, grouped
into base / large and single models / SSL+SSL / Whisper+SSL; columns LS WER, Mono-1h CER,
Multi-1h CER, SV EER, ER acc; the best value of each section in bold, or flagged in the
``<column>_best`` CSV columns; the paper's numbers beside ours where the row is one of the
paper's), ``per_language.md`` / ``per_language.csv`` (Table III: Mono-1h error rate per
language and their average) and ``main.png``. Missing cells are ``-``. A cell that is not the
paper's kind of number is marked, explained below its table (in the CSV, in ``<column>_note``; in
the chart, below the panels) and set beside no paper number, nor counted for the section's best:
``*`` a mean over a part of the task (Mono-1h pairs missing, emotion folds missing), ``†`` an SV
EER of one checkpoint instead of the best of every checkpoint on test (the paper's protocol,
``SV_SELECT=best-test``). Rows with a Whisper
member say which length mode (``exact`` / ``pad30``) it ran in; runs in different modes are
different rows.

A row's upstream set comes from the members the result records (``members``: what each member
is, from the evaluated checkpoint), so a ``-g`` that swaps a preset's member for another model,
or a ``-u fused -g`` run, is labelled by the models it ran. A random-init member is named by its
model family (and its label's size where the label is of that family). Results without recorded
members fall back to the member labels of the checkpoint, then to the ``upstream`` label (the
``-u`` name: a preset, ``whisper_<size>``, an s3prl hub name; for ``hf_ssl``, ``whisper`` and
``fused`` the ``-k`` recorded in the experiment's ``args_*.yaml``).

``superb.md`` / ``superb.csv``: every SUPERB task's number and the SUPERB score per row
(``s3prl_fusion.results.superb_table``; a score over a part of the ten tasks is marked partial).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from s3prl_fusion.results.report import write_report
from s3prl_fusion.results.superb_table import write_superb_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", required=True, help="folder searched (recursively) for result.json files")
    parser.add_argument("--out", required=True, help="folder for main.{md,csv,png} and per_language.{md,csv}")


def run(args: argparse.Namespace) -> None:
    files = write_report(Path(args.results), Path(args.out))
    files.update(write_superb_table(Path(args.results), Path(args.out)))
    for path in files.values():
        print(path)
