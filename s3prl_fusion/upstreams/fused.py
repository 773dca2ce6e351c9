"""The fused upstream: N frozen member upstreams run on the same waveforms, time-aligned.

Output dict (s3prl's upstream contract, plus the per-member stacks the interfaces need):
    fusion_stacks:   list of N tensors (L_i, B, T, D_i); layer axis first; frames aligned to
                     the highest frame rate, per utterance; zero beyond each valid length
    fusion_lengths:  LongTensor (B,) valid frames per utterance after alignment
    fusion_members:  the N member labels
    hidden_states:   list of L = max L_i tensors (B, T, sum D_i): the layer-aligned stacks
                     concatenated along D, so s3prl's stock weighted sum (``-s hidden_states``)
                     works unchanged; built only when asked for
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from s3prl_fusion.errors import SettingError
from s3prl_fusion.fusion.align import align_frames, align_layers
from s3prl_fusion.fusion.merge import merge_concat
from s3prl_fusion.audio.sample_rate import SAMPLE_RATE
from s3prl_fusion.upstreams.input_checks import check_waveforms
from s3prl_fusion.upstreams.members import build_member, normalize_member

MAX_FRAME_RATE_RATIO = 8
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class FusedFeatures(dict):
    """s3prl's upstream output dict whose ``hidden_states`` is built on first access."""

    _LAZY_KEYS = ("hidden_states", "last_hidden_state")

    def _concatenated_layers(self) -> list[Tensor]:
        if not dict.__contains__(self, "hidden_states"):
            stacked = merge_concat(align_layers(self["fusion_stacks"]))
            dict.__setitem__(self, "hidden_states", list(stacked.unbind(0)))
            dict.__setitem__(self, "last_hidden_state", stacked[-1])
        return dict.__getitem__(self, "hidden_states")

    def __getitem__(self, key):
        if key in self._LAZY_KEYS:
            self._concatenated_layers()
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def __contains__(self, key):
        return key in self._LAZY_KEYS or dict.__contains__(self, key)

    def keys(self):
        return [*dict.keys(self), *(key for key in self._LAZY_KEYS if not dict.__contains__(self, key))]


class FusedUpstream(nn.Module):
    """N member upstreams -> time-aligned per-member hidden-state stacks.

    Args:
        members: member entries (see ``s3prl_fusion.upstreams.members``), at least one.
        autocast: ``"bf16"`` / ``"fp16"`` runs the members under autocast on the waveforms'
            device (CUDA, or CPU where torch supports the dtype there); the stacks handed on are
            float32, so interface and downstream keep fp32 weights.
    """

    def __init__(self, members: list[dict | str], autocast: str | None = None):
        super().__init__()
        if not members:
            raise SettingError("a fused upstream needs at least one member")
        if autocast not in (None, "none", *AUTOCAST_DTYPES):
            raise SettingError(f"autocast must be one of none, {', '.join(AUTOCAST_DTYPES)}; got {autocast!r}")
        self.autocast_dtype = AUTOCAST_DTYPES.get(autocast)
        entries = [normalize_member(member) for member in members]
        self.member_entries = entries
        self.member_names = [entry["name"] for entry in entries]
        self.members = nn.ModuleList([build_member(entry) for entry in entries])
        rates = [member.get_downsample_rates("hidden_states") for member in self.members]
        self.downsample_rate = min(rates)
        for name, rate in zip(self.member_names, rates):
            if rate / self.downsample_rate > MAX_FRAME_RATE_RATIO:
                raise SettingError(
                    f"member {name} has {SAMPLE_RATE / rate:.1f} frames/s, over {MAX_FRAME_RATE_RATIO}x fewer than the "
                    f"fastest member ({SAMPLE_RATE / self.downsample_rate:.1f}/s): interpolating it that far invents "
                    "frames; fuse members of closer frame rates"
                )
        self.member_downsample_rates = rates
        self.min_samples = max(getattr(member, "min_samples", 1) for member in self.members)

    def get_downsample_rates(self, key: str = "hidden_states") -> int:
        return self.downsample_rate

    def precision(self, device: torch.device) -> torch.autocast:
        """The autocast context the members run in on ``device`` (disabled for ``autocast: none``)."""
        return torch.autocast(device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None)

    def forward(self, wavs: list[Tensor]) -> FusedFeatures:
        """wavs: list of B (samples,) 16 kHz waveforms -> FusedFeatures (see module docstring)."""
        return self.fuse(*self.run_members(wavs))

    def run_members(self, wavs: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        """wavs: B (samples,) 16 kHz waveforms -> each member's own stack (L_i, B, T_i, D_i) at its own
        frame rate (zero-padded) and its valid frames per utterance (B,), before any alignment."""
        check_waveforms(wavs, self.min_samples, "fused upstream " + "+".join(self.member_names))
        stacks, lengths = [], []
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.training), self.precision(wavs[0].device):
            for member, rate in zip(self.members, self.member_downsample_rates):
                output = member(wavs)
                stack = torch.stack(list(output["hidden_states"])).float()
                stacks.append(stack)
                lengths.append(_valid_lengths(output, wavs, rate, stack.size(2)))
                del output
        return stacks, lengths

    def fuse(self, stacks: list[Tensor], lengths: list[Tensor]) -> FusedFeatures:
        """``run_members``' stacks and lengths, frames aligned -> FusedFeatures (see module docstring)."""
        aligned, aligned_lengths = align_frames(stacks, lengths)
        return FusedFeatures(fusion_stacks=aligned, fusion_lengths=aligned_lengths, fusion_members=list(self.member_names))


def _valid_lengths(output: dict, wavs: list[Tensor], rate: int, frames: int) -> Tensor:
    """The member's valid frames per utterance (B,): the ``feature_lengths`` every built member
    reports by its own frame rule (see ``members.py``), at most the ``frames`` it returned."""
    lengths = output.get("feature_lengths")
    if lengths is None or len(lengths) != len(wavs):
        raise ValueError(
            f"a fused member (downsample rate {rate}) must return `feature_lengths`, one per utterance "
            f"({len(wavs)}); build members with s3prl_fusion.upstreams.members.build_member"
        )
    return lengths.to(torch.long).clamp(max=frames)
