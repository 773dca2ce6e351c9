"""Term weighted value (TWV) of query-by-example detections, as QUESST 2014 scores them.

Written here from the task's definition (no maintained Python scorer of it exists; the reference
is the database's ``scoring/score-TWV-Cnxe.sh``, a Java tool this package cannot ship or call):

- Sources: X. Anguera, L. J. Rodriguez-Fuentes, I. Szoke, A. Buzo, F. Metze, "Query by Example
  Search on Speech at Mediaeval 2014", MediaEval 2014 Workshop, CEUR-WS Vol-1263, paper 35
  (ATWV / MTWV as NIST's Spoken Term Detection 2006 evaluation plan defines TWV, applied to
  query/document trials: the task asks whether a query occurs in a document, not where); the
  operating point is that of the QUESST scoring package (SWS 2013 / QUESST 2014 / 2015):
  ``P_TARGET = 0.0008``, ``COST_MISS = 100``, ``COST_FA = 1``. The 2015 package's README passes its
  Java scorer the effective prior these give, P*Cmiss / (P*Cmiss + (1 - P)*Cfa) = 0.0741289.
- A *trial* is one (query, document) pair: every query of the ground truth's ``tlist.xml`` times
  every document of its ``ecf.xml``. It is a target when the ground truth's ``rttm`` lists the
  query in the document. A trial the detection list leaves out takes the default score (SUPERB
  scores with ``score-TWV-Cnxe.sh <dir> groundtruth_quesst14_<set> -10``: -10).
- Queries without any target are left out (their miss rate is undefined; the scorer reports
  them as "unseen models" and removes them).
- At a threshold t a trial is detected when its score >= t. For each query q:
  ``P_miss(q, t) = 1 - hits(q, t) / targets(q)``, ``P_fa(q, t) = false_alarms(q, t) / non_targets(q)``
  (0 for a query with no non-target trial), and
  ``TWV(t) = 1 - mean_q [P_miss(q, t) + BETA * P_fa(q, t)]`` with
  ``BETA = COST_FA / COST_MISS * (1 - P_TARGET) / P_TARGET = 12.49``.
- MTWV (maximum TWV) is the highest TWV over every threshold, one threshold shared by all
  queries: each distinct score, and above all scores (nothing detected: TWV 0), so MTWV >= 0.
  A perfect detector (every target scored above every non-target of every query) has MTWV 1.

Shapes: ``scores``, ``targets`` and ``queries`` are (trials,) arrays; a query is the set of
trials sharing a ``queries`` entry.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

P_TARGET = 0.0008
COST_MISS = 100.0
COST_FA = 1.0
BETA = COST_FA / COST_MISS * (1.0 - P_TARGET) / P_TARGET
DEFAULT_SCORE = -10.0  # the score of a trial the detection list leaves out (SUPERB's scoring command)


class MaximumTWV(NamedTuple):
    mtwv: float
    threshold: float  # the score at which MTWV is reached (inf: nothing detected)
    queries: int  # queries scored (those with at least one target)


def maximum_term_weighted_value(scores: np.ndarray, targets: np.ndarray, queries: np.ndarray, beta: float = BETA) -> MaximumTWV:
    """MTWV of (trials,) ``scores`` with 0/1 ``targets``, trials grouped by ``queries`` (module docstring)."""
    scores = np.asarray(scores, dtype=np.float64)
    targets = np.asarray(targets).astype(bool)
    _, query_index = np.unique(np.asarray(queries), return_inverse=True)
    target_count = np.bincount(query_index, weights=targets)
    non_target_count = np.bincount(query_index, weights=~targets)
    scored = target_count[query_index] > 0
    if not scored.any():
        raise ValueError("no query has a target trial: MTWV is undefined")
    scored_queries = int((target_count > 0).sum())
    # detecting a trial adds its weight to TWV(t): 1 / (Q * targets(q)) for a hit, -BETA / (Q * non_targets(q)) for a false alarm
    hit_weight = 1.0 / (scored_queries * np.maximum(target_count[query_index], 1))
    false_alarm_weight = -beta / (scored_queries * np.maximum(non_target_count[query_index], 1))
    weights = np.where(targets, hit_weight, false_alarm_weight)[scored]
    order = np.argsort(-scores[scored], kind="stable")
    sorted_scores, twv = scores[scored][order], np.cumsum(weights[order])
    last_of_ties = np.append(sorted_scores[1:] != sorted_scores[:-1], True)  # TWV at t = each distinct score
    candidates, thresholds = twv[last_of_ties], sorted_scores[last_of_ties]
    best = int(np.argmax(candidates))
    if candidates[best] <= 0.0:
        return MaximumTWV(0.0, float("inf"), scored_queries)
    return MaximumTWV(float(candidates[best]), float(thresholds[best]), scored_queries)
