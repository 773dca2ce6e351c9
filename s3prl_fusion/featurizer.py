"""The s3prl featurizer for the plugin's interfaces (``-s ws|gumd|hconv|chconv``).

It has s3prl's Featurizer contract: built from the upstream, exposes ``output_dim`` and
``downsample_rate``, and maps ``(wavs, upstream_features)`` to a list of unpadded
per-utterance (T_i, output_dim) tensors. Its state carries the fusion set-up (interface,
members, layers, dims, settings), so a checkpoint cannot be loaded into a different one.
"""
from __future__ import annotations

import sys

import torch
from torch import Tensor, nn

from s3prl_fusion.interfaces import build_interface, count_parameters

SAMPLE_RATE = 16000
TOLERABLE_SEQLEN_DIFF = 5


class FusionSetupMismatch(ValueError):
    """A checkpoint was made with another interface, member set or interface settings."""


def member_stacks(features: dict) -> tuple[list[Tensor], list[str]]:
    """Upstream output -> (N stacks (L_i, B, T, D_i), N member labels).

    A fused upstream provides its aligned stacks; any other s3prl upstream is one member whose
    ``hidden_states`` list is stacked along a new leading layer axis.
    """
    if "fusion_stacks" in features:
        return list(features["fusion_stacks"]), list(features["fusion_members"])
    hidden_states = features.get("hidden_states")
    if not isinstance(hidden_states, (list, tuple)) or len(hidden_states) == 0:
        raise ValueError("the upstream returns no `hidden_states` list, so it has no layers to fuse; use -s hidden_states or another upstream")
    return [torch.stack(list(hidden_states))], ["upstream"]


def probe_forward(upstream: nn.Module, device: str) -> dict:
    """The upstream's output for one second of noise, in eval mode without autograd; the
    upstream's training mode is restored afterwards."""
    was_training = upstream.training
    upstream.eval()
    with torch.no_grad():
        output = upstream([torch.randn(SAMPLE_RATE, device=device)])
    upstream.train(was_training)
    return output


def upstream_layout(upstream: nn.Module, device: str) -> tuple[list[str], list[int], list[int]]:
    """(member labels, layer counts, dims): from ``upstream.fusion_layout()`` where the upstream
    knows it (a feature cache cannot answer a probe), else from a 1 s probe forward."""
    if hasattr(upstream, "fusion_layout"):
        return upstream.fusion_layout()
    stacks, members = member_stacks(probe_forward(upstream, device))
    return members, [stack.size(0) for stack in stacks], [stack.size(-1) for stack in stacks]


class FusionFeaturizer(nn.Module):
    """Upstream hidden states -> one trainable interface -> per-utterance features.

    Args:
        upstream: the s3prl upstream (a fused upstream or any single one).
        interface: registry name (``ws``, ``gumd``, ``hconv``, ``chconv``).
        settings: the interface's settings (task config key ``interface.<name>``).
        upstream_device: where to run the probe forward.
        upstream_name: the ``-u`` name, recorded in the set-up for mismatch messages.
    """

    def __init__(self, upstream: nn.Module, interface: str, settings: dict | None = None, upstream_device: str = "cpu", upstream_name: str = ""):
        super().__init__()
        self.name = "FusionFeaturizer"
        members, layer_counts, dims = upstream_layout(upstream, upstream_device)
        settings = dict(settings or {})
        self.interface = build_interface(interface, layer_counts, dims, **settings)
        self.output_dim = self.interface.output_dim
        self.downsample_rate = upstream.get_downsample_rates("hidden_states")
        self.setup = {
            "interface": interface,
            "upstream": upstream_name,
            "members": members,
            "layer_counts": layer_counts,
            "dims": dims,
            "settings": settings,
        }
        print(
            f"[{self.name}] - interface {interface} over {len(members)} member(s) {members} "
            f"(layers {layer_counts}, dims {dims}): {count_parameters(self.interface):,} trainable parameters, "
            f"output dim {self.output_dim}",
            file=sys.stderr,
        )

    def get_extra_state(self) -> dict:
        return dict(self.setup)

    def set_extra_state(self, state: dict) -> None:
        differences = [
            f"{key}: checkpoint {state.get(key)!r} vs now {self.setup.get(key)!r}"
            for key in ("interface", "members", "layer_counts", "dims", "settings")
            if state.get(key) != self.setup.get(key)
        ]
        if differences:
            raise FusionSetupMismatch(
                "the checkpoint's featurizer was trained with a different fusion set-up ("
                + "; ".join(differences)
                + "). Resume or evaluate with the same -u/-g members, -s interface and `interface` settings, "
                "or start a new experiment."
            )

    def forward(self, wavs: list[Tensor], features: dict) -> list[Tensor]:
        """wavs: B (samples,) tensors; features: the upstream output -> B tensors (T_i, output_dim)."""
        stacks, _ = member_stacks(features)
        fused = self.interface(stacks)
        return self._to_list(wavs, fused)

    def _to_list(self, wavs: list[Tensor], fused: Tensor) -> list[Tensor]:
        """(B, T, D) -> B unpadded (T_i, D), T_i = round(samples / downsample_rate) as s3prl does."""
        expected = round(max(len(wav) for wav in wavs) / self.downsample_rate)
        if abs(fused.size(1) - expected) >= TOLERABLE_SEQLEN_DIFF:
            raise RuntimeError(
                f"the interface returned {fused.size(1)} frames where {expected} were expected for "
                f"{max(len(w) for w in wavs)} samples at downsample rate {self.downsample_rate}"
            )
        return [feature[: round(len(wav) / self.downsample_rate)] for feature, wav in zip(fused, wavs)]
