"""Measure fusion overhead, interface cost, Whisper's length modes, the feature cache and peak memory in one run.

Every number is a ratio of two timings (or memory peaks) taken in the same run on the same
machine, next to its target:

- fusion overhead: the fused forward's time outside its members' forwards (stacking, frame
  alignment) over the time inside them, both from the same call (forward hooks on the
  members), so run-to-run noise does not enter; the members are also timed alone;
- each interface's forward + backward on the aligned stacks, over the members' forwards, and
  HConv's convolutions as ``nn.Conv1d`` against the per-tap products it runs;
- with ``--autocast``: the fused forward in fp32 over the same forward under autocast;
- Whisper ``exact`` against ``pad30`` per audio length, and how far the features move
  (cosine similarity of each layer's valid frames): on the fused set's random Whisper member
  and Gaussian noise, or with ``--whisper DIR`` on that pretrained checkpoint and the bundled
  synthetic speech (``corpora/LibriSpeech``);
- the feature cache (``s3prl_fusion.benchmark.cache_measures``): bytes per hour of the merged, int8 and
  int8-calibrated storage forms over per-member fp16, and int8-calibrated's error over int8's;
  build throughput with the default length-bucketed batches
  over batch 1, on the bench's utterances and on the bundled corpus; for each head (WS or HConv
  + a small ASR-like head: Linear, BiLSTM, CTC; HConv + ML-SUPERB's own head and config) a
  training step from the cache over the same step from features already in memory (the cache's
  own cost), and steps per second from the cache over running the members, beside the limit
  (features in memory over running the members); and the same head trained from an fp16, an
  int8 and an int8-calibrated cache of the bundled corpus (final-loss ratios, the curves with ``--plot``);
- ``s3prl-fusion report`` on a synthetic full Table I (``s3prl_fusion.benchmark.report_measures``:
  65 cells x 2,620 test utterances, every interval with B = 1000 resamples, every paired
  comparison and chart): its wall time over a limit of ``REPORT_LIMIT_S`` seconds (``--quick``:
  B = 100, not judged);
- peak memory of the fused forward against the larger of the members' peaks summed and the
  aligned stacks' size. On CUDA: ``torch.cuda.max_memory_allocated``. On CPU: the peak of
  bytes held through torch's CPU allocator during the call, summed from the allocation events
  of torch's profiler (``profile_memory=True``).

Defaults: a WavLM Base-size and a Whisper-small-size member, randomly initialised from
transformers config classes, 8 utterances of 10 s. ``--quick``: small members, short audio. A
target set for the default sizes (``Row.at_default_sizes``: a share of the members' time, which
tiny members make fixed costs dominate, or a size ratio that needs members of equal shapes) is
printed "n/a" at ``--quick`` sizes; every other target is judged (``verdict``), so a FAIL always
means a miss.
"""
from __future__ import annotations

import argparse
import json
import math
import operator
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import soundfile
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from s3prl_fusion.cache.batches import BatchLimits
from s3prl_fusion.benchmark.cache_measures import (
    AsrLikeHead,
    InMemoryFeatures,
    MlSuperbHead,
    TrainingStep,
    bytes_per_hour,
    loss_curves,
    random_labels,
    timed_build,
)
from s3prl_fusion.benchmark.report_measures import LIBRISPEECH_TEST_UTTERANCES, timed_report
from s3prl_fusion.cache.sources import collect_audio_files, read_waveform
from s3prl_fusion.cache.storage import INT8, INT8_CALIBRATED, MERGED, PER_MEMBER
from s3prl_fusion.cache.upstream import CachedFusedUpstream
from s3prl_fusion.commands.demo import DEMO_CORPUS
from s3prl_fusion.errors import MissingPathError, SettingError
from s3prl_fusion.fusion.frames import valid_frame_mask
from s3prl_fusion.interfaces import INTERFACES, HierarchicalConv, build_interface
from s3prl_fusion.plots import plot_loss_curves
from s3prl_fusion.audio.sample_rate import SAMPLE_RATE
from s3prl_fusion.upstreams.fused import AUTOCAST_DTYPES, FusedUpstream
from s3prl_fusion.upstreams.random_members import random_member_override
from s3prl_fusion.upstreams.whisper import WhisperEncoderUpstream
from s3prl_fusion.upstreams.whisper_sizes import WHISPER_SIZES

