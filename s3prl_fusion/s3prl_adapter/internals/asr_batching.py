"""Numbers of s3prl's task code that the plugin's cost plan (``s3prl-fusion cache plan``) uses."""
from __future__ import annotations


def asr_half_batch_samples() -> int:
    """s3prl's asr ``SequenceDataset`` halves a bucket whose longest utterance has more samples than this."""
    from s3prl.downstream.asr.dataset import HALF_BATCHSIZE_TIME

    return HALF_BATCHSIZE_TIME


def ctc_half_batch_samples() -> int:
    """s3prl's ``ctc`` loader halves a training bucket whose first utterance has more samples than this
    (``collect_audio_batch``'s ``half_batch_size_wav_len``)."""
    import inspect

    from s3prl.downstream.ctc.data import collect_audio_batch

    return inspect.signature(collect_audio_batch).parameters["half_batch_size_wav_len"].default
