"""What the bench measures of the feature cache, each against its alternative in the same run.

- ``timed_build``: a cache build and its wall time (build throughput, batched against batch 1);
- ``bytes_per_hour``: what a built cache stores per hour of audio, from its shard files
  (each storage form against per-member fp16);
- ``TrainingStep``: one optimizer step of the plugin's featurizer (the interface) and a task
  head, from any upstream: the on-the-fly fused upstream, a cache, or features already in memory
  (``InMemoryFeatures``: the limit a cache can approach, no reading, decoding or lookup);
- ``AsrLikeHead`` and ``MlSuperbHead`` (ML-SUPERB's own CTC model with its shipped config's ``modelrc``);
- ``loss_curves``: the same seeded head trained from each of several caches on the same batches.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
import yaml
from torch import Tensor, nn

from s3prl_fusion.cache.builder import build_cache, cache_settings
from s3prl_fusion.cache.manifest import Manifest
from s3prl_fusion.downstreams.ml_superb.model import MlSuperbCtcModel
from s3prl_fusion.featurizer import FusionFeaturizer
from s3prl_fusion.experiments.task_configs import config_root
from s3prl_fusion.upstreams.fused import FusedUpstream

VOCAB = 32  # CTC units of the benches' heads, blank 0 included


def timed_build(fused: FusedUpstream, files: Sequence[Path], out: Path, device: torch.device, storage: str, dtype: str, **options) -> tuple[Manifest, float]:
    """Build a cache of ``files`` into ``out`` (``build_cache`` ``options``: batching); returns
    its manifest and the build's wall time in seconds."""
    settings = cache_settings(fused, "bench", None, 0, dtype, device, storage)
    start = time.perf_counter()
    manifest = build_cache(fused, settings, list(files), out, device, log=lambda _: None, **options)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return manifest, time.perf_counter() - start


def bytes_per_hour(manifest: Manifest) -> float:
    """Bytes the cache's shard files hold per hour of its audio."""
    return sum(manifest.bytes_per_member()) / manifest.hours_of_audio()


class InMemoryFeatures(nn.Module):
    """An upstream that returns one batch's features, computed once and held in memory."""

    def __init__(self, features: dict):
        super().__init__()
        self.features = features

    def forward(self, wavs: list[Tensor]) -> dict:
        return self.features


class AsrLikeHead(nn.Module):
    """Per-utterance features (T_i, D) -> CTC loss: Linear(D -> 256), BiLSTM(256), Linear(-> vocab)."""

    def __init__(self, input_dim: int, vocab: int = VOCAB, hidden: int = 256):
        super().__init__()
        self.project = nn.Linear(input_dim, hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True, bidirectional=True)
        self.classify = nn.Linear(2 * hidden, vocab)

    def forward(self, features: list[Tensor], labels: list[list[int]]) -> Tensor:
        lengths = torch.tensor([len(feature) for feature in features])
        hidden, _ = self.lstm(self.project(nn.utils.rnn.pad_sequence(features, batch_first=True)))
        log_probs = self.classify(hidden).log_softmax(-1).transpose(0, 1)  # (T, B, vocab)
        targets = torch.tensor([unit for label in labels for unit in label])
        return F.ctc_loss(log_probs, targets, lengths, torch.tensor([len(label) for label in labels]), zero_infinity=True)


class MlSuperbHead(nn.Module):
    """ML-SUPERB's CTC model (``MlSuperbCtcModel``, ``modelrc`` of the shipped ml_superb config) as a loss."""

    def __init__(self, input_dim: int, vocab: int = VOCAB):
        super().__init__()
        modelrc = yaml.safe_load((config_root() / "ml_superb" / "config.yaml").read_text())["downstream_expert"]["modelrc"]
        self.model = MlSuperbCtcModel(input_dim, vocab, **modelrc)

    def forward(self, features: list[Tensor], labels: list[list[int]]) -> Tensor:
        log_probs, lengths = self.model(features)
        return self.model.ctc_loss(log_probs, lengths, labels)


def random_labels(wavs: Sequence[Tensor], generator: torch.Generator, samples_per_unit: int = 1600) -> list[list[int]]:
    """One random CTC label sequence per waveform, a unit per ``samples_per_unit`` samples (10 per second)."""
    return [torch.randint(1, VOCAB, (max(1, len(wav) // samples_per_unit),), generator=generator).tolist() for wav in wavs]


class TrainingStep:
    """The plugin's featurizer (interface ``interface`` over ``layout_upstream``'s members) and a
    head, trained with Adam: ``step(upstream, wavs, labels)`` runs ``upstream`` without autograd,
    then one forward, backward and update of the featurizer and the head.

    Args:
        layout_upstream: the upstream whose members' layout the interface is built for (a cache
            or the fused upstream; the same for every upstream stepped with).
        head: ``Callable[[int], nn.Module]`` from the featurizer's output dim to the head, whose
            forward takes (features: list of (T_i, D), labels) and returns the loss.
    """

    def __init__(self, layout_upstream: nn.Module, interface: str, head: Callable[[int], nn.Module], device: torch.device, seed: int = 0):
        torch.manual_seed(seed)
        self.featurizer = FusionFeaturizer(layout_upstream, interface, upstream_device=str(device)).to(device).train()
        self.head = head(self.featurizer.output_dim).to(device).train()
        self.optimizer = torch.optim.Adam([*self.featurizer.parameters(), *self.head.parameters()], lr=1e-3)
        self.device = device

    def step(self, upstream: nn.Module, wavs: list[Tensor], labels: list[list[int]]) -> float:
        """One update from ``upstream``'s features of ``wavs``; returns the loss."""
        with torch.no_grad():
            features = upstream(wavs)
        loss = self.head(self.featurizer(wavs, features), labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach().item()


def loss_curves(caches: dict[str, nn.Module], batches: list[tuple[list[Tensor], list[list[int]]]], interface: str, steps: int, device: torch.device) -> dict[str, list[float]]:
    """{name: the training loss of every step}: for each cache in turn, the same seeded
    featurizer and ASR-like head trained for ``steps`` updates on ``batches`` (cycled, in order)."""
    curves = {}
    for name, cache in caches.items():
        trainer = TrainingStep(cache, interface, AsrLikeHead, device)
        curves[name] = [trainer.step(cache, *batches[index % len(batches)]) for index in range(steps)]
    return curves
