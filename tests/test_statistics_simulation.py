"""The statistics checked against a known truth: 1,000 synthetic test sets drawn from a model whose
true error rate (or accuracy, or EER) is known.

- Coverage: the 95 % bootstrap interval of each set holds the true value in 93-97 % of the sets (a
  method that covers 95 % lands there with probability > 0.99: the count of covering sets is
  binomial(1000, 0.95), standard error 0.69 points, so 93-97 is +-2.9 standard errors). Checked
  for a WER-like metric (utterances of varying word counts and difficulty: a pooled ratio), an
  accuracy-like one (five folds of 20 speakers, speakers as resampling units, the mean over folds:
  ER's protocol) and an EER.
- The paired test: two systems on the same utterances, sharing each utterance's difficulty. With
  equal true error rates it flags at most 5 % of the sets; with a planted difference it flags the
  share that a power calculation predicts (a normal approximation with the delta-method standard
  error, the variance taken from a population of 10^6 utterances of the same model).

Sizes keep the file under a minute on one core: a few hundred utterances per set (what decides the
interval's behaviour is the number of units, not their count in a real test set), B = 999 resamples
for the ratios and B = 399 for the EER, whose cost grows with trials x resamples; for the percentile
interval, B with (B + 1) x 0.025 a whole number makes the Monte Carlo error of finite B change the
coverage by O(1/B) (Hall 1986, "On the number of bootstrap simulations required to construct a
confidence interval", Ann. Statist. 14), far below the binomial error of 1,000 sets.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from s3prl_fusion.results.outcomes import Outcomes
from s3prl_fusion.statistics.bootstrap import bootstrap_interval, paired_bootstrap

SETS = 1000
RATIO_RESAMPLES = 999
EER_RESAMPLES = 399
COVERAGE_RANGE = (0.93, 0.97)
Z = norm.ppf(0.975)

UTTERANCES = 300
MEAN_WORDS = 15
DIFFICULTY = (1.0, 9.0)  # Beta(a, b) per-utterance error probability: mean 0.1, so the true WER is 10 %
TRUE_WER = 100 * DIFFICULTY[0] / sum(DIFFICULTY)


def ratio_outcomes(ids: np.ndarray, numerator: np.ndarray, denominator: np.ndarray, names=("errors", "words"),
                   units: np.ndarray | None = None, strata: np.ndarray | None = None, combine: str = "pooled") -> Outcomes:
    outcomes = Outcomes(
        ids=ids, units=ids if units is None else units, strata=strata,
        columns={names[0]: numerator.astype(float), names[1]: denominator.astype(float)},
        metrics={"value": {"statistic": "ratio", "numerator": names[0], "denominator": names[1], "scale": 100.0, "combine": combine}},
    )
    outcomes.check()
    return outcomes


def utterances(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(word counts, per-utterance error probabilities), independent of each other."""
    return 1 + rng.poisson(MEAN_WORDS - 1, count), rng.beta(*DIFFICULTY, count)


def coverage(intervals, truth: float) -> float:
    return float(np.mean([interval.low <= truth <= interval.high for interval in intervals]))


def test_wer_like_intervals_cover_the_true_error_rate():
    rng = np.random.default_rng(11)
    ids = np.array([f"utt{index}" for index in range(UTTERANCES)])
    intervals = []
    for index in range(SETS):
        words, difficulty = utterances(rng, UTTERANCES)
        intervals.append(bootstrap_interval([ratio_outcomes(ids, rng.binomial(words, difficulty), words)], resamples=RATIO_RESAMPLES, seed=index))
    assert COVERAGE_RANGE[0] <= coverage(intervals, TRUE_WER) <= COVERAGE_RANGE[1]


def test_accuracy_like_intervals_over_speakers_within_folds_cover_the_true_mean_accuracy():
    """Five folds of 20 speakers x 5 utterances; a speaker's accuracy is Beta around its fold's
    (so utterances of a speaker are correlated, and speakers are the resampling units)."""
    rng = np.random.default_rng(12)
    fold_accuracy, speakers, per_speaker, concentration = np.array([0.6, 0.65, 0.7, 0.75, 0.8]), 20, 5, 20.0
    rows = len(fold_accuracy) * speakers * per_speaker
    ids = np.array([f"utt{index}" for index in range(rows)])
    strata = np.repeat([f"fold{fold}" for fold in range(len(fold_accuracy))], speakers * per_speaker)
    units = np.repeat([f"speaker{speaker}" for speaker in range(len(fold_accuracy) * speakers)], per_speaker)
    means = np.repeat(fold_accuracy, speakers)
    intervals = []
    for index in range(SETS):
        speaker_accuracy = rng.beta(means * concentration, (1 - means) * concentration)
        correct = rng.random(rows) < np.repeat(speaker_accuracy, per_speaker)
        outcomes = ratio_outcomes(ids, correct, np.ones(rows), ("correct", "count"), units, strata, "mean_over_strata")
        intervals.append(bootstrap_interval([outcomes], resamples=RATIO_RESAMPLES, seed=index))
    assert COVERAGE_RANGE[0] <= coverage(intervals, 100 * fold_accuracy.mean()) <= COVERAGE_RANGE[1]


