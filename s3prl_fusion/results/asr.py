"""ASR (LibriSpeech): word error rate from the evaluated split's hypothesis / reference files."""
from __future__ import annotations

from pathlib import Path

from s3prl_fusion.results.error_rates import asr_error_rates

METRIC = "wer"
LOWER_IS_BETTER = True


def read_result(expdir: Path, split: str) -> dict:
    rates = asr_error_rates(expdir, split)
    return {"metric": METRIC, "value": rates["wer"], "cer": rates["cer"]}