CACHE_INTERFACES = ("ws", "hconv")
REPORT_LIMIT_S = 10.0  # a full Table I report with its intervals "in seconds"
STORAGE_FORMS = ((PER_MEMBER, "fp16"), (MERGED, "fp16"), (PER_MEMBER, INT8), (MERGED, INT8), (MERGED, INT8_CALIBRATED))


@dataclass
class BenchSetup:
    """What one bench run measures on."""

    members: list[dict]
    seconds: float
    batch: int
    whisper_seconds: tuple[float, ...]
    repeats: int
    online_steps: int
    cached_steps: int
    int8_utterances: int
    int8_steps: int
    report_resamples: int
    default_sizes: bool  # the default members and audio: targets set for them (``Row.at_default_sizes``) are judged


def default_setup() -> BenchSetup:
    """WavLM Base size (``WavLMConfig()`` defaults: 13 x 768) + Whisper small size (13 x 768)."""
    members = [
        {"name": "wavlm_base_size", "kind": "hf", "config": {"model_type": "wavlm"}},
        {"name": "whisper_small_size", "kind": "whisper", "length_mode": "exact", "config": WHISPER_SIZES["small"].encoder_config()},
    ]
    return BenchSetup(members, seconds=10.0, batch=8, whisper_seconds=(2.0, 5.0, 15.0), repeats=2, online_steps=2, cached_steps=5,
                      int8_utterances=64, int8_steps=40, report_resamples=1000, default_sizes=True)


def quick_setup() -> BenchSetup:
    """Small random members of the same families, short audio: seconds on a CPU."""
    members = [
        {"name": "wavlm_small", **random_member_override({"upstream": "microsoft/wavlm-base-plus"})},
        {"name": "whisper_small_random", "length_mode": "exact", **random_member_override({"upstream": "whisper_small"})},
    ]
    return BenchSetup(members, seconds=1.0, batch=2, whisper_seconds=(0.5, 1.0, 2.0), repeats=1, online_steps=1, cached_steps=2,
                      int8_utterances=16, int8_steps=10, report_resamples=100, default_sizes=False)


@dataclass
class Row:
    """One measurement; ``target`` such as "<= 3%" or "> 0.95x" (empty: none), ``at_default_sizes``
    when that target is set for the default set-up's sizes only."""

    label: str
    value: float
    unit: str
    target: str = ""
    at_default_sizes: bool = False


TARGET = re.compile(r"^(<=|>=|<|>) ?(\d+(?:\.\d+)?)[%x]?$")
COMPARISONS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
NOT_APPLYING = "n/a"


def meets(value: float, target: str) -> bool:
    """Whether ``value``, at the table's printed precision (3 decimals), meets ``target`` ("<= 3%", "> 0.95x", ...)."""
    comparison, bound = TARGET.match(target).groups()
    return COMPARISONS[comparison](round(value, 3), float(bound))


def verdict(row: Row, default_sizes: bool) -> str:
    """The table's result cell: empty without a target, "n/a" for a target set for the default sizes
    in a run at other sizes (``default_sizes`` False), else "pass" or "FAIL"."""
    if not row.target:
        return ""
    if row.at_default_sizes and not default_sizes:
        return NOT_APPLYING
    return "pass" if meets(row.value, row.target) else "FAIL"


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_times(functions: Sequence[Callable[[], object]], repeats: int, device: torch.device) -> list[float]:
    """Fastest wall time of each function over ``repeats`` rounds, in seconds; each round calls
    every function once, in turn, so slow drifts of the machine reach them all alike."""
    best = [math.inf] * len(functions)
    for _ in range(repeats):
        for index, function in enumerate(functions):
            _synchronize(device)
            start = time.perf_counter()
            function()
            _synchronize(device)
            best[index] = min(best[index], time.perf_counter() - start)
    return best


def best_time(function: Callable[[], object], repeats: int, device: torch.device) -> float:
    """Fastest wall time of ``repeats`` calls, in seconds."""
    return best_times([function], repeats, device)[0]


