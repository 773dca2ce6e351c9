"""``s3prl-fusion cache plan``: what a run costs before anything runs.

    s3prl-fusion cache plan -u fused_wavlm_whisper_en --data /data/librispeech_len/train-clean-100.csv -d asr
    s3prl-fusion cache plan -u fused -g members.yaml --data corpora/LibriSpeech/train-clean-100 -d asr -c my.yaml
    s3prl-fusion cache plan -u fused_wavlmlarge_whispermedium --hours 1 -d ml_superb

Prints the hours of audio, the cache's size in each storage form (``cache build`` stores, per
member and utterance, an array ``(frames, L_i, D_i)`` with every member's frames aligned to the
fastest member's count), and the member passes a training run makes on the fly
(``total_steps x gradient_accumulate_steps`` forwards of the task's training batch) against the
one pass per utterance that builds the cache. Nothing is loaded or run: members are sized from
the known checkpoints' table (``s3prl-fusion list``), a local directory's ``config.json``, or a
``-g`` member's ``config``; audio lengths come from file headers, s3prl length tables or
ML-SUPERB transcripts, or from ``--hours``.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import soundfile
import yaml

from s3prl_fusion.cache.sources import AUDIO_SUFFIXES
from s3prl_fusion.cache.storage import FLOAT_DTYPES, INT8, INT8_CALIBRATED, MERGED, PER_MEMBER, block_bytes, stored_layouts
from s3prl_fusion.cache.tasks import UNCACHEABLE_TASKS
from s3prl_fusion.errors import MissingPathError, SettingError, UnknownNameError, did_you_mean
from s3prl_fusion.s3prl_adapter.internals.asr_batching import asr_half_batch_samples, ctc_half_batch_samples
from s3prl_fusion.audio.sample_rate import SAMPLE_RATE
from s3prl_fusion.upstreams import fused_member_entries
from s3prl_fusion.upstreams.known_shapes import KNOWN_SHAPES
from s3prl_fusion.upstreams.members import normalize_member
from s3prl_fusion.upstreams.presets import PRESETS
from s3prl_fusion.upstreams.random_members import model_family
from s3prl_fusion.upstreams.whisper import DOWNSAMPLE_RATE, whisper_frame_count
from s3prl_fusion.upstreams.whisper_sizes import WHISPER_SIZES

GIB = 2**30
# the key under downstream_expert of each task's training batch size, as its expert reads it
TRAIN_BATCH_KEYS = {
    "asr": "datarc.batch_size", "ml_superb": "datarc.batch_size", "emotion": "datarc.train_batch_size",
    "sv_voxceleb1": "datarc.train_batch_size", "fluent_commands": "datarc.train_batch_size",
    "speech_commands": "datarc.batch_size", "voxceleb1": "datarc.train_batch_size", "ctc": "corpus.batch_size",
    "diarization": "loaderrc.train_batchsize",
}
# tasks that train nothing: their runs are evaluations, with no training forwards to count
EVALUATE_ONLY_TASKS = {"quesst14_dtw": "SUPERB's QbE runs DTW over one layer's features of the queries and documents"}


# ---- members ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConvFrameRule:
    """Frames a stack of unpadded strided 1-D convolutions makes from N samples (HF SSL front ends)."""

    kernels: tuple[int, ...]
    strides: tuple[int, ...]

    def __call__(self, num_samples: int) -> int:
        for kernel, stride in zip(self.kernels, self.strides):
            num_samples = (num_samples - kernel) // stride + 1
        return num_samples


@dataclass(frozen=True)
class MemberShape:
    """What a member stores per frame: ``hidden_states`` (L) x ``dim`` (D) values."""

    name: str
    hidden_states: int
    dim: int
    frames: Callable[[int], int]  # samples of one utterance -> its frames
    downsample_rate: int  # samples per frame


def fused_members(upstream: str, ckpt: str | None, model_config: str | None) -> list[dict]:
    """The normalized member entries of ``-u upstream -k ckpt -g model_config``, as the fused
    upstream's factories assemble them, without building anything."""
    if upstream not in PRESETS and upstream != "fused":
        raise UnknownNameError(
            f"-u {upstream} is not a fused upstream: the cache stores fused upstreams' member stacks. Use -u fused "
            f"(members from -k/-g) or a fused_* preset.{did_you_mean(upstream, list(PRESETS))}"
        )
    members, _ = fused_member_entries(upstream, ckpt, model_config)
    return [normalize_member(member) for member in members]


