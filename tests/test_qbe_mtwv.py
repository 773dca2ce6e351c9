"""MTWV as QUESST 2014 defines it (s3prl_fusion/results/twv.py), against cases worked out by hand,
and scored from detection lists against the bundled QUESST 2014 miniature's ground truth."""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest

from s3prl_fusion.results.outcomes import Outcomes, point_estimate
from s3prl_fusion.results.qbe import QbEScoringError, read_ground_truth, score_detections
from s3prl_fusion.results.twv import BETA, DEFAULT_SCORE, maximum_term_weighted_value

QUESST = Path(__file__).resolve().parent.parent / "corpora" / "quesst14Database"


def mtwv(trials: list[tuple[str, float, int]]):
    queries, scores, targets = zip(*trials)
    return maximum_term_weighted_value(np.array(scores), np.array(targets), np.array(queries))


def test_beta_is_quesst_2014s_operating_point():
    # Cfa / Cmiss * (1 - Ptarget) / Ptarget with Ptarget 0.0008, Cmiss 100, Cfa 1; the effective prior the scorer gets is 0.0741289
    assert BETA == pytest.approx(12.49, abs=1e-12)
    assert 1 / (1 + BETA) == pytest.approx(0.0741289, abs=1e-7)


def test_a_perfect_detector_has_mtwv_one_at_its_lowest_target_score():
    result = mtwv([("q1", 0.9, 1), ("q1", 0.2, 0), ("q1", 0.1, 0), ("q2", 0.8, 1), ("q2", 0.7, 1), ("q2", 0.5, 0)])
    assert result.mtwv == 1.0 and result.threshold == 0.7 and result.queries == 2


def test_a_detector_that_cannot_separate_anything_has_mtwv_zero_and_detects_nothing():
    # one threshold detects every trial: TWV = 1 - (0 + BETA * 1) < 0; detecting nothing gives 0
    result = mtwv([("q1", 0.5, 1), ("q1", 0.5, 0), ("q2", 0.5, 1), ("q2", 0.5, 0)])
    assert result.mtwv == 0.0 and result.threshold == float("inf")


def test_one_threshold_is_shared_by_every_query():
    # t = 0.9: q1 hit, q2 missed -> 1 - (0 + 1) / 2 = 0.5; t = 0.5 adds q2's false alarm (-BETA / (2 * 2)); t = 0.3 its hit
    result = mtwv([("q1", 0.9, 1), ("q1", 0.2, 0), ("q1", 0.1, 0), ("q2", 0.3, 1), ("q2", 0.5, 0), ("q2", 0.1, 0)])
    assert result.mtwv == pytest.approx(0.5) and result.threshold == 0.9


def test_a_false_alarm_costs_beta_times_the_false_alarm_rate():
    # 1 target at 0.4 under 1 of 100 non-targets: t = 0.4 gives 1 - (0 + 12.49 / 100) = 0.8751
    trials = [("q", 0.4, 1), ("q", 0.6, 0), *[("q", 0.0, 0)] * 99]
    assert mtwv(trials).mtwv == pytest.approx(1 - 12.49 / 100, abs=1e-12)
    assert mtwv(trials).threshold == 0.4


def test_tied_scores_are_detected_together():
    # the target ties a non-target of ten: 1 - (0 + 12.49 / 10) < 0
    assert mtwv([("q", 0.5, 1), ("q", 0.5, 0), *[("q", 0.0, 0)] * 9]).mtwv == 0.0


def test_queries_without_a_target_are_left_out():
    scored = [("q1", 0.9, 1), ("q1", 0.1, 0)]
    result = mtwv([*scored, ("q3", 5.0, 0), ("q3", 4.0, 0)])
    assert result.mtwv == 1.0 and result.queries == 1
    with pytest.raises(ValueError, match="no query has a target"):
        mtwv([("q3", 5.0, 0)])


def test_the_mtwv_statistic_recomputes_the_value_from_query_document_rows():
    trials = [("q", 0.4, 1), ("q", 0.6, 0), *[("q", 0.0, 0)] * 99, ("r", 0.3, 1), ("r", 0.1, 0)]
    outcomes = Outcomes.from_entry({
        "ids": [f"{query}/d{row}" for row, (query, _, _) in enumerate(trials)],
        "units": [query for query, _, _ in trials],
        "strata": None,
        "columns": {"score": [score for _, score, _ in trials], "target": [target for _, _, target in trials]},
        "metrics": {"value": {"statistic": "mtwv", "score": "score", "label": "target"}},
    })
    # t = 0.3: q hit with 1 false alarm in 100, r hit: 1 - (12.49 / 100 + 0) / 2
    assert point_estimate(outcomes) == pytest.approx(1 - 12.49 / 200, abs=1e-12)
    assert point_estimate(outcomes) == mtwv(trials).mtwv


def write_detections(path: Path, scores: dict[tuple[str, str], float]) -> Path:
    root = ElementTree.Element("stdlist")
    for query in sorted({query for query, _ in scores}):
        termlist = ElementTree.SubElement(root, "detected_termlist", termid=query)
        for (term, document), score in sorted(scores.items()):
            if term == query:
                ElementTree.SubElement(termlist, "term", file=document, channel="1", tbeg="0.000", dur="0.00", score=f"{score:.4f}", decision="NO")
    ElementTree.ElementTree(root).write(path)
    return path


def english_documents() -> list[str]:
    lines = (QUESST / "scoring" / "language_key_utterances.lst").read_text().split("\n")
    return [Path(line.split()[0]).stem for line in lines if line.strip() and line.split()[1] == "nnenglish"]


@pytest.mark.parametrize("split, folder", [("dev", "groundtruth_quesst14_dev"), ("test", "groundtruth_quesst14_eval")])
def test_detections_are_scored_on_every_trial_of_the_ground_truth(tmp_path, split, folder):
    """As s3prl lists them (English documents only): the Czech documents take the default score -10."""
    queries, documents, occurrences = read_ground_truth(QUESST / "scoring" / folder)
    english = english_documents()
    assert len(queries) == 3 and len(documents) == 20 and len(english) == 18 and len(occurrences) == 6
    perfect = {(query, document): float((query, document) in occurrences) for query in queries for document in english}
    scored = score_detections(write_detections(tmp_path / "perfect.xml", perfect), QUESST, split)
    assert scored["mtwv"] == pytest.approx(1.0, abs=1e-12) and scored["queries"] == 3
    rows = scored["outcomes"]
    assert len(rows["ids"]) == 3 * 20 and sorted(set(rows["units"])) == sorted(queries)
    assert rows["columns"]["score"].count(DEFAULT_SCORE) == 3 * 2 and sum(rows["columns"]["target"]) == 6
    assert point_estimate(Outcomes.from_entry(rows)) == scored["mtwv"]
    inverted = {trial: 1.0 - score for trial, score in perfect.items()}
    assert score_detections(write_detections(tmp_path / "inverted.xml", inverted), QUESST, split)["mtwv"] == 0.0


def test_detections_of_another_split_are_refused(tmp_path):
    queries, _, _ = read_ground_truth(QUESST / "scoring" / "groundtruth_quesst14_eval")
    detections = write_detections(tmp_path / "eval.xml", {(queries[0], "quesst14_00001"): 1.0})
    with pytest.raises(QbEScoringError, match="does not list, e.g. query quesst14_eval_0001 in document quesst14_00001: score it against the ground truth of the split"):
        score_detections(detections, QUESST, "dev")
