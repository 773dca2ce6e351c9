"""Which ``-d`` tasks train from a feature cache (``-u fused_cache``), and why SV cannot; and why
no run fine-tunes (``-f``) from one.

A cache holds the features of the exact waveform each file decodes to (``keys``), so a task can
train and be evaluated from it when its datasets hand the upstream every file whole and unchanged:
    asr        s3prl's: each LibriSpeech file of the length tables, read whole
    emotion    s3prl's: each IEMOCAP utterance of the meta data, read whole; its ``Resample`` is
               the identity on IEMOCAP's 16 kHz audio, so all five folds read from one cache
    ml_superb  the plugin's: each ``wav/<utt_id>.wav`` of the transcripts, read whole; SpecAugment
               masks the interface's output, after the cache
Refused before anything is built: ``sv_voxceleb1`` and ``quesst14_dtw`` (``UNCACHEABLE_TASKS`` says why). Any other
task is not refused: a waveform the cache lacks stops its run at the first batch that holds one
(``CacheMissError``).
A cache holds the frozen members' features: nothing upstream of it has weights, so ``-f``
(s3prl's ``--upstream_trainable``: fine-tune the upstream) is refused too, before anything is built.
"""
from __future__ import annotations

import json
from pathlib import Path

from s3prl_fusion.cache.manifest import MANIFEST_NAME
from s3prl_fusion.errors import UserError

CACHED_UPSTREAM = "fused_cache"
UNCACHEABLE_TASKS = {
    "sv_voxceleb1": (
        "its training set crops a random segment of each utterance anew on every pass (datarc.max_timestep), "
        "and every split passes through sox effects (gain, silence trimming) before the upstream, so the upstream "
        "never gets a file's own waveform and no feature cache can hold what it gets"
    ),
    "quesst14_dtw": (
        "every query and document passes through sox effects (resampled to 16 kHz, gain -3 dB) before the upstream, so "
        "the upstream never gets a file's own waveform; SUPERB's QbE protocol also scores each member's own layers, "
        "which a cache of frame-aligned stacks does not hold. Its layer sweep (`s3prl-fusion qbe`, recipes/qbe.sh) runs "
        "the members once per split and scores every layer from that one pass"
    ),
}


class UncacheableTaskError(UserError, ValueError):
    """A task whose waveforms a feature cache cannot hold, run with ``-u fused_cache``."""


class CachedFineTuningError(UserError, ValueError):
    """``-f`` (fine-tune the upstream) with ``-u fused_cache``, whose features come from frozen members."""


def _built_with(cache_dir: str | None) -> str:
    """The ``-u`` (and ``-k``) the cache at ``cache_dir`` was built with, as flags, where its
    manifest says; else a description of them."""
    manifest = Path(cache_dir or "") / MANIFEST_NAME
    try:
        settings = json.loads(manifest.read_text())["settings"]
        flags = f"-u {settings['upstream']}" + (f" -k {settings['upstream_ckpt']}" if settings.get("upstream_ckpt") else "")
    except (OSError, ValueError, KeyError, TypeError):
        return "the fused upstream the cache was built from (-u fused -g members.yaml, or a fused_* preset)"
    return f"{flags} (the upstream the cache was built from), with the -g it was built with"


def check_cached_task(upstream: str, task: str, cache_dir: str | None = None) -> None:
    """Refuse ``-u fused_cache -d task`` (``cache_dir``: its ``-k``) for a task in ``UNCACHEABLE_TASKS``."""
    if upstream != CACHED_UPSTREAM or task not in UNCACHEABLE_TASKS:
        return
    raise UncacheableTaskError(
        f"-d {task} cannot train or be evaluated from a feature cache (-u {CACHED_UPSTREAM}): {UNCACHEABLE_TASKS[task]}. "
        f"Run its members on the fly instead: {_built_with(cache_dir)}. recipes/sv.sh runs SV on the fly, also with CACHE=1"
    )


def check_cached_fine_tuning(upstream: str, trainable: bool, cache_dir: str | None = None) -> None:
    """Refuse ``-u fused_cache -f`` (``trainable``: s3prl's ``--upstream_trainable``; ``cache_dir``: its ``-k``):
    the cache's features were computed once by frozen members, so there is nothing upstream to fine-tune."""
    if upstream != CACHED_UPSTREAM or not trainable:
        return
    raise CachedFineTuningError(
        f"-f (--upstream_trainable) fine-tunes the upstream, but a feature cache (-u {CACHED_UPSTREAM}) holds features its "
        "frozen members computed once: only the interface and the task head would train. To fine-tune, run the members on "
        f"the fly: {_built_with(cache_dir)} (in a recipe: drop CACHE=1); to train from the cache, drop -f"
    )