def _whisper_size(source: str) -> str | None:
    """The size of a Whisper size name (``whisper_<size>``) or of its Hugging Face id, if it is a known one."""
    if source.startswith("whisper_"):
        size = source[len("whisper_"):]
        return size if size in WHISPER_SIZES else None
    return next((size for size, known in WHISPER_SIZES.items() if known.checkpoint == source), None)


def _local_config(source: str):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(source) if (Path(source) / "config.json").is_file() else None


def member_shape(entry: dict) -> MemberShape:
    """A normalized member entry -> its shape, from its ``config``, its local ``config.json`` or
    the known checkpoints' table."""
    from transformers import AutoConfig, WhisperConfig

    whisper = entry["kind"] == "whisper"
    source = str(entry.get("ckpt") or entry.get("upstream"))
    if entry.get("config") is not None:
        settings = dict(entry["config"])
        if not whisper and "model_type" not in settings:
            raise SettingError(f"member {entry['name']}: a `config:` member needs `model_type` (wavlm, hubert, data2vec-audio, ...)")
        config = WhisperConfig(**settings) if whisper else AutoConfig.for_model(settings.pop("model_type"), **settings)
    else:
        config = _local_config(source)
    if whisper:
        if config is None:
            size = _whisper_size(source)
            if size is None:
                raise _unsized_member(entry, source)
            layers, dim = WHISPER_SIZES[size].hidden_states, WHISPER_SIZES[size].dim
        else:
            layers, dim = config.encoder_layers + 1, config.d_model
        return MemberShape(entry["name"], layers, dim, whisper_frame_count, DOWNSAMPLE_RATE)
    if config is None:
        if source not in KNOWN_SHAPES or entry["kind"] != "hf" or _whisper_size(source):
            raise _unsized_member(entry, source)
        layers, dim = KNOWN_SHAPES[source]
        config = AutoConfig.for_model(model_family({"upstream": source}))
    else:
        layers, dim = config.num_hidden_layers + 1, config.hidden_size
    rule = ConvFrameRule(tuple(config.conv_kernel), tuple(config.conv_stride))
    return MemberShape(entry["name"], layers, dim, rule, math.prod(rule.strides))


def _unsized_member(entry: dict, source: str) -> UnknownNameError:
    return UnknownNameError(
        f"cannot tell the layers and dims of member {entry['name']} ({source}) without loading it. The plan knows "
        f"{', '.join(sorted(KNOWN_SHAPES))}, local model directories (with config.json) and `config:` members of -g."
        f"{did_you_mean(source, list(KNOWN_SHAPES))}"
    )


# ---- audio -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Audio:
    """The utterances a plan counts: their lengths in samples, or only a total (``--hours``)."""

    source: str
    seconds: float
    samples: list[int] | None = None
    utterances: int | None = None

    @property
    def hours(self) -> float:
        return self.seconds / 3600


def _header_samples(path: Path) -> int:
    if not path.is_file():
        raise MissingPathError(f"audio file {path} does not exist")
    header = soundfile.info(str(path))
    if header.samplerate != SAMPLE_RATE:
        raise SettingError(f"{path} is sampled at {header.samplerate} Hz; upstreams take {SAMPLE_RATE} Hz audio: resample it first")
    return header.frames


def _table_samples(table: Path) -> list[int]:
    frame = pd.read_csv(table)
    if "length" not in frame.columns:
        raise SettingError(f"{table} has no `length` column; give an s3prl length table (,file_path,length,label)")
    return [int(length) for length in frame["length"]]


