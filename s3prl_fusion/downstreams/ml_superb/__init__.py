"""ML-SUPERB (Mono-1h / Multi-1h) ASR downstream in s3prl's expert contract.

The runner finds the expert as ``s3prl_fusion.downstreams.ml_superb.expert.DownstreamExpert``.
"""
