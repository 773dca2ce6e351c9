"""The per-utterance outcomes file: written, read back, refused when changed, and the point estimate
recomputed from its rows for each statistic and combination."""
from __future__ import annotations

import json

import numpy as np
import pytest

from s3prl_fusion.results.outcomes import Outcomes, OutcomesError, point_estimate, read_outcomes, write_outcomes

ENTRY = {
    "ids": ["a", "b", "c", "d"],
    "units": ["spk1", "spk1", "spk2", "spk2"],
    "strata": ["fold1", "fold1", "fold2", "fold2"],
    "columns": {"errors": [1, 0, 3, 1], "words": [4, 6, 5, 5], "score": [0.9, 0.2, 0.7, 0.1], "label": [1, 0, 1, 0]},
    "metrics": {
        "value": {"statistic": "ratio", "numerator": "errors", "denominator": "words", "scale": 100.0, "combine": "pooled"},
        "folds": {"statistic": "ratio", "numerator": "errors", "denominator": "words", "scale": 100.0, "combine": "mean_over_strata"},
        "eer": {"statistic": "eer", "score": "score", "label": "label", "scale": 100.0, "combine": "pooled"},
    },
}


def test_point_estimates_follow_statistic_and_combination():
    outcomes = Outcomes.from_entry(ENTRY)
    assert point_estimate(outcomes) == pytest.approx(100 * 5 / 20)
    assert point_estimate(outcomes, "folds") == pytest.approx((100 * 1 / 10 + 100 * 4 / 10) / 2)
    assert point_estimate(outcomes, "eer") == pytest.approx(0.0)  # the scores separate the labels


def test_outcomes_round_trip_through_the_file_result_json_records(tmp_path):
    record = write_outcomes(tmp_path, "test", ENTRY, units="speaker")
    (tmp_path / "result.json").write_text(json.dumps({"value": 25.0, "outcomes": record}))
    back = read_outcomes(tmp_path / "result.json")
    assert list(back.ids) == ENTRY["ids"] and list(back.units) == ENTRY["units"] and list(back.strata) == ENTRY["strata"]
    assert np.array_equal(back.columns["score"], ENTRY["columns"]["score"]) and record["rows"] == 4
    assert (tmp_path / "test_outcomes.tsv").read_text().splitlines()[0].split("\t")[:3] == ["id", "unit", "stratum"]


def test_an_outcomes_file_changed_after_scoring_is_refused(tmp_path):
    record = write_outcomes(tmp_path, "test", ENTRY, units="speaker")
    (tmp_path / "result.json").write_text(json.dumps({"outcomes": record}))
    path = tmp_path / record["file"]
    path.write_text(path.read_text().replace("\t1.0\t4.0", "\t0.0\t4.0"))
    with pytest.raises(OutcomesError, match="SHA-256 differs"):
        read_outcomes(tmp_path / "result.json")


def test_a_metric_naming_a_missing_column_is_refused():
    broken = {**ENTRY, "metrics": {"value": {"statistic": "ratio", "numerator": "edits", "denominator": "words"}}}
    with pytest.raises(ValueError, match="edits"):
        Outcomes.from_entry(broken)


def test_a_mean_over_strata_groups_strata_before_averaging():
    """ML-SUPERB Mono-1h: the mean over languages of the mean over each language's pairs."""
    pairs = {
        "ids": ["eng1/u", "eng2/u", "jpn/v"],
        "units": ["u", "u", "v"],
        "strata": ["eng1", "eng2", "jpn"],
        "columns": {"errors": [1, 3, 4], "tokens": [10, 10, 10]},
        "metrics": {"value": {"statistic": "ratio", "numerator": "errors", "denominator": "tokens", "scale": 100.0,
                              "combine": "mean_over_strata", "stratum_groups": {"eng1": "eng", "eng2": "eng", "jpn": "jpn"}}},
    }
    assert point_estimate(Outcomes.from_entry(pairs)) == pytest.approx(((10 + 30) / 2 + 40) / 2)  # not (10 + 30 + 40) / 3
    ungrouped = {**pairs, "metrics": {"value": {**pairs["metrics"]["value"], "stratum_groups": {"eng1": "eng", "eng2": "eng"}}}}
    with pytest.raises(ValueError, match="jpn"):
        Outcomes.from_entry(ungrouped)
