"""The s3prl featurizer for the plugin's interfaces (``-s ws|gumd|hconv|chconv``).

It has s3prl's Featurizer contract: built from the upstream, exposes ``output_dim`` and
``downsample_rate``, and maps ``(wavs, upstream_features)`` to a list of unpadded
per-utterance (T_i, output_dim) tensors, T_i the utterance's valid frames where the upstream
reports them (a fused upstream, a feature cache), so a head's input does not depend on the
batch. Its state carries the fusion set-up (interface, members, layers, dims, settings, what
each member is, the members' autocast and the length of the interface's schedule), so a
checkpoint cannot be loaded into a different one.

From a feature cache of merged storage (``cache.storage``: HConv's merged stack instead of the
members' stacks) it builds the interface for the members' own layout, as from any other
upstream, so the set-up and the parameters are those of the same run on the members' stacks,
and runs HConv's part after the merge (``HierarchicalConv``) on the merged stack. Only HConv
with ``normalize`` off merges without parameters; any other interface or setting is refused
before training (``merged_stack_refusal``).
"""
from __future__ import annotations

import sys

import torch
from torch import Tensor, nn

from s3prl_fusion.cache.storage import MERGED, MERGED_FEATURE
from s3prl_fusion.errors import UserError
from s3prl_fusion.interfaces import INTERFACES, HConv, RunLength, build_interface, count_parameters, interface_defaults
from s3prl_fusion.audio.sample_rate import SAMPLE_RATE
from s3prl_fusion.upstreams.identity import upstream_identities

TOLERABLE_SEQLEN_DIFF = 5
COMPARED_SETUP_KEYS = ("interface", "members", "layer_counts", "dims", "settings")


class FusionSetupMismatch(UserError, ValueError):
    """A checkpoint was made with another interface, member set or interface settings."""


class FeatureSelectionError(UserError, ValueError):
    """An ``-s`` / ``-l`` that neither the upstream nor an interface can honour."""


def member_stacks(features: dict) -> tuple[list[Tensor], list[str]]:
    """Upstream output -> (N stacks (L_i, B, T, D_i), N member labels).

    A fused upstream provides its aligned stacks; any other s3prl upstream is one member whose
    ``hidden_states`` list is stacked along a new leading layer axis.
    """
    if "fusion_stacks" in features:
        return list(features["fusion_stacks"]), list(features["fusion_members"])
    hidden_states = features.get("hidden_states")
    if not isinstance(hidden_states, (list, tuple)) or len(hidden_states) == 0:
        raise FeatureSelectionError("the upstream returns no `hidden_states` list, so it has no layers to fuse; use -s hidden_states or another upstream")
    return [torch.stack(list(hidden_states))], ["upstream"]


def reported_lengths(features: dict) -> Tensor | None:
    """The valid frames (B,) the upstream reports itself (``fusion_lengths`` of a fused upstream or
    a feature cache, ``feature_lengths`` of a member), or None for an upstream that reports none."""
    for key in ("fusion_lengths", "feature_lengths"):
        if features.get(key) is not None:
            return features[key].to(torch.long)
    return None


def probe_forward(upstream: nn.Module, device: str) -> dict:
    """The upstream's output for one second of noise, in eval mode without autograd; the
    upstream's training mode is restored afterwards. Torch's global random state (CPU, and the
    CUDA device used) is the same afterwards as before, so a seeded run draws what it would
    draw without the probe."""
    was_training = upstream.training
    upstream.eval()
    cuda_devices = [torch.device(device)] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=cuda_devices), torch.no_grad():
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


def identity_differences(saved: dict, now: dict) -> list[str]:
    """What differs in the members' identities (member by member) and autocast between a
    checkpoint's set-up and this run's. A checkpoint written before members were identified
    lacks both keys; what it lacks is not compared (its members are matched by label only)."""
    differences = []
    if "autocast" in saved and saved["autocast"] != now["autocast"]:
        differences.append(f"autocast: checkpoint {saved['autocast']!r} vs now {now['autocast']!r}")
    if "member_identities" not in saved:
        return differences
    saved_members, now_members = saved["member_identities"], now["member_identities"]
    if len(saved_members) != len(now_members):
        return differences + [f"member count: checkpoint {len(saved_members)} vs now {len(now_members)}"]
    for index, (before, after) in enumerate(zip(saved_members, now_members)):
        differences += [
            f"member {index} ({after.get('label')}) {key}: checkpoint {before.get(key)!r} vs now {after.get(key)!r}"
            for key in sorted(set(before) | set(after))
            if before.get(key) != after.get(key)
        ]
    return differences


