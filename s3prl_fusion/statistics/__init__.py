"""How sure a reported number is: bootstrap intervals over test units, and paired comparisons.

- ``resampling``: which rows move together (a resampling unit: an utterance, or the speaker /
  recording several rows share) and within which strata (folds, languages) they are drawn, and
  the (B, clusters) draw counts of B bootstrap resamples;
- ``bootstrap``: each metric of ``s3prl_fusion.results.outcomes`` recomputed on every resample at
  once (vectorised), the percentile interval of one cell (its seeds pooled) and the paired
  bootstrap of the difference between two systems on the same test units.

Written here in numpy rather than taken from ``scipy.stats.bootstrap``: that function resamples
rows of one sample, while these statistics need clusters drawn within strata, the same draws for
two systems (and for every seed of one), ratios of sums and an interpolated EER evaluated on all
B resamples by one matrix product or one cumulative sum.
"""
