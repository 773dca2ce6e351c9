"""The ML-SUPERB 1h downstream (ESPnet conf/tuning/train_asr_s3prl_1h.yaml) as one module.

Order as in ESPnet's ``ESPnetASRModel.encode``: SpecAugment (training only) ->
utterance mean/variance normalisation -> pre-encoder Linear(upstream_dim -> 80) ->
Transformer encoder (conv2d2, 2 blocks, 256 dims, 8 heads, 1024 units) -> CTC projection.
The CTC loss is ESPnet's: summed over the batch and divided by the batch size, blank 0,
infinite losses zeroed. Decoding is greedy (ESPnet decode_asr.yaml: beam 1, CTC only).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from s3prl_fusion.downstreams.ml_superb.specaug import SpecAugment
from s3prl_fusion.downstreams.ml_superb.transformer import TransformerEncoder
from s3prl_fusion.downstreams.ml_superb.utterance_mvn import utterance_mvn


class MlSuperbCtcModel(nn.Module):
    """Per-utterance upstream features (T_i, upstream_dim) -> CTC log-probabilities.

    Args:
        upstream_dim: feature dimension D of the interface output.
        vocab_size: CTC output units including the blank (id 0).
        project_dim: pre-encoder output size (80 in ESPnet's config).
        utterance_mvn: keyword arguments of :func:`utterance_mvn` (``norm_means``, ``norm_vars``).
        specaug: keyword arguments of :class:`SpecAugment`; ``None`` disables it.
        encoder: keyword arguments of :class:`TransformerEncoder`.
    """

    def __init__(
        self,
        upstream_dim: int,
        vocab_size: int,
        project_dim: int = 80,
        utterance_mvn: Mapping | None = None,
        specaug: Mapping | None = None,
        encoder: Mapping | None = None,
    ):
        super().__init__()
        self.mvn_options = dict(utterance_mvn or {})
        self.specaug = SpecAugment(**specaug) if specaug is not None else None
        self.preencoder = nn.Linear(upstream_dim, project_dim)
        self.encoder = TransformerEncoder(project_dim, **(encoder or {}))
        self.ctc_lo = nn.Linear(self.encoder.output_size, vocab_size)
        self.blank_id = 0

    def forward(self, features: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """features: list of (T_i, upstream_dim) -> log-probs (batch, T', vocab), lengths (batch,)."""
        lengths = torch.tensor([len(feature) for feature in features], device=features[0].device)
        x = nn.utils.rnn.pad_sequence(list(features), batch_first=True)
        if self.training and self.specaug is not None:
            x = self.specaug(x, lengths)
        x = utterance_mvn(x, lengths, **self.mvn_options)
        x, lengths = self.encoder(self.preencoder(x), lengths)
        return F.log_softmax(self.ctc_lo(x), dim=-1), lengths

    def ctc_loss(self, log_probs: torch.Tensor, lengths: torch.Tensor, labels: Sequence[Sequence[int]]) -> torch.Tensor:
        """log_probs: (batch, T', vocab); lengths: (batch,); labels: ids per utterance -> scalar."""
        targets = torch.tensor([index for label in labels for index in label], dtype=torch.long, device=log_probs.device)
        target_lengths = torch.tensor([len(label) for label in labels], dtype=torch.long, device=log_probs.device)
        loss = F.ctc_loss(
            log_probs.transpose(0, 1),
            targets,
            lengths.long(),
            target_lengths,
            blank=self.blank_id,
            reduction="sum",
            zero_infinity=True,
        )
        return loss / log_probs.shape[0]

    def greedy_decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
        """Best path per utterance: argmax per frame, merge repeats, drop blanks."""
        best = log_probs.argmax(dim=-1).cpu()
        hypotheses = []
        for path, length in zip(best, lengths.tolist()):
            merged = torch.unique_consecutive(path[:length])
            hypotheses.append(merged[merged != self.blank_id].tolist())
        return hypotheses