def _cpu_allocator_peak(function: Callable[[], object]) -> int:
    """Peak bytes held through torch's CPU allocator during ``function``, above what was held
    before, from the profiler's allocation events in time order."""
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        function()
    allocations = []
    pending = list(profiler.profiler.kineto_results.experimental_event_tree())
    while pending:
        node = pending.pop()
        pending.extend(node.children)
        if node.tag == _EventType.Allocation and node.extra_fields.device.type == "cpu":
            allocations.append((node.start_time_ns, node.extra_fields.alloc_size))
    held = peak = 0
    for _, size in sorted(allocations):
        held += size
        peak = max(peak, held)
    return peak


def peak_memory(function: Callable[[], object], device: torch.device) -> int:
    """Peak bytes allocated by ``function`` above the memory already allocated."""
    if device.type == "cuda":
        _synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        function()
        _synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    return _cpu_allocator_peak(function)


class NoiseAudio:
    """Gaussian noise (std 0.1) from torch's global generator."""

    description = "Gaussian noise"

    def batch(self, seconds: float, count: int) -> list[Tensor]:
        """``count`` waveforms of ``seconds`` s, (samples,) each."""
        return [0.1 * torch.randn(int(seconds * SAMPLE_RATE)) for _ in range(count)]


class CorpusSpeech:
    """Speech-like audio of any length from a folder of 16 kHz utterances (default: the bundled
    synthetic LibriSpeech, 160 utterances, 120 s): consecutive utterances joined end to end."""

    def __init__(self, corpus: Path = DEMO_CORPUS):
        if not Path(corpus).is_dir():
            raise MissingPathError(f"the speech corpus {corpus} is missing; run corpora/make_corpora.py or measure from a source checkout")
        self.utterances = [read_waveform(path) for path in collect_audio_files([], [str(corpus)])]
        self.description = f"synthetic speech ({len(self.utterances)} utterances of {corpus}, joined to length)"

    def batch(self, seconds: float, count: int) -> list[Tensor]:
        """``count`` waveforms of ``seconds`` s, (samples,) each: waveform ``b`` joins the corpus's
        utterances in order, cyclically, from utterance ``b * len(corpus) // count`` on."""
        samples = int(seconds * SAMPLE_RATE)
        waveforms = []
        for index in range(count):
            position, pieces, joined = index * len(self.utterances) // count, [], 0
            while joined < samples:
                pieces.append(self.utterances[position % len(self.utterances)])
                joined += pieces[-1].numel()
                position += 1
            waveforms.append(torch.cat(pieces)[:samples])
        return waveforms


def pretrained_whisper(directory: str) -> WhisperEncoderUpstream:
    """A Whisper checkpoint folder (``save_pretrained`` layout) -> the member the fused upstream
    would build from it, in ``exact`` mode."""
    config_file = Path(directory) / "config.json"
    if not config_file.is_file():
        raise MissingPathError(f"--whisper {directory}: no config.json there; give a folder written by a Whisper model's save_pretrained")
    model_type = json.loads(config_file.read_text()).get("model_type")
    if model_type != "whisper":
        raise SettingError(f"--whisper {directory}: its config.json says model_type {model_type!r}; give a Whisper checkpoint folder")
    return WhisperEncoderUpstream(source=str(directory), length_mode="exact")


def _describe_whisper(whisper: WhisperEncoderUpstream) -> str:
    parameter = next(whisper.parameters())
    return f"{whisper.num_hidden_states} hidden states x {whisper.hidden_size}, {str(parameter.dtype).removeprefix('torch.')}"


def _layer_cosines(exact: list[Tensor], padded: list[Tensor], lengths: Tensor) -> list[float]:
    """Per layer: mean cosine similarity of the two modes' features over every valid frame."""
    valid = valid_frame_mask(lengths, exact[0].size(1))
    return [F.cosine_similarity(a[valid], b[valid], dim=-1).mean().item() for a, b in zip(exact, padded)]


