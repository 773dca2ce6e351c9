"""QbE (``-d quesst14_dtw``): MTWV of a ``benchmark.stdlist.xml`` against QUESST 2014's ground truth.

A QbE experiment folder is what ``recipes/qbe.sh`` leaves (``s3prl_fusion.s3prl_adapter.qbe_sweep``):
``benchmark.stdlist.xml`` (the chosen layer's detections on the eval queries, the file SUPERB's
submission packs) and ``qbe_sweep.json`` (the upstream and its members, the database folder, the
chosen layer and every layer's dev MTWV). ``read_result(expdir, "test")`` scores the detection list
with ``s3prl_fusion.results.twv`` against ``<dataset_root>/scoring/groundtruth_quesst14_eval``
(``dev``: ``groundtruth_quesst14_dev``), whose ``*.ecf.xml`` lists the documents, ``*.tlist.xml``
the queries and ``*.rttm`` each occurrence (``LEXEME <document> <channel> <tbeg> <dur> <query> ...``).

The outcomes are one row per trial (query/document pair, ``<query>/<document>``), unit the query,
columns ``score`` (the detection list's, ``twv.DEFAULT_SCORE`` where it lists none) and ``target``
(1 where the query occurs in the document); the statistic ``mtwv`` recomputes the MTWV from them.
Nothing is trained, so the result's provenance is the sweep's record (``recorded_origin``), not a
checkpoint.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from s3prl_fusion.errors import MissingPathError, UserError
from s3prl_fusion.results.twv import DEFAULT_SCORE, maximum_term_weighted_value

METRIC = "mtwv"
LOWER_IS_BETTER = False
DETECTIONS = "benchmark.stdlist.xml"
SWEEP_RECORD = "qbe_sweep.json"
GROUND_TRUTH = {"dev": "groundtruth_quesst14_dev", "test": "groundtruth_quesst14_eval"}
OUTCOMES_METRIC = {"statistic": "mtwv", "score": "score", "label": "target"}
ORIGIN_KEYS = ("upstream", "upstream_model_config", "upstream_ckpt", "interface", "members", "autocast")


class QbEScoringError(UserError, ValueError):
    """A detection list or ground truth that cannot be scored together."""


@dataclass(frozen=True)
class Trials:
    """Every (query, document) trial of a ground truth: (trials,) arrays ``queries``, ``documents``,
    ``scores`` (float64) and ``targets`` (0/1)."""

    queries: np.ndarray
    documents: np.ndarray
    scores: np.ndarray
    targets: np.ndarray


def ground_truth_folder(dataset_root: Path, split: str) -> Path:
    if split not in GROUND_TRUTH:
        raise QbEScoringError(f"QbE splits are {', '.join(GROUND_TRUTH)} (test: the eval queries); got {split!r}")
    folder = Path(dataset_root) / "scoring" / GROUND_TRUTH[split]
    if not folder.is_dir():
        raise MissingPathError(f"{folder} (QUESST 2014's {split} ground truth) not found: dataset_root must be the quesst14Database folder as released")
    return folder


def _one_file(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        raise MissingPathError(f"{folder} must hold exactly one {pattern} file (QUESST 2014's ground truth layout); found {[path.name for path in found]}")
    return found[0]


def read_ground_truth(folder: Path) -> tuple[list[str], list[str], set[tuple[str, str]]]:
    """(query ids of ``*.tlist.xml``, document ids of ``*.ecf.xml``, {(query, document)} of ``*.rttm``)."""
    queries = [term.get("termid") for term in ElementTree.parse(_one_file(folder, "*.tlist.xml")).getroot().iter("term")]
    documents = [PurePosixPath(excerpt.get("audio_filename")).stem for excerpt in ElementTree.parse(_one_file(folder, "*.ecf.xml")).getroot().iter("excerpt")]
    occurrences = set()
    for line in _one_file(folder, "*.rttm").read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == "LEXEME":
            occurrences.add((fields[5], fields[1]))
    return queries, documents, occurrences


def read_detections(stdlist: Path) -> dict[tuple[str, str], float]:
    """{(query, document): score} of a NIST STD ``stdlist.xml``."""
    if not stdlist.is_file():
        raise MissingPathError(f"{stdlist} not found: run the QbE sweep (recipes/qbe.sh) first")
    return {
        (termlist.get("termid"), term.get("file")): float(term.get("score"))
        for termlist in ElementTree.parse(stdlist).getroot().iter("detected_termlist")
        for term in termlist.iter("term")
    }


def trials(stdlist: Path, ground_truth: Path) -> Trials:
    """Every trial of ``ground_truth``, scored by ``stdlist`` (``DEFAULT_SCORE`` where it lists none)."""
    queries, documents, occurrences = read_ground_truth(ground_truth)
    detections = read_detections(stdlist)
    unknown = sorted(set(detections) - {(query, document) for query in queries for document in documents})
    if unknown:
        raise QbEScoringError(
            f"{stdlist} scores {len(unknown)} trial(s) that {ground_truth} does not list, e.g. query {unknown[0][0]} in document "
            f"{unknown[0][1]}: score it against the ground truth of the split it was evaluated on"
        )
    pairs = [(query, document) for query in queries for document in documents]
    return Trials(
        queries=np.array([query for query, _ in pairs], dtype=str),
        documents=np.array([document for _, document in pairs], dtype=str),
        scores=np.array([detections.get(pair, DEFAULT_SCORE) for pair in pairs], dtype=np.float64),
        targets=np.array([pair in occurrences for pair in pairs], dtype=np.int64),
    )


def score_detections(stdlist: Path, dataset_root: Path, split: str) -> dict:
    """``{"mtwv", "threshold", "queries", "outcomes"}`` of ``stdlist`` on ``split``'s ground truth."""
    scored = trials(stdlist, ground_truth_folder(dataset_root, split))
    try:
        best = maximum_term_weighted_value(scored.scores, scored.targets, scored.queries)
    except ValueError as error:
        raise QbEScoringError(f"{ground_truth_folder(dataset_root, split)}: {error}") from None
    outcomes = {
        "ids": [f"{query}/{document}" for query, document in zip(scored.queries, scored.documents)],
        "units": scored.queries.tolist(),
        "strata": None,
        "columns": {"score": scored.scores.tolist(), "target": scored.targets.tolist()},
        "metrics": {"value": OUTCOMES_METRIC},
    }
    return {"mtwv": best.mtwv, "threshold": best.threshold, "queries": best.queries, "outcomes": outcomes}