def compared_setup_value(setup: dict, key: str, resolved: tuple[str, ...] = ()):
    """A fusion set-up's ``key`` as a checkpoint is matched on it: the interface settings with the
    interface's defaults filled in, so a setting left to its default equals it written out, less
    the ``resolved`` settings (those the set-up's ``schedule`` holds the effect of)."""
    value = setup.get(key)
    if key == "settings" and setup.get("interface") in INTERFACES:
        settings = {**interface_defaults(setup["interface"]), **(value or {})}
        return {name: setting for name, setting in settings.items() if name not in resolved}
    return value


def schedule_differences(saved: dict, now: dict) -> list[str]:
    """How the checkpoint's schedule (GumD's annealing length in optimizer updates) differs from
    this run's, with how to keep the checkpoint's. A checkpoint written before schedules were
    recorded lacks the key and is not compared."""
    if "schedule" not in saved or saved["schedule"] == now["schedule"]:
        return []
    before, after = saved["schedule"].get("anneal_updates"), now["schedule"].get("anneal_updates")
    return [
        f"annealing length: checkpoint {before} vs now {after} optimizer updates (another runner.total_steps or "
        f"interface.{now['interface']}.anneal_steps); to continue the checkpoint's schedule over a longer or shorter "
        f"run, set interface.{now['interface']}.anneal_steps: {before} (-o config.interface.{now['interface']}.anneal_steps={before})"
    ]


def schedule_settings(setup: dict) -> tuple[str, ...]:
    """The settings whose effect a set-up's ``schedule`` records (compared there, not as written)."""
    if "schedule" not in setup or setup.get("interface") not in INTERFACES:
        return ()
    return tuple(getattr(INTERFACES[setup["interface"]], "SCHEDULE_SETTINGS", ()))


def merged_stack_refusal(interface: str, settings: dict, dims: list[int]) -> str | None:
    """Why ``-s interface`` with ``settings`` cannot run on HConv's merged stack (what it needs of
    the members' own stacks), or None: HConv with ``normalize`` off, whose merge has no parameters
    (members of unequal dims interpolated, ``match_dims: interpolate``), can."""
    if interface not in INTERFACES:
        return None
    if INTERFACES[interface] is not HConv:
        return f"-s {interface} reads each member's own stack"
    effective = {**interface_defaults(interface), **settings}
    if effective["normalize"]:
        return "-s hconv with normalize: true (also set by --upstream_feature_normalize) normalizes each member's stack before adding them"
    if effective["match_dims"] == "error" and len(set(dims)) > 1:
        return f"-s hconv with match_dims: error refuses members of unequal dims {dims} instead of interpolating them to one dim"
    return None


def print_interface(printer: str, what: str, interface: nn.Module) -> None:
    """The start-up lines of every run's interface, on stderr: ``[printer] - what: N trainable
    parameters, output dim D``, then what the interface has to say of itself (``describe``)."""
    print(f"[{printer}] - {what}: {count_parameters(interface):,} trainable parameters, output dim {interface.output_dim}", file=sys.stderr)
    for line in getattr(interface, "describe", list)():
        print(f"[{printer}] - {line}", file=sys.stderr)


