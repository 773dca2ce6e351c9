"""The hypothesis / reference pair s3prl's ``ctc`` expert writes for an evaluated split:
``<split>-hyp.ark`` and ``<split>-ref.ark``, lines ``<utterance> <text>`` in the same order (the
reference is the label sequence the expert trained on, decoded back to text)."""
from __future__ import annotations

from pathlib import Path

from s3prl_fusion.errors import MissingPathError
from s3prl_fusion.results import ScoringError
from s3prl_fusion.results.error_rates import read_ark


def read_hypotheses_and_references(expdir: Path, split: str) -> tuple[list[str], list[str], list[str]]:
    """(utterance ids, hypotheses, references) of the split, in the reference file's order."""
    hypothesis_file, reference_file = Path(expdir) / f"{split}-hyp.ark", Path(expdir) / f"{split}-ref.ark"
    for path in (hypothesis_file, reference_file):
        if not path.is_file():
            raise MissingPathError(f"{path} is missing: evaluate the experiment first (run_downstream.py -m evaluate -e <checkpoint> -t {split})")
    hypotheses, references = read_ark(hypothesis_file), read_ark(reference_file)
    if hypotheses.keys() != references.keys() or not references:
        raise ScoringError(f"{hypothesis_file} and {reference_file} do not list the same utterances: evaluate the split again")
    ids = list(references)
    return ids, [hypotheses[name] for name in ids], [references[name] for name in ids]