def read_sweep_record(expdir: Path) -> dict:
    path = Path(expdir) / SWEEP_RECORD
    if not path.is_file():
        raise MissingPathError(f"{path} not found: {expdir} is not a QbE sweep's folder (recipes/qbe.sh writes it)")
    return json.loads(path.read_text())


def recorded_origin(expdir: Path) -> dict:
    """The upstream (``-u``, ``-g``, ``-k``), its members and the feature selection the sweep ran with."""
    record = read_sweep_record(expdir)
    return {key: record[key] for key in ORIGIN_KEYS if record.get(key) is not None}


def read_result(expdir: Path, split: str) -> dict:
    """MTWV of ``expdir/benchmark.stdlist.xml`` on ``split``, with the sweep's chosen layer and every layer's dev MTWV."""
    expdir = Path(expdir)
    record = read_sweep_record(expdir)
    scored = score_detections(expdir / DETECTIONS, Path(record["dataset_root"]), split)
    return {
        "metric": METRIC,
        "value": scored["mtwv"],
        "threshold": scored["threshold"],
        "scored_queries": scored["queries"],
        "layer": record["chosen_layer"],
        "selection": "best dev MTWV over every layer (SUPERB's QbE protocol)",
        "dev_mtwv": record["dev_mtwv"],
        "outcomes": scored["outcomes"],
        "outcome_units": "query",
    }