class FusionFeaturizer(nn.Module):
    """Upstream hidden states -> one trainable interface -> per-utterance features.

    Args:
        upstream: the s3prl upstream (a fused upstream or any single one).
        interface: registry name (``ws``, ``gumd``, ``hconv``, ``chconv``).
        settings: the interface's settings (task config key ``interface.<name>``).
        upstream_device: where to run the probe forward.
        upstream_name, upstream_ckpt, upstream_model_config: the runner's ``-u``, ``-k``, ``-g``,
            which identify a single (not fused) upstream; the name is also recorded for messages.
        run: the training run's length (s3prl's ``total_steps``), for interfaces that follow a
            schedule (GumD's temperature); the schedule's length is part of the checked set-up.
    """

    def __init__(
        self,
        upstream: nn.Module,
        interface: str,
        settings: dict | None = None,
        upstream_device: str = "cpu",
        upstream_name: str = "",
        upstream_ckpt: str | None = None,
        upstream_model_config: str | None = None,
        run: RunLength | None = None,
    ):
        super().__init__()
        self.name = "FusionFeaturizer"
        members, layer_counts, dims = upstream_layout(upstream, upstream_device)
        settings = dict(settings or {})
        self.reads_merged = getattr(upstream, "storage", None) == MERGED
        refusal = merged_stack_refusal(interface, settings, dims) if self.reads_merged else None
        if refusal:
            raise FeatureSelectionError(
                f"the feature cache {upstream.folder} has storage merged: one stack, the members' {members} aligned and "
                f"added as HConv adds them, but {refusal}. Build a cache with `s3prl-fusion cache build ... --storage "
                "per-member` for this run, or train this cache with -s hconv, normalize off (no --upstream_feature_normalize, interface.hconv."
                "normalize: false) and match_dims: interpolate"
            )
        self.interface = build_interface(interface, layer_counts, dims, run=run, **settings)
        self.output_dim = self.interface.output_dim
        self.downsample_rate = upstream.get_downsample_rates("hidden_states")
        identities, autocast = upstream_identities(upstream, upstream_name, upstream_ckpt, upstream_model_config)
        self.setup = {
            "interface": interface,
            "upstream": upstream_name,
            "members": members,
            "layer_counts": layer_counts,
            "dims": dims,
            "settings": settings,
            "member_identities": identities,
            "autocast": autocast,
            "schedule": getattr(self.interface, "checked_setup", dict)(),
        }
        print_interface(self.name, f"interface {interface} over {len(members)} member(s) {members} (layers {layer_counts}, dims {dims})", self.interface)
        if self.reads_merged:
            print(f"[{self.name}] - the feature cache holds HConv's merged stack: only its convs run", file=sys.stderr)

    def get_extra_state(self) -> dict:
        return dict(self.setup)

    def set_extra_state(self, state: dict) -> None:
        resolved = schedule_settings(state)
        differences = [
            f"{key}: checkpoint {state.get(key)!r} vs now {self.setup.get(key)!r}"
            for key in COMPARED_SETUP_KEYS
            if compared_setup_value(state, key, resolved) != compared_setup_value(self.setup, key, resolved)
        ]
        differences += schedule_differences(state, self.setup)
        differences += identity_differences(state, self.setup)
        if differences:
            raise FusionSetupMismatch(
                "the checkpoint's featurizer was trained with a different fusion set-up ("
                + "; ".join(differences)
                + "). Resume or evaluate with the same -u/-g members, -s interface and `interface` settings, "
                "or start a new experiment."
            )

    def forward(self, wavs: list[Tensor], features: dict) -> list[Tensor]:
        """wavs: B (samples,) tensors; features: the upstream output -> B tensors (T_i, output_dim)."""
        if self.reads_merged:
            fused = self.interface.conv(features[MERGED_FEATURE])
        else:
            fused = self.interface(member_stacks(features)[0])
        return self._to_list(wavs, fused, reported_lengths(features))

    def _to_list(self, wavs: list[Tensor], fused: Tensor, lengths: Tensor | None) -> list[Tensor]:
        """(B, T, D) -> B unpadded (T_i, D). T_i is utterance i's valid frames where the upstream
        reports them (``lengths`` (B,)), so an utterance's features do not depend on the batch it is
        in; else ``round(samples / downsample_rate)`` as s3prl's Featurizer crops."""
        expected = round(max(len(wav) for wav in wavs) / self.downsample_rate)
        if abs(fused.size(1) - expected) >= TOLERABLE_SEQLEN_DIFF:
            raise RuntimeError(
                f"the interface returned {fused.size(1)} frames where {expected} were expected for "
                f"{max(len(w) for w in wavs)} samples at downsample rate {self.downsample_rate}"
            )
        if lengths is None:
            return [feature[: round(len(wav) / self.downsample_rate)] for feature, wav in zip(fused, wavs)]
        return [feature[:length] for feature, length in zip(fused, lengths.tolist())]