def _transcript_samples(transcript: Path) -> list[int]:
    from s3prl_fusion.downstreams.ml_superb.corpus import read_transcript

    return [_header_samples(transcript.parent / "wav" / f"{utt_id}.wav") for utt_id, _ in read_transcript(transcript)]


def _folder_samples(folder: Path) -> list[int]:
    files = sorted(path for path in folder.rglob("*") if path.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise MissingPathError(f"no {'/'.join(AUDIO_SUFFIXES)} file below {folder}")
    return [_header_samples(path) for path in files]


def audio_from_data(data: list[str]) -> Audio:
    """Utterance lengths from ``--data`` entries: folders of audio files (their headers), s3prl
    length tables (``.csv``, column ``length``) and ML-SUPERB transcripts (``.txt``: the
    ``wav/<utt_id>.wav`` files beside them)."""
    samples: list[int] = []
    for entry in map(Path, data):
        if entry.is_dir():
            samples += _folder_samples(entry)
        elif entry.is_file() and entry.suffix == ".csv":
            samples += _table_samples(entry)
        elif entry.is_file() and entry.suffix == ".txt":
            samples += _transcript_samples(entry)
        else:
            raise MissingPathError(
                f"--data {entry} is neither a folder of audio, an s3prl length table (.csv) nor an ML-SUPERB transcript (.txt)"
            )
    return Audio(" + ".join(data), sum(samples) / SAMPLE_RATE, samples, len(samples))


def audio_from_hours(hours: float, utterances: int | None) -> Audio:
    if hours <= 0 or (utterances is not None and utterances < 1):
        raise SettingError(f"--hours must be positive and --utterances at least 1; got {hours} and {utterances}")
    return Audio(f"--hours {hours:g}", hours * 3600, None, utterances)


# ---- sizes -----------------------------------------------------------------------------------

def aligned_frames(shapes: list[MemberShape], audio: Audio) -> int:
    """Frames every member stores: per utterance the most any member makes (``align_frames``);
    for ``--hours``, the fastest member's frame rate times the duration."""
    if audio.samples is None:
        return round(audio.seconds * SAMPLE_RATE / min(shape.downsample_rate for shape in shapes))
    return sum(max(shape.frames(samples) for shape in shapes) for samples in audio.samples)


def stored_bytes(shapes: list[MemberShape], frames: int, utterances: float | None, storage: str, dtype: str) -> list[int]:
    """Bytes ``cache build --storage storage --dtype dtype`` stores per stored stack (each member's,
    or the merged one's alone) for ``frames`` aligned frames of ``utterances`` utterances: frames x
    L x D x bytes per value, int8 adding two rows of scales per utterance (``storage.block_bytes``:
    int8 needs the utterance count; int8-calibrated keeps its scales in the manifest). Each shard
    file adds a 128-byte .npy header."""
    layouts = stored_layouts(storage, [shape.hidden_states for shape in shapes], [shape.dim for shape in shapes])
    return [block_bytes(dtype, frames, utterances, layers, dim) for layers, dim in layouts]


def member_bytes(shape: MemberShape, frames: int, dtype: str, utterances: int | None = None) -> int:
    """Bytes ``cache build --dtype dtype`` stores for one member in per-member storage."""
    return stored_bytes([shape], frames, utterances, PER_MEMBER, dtype)[0]


def bytes_per_hour(shapes: list[MemberShape], storage: str, dtype: str, utterances_per_hour: float) -> float:
    """Bytes per hour of audio that ``cache build --storage storage --dtype dtype`` stores for
    members of ``shapes``, at their aligned frame rate (the fastest member's); int8's per-utterance
    scales are counted for ``utterances_per_hour`` (LibriSpeech train-clean-100: 28,539 utterances
    in 100.6 h, 283.7 per hour). Two 13 x 768 members at 50 frames/s: per-member fp16 6.69 GiB,
    merged fp16 3.35 GiB, merged int8 1.68 GiB, merged int8-calibrated 1.67 GiB."""
    frames = aligned_frames(shapes, audio_from_hours(1, None))
    return sum(stored_bytes(shapes, frames, utterances_per_hour, storage, dtype))


# ---- member passes ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Training:
    """A task config's training schedule: ``total_steps`` optimizer updates of
    ``accumulation`` forwards of ``batch_size`` utterances each."""

    task: str
    config_path: Path
    total_steps: int
    accumulation: int
    batch_key: str
    batch_size: int

    @property
    def forwards(self) -> int:
        return self.total_steps * self.accumulation


def read_training(task: str, config_path: Path) -> Training:
    if task in EVALUATE_ONLY_TASKS:
        cache = f"; nor can a feature cache serve it: {UNCACHEABLE_TASKS[task]}" if task in UNCACHEABLE_TASKS else ""
        raise SettingError(
            f"-d {task} trains nothing ({EVALUATE_ONLY_TASKS[task]}), so there are no training forwards to count{cache}. "
            "Leave -d out to plan the cache's size alone"
        )
    if task not in TRAIN_BATCH_KEYS:
        known = sorted([*TRAIN_BATCH_KEYS, *EVALUATE_ONLY_TASKS])
        raise UnknownNameError(f"cache plan knows the batches of tasks {known}, not -d {task}.{did_you_mean(task, known)}")
    if not config_path.is_file():
        raise MissingPathError(f"task config (-c) {config_path} does not exist")
    config = yaml.safe_load(config_path.read_text()) or {}
    runner = config.get("runner") or {}
    section, batch_key = TRAIN_BATCH_KEYS[task].split(".")
    batches = (config.get("downstream_expert") or {}).get(section) or {}
    for where, key, values in (("runner", "total_steps", runner), (f"downstream_expert.{section}", batch_key, batches)):
        if key not in values:
            raise SettingError(f"{config_path} has no {where}.{key}: the plan needs it to count the training forwards")
    return Training(task, config_path, int(runner["total_steps"]), int(runner.get("gradient_accumulate_steps") or 1), batch_key, int(batches[batch_key]))


def _asr_batches(samples: list[int] | None, utterances: int, batch_size: int) -> tuple[int, int]:
    """(batches, utterances) of one epoch of s3prl's asr ``SequenceDataset``: longest first,
    buckets of ``batch_size``, halved when their longest utterance is over s3prl's HALF_BATCHSIZE_TIME
    samples (with unknown lengths: every bucket, as every LibriSpeech one), a last partial bucket
    kept only when it holds two or more."""
    half_batch_samples = asr_half_batch_samples()
    longest_first = sorted(samples, reverse=True) if samples is not None else None
    full, rest = divmod(utterances, batch_size)
    batches = 0
    for start in range(0, full * batch_size, batch_size):
        halved = batch_size >= 2 and (longest_first is None or longest_first[start] > half_batch_samples)
        batches += 2 if halved else 1
    return batches + (rest > 1), utterances - (rest == 1)


def _ctc_batches(samples: list[int] | None, utterances: int, batch_size: int) -> tuple[int, int]:
    """(forwards, utterance passes) of one training epoch of s3prl's bucketed ``ctc`` loader: one
    forward per utterance, each of the ``batch_size`` neighbours from it on (the last full bucket at
    the end), halved when its first utterance is over ``collect_audio_batch``'s limit. The buckets
    follow transcript length; the plan, without transcripts, orders the audio by length instead
    (with unknown lengths: no bucket halved)."""
    size = min(batch_size, utterances)
    if samples is None or size < 2:
        return utterances, utterances * size
    longest_first, limit = sorted(samples, reverse=True), ctc_half_batch_samples()
    passes = sum(size // 2 if longest_first[min(index, utterances - size)] > limit else size for index in range(utterances))
    return utterances, passes


def epoch_batches(training: Training, audio: Audio) -> tuple[int, int]:
    """(forwards, utterance passes) of one training epoch over ``audio``."""
    if training.task == "asr":
        return _asr_batches(audio.samples, audio.utterances, training.batch_size)
    if training.task == "ctc":
        return _ctc_batches(audio.samples, audio.utterances, training.batch_size)
    return math.ceil(audio.utterances / training.batch_size), audio.utterances


def utterances_per_forward(training: Training, audio: Audio) -> float:
    """Mean utterances one training forward holds (the epoch's last, shorter batch included)."""
    if audio.utterances is None:
        return training.batch_size / 2 if training.task == "asr" and training.batch_size >= 2 else training.batch_size
    batches, utterances = epoch_batches(training, audio)
    return utterances / batches


# ---- the plan --------------------------------------------------------------------------------

def _gib(size: int) -> str:
    return f"{size / GIB:,.2f} GiB"


def _size_row(label: str, sizes: list[int], hours: float) -> list[str]:
    return [label, *map(_gib, sizes), _gib(sum(sizes)), f"{sum(sizes) / GIB / hours:,.2f} GiB/h"]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def plan_lines(upstream: str, shapes: list[MemberShape], audio: Audio, training: Training | None) -> list[str]:
    """The plan as printed: members, audio, cache sizes per storage form, member passes."""
    frames = aligned_frames(shapes, audio)
    frame_rate = SAMPLE_RATE / min(shape.downsample_rate for shape in shapes)
    lines = [f"upstream {upstream}: {len(shapes)} member(s), frames aligned to {frame_rate:g} frames/s"]
    lines += _table([["member", "hidden states x dim", "frames/s"]] + [
        [shape.name, f"{shape.hidden_states} x {shape.dim}", f"{SAMPLE_RATE / shape.downsample_rate:g}"] for shape in shapes
    ])
    counted = f"{audio.utterances:,} utterances, " if audio.utterances is not None else ""
    lines.append(f"audio ({audio.source}): {counted}{audio.hours:,.2f} h, {frames:,} aligned frames")
    lines.append("cache size (each stored stack: frames x hidden states x dim x bytes per value; int8 adds per-utterance scales):")
    rows = [["storage", *(shape.name for shape in shapes), "total", "per hour of audio"]]
    dtypes = [*FLOAT_DTYPES, *([INT8] if audio.utterances is not None else []), INT8_CALIBRATED]
    rows += [_size_row(f"per-member {dtype}", stored_bytes(shapes, frames, audio.utterances, PER_MEMBER, dtype), audio.hours) for dtype in dtypes]
    if len(shapes) > 1:
        for dtype in dtypes:
            merged = stored_bytes(shapes, frames, audio.utterances, MERGED, dtype)
            rows.append([f"merged {dtype}", *("-" for _ in shapes), *_size_row("", merged, audio.hours)[2:]])
    lines += _table(rows)
    if len(shapes) > 1:
        lines.append("  merged: HConv's add stored once (-s hconv with normalize off); the other interfaces need per-member stacks")
    if audio.utterances is None:
        lines.append("  int8 (about half of fp16, plus per-utterance scales): give --utterances to count it")
    if training is not None:
        lines += passes_lines(training, audio)
    else:
        lines.append("member passes: give -d <task> (and -c <config.yaml>) to count them")
    return lines


def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it."""
    path = Path(path).resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def passes_lines(training: Training, audio: Audio) -> list[str]:
    per_forward = utterances_per_forward(training, audio)
    on_the_fly = round(training.forwards * per_forward)
    lines = [
        f"member passes (-d {training.task}, {_shown_path(training.config_path)}):",
        (
            f"  {training.forwards:,} forwards (total_steps {training.total_steps:,} x gradient_accumulate_steps "
            f"{training.accumulation}) of {training.batch_key} {training.batch_size}: {per_forward:.2f} utterances per forward on average"
        ),
        f"  on the fly:     {on_the_fly:,} utterance passes per member",
    ]
    if training.task in UNCACHEABLE_TASKS:
        lines.append(f"  from the cache: not possible: -d {training.task}: {UNCACHEABLE_TASKS[training.task]}")
    elif audio.utterances is None:
        lines.append("  from the cache: one pass per utterance, when it is built (give --utterances to count them)")
    else:
        lines.append(
            f"  from the cache: {audio.utterances:,} utterance passes per member, one per utterance when it is built "
            f"({on_the_fly / audio.utterances:,.1f}x fewer)"
        )
    return lines
