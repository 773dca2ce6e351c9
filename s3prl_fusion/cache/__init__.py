"""Feature cache: run a fused upstream's frozen members once over a data split, then train from disk.

    keys.py       waveform -> cache key (a hash of its float32 samples)
    checksums.py  weight fingerprints and file checksums
    sources.py    the audio files a build reads (lists, folders, s3prl length tables)
    manifest.py   manifest.json: settings, shards and the utterance index
    shards.py     sharded .npy files: atomic writes (s3prl_fusion.atomic), verified memory-mapped reads
    builder.py    ``build_cache``: members -> shards + manifest
    upstream.py   ``CachedFusedUpstream``: the fused upstream's output, read from a cache
    plan.py       ``s3prl-fusion cache plan``: hours, cache sizes and member passes before a run
    command.py    ``s3prl-fusion cache build|verify|plan``
"""
from s3prl_fusion.cache.keys import waveform_key
from s3prl_fusion.cache.upstream import CacheMissError, CachedFusedUpstream

__all__ = ["CacheMissError", "CachedFusedUpstream", "waveform_key"]
