"""One fused member: what the user wrote (a name, id, path or config) -> a built upstream module.

A member is a dict, from a preset, from ``-k`` (a bare name) or from the ``-g`` YAML file:
    upstream:     a Whisper name (``whisper_small``), a Hugging Face id or local directory, or
                  any s3prl hub upstream name (``wavlm_base_plus``)
    name:         a label for logs and plots (default: the upstream)
    kind:         ``whisper`` | ``hf`` | ``s3prl``; inferred when absent
    config:       model config kwargs: build a randomly initialised member instead of loading
                  (``model_type`` selects the family for ``hf`` members)
    length_mode:  Whisper only: ``exact`` (default) or ``pad30``
    ckpt, model_config: an s3prl member's own ``-k`` / ``-g``
A source written as a local path must exist (``local_sources``).
Every built member returns s3prl's upstream dict with ``feature_lengths`` (each utterance's
valid frames, by the member's own frame rule) and answers ``get_downsample_rates``.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence

from s3prl_fusion.errors import SettingError, UnknownNameError, did_you_mean
from s3prl_fusion.s3prl_adapter.internals.hub import hub_upstream, s3prl_upstream_names
from s3prl_fusion.s3prl_adapter.internals.hub_models import hub_model_internals
from s3prl_fusion.audio.sample_rate import SAMPLE_RATE
from s3prl_fusion.upstreams.hf_ssl import HFSpeechUpstream, MaskedFrontEnd, MaskedPositionConvs, zero_padding
from s3prl_fusion.upstreams.hub_loading import loading_from_hub
from s3prl_fusion.upstreams.local_sources import check_local_source
from s3prl_fusion.upstreams.whisper import DEFAULT_LENGTH_MODE, WhisperEncoderUpstream
from s3prl_fusion.upstreams.whisper_sizes import WHISPER_SIZES

MEMBER_KEYS = {"upstream", "name", "kind", "config", "length_mode", "ckpt", "model_config"}
KINDS = ("whisper", "hf", "s3prl")


def normalize_member(member: dict | str) -> dict:
    """Validate a member entry and fill ``name`` and ``kind``."""
    entry = {"upstream": member} if isinstance(member, str) else dict(member)
    unknown = set(entry) - MEMBER_KEYS
    if unknown:
        raise UnknownNameError(f"unknown key(s) {sorted(unknown)} in fused member {entry}; valid keys: {sorted(MEMBER_KEYS)}")
    if entry.get("upstream") is None and entry.get("config") is None:
        raise SettingError(f"fused member {entry} needs `upstream` (a name, id or path) or `config` (random init)")
    entry.setdefault("name", entry.get("upstream") or entry["config"].get("model_type", "whisper"))
    entry.setdefault("kind", _infer_kind(entry))
    if entry["kind"] not in KINDS:
        raise UnknownNameError(f"fused member kind {entry['kind']!r} is not one of {KINDS}")
    return entry


def _infer_kind(entry: dict) -> str:
    upstream = entry.get("upstream")
    if upstream is None:
        model_type = entry["config"].get("model_type", "whisper")
        return "whisper" if model_type == "whisper" else "hf"
    if str(upstream).startswith("whisper_"):
        return "whisper"
    local_config = Path(upstream) / "config.json"
    if local_config.is_file():
        return "whisper" if json.loads(local_config.read_text()).get("model_type") == "whisper" else "hf"
    if "/" in str(upstream):
        return "whisper" if "whisper" in str(upstream).lower() else "hf"
    return "s3prl"


def member_settings(entry: dict) -> dict:
    """A normalized member entry -> every member key, with Whisper's default length mode filled in."""
    settings = {key: entry.get(key) for key in sorted(MEMBER_KEYS)}
    if entry["kind"] == "whisper":
        settings["length_mode"] = entry.get("length_mode") or DEFAULT_LENGTH_MODE
    return settings


def build_member(entry: dict) -> nn.Module:
    """A normalized member entry -> its upstream module. A checkpoint named by a Hugging Face id
    that cannot be loaded stops with one message (``hub_loading``)."""
    kind = entry["kind"]
    if kind == "s3prl":
        return _build_s3prl_member(entry)
    length_mode = entry.get("length_mode", DEFAULT_LENGTH_MODE)
    if entry.get("config") is not None:
        if kind == "whisper":
            return WhisperEncoderUpstream(config=entry["config"], length_mode=length_mode)
        return HFSpeechUpstream(config=entry["config"])
    source = str(entry["upstream"])
    if kind == "whisper" and source.startswith("whisper_"):
        size = source[len("whisper_"):]
        if size not in WHISPER_SIZES:
            raise UnknownNameError(_unknown_name_message(source, [f"whisper_{s}" for s in WHISPER_SIZES]))
        source = WHISPER_SIZES[size].checkpoint
    source = str(entry.get("ckpt") or source)
    check_local_source(source, what="member source" if entry["name"] == source else f"fused member {entry['name']}, source")
    with loading_from_hub(entry["name"], source):
        if kind == "whisper":
            return WhisperEncoderUpstream(source=source, length_mode=length_mode)
        return HFSpeechUpstream(source=source)


def _build_s3prl_member(entry: dict) -> nn.Module:
    name = entry["upstream"]
    factory = hub_upstream(name)
    if factory is None:
        raise UnknownNameError(_unknown_name_message(name, s3prl_upstream_names()))
    if entry.get("ckpt") is not None:
        check_local_source(str(entry["ckpt"]), what=f"ckpt of member {entry['name']}", directory=False)
    return S3PRLHubMember(factory(ckpt=entry.get("ckpt"), model_config=entry.get("model_config")))


