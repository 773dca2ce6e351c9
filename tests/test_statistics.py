"""The bootstrap's parts: the EER it recomputes on resamples is s3prl's, clusters move together
within their strata, runs are paired by id, seeds are pooled and the draws are fixed by the seed."""
from __future__ import annotations

import numpy as np
import pytest

from s3prl_fusion.results.outcomes import Outcomes, point_estimate
from s3prl_fusion.results.sv import equal_error_rate
from s3prl_fusion.results.twv import maximum_term_weighted_value
from s3prl_fusion.statistics.bootstrap import bootstrap_interval, metric_on_draws, paired_bootstrap, weighted_eer, weighted_mtwv
from s3prl_fusion.statistics.resampling import ResamplingPlan, UnpairedOutcomesError, aligned, draw_counts


def outcomes(correct, units=None, strata=None, combine="pooled", ids=None) -> Outcomes:
    correct = np.asarray(correct, dtype=float)
    ids = np.array([f"u{index}" for index in range(len(correct))]) if ids is None else np.asarray(ids)
    return Outcomes(
        ids=ids, units=ids if units is None else np.asarray(units), strata=None if strata is None else np.asarray(strata),
        columns={"correct": correct, "count": np.ones(len(correct))},
        metrics={"value": {"statistic": "ratio", "numerator": "correct", "denominator": "count", "scale": 100.0, "combine": combine}},
    )


@pytest.mark.parametrize("ties", [False, True])
def test_weighted_eer_with_each_row_once_is_s3prls_eer(ties):
    rng = np.random.default_rng(3)
    labels = (rng.random(500) < 0.3).astype(float)
    scores = rng.normal(1.2 * labels, 1)
    scores = np.round(scores, 1) if ties else scores
    assert weighted_eer(labels, scores, np.ones((1, 500)), np.arange(500))[0] == pytest.approx(equal_error_rate(labels.astype(int), scores), abs=1e-9)


def test_weighted_eer_counts_a_row_drawn_twice_as_two_trials():
    rng = np.random.default_rng(4)
    labels, scores = (np.arange(300) % 3 == 0).astype(float), rng.normal(size=300)
    counts = rng.integers(0, 3, size=(1, 300)).astype(float)
    repeated = np.repeat(np.arange(300), counts[0].astype(int))
    assert weighted_eer(labels, scores, counts, np.arange(300))[0] == pytest.approx(
        equal_error_rate(labels[repeated].astype(int), scores[repeated]), abs=1e-9)


def test_resamples_draw_whole_units_within_their_strata():
    units = np.repeat([f"speaker{index}" for index in range(12)], 3)
    strata = np.repeat(["fold1", "fold2"], [6 * 3, 6 * 3])
    plan = ResamplingPlan.of(outcomes(np.zeros(36), units, strata))
    assert plan.clusters == 12 and len(plan.strata) == 2
    counts = np.concatenate(list(draw_counts(plan, 500, seed=0)))
    for stratum in range(2):
        assert (counts[:, plan.stratum_of_cluster == stratum].sum(axis=1) == 6).all()  # each stratum keeps its size
    assert counts.std() > 0.5  # and its clusters are drawn unevenly


def test_the_ratio_on_all_ones_draws_is_the_reported_number():
    rng = np.random.default_rng(5)
    rows = outcomes(rng.random(40) < 0.7, strata=np.repeat(["a", "b", "c", "d"], [5, 10, 10, 15]), combine="mean_over_strata")
    plan = ResamplingPlan.of(rows)
    assert metric_on_draws(rows, "value", plan, np.ones((1, plan.clusters)))[0] == pytest.approx(point_estimate(rows))


def test_the_interval_holds_the_estimate_and_is_fixed_by_the_seed():
    rows = outcomes(np.random.default_rng(6).random(300) < 0.7)
    interval = bootstrap_interval([rows], resamples=300, seed=1)
    assert interval.low < point_estimate(rows) == interval.estimate < interval.high
    assert bootstrap_interval([rows], resamples=300, seed=1) == interval
    assert bootstrap_interval([rows], resamples=300, seed=2) != interval


