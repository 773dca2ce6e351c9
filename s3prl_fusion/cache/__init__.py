"""Feature cache: run a fused upstream's frozen members once over a data split, then train from disk.
(What the bench measures of it lives in ``s3prl_fusion.benchmark``.)

    keys.py       waveform -> cache key (a hash of its float32 samples)
    checksums.py  weight fingerprints, file checksums and file stamps (size, mtime)
    sources.py    the audio files a build reads (lists, folders, s3prl length tables)
    manifest.py   manifest.json: settings, shards and the utterance index; rank parts appended per shard
    storage.py    what a shard stores: per-member or merged stacks, in fp16 / fp32 / int8 / int8-calibrated
    shards.py     sharded .npy files: atomic writes (s3prl_fusion.experiments.atomic_files), verified memory-mapped reads
    batches.py    length-bucketed batches of a build
    encoding.py   one pass of the members over a batch, as a build stores it
    calibration.py int8-calibrated's scales: the members over a sample of the build's files
    ranks.py      the ranks of a torchrun build: the split of the files, rank 0 first
    builder.py    ``build_cache``: members -> shards + manifest
    buffers.py    the float32 memory reads decode into, reused between batches
    upstream.py   ``CachedFusedUpstream``: the fused upstream's output, read from a cache
    plan.py       ``s3prl-fusion cache plan``: hours, cache sizes and member passes before a run
    tasks.py      which tasks a cache serves (not sv_voxceleb1 nor quesst14_dtw, and why)
    task_files.py the files ER and ML-SUPERB read, for `cache build --wav-list`
"""
from s3prl_fusion.cache.keys import waveform_key
from s3prl_fusion.cache.upstream import CacheMissError, CachedFusedUpstream

__all__ = ["CacheMissError", "CachedFusedUpstream", "waveform_key"]