class S3PRLHubMember(nn.Module):
    """An s3prl hub upstream that also reports ``feature_lengths``: for each utterance the frames
    the upstream makes for that utterance alone (``FrameCounter``), not those of the padded batch.
    Its features do not depend on the batch either: a wav2vec 2.0-style group-norm front end
    (s3prl's WavLM / HuBERT / wav2vec 2.0 Base) takes its statistics over each utterance's valid
    samples only (``MaskedFrontEnd``); s3prl's WavLM / HuBERT count the frames past each utterance's
    conv frames as padding; a stacked positional conv (s3prl's Data2Vec) sees zeros past each
    utterance (``MaskedPositionConvs``); s3prl's preprocessor spectra (``mel``, ``linear``) are
    computed one utterance at a time. The s3prl internals involved are the adapter's
    (``s3prl_adapter/hub_models.py``)."""

    def __init__(self, upstream: nn.Module):
        super().__init__()
        self.upstream = upstream
        internals = hub_model_internals(upstream)
        self.front_end = MaskedFrontEnd(upstream)
        internals.replace_padding_masks(self.front_end.exact_padding_mask)
        self.position_convs = MaskedPositionConvs(internals.position_conv_blocks)
        self.one_at_a_time = internals.features_depend_on_the_batch
        self.frame_counter: FrameCounter | None = None

    def get_downsample_rates(self, key: str = "hidden_states") -> int:
        return self.upstream.get_downsample_rates(key)

    def forward(self, wavs: list[Tensor]) -> dict:
        """wavs: B waveforms (samples,) -> the upstream's dict plus "feature_lengths" (B,); its
        "hidden_states" L x (B, T, D) are zero past each utterance's frames."""
        lengths = torch.tensor([wav.numel() for wav in wavs], device=wavs[0].device)
        padded = not bool((lengths == lengths.max()).all())
        with self.front_end.padding(lengths), self.position_convs.padding(self.front_end.frames(lengths) if padded else None):
            output = self._one_at_a_time(wavs) if self.one_at_a_time and padded else dict(self.upstream(wavs))
        if self.frame_counter is None:
            self.frame_counter = FrameCounter(self.frames_alone, self.get_downsample_rates("hidden_states"))
        output["feature_lengths"] = torch.tensor([self.frame_counter(int(n)) for n in lengths.tolist()], device=lengths.device)
        output["hidden_states"] = [zero_padding(layer, output["feature_lengths"]) for layer in output["hidden_states"]]
        return output

    def _one_at_a_time(self, wavs: list[Tensor]) -> dict:
        """The upstream's "hidden_states" L x (B, T, D) from each waveform alone, zero-padded to the
        batch's longest."""
        alone = [self.upstream([wav])["hidden_states"] for wav in wavs]
        layers = [pad_sequence([layers[index][0] for layers in alone], batch_first=True) for index in range(len(alone[0]))]
        return {"hidden_states": layers, "last_hidden_state": layers[-1]}

    def frames_alone(self, num_samples: int) -> int:
        """The frames the upstream makes for ``num_samples`` samples of noise alone (eval mode, no autograd)."""
        parameter = next(iter(self.upstream.parameters()), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        noise = torch.randn(num_samples, generator=torch.Generator().manual_seed(num_samples)).to(device)
        was_training = self.upstream.training
        self.upstream.eval()
        try:
            with torch.no_grad():
                return int(self.upstream([noise])["hidden_states"][0].size(1))
        finally:
            self.upstream.train(was_training)


class FrameCounter:
    """Frames an upstream makes for an N-sample utterance alone, from ``frames_alone`` probes.

    A stack of strided convolutions or STFT frames makes ``floor((N + offset) / rate)`` frames
    (WavLM / HuBERT: offset -80, rate 320, i.e. ``floor((N - 400) / 320) + 1``). ``offset`` is found
    once by a binary search over one ``rate`` span of probe lengths, then checked on other
    lengths; for an upstream that follows no such rule each new length is probed once and kept.
    """

    PROBE_START = SAMPLE_RATE  # one second
    CHECK_LENGTHS = (8037, 37301)

    def __init__(self, frames_alone, rate: int):
        self.frames_alone, self.rate = frames_alone, rate
        self.probed: dict[int, int] = {}
        self.offset = self._find_offset()

    def __call__(self, num_samples: int) -> int:
        if self.offset is not None:
            return (num_samples + self.offset) // self.rate
        return self._probe(num_samples)

    def _probe(self, num_samples: int) -> int:
        if num_samples not in self.probed:
            self.probed[num_samples] = self.frames_alone(num_samples)
        return self.probed[num_samples]

    def _find_offset(self) -> int | None:
        start, rate = self.PROBE_START, self.rate
        base = self._probe(start)
        if self._probe(start + rate) != base + 1:
            return None
        low, high = start + 1, start + rate  # the first length making base + 1 frames lies in [low, high]
        while low < high:
            middle = (low + high) // 2
            low, high = (low, middle) if self._probe(middle) > base else (middle + 1, high)
        offset = (base + 1) * rate - low
        if any(self._probe(n) != (n + offset) // rate for n in self.CHECK_LENGTHS):
            return None
        return offset


def _unknown_name_message(name: str, valid: list[str]) -> str:
    return f"unknown upstream name {name!r}.{did_you_mean(name, valid)} `s3prl-fusion list` prints every upstream and preset."