def test_seeds_are_pooled_as_the_mean_over_runs_of_the_same_resampled_units():
    rng = np.random.default_rng(7)
    first, second = outcomes(rng.random(200) < 0.6), outcomes(rng.random(200) < 0.8)
    pooled = bootstrap_interval([first, second], resamples=200)
    assert pooled.estimate == pytest.approx((point_estimate(first) + point_estimate(second)) / 2)
    alone = [bootstrap_interval([run], resamples=200) for run in (first, second)]
    assert pooled.low == pytest.approx((alone[0].low + alone[1].low) / 2, abs=3)


def test_runs_are_paired_by_id_whatever_their_row_order():
    rng = np.random.default_rng(8)
    correct = rng.random(100) < 0.5
    ids = np.array([f"u{index}" for index in range(100)])
    order = rng.permutation(100)
    shuffled = outcomes(correct[order], ids=ids[order])
    comparison = paired_bootstrap([shuffled], [outcomes(correct, ids=ids)], lower_is_better=False, resamples=100)
    assert (comparison.improvement.low, comparison.improvement.high) == (0.0, 0.0)
    assert np.array_equal(aligned([outcomes(correct, ids=ids), shuffled])[1].columns["correct"], correct.astype(float))


def test_runs_on_different_test_rows_are_not_paired():
    with pytest.raises(UnpairedOutcomesError, match="different test rows"):
        paired_bootstrap([outcomes(np.ones(10))], [outcomes(np.ones(11))], lower_is_better=False)
    with pytest.raises(UnpairedOutcomesError, match="different resampling units"):
        aligned([outcomes(np.ones(4)), outcomes(np.ones(4), units=["a", "a", "b", "b"])])


def test_improvement_is_positive_when_the_system_is_better_whatever_the_metric_direction():
    rng = np.random.default_rng(9)
    worse, better = rng.random(400) < 0.5, rng.random(400) < 0.9
    accuracy = paired_bootstrap([outcomes(better)], [outcomes(worse)], lower_is_better=False, resamples=200)
    assert accuracy.improvement.low > 0 and accuracy.relative.estimate == pytest.approx((accuracy.system - accuracy.reference) / accuracy.reference)
    error_rate = paired_bootstrap([outcomes(worse)], [outcomes(better)], lower_is_better=True, resamples=200)  # fewer "errors" is better
    assert error_rate.improvement.low > 0 and error_rate.excludes_zero
    assert error_rate.relative.estimate == pytest.approx((error_rate.reference - error_rate.system) / error_rate.reference)


def test_weighted_mtwv_with_each_query_once_is_the_scorers_mtwv_and_a_query_drawn_twice_counts_twice():
    generator = np.random.default_rng(3)
    queries = np.repeat(np.arange(6), 40)
    targets = (generator.random(queries.size) < 0.15).astype(float)
    targets[::40] = 1.0  # every query has a target
    scores = targets + generator.normal(0, 0.7, queries.size)
    once = weighted_mtwv(scores, targets, np.ones((1, 6)), queries)
    assert once[0] == pytest.approx(maximum_term_weighted_value(scores, targets, queries).mtwv, abs=1e-12)
    counts = np.array([[2, 0, 1, 1, 1, 1]], dtype=float)  # query 0 twice, query 1 left out
    duplicated = np.concatenate([np.flatnonzero(queries == 0), np.flatnonzero(queries == 0), np.flatnonzero(queries >= 2)])
    renamed = np.concatenate([np.zeros(40), np.full(40, 99), queries[queries >= 2]])
    expected = maximum_term_weighted_value(scores[duplicated], targets[duplicated], renamed).mtwv
    assert weighted_mtwv(scores, targets, counts, queries)[0] == pytest.approx(expected, abs=1e-12)


def test_a_qbe_cell_gets_an_interval_around_its_mtwv():
    generator = np.random.default_rng(4)
    queries = np.repeat([f"q{index}" for index in range(30)], 20)
    targets = (generator.random(queries.size) < 0.2).astype(float)
    targets[::20] = 1.0
    outcomes = Outcomes.from_entry({
        "ids": [f"{query}:{row}" for row, query in enumerate(queries)], "units": list(queries), "strata": None,
        "columns": {"score": list(targets + generator.normal(0, 0.8, queries.size)), "target": list(targets)},
        "metrics": {"value": {"statistic": "mtwv", "score": "score", "label": "target"}},
    })
    interval = bootstrap_interval([outcomes], resamples=200)
    assert interval.low < point_estimate(outcomes) < interval.high and interval.high - interval.low < 0.6
