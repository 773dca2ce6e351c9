"""The interfaces through s3prl's newer API (``s3prl.nn``), the path ESPnet's s3prl frontend uses
(imported by users as ``s3prl_fusion.nn``).

    upstream = FusedS3PRLUpstream("fused_wavlm_whisper")            # any -u name, as S3PRLUpstream
    featurizer = InterfaceFeaturizer(upstream, interface="hconv")   # or s3prl.nn.Featurizer(upstream)
    all_hs, all_lens = upstream(wavs, wavs_len)                   # wavs (B, samples), wavs_len (B,)
    hs, hs_len = featurizer(all_hs, all_lens)                     # (B, T, output_size), (B,)

``FusedS3PRLUpstream`` is ``s3prl.nn.S3PRLUpstream`` whose returned layer list also carries the
per-member stacks, so s3prl's own ``Featurizer`` (weighted sum) and the plugin's interfaces
both accept its output. Its members are frozen unless ``trainable=True``: in eval mode whatever
``train()`` the caller's model runs, without autograd graphs, no parameter requiring gradients.
``InterfaceFeaturizer`` is built without a draw from torch's global random generator (its
parameters are those a seeded build draws, the generator's state is restored) and prints its
interface's trainable parameters; GumD needs the run's optimizer updates (``total_updates``).
"""
from __future__ import annotations

import sys

import torch
from s3prl.nn import S3PRLUpstream
from torch import Tensor, nn

from s3prl_fusion.cache.tasks import CACHED_UPSTREAM
from s3prl_fusion.errors import SettingError
from s3prl_fusion.featurizer import member_stacks, print_interface, reported_lengths
from s3prl_fusion.interfaces import RunLength, build_interface, follows_run
from s3prl_fusion.s3prl_adapter.internals.targets import PatchTarget, check_targets
from s3prl_fusion.audio.sample_rate import SAMPLE_RATE

NN_TARGETS = (
    PatchTarget(
        "each member's layer stack kept beside s3prl.nn's layer list", "s3prl.nn.upstream", "S3PRLUpstream.forward",
        ("self", "wavs", "wavs_len"), source_contains=('self.upstream(wavs_list)["hidden_states"]',),
    ),
)
check_targets(sys.modules[S3PRLUpstream.__module__], NN_TARGETS)


class LayerList(list):
    """s3prl.nn's list of layers (B, T, D), plus ``member_stacks``: N tensors (L_i, B, T, D_i)."""

    member_stacks: list[Tensor]


class FusedS3PRLUpstream(S3PRLUpstream):
    """``S3PRLUpstream`` for any upstream name, keeping each member's own layer stack.

    ``trainable=False`` (the default) freezes the upstream: eval mode (``train()`` leaves it
    there), forwards without autograd graphs, ``requires_grad`` off; ``trainable=True`` keeps
    s3prl.nn's behaviour (train mode, gradients reach the members), for fine-tuning them.

    Lengths are the upstream's own valid frames (``fusion_lengths`` of a fused upstream,
    ``feature_lengths`` of a member), not s3prl's ``ceil(samples / rate)`` guess, and every
    returned layer has exactly ``max(lengths)`` frames. A feature cache (``fused_cache``) is
    refused: s3prl.nn runs its upstream on probe audio and on the caller's own batches, which no
    cache holds.
    """

    def __init__(self, name: str, *args, trainable: bool = False, **kwargs):
        if name == CACHED_UPSTREAM:
            raise SettingError(
                f"FusedS3PRLUpstream({name!r}): s3prl.nn runs its upstream on its own probe audio and on your batches "
                "(cropped, augmented), which no feature cache holds; pass the upstream the cache was built from "
                "(e.g. 'fused' with extra_conf={'model_config': <its -g file>}), or train from the cache with s3prl's runner "
                f"(-u {CACHED_UPSTREAM} -k <cache folder>)"
            )
        super().__init__(name, *args, **kwargs)
        self.trainable = bool(trainable)
        self.requires_grad_(self.trainable)
        self.train(self.training)

    def train(self, mode: bool = True) -> FusedS3PRLUpstream:
        """Train mode only for a trainable upstream: a frozen one stays in eval mode."""
        return super().train(mode and getattr(self, "trainable", True))

    def forward(self, wavs: Tensor, wavs_len: Tensor) -> tuple[LayerList, list[Tensor]]:
        """wavs (B, samples) or (B, samples, 1), wavs_len (B,) -> (layers (B, T, D), per-layer lengths (B,))."""
        captured = {}
        inner_forward = self.upstream.forward

        def capture(wavs_list):
            features = inner_forward(wavs_list)
            captured["stacks"], _ = member_stacks(features)
            captured["lengths"] = reported_lengths(features)
            return features

        self.upstream.forward = capture
        try:
            with torch.set_grad_enabled(torch.is_grad_enabled() and self.trainable):
                all_hs, all_lens = super().forward(wavs, wavs_len)
        finally:
            del self.upstream.forward
        if captured["lengths"] is not None:
            lengths = torch.minimum(captured["lengths"].to(all_lens[0].device), all_lens[0])
            all_lens = [lengths] * len(all_hs)
        frames = int(all_lens[0].max())
        layers = LayerList(layer[:, :frames] for layer in all_hs)
        layers.member_stacks = [stack[:, :, :frames] for stack in captured["stacks"]]
        return layers, all_lens


class InterfaceFeaturizer(nn.Module):
    """``s3prl.nn.Featurizer``'s contract with a fusion interface instead of the weighted sum.

    Args:
        upstream: a FusedS3PRLUpstream.
        interface: ``ws`` | ``gumd`` | ``hconv`` | ``chconv``; ``settings`` are its options.
        total_updates: the optimizer updates the training run makes; required by an interface
            that follows a schedule over the run (GumD, unless its ``anneal_steps`` is set).
            GumD counts the optimizer steps over its logits, whoever runs the loop.

    Built under a fork of torch's global random generator: the parameters are those drawn from
    the caller's seed, and the generator is left as it was (the probe waveform is silence).
    """

    def __init__(self, upstream: FusedS3PRLUpstream, interface: str = "hconv", total_updates: int | None = None, **settings):
        super().__init__()
        if follows_run(interface) and total_updates is None and settings.get("anneal_steps") is None:
            raise SettingError(
                f"InterfaceFeaturizer(interface={interface!r}) follows a schedule over the training run: pass "
                "total_updates=<the optimizer updates your run makes> (or the setting anneal_steps=<updates>)"
            )
        device = next(upstream.parameters()).device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
            layers, _ = upstream(torch.zeros(1, SAMPLE_RATE, device=device), torch.tensor([SAMPLE_RATE], device=device))
            stacks = layers.member_stacks
            layer_counts, dims = [s.size(0) for s in stacks], [s.size(-1) for s in stacks]
            run = RunLength(total_updates, source="total_updates") if total_updates is not None else None
            self.interface = build_interface(interface, layer_counts, dims, run=run, **settings)
        self._downsample_rate = upstream.downsample_rates[0]
        print_interface(type(self).__name__, f"interface {interface} over {len(stacks)} member(s) (layers {layer_counts}, dims {dims})", self.interface)

    @property
    def output_size(self) -> int:
        return self.interface.output_dim

    @property
    def downsample_rate(self) -> int:
        return self._downsample_rate

    def forward(self, all_hs: LayerList, all_lens: list[Tensor]) -> tuple[Tensor, Tensor]:
        """(layers from FusedS3PRLUpstream, their lengths) -> ((B, T, output_size), (B,))."""
        return self.interface(all_hs.member_stacks), all_lens[0]
