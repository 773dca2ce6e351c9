"""Speaker verification (VoxCeleb1): equal error rate, in percent, of the evaluated split's trials.

Reads the files s3prl's sv_voxceleb1 expert writes when a split is evaluated:
``<split>_predict.txt`` (``<pair> <cosine score>``) and ``<split>_truth.txt``
(``<pair> <label>``, filled in by the plugin), line by line in trial order. The EER is computed
as s3prl's ``sv_voxceleb1.utils.EER`` does (``eer.equal_error_rate``).

s3prl's SUPERB SV protocol scores every saved checkpoint on the test trials and reports the
best: ``recipes/sv.sh`` (``SV_SELECT=best-test``) keeps each checkpoint's files in
``<split>_by_step/<step>/`` and ``read_best_result`` picks the lowest EER among them (its
outcomes are the selected checkpoint's).

Outcomes: one row per trial (``<pair>``, its ``score`` and 0/1 ``label``); the EER is recomputed
from all rows. The resampling unit is the trial's enrolment speaker (the speaker of the pair's
first utterance, e.g. ``id10270`` of ``id10270-EyST5Fn6lqv-00001_id10272-...``): VoxCeleb1's
trial list pairs every enrolment utterance with several test utterances, of its own speaker and
of others, so the trials of one speaker share that speaker's embeddings and are not independent;
resampling whole speakers keeps them together. (A negative trial also shares its test speaker
with other trials; one unit per trial cannot hold both speakers, and the enrolment speaker is the
one every trial, positive or negative, has.)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from s3prl_fusion.experiments.checkpoints import checkpoint_step, runner_checkpoints
from s3prl_fusion.errors import MissingPathError
from s3prl_fusion.results import ScoringError
from s3prl_fusion.results.eer import equal_error_rate
from s3prl_fusion.results.outcomes import eer_metric

METRIC = "eer"
LOWER_IS_BETTER = True


def read_trial_column(path: Path) -> tuple[list[str], list[str]]:
    """(pair names, second column) of a ``<pair> <value>`` file."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return [row[0] for row in rows], [row[1] for row in rows]


def enrolment_speaker(pair: str) -> str:
    """The speaker of a trial's enrolment utterance: s3prl names a pair
    ``<speaker>-<video>-<clip>_<speaker>-<video>-<clip>``; VoxCeleb speaker ids hold no ``-``."""
    return pair.split("-", 1)[0]


def read_result(expdir: Path, split: str) -> dict:
    predict, truth = expdir / f"{split}_predict.txt", expdir / f"{split}_truth.txt"
    if not predict.is_file():
        raise MissingPathError(f"{predict} not found: evaluate the experiment first (run_downstream.py -m evaluate -e <checkpoint> -t {split})")
    predicted_pairs, scores = read_trial_column(predict)
    truth_pairs, labels = read_trial_column(truth) if truth.is_file() else ([], [])
    if truth_pairs != predicted_pairs:
        raise ScoringError(
            f"{truth} does not list the trial labels of {predict} in the same order: re-evaluate with s3prl-fusion "
            "installed (it writes the labels s3prl's sv_voxceleb1 leaves out)"
        )
    eer = equal_error_rate(np.array(labels, dtype=int), np.array(scores, dtype=float))
    outcomes = {
        "ids": predicted_pairs,
        "units": [enrolment_speaker(pair) for pair in predicted_pairs],
        "strata": None,
        "columns": {"score": [float(score) for score in scores], "label": [int(label) for label in labels]},
        "metrics": {"value": eer_metric()},
    }
    return {"metric": METRIC, "value": 100.0 * eer, "trials": len(labels), "outcomes": outcomes, "outcome_units": "speaker"}


def scored_steps_dir(expdir: Path, split: str) -> Path:
    """The folder holding one ``<step>/`` sub-folder of evaluation files per scored checkpoint."""
    return Path(expdir) / f"{split}_by_step"


def read_best_result(expdir: Path, split: str) -> dict:
    """The lowest EER over every saved checkpoint of ``expdir`` (each scored into ``<split>_by_step/<step>/``),
    with the step and checkpoint it came from and every step's EER."""
    checkpoints = runner_checkpoints(expdir)
    if not checkpoints:
        raise MissingPathError(f"no states-<step>.ckpt in {expdir}: train first")
    by_step = scored_steps_dir(expdir, split)
    unscored = [path.name for path in checkpoints if not (by_step / str(checkpoint_step(path)) / f"{split}_predict.txt").is_file()]
    if unscored:
        raise MissingPathError(
            f"{', '.join(unscored)} in {expdir} not scored on {split}: evaluate each checkpoint and keep its "
            f"{split}_predict.txt / {split}_truth.txt in {by_step}/<step>/ (recipes/sv.sh does, with SV_SELECT=best-test)"
        )
    results = {checkpoint_step(path): read_result(by_step / str(checkpoint_step(path)), split) for path in checkpoints}
    best_step = min(results, key=lambda step: (results[step]["value"], -step))
    return {
        **results[best_step],
        "selection": "best-test",
        "checkpoint": str(Path(expdir) / f"states-{best_step}.ckpt"),
        "value_by_step": {str(step): result["value"] for step, result in results.items()},
    }
