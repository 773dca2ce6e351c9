"""Numbers of s3prl's task code that the plugin's cost plan (``s3prl-fusion cache plan``) uses."""
from __future__ import annotations


def asr_half_batch_samples() -> int:
    """s3prl's asr ``SequenceDataset`` halves a bucket whose longest utterance has more samples than this."""
    from s3prl.downstream.asr.dataset import HALF_BATCHSIZE_TIME

    return HALF_BATCHSIZE_TIME
