"""Bootstrap intervals of a cell's number and paired bootstrap differences between two systems.

The method (Efron & Tibshirani 1993, *An Introduction to the Bootstrap*, ch. 6 and 13; for
recognition error rates over test utterances Bisani & Ney 2004, "Bootstrap estimates for
confidence intervals in ASR performance evaluation", ICASSP): the test set is resampled B times
(``resampling``: units drawn with replacement within strata), the metric recomputed on each
resample exactly as the result's reader computes it (``s3prl_fusion.results.outcomes``), and the
interval is the percentile interval, the 2.5th and 97.5th percentiles of the B values. Percentile
rather than BCa: the metrics are ratios of sums over hundreds of units or an EER over thousands of
trials, near symmetric, so BCa's corrections are small, while its acceleration needs a jackknife
(one more statistic per unit, thousands of EERs); tests/test_statistics_simulation.py measures the
percentile intervals' coverage (WER-like, accuracy-like and EER metrics: 93-97 % for 95 %).

Seeds: the runs of one cell that differ only by the training seed are evaluations of one test set;
each resample draws the units once and recomputes every seed's metric on them, and the statistic is
their mean (the number the report shows). The interval is thus the test-set uncertainty of the
mean over seeds; the seeds' spread (their standard deviation) is reported beside it.

Paired comparison (Bisani & Ney 2004, section 3): two systems on the same test units, one draw of
units per resample for both, so what they share (hard utterances) cancels in the difference. The
improvement is oriented so that positive = the system is better than its reference (reference -
system for an error rate, system - reference for an accuracy); the relative improvement divides it
by the reference's value on the same resample (the paper's relative gain of a fused set over its
best single model: (best single - fused) / best single for an error rate). A difference is called
real when its 95 % interval excludes zero.

Shapes: rows are the outcomes' rows; B resamples come in chunks of (chunk, clusters) draw counts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from s3prl_fusion.results import twv
from s3prl_fusion.results.outcomes import Outcomes, point_estimate
from s3prl_fusion.statistics.resampling import ResamplingPlan, UnpairedOutcomesError, aligned, draws

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
LEVEL = 0.95
TINY = np.finfo(float).tiny


@dataclass(frozen=True)
class Interval:
    """A number and its bootstrap percentile interval ``[low, high]`` over ``resamples`` resamples."""

    estimate: float
    low: float
    high: float
    resamples: int

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class PairedDifference:
    """A system against a reference on the same test units: ``improvement`` in the metric's points
    (positive = the system is better) and ``relative`` (improvement / the reference's value)."""

    improvement: Interval
    relative: Interval
    system: float
    reference: float

    @property
    def excludes_zero(self) -> bool:
        return self.improvement.excludes_zero


def _ratio_on_draws(spec: dict, outcomes: Outcomes, plan: ResamplingPlan, counts: np.ndarray) -> np.ndarray:
    """A ratio metric on each resample: (chunk, clusters) counts -> (chunk,)."""
    strata = len(plan.strata)
    placed = np.zeros((plan.clusters, 2 * strata), dtype=counts.dtype)  # a cluster's numerator, then denominator sum, in its stratum's column
    for offset, column in enumerate((spec["numerator"], spec["denominator"])):
        placed[np.arange(plan.clusters), offset * strata + plan.stratum_of_cluster] = np.bincount(
            plan.cluster_of_row, weights=outcomes.columns[column], minlength=plan.clusters)
    sums = (counts @ placed).astype(np.float64)  # (chunk, 2 x strata): one pass over the draws
    numerator, denominator = sums[:, :strata], sums[:, strata:]
    if spec.get("combine", "pooled") == "pooled":
        return numerator.sum(axis=1) / np.maximum(denominator.sum(axis=1), TINY)
    return (numerator / np.maximum(denominator, TINY)).mean(axis=1)


def _ranked_counts(counts_by_cluster: np.ndarray, clusters: np.ndarray, above: np.ndarray) -> np.ndarray:
    """How often the rows ranked at or above each threshold are drawn: (clusters, chunk) counts,
    ``clusters`` (rows,) of the rows in rank order, ``above`` (thresholds,) how many rows rank at
    or above each -> (thresholds, chunk)."""
    running = np.zeros((len(clusters) + 1, counts_by_cluster.shape[1]))
    np.cumsum(counts_by_cluster[clusters], axis=0, out=running[1:])
    return running[above]


def weighted_eer(labels: np.ndarray, scores: np.ndarray, counts: np.ndarray, cluster_of_row: np.ndarray) -> np.ndarray:
    """The EER (fraction) of (rows,) 0/1 ``labels`` and ``scores``, each row counted as often as
    its cluster (``cluster_of_row``, (rows,)) is drawn in each resample (``counts``, (chunk,
    clusters)): s3prl's EER (``sv.equal_error_rate``: where the ROC, linearly interpolated between
    its thresholds, crosses FPR = 1 - TPR); (chunk,), NaN where a resample holds no target or no
    non-target trial."""
    order = np.argsort(-scores, kind="stable")
    ordered = scores[order]
    ends = np.flatnonzero(np.append(ordered[1:] != ordered[:-1], True))  # last row of each tied score
    target = labels[order] > 0
    by_cluster = np.ascontiguousarray(counts.T)
    # (thresholds + 1, chunk): the ROC's start, then each threshold, highest score first
    true_positives = _ranked_counts(by_cluster, cluster_of_row[order[target]], np.append(0, np.cumsum(target)[ends]))
    false_positives = _ranked_counts(by_cluster, cluster_of_row[order[~target]], np.append(0, np.cumsum(~target)[ends]))
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = true_positives / true_positives[-1]
        fpr = false_positives / false_positives[-1]
    gap = 1.0 - fpr - tpr  # 1 at the ROC's start, -1 at its end, never rising
    crossing = np.argmax(gap <= 0, axis=0)
    columns = np.arange(len(counts))
    before, after = gap[crossing - 1, columns], gap[crossing, columns]
    share = before / (before - after)
    return fpr[crossing - 1, columns] + share * (fpr[crossing, columns] - fpr[crossing - 1, columns])


def _eer_on_draws(spec: dict, outcomes: Outcomes, plan: ResamplingPlan, counts: np.ndarray) -> np.ndarray:
    labels, scores = outcomes.columns[spec["label"]], outcomes.columns[spec["score"]]
    if spec.get("combine", "pooled") == "pooled":
        return weighted_eer(labels, scores, counts, plan.cluster_of_row)
    strata_of_rows = plan.stratum_of_cluster[plan.cluster_of_row]
    return np.mean([weighted_eer(labels[rows], scores[rows], counts, plan.cluster_of_row[rows])
                    for rows in (strata_of_rows == stratum for stratum in range(len(plan.strata)))], axis=0)


def weighted_mtwv(scores: np.ndarray, targets: np.ndarray, counts: np.ndarray, cluster_of_row: np.ndarray,
                  beta: float = twv.BETA, cells_per_block: int = 20_000_000) -> np.ndarray:
    """MTWV (``s3prl_fusion.results.twv``) of query/document trials on each resample, each query (a
    cluster, ``cluster_of_row`` (rows,)) counted as often as it is drawn (``counts`` (chunk,
    clusters)): a query drawn k times weighs k in the mean over queries. The trials' order by score
    is the same in every resample, so one sort serves all; (chunk,), NaN where no query with a
    target is drawn."""
    targets = targets > 0
    clusters = counts.shape[1]
    target_count = np.bincount(cluster_of_row, weights=targets, minlength=clusters)
    non_target_count = np.bincount(cluster_of_row, weights=~targets, minlength=clusters)
    scored = target_count[cluster_of_row] > 0
    # detecting a trial adds to its query's TWV term: 1 / targets(q) for a hit, -beta / non_targets(q) for a false alarm
    weights = np.where(targets, 1.0 / np.maximum(target_count[cluster_of_row], 1), -beta / np.maximum(non_target_count[cluster_of_row], 1))[scored]
    order = np.argsort(-scores[scored], kind="stable")
    sorted_scores, weights, query_of_trial = scores[scored][order], weights[order], cluster_of_row[scored][order]
    last_of_ties = np.append(sorted_scores[1:] != sorted_scores[:-1], True)
    queries_drawn = counts[:, target_count > 0].sum(axis=1).astype(np.float64)
    best = np.empty(len(counts))
    block = max(1, cells_per_block // max(len(weights), 1))
    for start in range(0, len(counts), block):
        twv_by_threshold = np.cumsum(weights * counts[start:start + block][:, query_of_trial], axis=1)[:, last_of_ties]
        best[start:start + block] = np.maximum(twv_by_threshold.max(axis=1), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(queries_drawn > 0, best / queries_drawn, np.nan)


def _mtwv_on_draws(spec: dict, outcomes: Outcomes, plan: ResamplingPlan, counts: np.ndarray) -> np.ndarray:
    if spec.get("combine", "pooled") != "pooled":
        raise UnpairedOutcomesError("an MTWV is one statistic over all queries: its outcomes must be pooled")
    return weighted_mtwv(outcomes.columns[spec["score"]], outcomes.columns[spec["label"]], counts, plan.cluster_of_row)


ON_DRAWS = {"ratio": _ratio_on_draws, "eer": _eer_on_draws, "mtwv": _mtwv_on_draws}


def metric_on_draws(outcomes: Outcomes, metric: str, plan: ResamplingPlan, counts: np.ndarray) -> np.ndarray:
    """``metric`` of ``outcomes`` recomputed on each resample: (chunk, clusters) counts -> (chunk,),
    in the result's unit (its ``scale``, e.g. percent)."""
    spec = outcomes.metrics[metric]
    on_draws = ON_DRAWS[spec["statistic"]]
    return float(spec.get("scale", 1.0)) * on_draws(spec, outcomes, plan, counts)


def checked_metric(runs: Sequence[Outcomes], metric: str) -> None:
    """An UnpairedOutcomesError unless every run has ``metric``, computed the same way."""
    specs = [run.metrics.get(metric) for run in runs]
    if specs[0] is None:
        raise UnpairedOutcomesError(f"the outcomes have no metric {metric!r} (they have {sorted(runs[0].metrics)})")
    if any(spec != specs[0] for spec in specs[1:]):
        raise UnpairedOutcomesError(f"metric {metric!r} is computed differently: {specs}")


@dataclass(frozen=True)
class Resampled:
    """One cell's metric on every resample: ``estimate`` (the mean over its runs of their reported
    number), ``values`` (resamples,) and the ``fingerprint`` of the clusters drawn (two cells with
    equal fingerprints, seeds and resample counts were resampled alike: their values pair)."""

    estimate: float
    values: np.ndarray
    fingerprint: str


def resampled(runs: Sequence[Outcomes], metric: str = "value", resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> Resampled:
    """``metric`` of a cell's ``runs`` (one per seed, one test set) on each resample, every run on
    the same drawn units, their mean; an UnpairedOutcomesError when the runs' rows or the metric's
    definitions differ."""
    runs = aligned(runs)
    checked_metric(runs, metric)
    plan = ResamplingPlan.of(runs[0])
    values = [np.mean([metric_on_draws(run, metric, plan, counts) for run in runs], axis=0) for counts in draws(plan, resamples, seed)]
    return Resampled(float(np.mean([point_estimate(run, metric) for run in runs])), np.concatenate(values), plan.fingerprint)


def _interval(estimate: float, values: np.ndarray, level: float) -> Interval:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return Interval(estimate, math.nan, math.nan, 0)
    low, high = np.quantile(finite, [(1 - level) / 2, (1 + level) / 2])
    return Interval(estimate, float(low), float(high), int(finite.size))


def percentile_interval(cell: Resampled, level: float = LEVEL) -> Interval:
    return _interval(cell.estimate, cell.values, level)


def bootstrap_interval(runs: Sequence[Outcomes], metric: str = "value", resamples: int = DEFAULT_RESAMPLES,
                       seed: int = DEFAULT_SEED, level: float = LEVEL) -> Interval:
    """The percentile interval of ``metric`` for one cell: ``runs`` are its evaluations (one per
    seed) of one test set; estimate = the mean over runs of their reported number."""
    return percentile_interval(resampled(runs, metric, resamples, seed), level)


def paired_difference(system: Resampled, reference: Resampled, lower_is_better: bool, level: float = LEVEL) -> PairedDifference:
    """The paired difference of two cells resampled alike (equal fingerprints; their rows checked
    to be the same by ``aligned``); see the module docstring for the orientation."""
    if system.fingerprint != reference.fingerprint or len(system.values) != len(reference.values):
        raise UnpairedOutcomesError("the two were not resampled alike (different units or strata, or resample counts)")
    sign = 1.0 if lower_is_better else -1.0
    improvement = sign * (reference.estimate - system.estimate)
    differences = sign * (reference.values - system.values)
    with np.errstate(invalid="ignore", divide="ignore"):
        relative_values = differences / reference.values
    return PairedDifference(
        improvement=_interval(improvement, differences, level),
        relative=_interval(improvement / reference.estimate if reference.estimate else math.nan, relative_values, level),
        system=system.estimate,
        reference=reference.estimate,
    )


def paired_bootstrap(system: Sequence[Outcomes], reference: Sequence[Outcomes], lower_is_better: bool, metric: str = "value",
                     resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, level: float = LEVEL) -> PairedDifference:
    """``system`` (its runs, one per seed) against ``reference`` on the same test units, with the
    same resampled units for both; an UnpairedOutcomesError when their test rows, units, strata or
    metric definitions differ."""
    checked_metric(aligned([*system, *reference]), metric)
    return paired_difference(resampled(system, metric, resamples, seed), resampled(reference, metric, resamples, seed), lower_is_better, level)
