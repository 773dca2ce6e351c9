"""Which rows of an evaluation move together when its test set is resampled, and the draws.

A row (an utterance, an SV trial, a query/document pair) belongs to a resampling unit
(``Outcomes.units``: the utterance itself, or the speaker or recording several rows share) and,
where the test set is made of fixed parts (``Outcomes.strata``: emotion folds, languages), to a
stratum. A cluster is one unit within one stratum; a bootstrap resample draws, in each stratum,
as many clusters as it has, uniformly with replacement (the stratified cluster bootstrap,
Efron & Tibshirani 1993, ch. 6 and 8; Bisani & Ney 2004 for resampling utterances of a WER), so
rows that share a speaker are never split and every stratum keeps its size.

Two systems (or the seeds of one) compared on one test set are first ``aligned``: the same ids
in the same order, so that one draw resamples the same units for all of them (a paired bootstrap).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Iterator, Sequence

import numpy as np

from s3prl_fusion.results.outcomes import Outcomes

DRAWS_PER_CHUNK = 4_000_000  # counts held at once: resamples x clusters (16 MB of float32)
KEPT_DRAWS = 16_000_000  # the draws of a test set up to this many counts (64 MB) are kept for its next cell
_kept: dict[tuple[str, int, int], tuple[np.ndarray, ...]] = {}  # the last test set's draws


class UnpairedOutcomesError(ValueError):
    """Evaluations that cannot be resampled together: different test rows, units or strata."""


@dataclass(frozen=True)
class ResamplingPlan:
    """Rows -> clusters: ``cluster_of_row`` (rows,) int, ``stratum_of_cluster`` (clusters,) int,
    ``strata`` (strata,) their names (one "" stratum when the rows have none), ``fingerprint``
    naming the clusters (equal for two evaluations whose rows fall into the same clusters,
    whatever the rows' order: the same seed then draws the same units for both)."""

    cluster_of_row: np.ndarray
    stratum_of_cluster: np.ndarray
    strata: np.ndarray
    fingerprint: str

    @classmethod
    def of(cls, outcomes: Outcomes) -> "ResamplingPlan":
        strata_of_rows = outcomes.strata if outcomes.strata is not None else np.full(len(outcomes), "")
        strata, stratum_of_row = np.unique(strata_of_rows, return_inverse=True)
        units, unit_of_row = np.unique(outcomes.units, return_inverse=True)
        clusters, cluster_of_row = np.unique(stratum_of_row * len(units) + unit_of_row, return_inverse=True)
        digest = hashlib.sha256("\0".join(strata).encode())
        digest.update(b"\1" + "\0".join(units).encode() + b"\1" + clusters.astype(np.int64).tobytes())
        return cls(cluster_of_row.ravel(), clusters // len(units), strata, digest.hexdigest())

    @property
    def clusters(self) -> int:
        return len(self.stratum_of_cluster)


def draws(plan: ResamplingPlan, resamples: int, seed: int) -> Sequence[np.ndarray]:
    """``draw_counts`` as a list; kept for the next call on an equal plan (the next cell of the same test
    set: a report that goes through the cells test set by test set draws each set's resamples once) when it holds at most ``KEPT_DRAWS`` counts."""
    if resamples * plan.clusters > KEPT_DRAWS:
        return list(draw_counts(plan, resamples, seed))
    key = (plan.fingerprint, resamples, seed)
    if key not in _kept:
        _kept.clear()
        _kept[key] = tuple(draw_counts(plan, resamples, seed))
    return _kept[key]


def draw_counts(plan: ResamplingPlan, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """The bootstrap draws, in chunks: each a (chunk, clusters) float32 array of how often each
    cluster is drawn in each resample; within a stratum of n clusters, each resample draws n.
    ``seed`` fixes them (numpy's PCG64): the same plan, resamples and seed give the same draws."""
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(plan.stratum_of_cluster == stratum) for stratum in range(len(plan.strata))]
    chunk = max(1, min(resamples, DRAWS_PER_CHUNK // max(plan.clusters, 1)))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        counts = np.zeros((size, plan.clusters), dtype=np.float32)  # small whole numbers, exact; half float64's memory traffic
        for indices in members:
            drawn = rng.integers(0, len(indices), size=(size, len(indices)))
            flat = (drawn + len(indices) * np.arange(size)[:, None]).ravel()
            counts[:, indices] = np.bincount(flat, minlength=size * len(indices)).reshape(size, len(indices))
        yield counts


def aligned(runs: Sequence[Outcomes]) -> list[Outcomes]:
    """``runs`` (evaluations of one test set: seeds of one system, or two systems) with the first
    one's rows in the same order; an UnpairedOutcomesError naming what differs when their ids,
    units or strata are not the same."""
    first = runs[0]
    if len(np.unique(first.ids)) != len(first):
        raise UnpairedOutcomesError(f"the outcomes name {len(first) - len(np.unique(first.ids))} rows twice")
    order_of_first = np.argsort(first.ids, kind="stable")
    result = [first]
    for run in runs[1:]:
        if len(run) != len(first) or not np.array_equal(np.sort(run.ids), first.ids[order_of_first]):
            extra = len(np.setdiff1d(run.ids, first.ids)) + len(np.setdiff1d(first.ids, run.ids))
            raise UnpairedOutcomesError(f"different test rows ({len(first)} and {len(run)} rows, {extra} in only one of them)")
        order = np.argsort(run.ids, kind="stable")[np.argsort(order_of_first, kind="stable")]
        moved = replace(
            run,
            ids=run.ids[order],
            units=run.units[order],
            strata=None if run.strata is None else run.strata[order],
            columns={name: values[order] for name, values in run.columns.items()},
        )
        if not np.array_equal(moved.units, first.units):
            raise UnpairedOutcomesError("the same test rows grouped into different resampling units")
        if (moved.strata is None) != (first.strata is None) or (first.strata is not None and not np.array_equal(moved.strata, first.strata)):
            raise UnpairedOutcomesError("the same test rows in different strata")
        result.append(moved)
    return result