def test_eer_intervals_cover_the_true_eer():
    """Target scores N(2, 1), non-target N(0, 1): the true EER is Phi(-1) = 15.87 %. With 1,000 trials
    the interval is a little conservative (coverage 95.3-97.1 % over five seeds of the data, 95.5 %
    for each of two seeds at 2,000 trials, which would triple this test's time)."""
    rng = np.random.default_rng(0)
    targets, others, separation = 300, 700, 2.0
    ids = np.array([f"trial{index}" for index in range(targets + others)])
    labels = np.r_[np.ones(targets), np.zeros(others)]
    intervals = []
    for index in range(SETS):
        scores = np.r_[rng.normal(separation, 1, targets), rng.normal(0, 1, others)]
        outcomes = Outcomes(ids=ids, units=ids, strata=None, columns={"score": scores, "label": labels},
                            metrics={"value": {"statistic": "eer", "score": "score", "label": "label", "scale": 100.0, "combine": "pooled"}})
        intervals.append(bootstrap_interval([outcomes], resamples=EER_RESAMPLES, seed=index))
    assert COVERAGE_RANGE[0] <= coverage(intervals, 100 * norm.cdf(-separation / 2)) <= COVERAGE_RANGE[1]


def paired_systems(rng: np.random.Generator, count: int, reduction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(words, reference errors, system errors) on the same utterances: both draw their errors from
    each utterance's difficulty; the system's per-word error probability is ``1 - reduction`` times
    the reference's, so its true WER is lower by ``reduction`` x TRUE_WER."""
    words, difficulty = utterances(rng, count)
    return words, rng.binomial(words, difficulty), rng.binomial(words, difficulty * (1 - reduction))


def predicted_power(reduction: float) -> float:
    """The chance a two-sided 5 % test flags the difference, by the normal approximation: the WER
    difference D = sum(e_ref - e_sys) / sum(words) has the delta-method variance
    Var(e_ref - e_sys - d words) / (n E[words]^2), estimated on a population of 10^6 utterances."""
    words, reference, system = paired_systems(np.random.default_rng(99), 1_000_000, reduction)
    difference = (reference - system).sum() / words.sum()
    deviation = np.sqrt(np.var(reference - system - difference * words) / UTTERANCES) / words.mean()
    shift = difference / deviation
    return float(norm.cdf(shift - Z) + norm.cdf(-shift - Z))


def flag_rate(reduction: float, seed: int) -> float:
    rng = np.random.default_rng(seed)
    ids = np.array([f"utt{index}" for index in range(UTTERANCES)])
    flagged = 0
    for index in range(SETS):
        words, reference, system = paired_systems(rng, UTTERANCES, reduction)
        comparison = paired_bootstrap([ratio_outcomes(ids, system, words)], [ratio_outcomes(ids, reference, words)],
                                      lower_is_better=True, resamples=RATIO_RESAMPLES, seed=index)
        flagged += comparison.excludes_zero
    return flagged / SETS


def test_paired_test_flags_equal_systems_at_most_five_percent_of_the_time():
    """Equal true WERs, independent errors given each utterance's difficulty. The test's size is 5 %;
    measured on 1,000 sets it carries a binomial standard error of 0.69 points, so the bound allows
    two of them (a test of size 5 % passes with probability 0.98; one of size 7 % fails with 0.9)."""
    assert flag_rate(0.0, seed=21) <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / SETS)


def test_identical_systems_are_never_flagged():
    rng = np.random.default_rng(23)
    words, errors, _ = paired_systems(rng, UTTERANCES, 0.0)
    ids = np.array([f"utt{index}" for index in range(UTTERANCES)])
    same = ratio_outcomes(ids, errors, words)
    comparison = paired_bootstrap([same], [same], lower_is_better=True)
    assert (comparison.improvement.low, comparison.improvement.high, comparison.excludes_zero) == (0.0, 0.0, False)


def test_paired_test_flags_a_planted_difference_as_often_as_the_power_calculation_predicts():
    """A 13 % relative WER reduction on 300 utterances: predicted power about 0.6, where the
    observed rate is most sensitive to a test that is too wide or too narrow. Tolerance 0.05: three
    binomial standard errors of 1,000 sets (sqrt(0.6 x 0.4 / 1000) = 0.0155) plus the normal
    approximation's own error at n = 300 (the interval's width is estimated from each set, not
    known: over four seeds the observed rate was 0.58-0.605 against a predicted 0.616)."""
    predicted = predicted_power(0.13)
    assert 0.45 < predicted < 0.75
    assert flag_rate(0.13, seed=22) == pytest.approx(predicted, abs=0.05)