class Bench:
    def __init__(self, setup: BenchSetup, device: torch.device, autocast: str = "none", whisper_checkpoint: str | None = None):
        """``whisper_checkpoint``: a pretrained Whisper folder for the length-mode rows (measured on
        the bundled speech); None: the fused set's random Whisper member, on noise."""
        self.setup = setup
        self.device = device
        torch.manual_seed(0)
        self.fused = FusedUpstream(setup.members, autocast=autocast).to(device).eval()
        self.autocast = autocast
        self.wavs = [wav.to(device) for wav in NoiseAudio().batch(setup.seconds, setup.batch)]
        if whisper_checkpoint is None:
            self.length_mode_whisper = next((m for m in self.fused.members if isinstance(m, WhisperEncoderUpstream)), None)
            self.length_mode_weights, self.length_mode_audio = "random weights (the fused set's Whisper member)", NoiseAudio()
        else:
            self.length_mode_whisper = pretrained_whisper(whisper_checkpoint).to(device).eval()
            self.length_mode_weights, self.length_mode_audio = f"pretrained {whisper_checkpoint}", CorpusSpeech()
        self.rows: list[Row] = []
        self.notes: list[str] = []

    def length_mode_line(self) -> str:
        """Which Whisper weights and audio the length-mode rows use."""
        if self.length_mode_whisper is None:
            return "Whisper length modes: no Whisper member, not compared"
        return (
            f"Whisper length modes on {self.length_mode_weights} ({_describe_whisper(self.length_mode_whisper)}), "
            f"{self.length_mode_audio.description}"
        )

    def _member_forward(self, member: nn.Module, wavs: list[Tensor]):
        with torch.no_grad(), self.fused.precision(self.device):
            return member(wavs)

    def _fused_forward(self):
        with torch.no_grad():
            return self.fused(self.wavs)

    def _fused_forward_with_member_times(self) -> tuple[float, float]:
        """One fused forward: (its wall time, the time spent inside its members' forwards),
        the latter from forward hooks on the members, in the same call."""
        inside = []

        def started(module, args):
            _synchronize(self.device)
            module._bench_started = time.perf_counter()

        def finished(module, args, output):
            _synchronize(self.device)
            inside.append(time.perf_counter() - module._bench_started)

        handles = [hook for member in self.fused.members for hook in (member.register_forward_pre_hook(started), member.register_forward_hook(finished))]
        try:
            total = best_time(self._fused_forward, 1, self.device)
        finally:
            for handle in handles:
                handle.remove()
        return total, sum(inside)

    def fusion_overhead(self) -> float:
        """Fusion overhead within the fused forward (its time outside the members' forwards, over
        the time inside them), from the call of ``repeats`` where it was least: the part outside
        is a few tenths of a second, so one stall of the machine there moves the ratio by
        percents; the members are also timed alone. Returns the members' summed forward time."""
        self._fused_forward()
        calls = [self._fused_forward_with_member_times() for _ in range(self.setup.repeats)]
        fused_time, inside_time = min(calls, key=lambda call: (call[0] - call[1]) / call[1])
        member_times = [best_time(lambda: self._member_forward(member, self.wavs), self.setup.repeats, self.device) for member in self.fused.members]
        for name, seconds in zip(self.fused.member_names, member_times):
            self.notes.append(f"member {name} forward alone: {seconds:.3f} s")
        self.notes.append(
            f"fused forward: {fused_time:.3f} s, of which {inside_time:.3f} s inside the members; members run alone, "
            f"summed: {sum(member_times):.3f} s (fused / that - 1: {100 * (fused_time / sum(member_times) - 1):.1f}%, across calls)"
        )
        overhead = 100 * (fused_time - inside_time) / inside_time
        self.rows.append(Row("fusion overhead (fused fwd outside members / inside)", overhead, "%", "<= 3%", at_default_sizes=True))
        return sum(member_times)

    def autocast_speedup(self) -> None:
        """The fused forward in fp32 over the same forward under the chosen autocast."""
        mixed = best_time(self._fused_forward, self.setup.repeats, self.device)
        dtype, self.fused.autocast_dtype = self.fused.autocast_dtype, None
        try:
            full = best_time(self._fused_forward, self.setup.repeats, self.device)
        finally:
            self.fused.autocast_dtype = dtype
        self.rows.append(Row(f"fused fwd fp32 / {self.autocast} autocast", full / mixed, "x"))

    def _training_step_time(self, module: nn.Module, forward: Callable[[], Tensor]) -> float:
        """Best time of ``module``'s zero_grad + ``forward()`` + backward, after one warm-up step."""

        def step():
            module.zero_grad(set_to_none=True)
            forward().pow(2).mean().backward()

        step()
        return best_time(step, self.setup.repeats, self.device)

    def interfaces(self, stacks: list[Tensor], members_time: float) -> None:
        """Each interface's forward + backward on the aligned ``stacks``, over the members' forward time."""
        layer_counts, dims = [s.size(0) for s in stacks], [s.size(-1) for s in stacks]
        for name in INTERFACES:
            interface = build_interface(name, layer_counts, dims).to(self.device).train()
            ratio = 100 * self._training_step_time(interface, lambda: interface(stacks)) / members_time
            self.rows.append(Row(f"{name} fwd+bwd / members' fwd", ratio, "%", "<= 10%" if name == "hconv" else "", at_default_sizes=True))

    def hconv_products(self, stack: Tensor) -> None:
        """HierarchicalConv's forward + backward on one ``(L, B, T, D)`` stack: ``nn.Conv1d`` over
        ``(B * T, D, L)`` (padding products included) over its per-tap products (``layer_axis_conv``)."""
        torch.manual_seed(0)
        conv = HierarchicalConv(stack.size(0), stack.size(-1)).to(self.device).train()

        def through_conv1d() -> Tensor:
            layers, batch, frames, dim = stack.shape
            hidden = stack.permute(1, 2, 3, 0).reshape(batch * frames, dim, layers)
            for layer in conv.convs:
                hidden = F.relu(layer(hidden))
            return hidden.reshape(batch, frames, conv.output_dim)

        conv1d_time = self._training_step_time(conv, through_conv1d)
        per_tap_time = self._training_step_time(conv, lambda: conv(stack))
        self.rows.append(Row("HConv fwd+bwd: nn.Conv1d / per-tap products", conv1d_time / per_tap_time, "x"))

    def whisper_length_modes(self) -> None:
        """pad30 / exact time and per-layer cosine of the two modes, per length in ``whisper_seconds``."""
        whisper = self.length_mode_whisper
        if whisper is None:
            return
        for seconds in self.setup.whisper_seconds:
            wavs = [wav.to(self.device) for wav in self.length_mode_audio.batch(seconds, self.setup.batch)]
            timings, outputs = {}, {}
            for mode in ("exact", "pad30"):
                whisper.length_mode = mode
                outputs[mode] = self._member_forward(whisper, wavs)
                timings[mode] = best_time(lambda: self._member_forward(whisper, wavs), 1, self.device)
            whisper.length_mode = "exact"
            speedup = timings["pad30"] / timings["exact"]
            self.rows.append(Row(f"Whisper pad30 / exact time, {seconds:g} s audio", speedup, "x", ">= 4x" if seconds == 5.0 else ""))
            cosines = _layer_cosines(outputs["exact"]["hidden_states"], outputs["pad30"]["hidden_states"], outputs["exact"]["feature_lengths"])
            self.rows.append(Row(f"Whisper exact vs pad30 cosine, {seconds:g} s (min over layers)", min(cosines), ""))
            self.notes.append(f"cosine exact vs pad30 per layer, {seconds:g} s: " + " ".join(f"{c:.3f}" for c in cosines))

    def _write_audio(self, folder: Path) -> list[Path]:
        paths = []
        for index, wav in enumerate(self.wavs):
            path = folder / f"utterance{index}.wav"
            soundfile.write(str(path), wav.cpu().numpy(), SAMPLE_RATE, subtype="FLOAT")
            paths.append(path)
        return paths

    def _step_times(
        self, trainer: TrainingStep, upstreams: Sequence[nn.Module], wavs: list[Tensor], labels: list[list[int]], steps: int
    ) -> list[float]:
        """Best time of a training step of ``trainer`` from each upstream over ``steps`` rounds
        that step from each in turn (``best_times``), after one warm-up step from each."""
        for upstream in upstreams:
            trainer.step(upstream, wavs, labels)
        return best_times([lambda upstream=upstream: trainer.step(upstream, wavs, labels) for upstream in upstreams], steps, self.device)

    def feature_cache(self) -> None:
        """The feature cache against its alternatives (``s3prl_fusion.benchmark.cache_measures``): bytes per
        hour of each storage form over per-member fp16; build throughput of the default batches
        over batch 1; per head, a cached step over the same step from features in memory and
        cached over on-the-fly steps/s, with an ASR-like head and with ML-SUPERB's own head and config."""
        with tempfile.TemporaryDirectory() as folder:
            folder = Path(folder)
            files = self._write_audio(folder)
            builds = {form: timed_build(self.fused, files, folder / "-".join(form), self.device, *form) for form in STORAGE_FORMS}
            self._storage_rows(builds)
            # timed after the builds above, so none pays the first build's warm-up
            self._build_throughput_row(files, folder / "long", f"{len(files)} x {self.setup.seconds:g} s", 0.95)
            corpus = collect_audio_files([], [str(DEMO_CORPUS / "train-clean-100")])[: self.setup.int8_utterances]
            self._build_throughput_row(corpus, folder / "corpus", f"{len(corpus)} bundled utterances", 1.0)
            cached = CachedFusedUpstream(folder / "-".join((PER_MEMBER, "fp16")))
            wavs = [read_waveform(path).to(self.device) for path in files]
            labels = random_labels(wavs, torch.Generator().manual_seed(0))
            self._cached_step_rows(cached, wavs, labels)

    def _build_throughput_row(self, files: list[Path], folder: Path, label: str, above: float) -> None:
        """Build throughput of the default batches (``BatchLimits.default_for`` this device) over
        batch 1 on ``files``, which passes above ``above``. On the bench's long utterances a CPU
        default batches at most two (``cache.batches``): batch 1's own time, so the target there
        is batch 1's within run-to-run noise (0.95)."""
        _, default_seconds = timed_build(self.fused, files, folder / "default", self.device, PER_MEMBER, "fp16")
        _, batch_one_seconds = timed_build(self.fused, files, folder / "batch-1", self.device, PER_MEMBER, "fp16", limits=BatchLimits(1))
        limits = BatchLimits.default_for(self.device.type)
        self.notes.append(
            f"cache build of {label}: default batches (<= {limits.utterances} utterances, <= {limits.seconds:g} s) {default_seconds:.2f} s, "
            f"batch 1 {batch_one_seconds:.2f} s"
        )
        speedup = batch_one_seconds / default_seconds
        self.rows.append(Row(f"cache build throughput: default batches / batch 1 ({label})", speedup, "x", f"> {above:g}x"))

    def _storage_rows(self, builds: dict[tuple[str, str], tuple]) -> None:
        reference = bytes_per_hour(builds[(PER_MEMBER, "fp16")][0])
        for (storage, dtype), (manifest, _) in builds.items():
            self.notes += [f"cache ({storage} {dtype}): " + line.strip() for line in manifest.disk_usage_lines()]
            if (storage, dtype) == (PER_MEMBER, "fp16"):
                continue
            ratio = bytes_per_hour(manifest) / reference
            # a quarter where the members' stacks have equal shapes, as the default ones (13 x 768 each); met at the printed
            # precision (``meets``): a shard file's 128-byte .npy header moves the default bench's ratio by 4e-7
            target = "<= 0.25x" if (storage, dtype) == (MERGED, INT8_CALIBRATED) else ""
            self.rows.append(Row(f"cache bytes/h: {storage} {dtype} / per-member fp16", ratio, "x", target, at_default_sizes=True))
        errors = {dtype: builds[(MERGED, dtype)][0].reconstruction_errors()[0].relative_rms for dtype in (INT8, INT8_CALIBRATED)}
        self.rows.append(Row(f"cache relative RMS error: merged {INT8_CALIBRATED} / merged {INT8}", errors[INT8_CALIBRATED] / errors[INT8], "x"))

    def _cached_step_rows(self, cached: CachedFusedUpstream, wavs: list[Tensor], labels: list[list[int]]) -> None:
        steps = self.setup.cached_steps
        memory = InMemoryFeatures(cached(wavs))
        heads = {f"{name} + ASR-like head": (name, AsrLikeHead) for name in CACHE_INTERFACES}
        heads["hconv + ML-SUPERB head and config"] = ("hconv", MlSuperbHead)
        times = {}  # label -> (cached, on the fly, in memory) seconds per step
        for label, (interface, head) in heads.items():
            trainer = TrainingStep(cached, interface, head, self.device)
            [online_time] = self._step_times(trainer, [self.fused], wavs, labels, self.setup.online_steps)
            # interleaved: the ratio of the two compares steps taken side by side
            cached_time, memory_time = self._step_times(trainer, [cached, memory], wavs, labels, steps)
            times[label] = (cached_time, online_time, memory_time)
        for label, (cached_time, online_time, memory_time) in times.items():
            self.notes.append(
                f"{label} training: cached {1 / cached_time:.3f} steps/s, on the fly {1 / online_time:.3f} steps/s, "
                f"from features in memory {1 / memory_time:.3f} steps/s"
            )
            # the cache's own cost (reading, decoding, lookup): what it adds to the step it saves the members from
            ratio = cached_time / memory_time
            self.rows.append(Row(f"cached step / in-memory features step ({label})", ratio, "x", "<= 1.2x", at_default_sizes=True))
            self.rows.append(Row(f"cached / on-the-fly steps/s ({label})", online_time / cached_time, "x"))
            # what no cache can beat: the members' time saved, the interface and head still paid
            self.rows.append(Row(f"  limit: in-memory / on-the-fly steps/s ({label})", online_time / memory_time, "x"))

    def int8_training(self, corpus: Path, plot: Path | None) -> None:
        """The same seeded hconv + ASR-like head trained from an fp16, an int8 and an int8-calibrated
        cache of the bundled corpus on the same batches: the ratio of each int8 form's final loss to
        fp16's, and the curves."""
        files = collect_audio_files([], [str(corpus)])[: self.setup.int8_utterances]
        wavs = [read_waveform(path).to(self.device) for path in files]
        labels = random_labels(wavs, torch.Generator().manual_seed(0))
        batches = [(wavs[start : start + self.setup.batch], labels[start : start + self.setup.batch]) for start in range(0, len(wavs), self.setup.batch)]
        with tempfile.TemporaryDirectory() as folder:
            caches = {}
            for dtype in ("fp16", INT8, INT8_CALIBRATED):
                timed_build(self.fused, files, Path(folder) / dtype, self.device, PER_MEMBER, dtype)
                caches[dtype] = CachedFusedUpstream(Path(folder) / dtype)
            curves = loss_curves(caches, batches, "hconv", self.setup.int8_steps, self.device)
        tail = max(1, len(curves["fp16"]) // 5)
        final = {dtype: sum(curve[-tail:]) / tail for dtype, curve in curves.items()}
        for dtype in (INT8, INT8_CALIBRATED):
            label = f"head loss from {dtype} / fp16 cache (mean of last {tail} of {len(curves['fp16'])} steps)"
            self.rows.append(Row(label, final[dtype] / final["fp16"], "x"))
        for dtype, curve in curves.items():
            self.notes.append(f"{dtype} cache training loss ({len(files)} utterances of {corpus}): " + " ".join(f"{loss:.3f}" for loss in curve))
        if plot is not None:
            plot_loss_curves(plot, curves, f"hconv + ASR-like head from a per-member cache of {len(files)} bundled utterances")
            self.notes.append(f"loss curves: {plot}")

    def memory(self, aligned_bytes: int) -> None:
        """Peak memory of the fused forward against the members' peaks and ``aligned_bytes``, the
        size of its output stacks; nothing else of the bench is held while it is measured."""
        member_peaks = [peak_memory(lambda: self._member_forward(member, self.wavs), self.device) for member in self.fused.members]
        fused_peak = peak_memory(self._fused_forward, self.device)
        reference = max(sum(member_peaks), aligned_bytes)
        method = "torch.cuda.max_memory_allocated" if self.device.type == "cuda" else "torch profiler CPU allocation events"
        self.notes.append(
            f"peak memory ({method}): fused {fused_peak / 2**20:.0f} MiB; members {[round(p / 2**20) for p in member_peaks]} MiB; "
            f"aligned stacks {aligned_bytes / 2**20:.0f} MiB"
        )
        ratio = fused_peak / reference
        self.rows.append(Row("fused peak / max(sum of member peaks, aligned stacks)", ratio, "x", "<= 1.25x"))

    def report(self) -> None:
        """The report's time on a synthetic full Table I, over ``REPORT_LIMIT_S``."""
        cells, wall, cpu = timed_report(self.setup.report_resamples)
        self.notes.append(f"report: {cells} cells x {LIBRISPEECH_TEST_UTTERANCES} utterances, B = {self.setup.report_resamples}: "
                          f"{wall:.2f} s wall, {cpu:.2f} s CPU of this process")
        self.rows.append(Row(f"report, {cells} cells x {LIBRISPEECH_TEST_UTTERANCES} utterances, B={self.setup.report_resamples}: "
                             f"time / {REPORT_LIMIT_S:g} s", wall / REPORT_LIMIT_S, "x", "<= 1x", at_default_sizes=True))

    def run(self, plot: Path | None = None) -> None:
        """Every measurement; ``plot``: where to write the int8 forms' and fp16's loss curves (PNG), or None."""
        _progress("fusion overhead")
        members_time = self.fusion_overhead()
        if self.autocast != "none":
            _progress(f"{self.autocast} autocast")
            self.autocast_speedup()
        _progress("interfaces")
        stacks = self._fused_forward()["fusion_stacks"]
        self.interfaces(stacks, members_time)
        self.hconv_products(stacks[0])
        aligned_bytes = sum(stack.numel() * stack.element_size() for stack in stacks)
        del stacks
        _progress("Whisper length modes")
        self.whisper_length_modes()
        _progress("feature cache")
        self.feature_cache()
        _progress("int8 forms vs fp16 cache: training a head")
        self.int8_training(DEMO_CORPUS / "train-clean-100", plot)
        _progress("peak memory")
        self.memory(aligned_bytes)
        _progress("report on a synthetic Table I")
        self.report()


def _progress(section: str) -> None:
    print(f"[bench] {time.strftime('%H:%M:%S')} {section}", file=sys.stderr, flush=True)


def format_table(rows: list[Row], default_sizes: bool) -> str:
    width = max(len(row.label) for row in rows)
    lines = [f"| {'measurement':<{width}} | {'value':>9} | {'target':>8} | {'result':<6} |", f"|{'-' * (width + 2)}|{'-' * 11}|{'-' * 10}|{'-' * 8}|"]
    for row in rows:
        lines.append(f"| {row.label:<{width}} | {row.value:>8.3f}{row.unit:<1} | {row.target:>8} | {verdict(row, default_sizes):<6} |")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="small members and short audio (seconds on a CPU)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seconds", type=float, help="utterance length (default 10; --quick 1)")
    parser.add_argument("--batch", type=int, help="utterances per batch (default 8; --quick 2)")
    parser.add_argument(
        "--whisper", metavar="DIR",
        help="a pretrained Whisper checkpoint folder for the exact-vs-pad30 rows, measured on the bundled synthetic speech "
        "(default: the random Whisper member, on noise)",
    )
    parser.add_argument("--plot", metavar="PNG", help="write the training loss curves of the fp16, int8 and int8-calibrated caches here")
    parser.add_argument(
        "--autocast", choices=["none", *AUTOCAST_DTYPES], default="none",
        help="run the members under autocast in every measurement, and also time the fused forward in fp32 against it",
    )


def run(args: argparse.Namespace) -> None:
    setup = quick_setup() if args.quick else default_setup()
    setup.seconds = args.seconds or setup.seconds
    setup.batch = args.batch or setup.batch
    device = torch.device(args.device)
    bench = Bench(setup, device, args.autocast, args.whisper)
    print(
        f"device {device} ({torch.get_num_threads()} threads), autocast {args.autocast}, members {bench.fused.member_names}, "
        f"{setup.batch} utterances x {setup.seconds:g} s, best of {setup.repeats}"
    )
    print(bench.length_mode_line())
    bench.run(Path(args.plot) if args.plot else None)
    print(format_table(bench.rows, setup.default_sizes))
    if not setup.default_sizes:
        print(f"{NOT_APPLYING}: a target set for the default sizes (base-size members, 8 utterances of 10 s), not judged at --quick sizes")
    print("\n".join(bench.notes))
