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

Uncertainty (``--bootstrap B``, default 1000; 0 turns it off): each cell of ``main`` gets a 95 %
bootstrap interval over its test units (utterances; trials grouped by what their result's
outcomes name as units, e.g. speakers), from the per-utterance outcomes its result.json records,
resampled within the task's strata (folds, languages) with a fixed seed; ``main.md`` shows
``value [low, high]``, ``main.csv`` adds ``<column>_low`` / ``_high``, ``main.png`` draws them as
error bars, and ``intervals_<column>.png`` shows each task's interfaces by upstream set with their
intervals. A cell whose result.json has no outcomes gets no interval and a line saying why; an
outcomes file changed after scoring stops the report. Results of one cell that differ only by
their seed (result.json ``seed``, or ``seed<k>/`` folders) are shown as mean ± standard deviation
over the seeds; their interval pools them (each resample of the units applied to every seed, the
mean over seeds recomputed). ``comparisons.md`` / ``comparisons.csv``: each interface against WS
on the same upstream set, and each fused set against the best of its constituent single-model
rows with the same interface (the paper's relative gain), as paired bootstrap differences over the
same test units, their intervals and whether they exclude zero; then the fusion analysis (the
relative gain per task and interface, whether all interfaces agree on its sign), drawn as a heat
map in ``fusion_gains.png`` with the significant gains framed.

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
from s3prl_fusion.statistics.bootstrap import DEFAULT_RESAMPLES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", required=True, help="folder searched (recursively) for result.json files")
    parser.add_argument("--out", required=True, help="folder for main.{md,csv,png}, per_language.{md,csv}, comparisons.{md,csv} and the charts")
    parser.add_argument(
        "--bootstrap", type=int, default=DEFAULT_RESAMPLES, metavar="B",
        help=f"bootstrap resamples behind each cell's 95 %% interval and each paired comparison (default {DEFAULT_RESAMPLES}; 0: none)",
    )


def run(args: argparse.Namespace) -> None:
    files = write_report(Path(args.results), Path(args.out), bootstrap=args.bootstrap)
    files.update(write_superb_table(Path(args.results), Path(args.out)))
    for path in files.values():
        print(path)
