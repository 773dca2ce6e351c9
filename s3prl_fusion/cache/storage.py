"""Storage forms of a feature cache: which stacks a shard holds (``--storage``) and how their values are stored (``--dtype``).

``--storage``:
    per-member  one array per member, ``(frames, L_i, D_i)``: the fused upstream's aligned stacks,
                which every interface reads.
    merged      one array ``(frames, L, D)``, ``L = max L_i``, ``D = max D_i``: HConv's parameter-free
                merge of the members' float32 stacks (``interfaces.hconv.merged_stack``: layers
                interpolated to L, dims to D where they differ, added). N times fewer values for N
                members of one shape, and exactly what HConv computes first when ``normalize`` is
                off; only HConv's convs can read it (``featurizer`` refuses every other interface).
``--dtype``:
    fp16, fp32  the float32 values cast.
    int8        per utterance a block ``(SCALE_ROWS + frames, L, D)`` of int8: its first two rows
                hold the utterance's scales, one per (layer, channel): ``absmax over its frames /
                127`` as float16, rounded up so that ``|x| / s <= 127`` (``L x D`` float16 = two
                rows of ``L x D`` bytes, little-endian); the other rows ``round(x / s)``. Read back
                as ``q * s`` in float32: every value within ``s / 2`` of the computed one. An
                utterance's block depends on that utterance alone, as its features do.

Choice of the int8 form, measured on the bundled LibriSpeech dev-clean (16 utterances, 11.8 s,
588 frames): relative RMS error over all values (worst layer's) of three forms of 8 bits per
value and their scale bytes:

    form                                             whisper-tiny.en  demo wavlm     demo whisper   demo merged    scale bytes
    per (frame, layer) absmax, float16 scale         1.13% (1.50%)    0.58% (0.58%)  0.41% (0.51%)  0.58% (0.59%)  2 / D per value
    per (frame, layer) min-max, float16 scale+offset 0.89% (1.24%)    0.52% (0.52%)  0.34% (0.38%)  0.50% (0.52%)  4 / D
    per (utterance, layer, channel) absmax: chosen   0.41% (0.44%)    0.51% (0.51%)  0.31% (0.36%)  0.49% (0.49%)  2 / frames
    (fp16 storage: 0.02% on each)

whisper-tiny.en is the one pretrained member at hand (``../shared/models``, 5 x 384); the demo
members (``downstream_configs/asr/demo_upstream.yaml``) are random. A pretrained model's channels
keep ranges of their own over an utterance (whisper-tiny.en: per layer, the largest channel's
absmax is 2.3-3.7x the median channel's): one scale per frame and layer spends the 8 bits on
the largest channels and quantizes the rest coarsely, one scale per channel follows each
channel's own range: 2.7x lower error on whisper-tiny.en, and lower on the random members too.
Its scales cost ``2 /
frames`` of the values: 0.3 % at LibriSpeech train-clean-100's mean utterance (12.7 s, 634
frames), about what a float16 scale per frame and layer costs at D = 768 (``2 / 768``), but 5.4 %
on the bundled 0.7 s utterances.

    int8-calibrated  per utterance a block ``(frames, L, D)`` of int8 and nothing else: exactly a
                quarter of fp32 (half of fp16). The scales are the cache's, one per (layer, channel)
                of each stored stack: ``CALIBRATION_MARGIN`` x the absmax over a calibration sample
                of the build's files (``calibration``) / 127, float16 rounded up, kept in the
                manifest. Values beyond ``127 s`` are clipped to it; ``cache build`` prints how many.
                An utterance's block depends on that utterance and the cache's scales, which depend
                on the file list alone (not on ranks or batches).

``int8-calibrated`` trades error for the per-utterance scales' bytes. On whisper-tiny.en over the
160 bundled LibriSpeech utterances (5 x 384; relative RMS error), against ``int8``'s 0.41 %:
scales from all 160 (no clipping) 0.63 %; from 16, 32 or 80 of them, tested on the others, with
the margin 1.0: 1.35 %, 0.92 %, 0.73 % (1.9e-3 to 3.2e-4 of the values clipped), with 1.25:
0.75 %, 0.73 %, 0.76 % (9e-5 to 5e-6 clipped), with 1.5: 0.83 %, 0.87 %, 0.91 %. Still below a
float16 scale per frame and layer (1.13 %, above). ``cache build --dtype int8-calibrated
--calibration-utterances 32`` over all 160: 0.731 % (int8: 0.410 %), 1.7e-5 of the values
clipped, max abs error 0.94 (a clipped value; int8's 0.041).
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from s3prl_fusion.errors import SettingError
from s3prl_fusion.interfaces.hconv import merged_stack

PER_MEMBER, MERGED = "per-member", "merged"
STORAGE_FORMS = (PER_MEMBER, MERGED)
MERGED_FEATURE = "fusion_merged"  # the cached upstream's output key of a merged stack (L, B, T, D)
FLOAT_DTYPES = {"fp16": np.float16, "fp32": np.float32}
INT8, INT8_CALIBRATED = "int8", "int8-calibrated"
DTYPES = (*FLOAT_DTYPES, INT8, INT8_CALIBRATED)
SCALE_ROWS = 2  # an int8 block's leading rows: the (L, D) float16 scales
INT8_LEVEL = 127
SCALE_DTYPE = np.dtype("<f2")
CALIBRATION_MARGIN = 1.25  # int8-calibrated's scales: this x the calibration sample's absmax


def check_storage(storage: str, member_count: int) -> None:
    """Refuse ``--storage merged`` for a single member: its merged stack is its own stack."""
    if storage == MERGED and member_count < 2:
        raise SettingError(
            "--storage merged stores the sum of several members' stacks (HConv's add); a single member's merged stack "
            "is its own stack: build it with --storage per-member"
        )


def stored_stacks(storage: str, stacks: Sequence[Tensor]) -> list[Tensor]:
    """The fused upstream's N stacks ``(L_i, B, T, D_i)`` -> the stacks a cache of ``storage``
    holds: the same N, or HConv's one merged stack ``(L, B, T, D)``."""
    return list(stacks) if storage == PER_MEMBER else [merged_stack(stacks)]


def stored_layouts(storage: str, layer_counts: Sequence[int], dims: Sequence[int]) -> list[tuple[int, int]]:
    """(layers, dim) of each stored stack: every member's, or the merged stack's ``(max L_i, max D_i)``."""
    if storage == PER_MEMBER:
        return [(int(count), int(dim)) for count, dim in zip(layer_counts, dims)]
    return [(max(layer_counts), max(dims))]


def layout_settings(storage: str, stacks: Sequence[Tensor]) -> dict:
    """What the manifest records of the members' layout: ``layer_counts`` and ``dims`` (the
    members', whatever the storage), and for merged storage the stored ``merged_shape`` [L, D]."""
    layout = {"layer_counts": [stack.size(0) for stack in stacks], "dims": [stack.size(-1) for stack in stacks]}
    if storage == MERGED:
        layout["merged_shape"] = list(stored_layouts(storage, layout["layer_counts"], layout["dims"])[0])
    return layout


def stored_rows(dtype: str, frames: int) -> int:
    """Rows ``(L, D)`` one utterance of ``frames`` frames takes in a shard file."""
    return frames + SCALE_ROWS if dtype == INT8 else frames


def block_bytes(dtype: str, frames: int, utterances: int | None, layers: int, dim: int) -> int:
    """Bytes of one stored stack's arrays for ``utterances`` utterances of ``frames`` frames in all
    (int8 needs the utterance count for its scales; the .npy header of each file and
    int8-calibrated's scales in the manifest are left out)."""
    if dtype == INT8:
        if utterances is None:
            raise ValueError("int8 storage holds scales per utterance: its size needs the utterance count")
        return (frames + SCALE_ROWS * utterances) * layers * dim
    return frames * layers * dim * (1 if dtype == INT8_CALIBRATED else np.dtype(FLOAT_DTYPES[dtype]).itemsize)


def _float16_at_least(values: np.ndarray) -> np.ndarray:
    """float32 ``values`` -> the nearest float16 not below each (inf where over float16's range: ``overflow``)."""
    with np.errstate(over="ignore"):
        rounded = values.astype(SCALE_DTYPE)
    below = rounded.astype(np.float32) < values
    rounded[below] = np.nextafter(rounded[below], SCALE_DTYPE.type(np.inf))
    return rounded


def calibrated_scales(absmax: np.ndarray) -> np.ndarray:
    """A calibration sample's absmax per (layer, channel) ``(L, D)`` -> int8-calibrated's float16 scales."""
    return _float16_at_least(absmax.astype(np.float32) * CALIBRATION_MARGIN / INT8_LEVEL)


def scales_entry(scales: np.ndarray) -> dict:
    """float16 scales ``(L, D)`` -> the manifest's record of them: ``shape`` and ``float16_base64``
    (the little-endian float16 values, base64)."""
    values = np.ascontiguousarray(scales, SCALE_DTYPE)
    return {"shape": list(values.shape), "float16_base64": base64.b64encode(values.tobytes()).decode("ascii")}


def scales_from_entry(entry: dict) -> np.ndarray:
    """The manifest's record of a stack's scales -> float32 ``(L, D)``."""
    return np.frombuffer(base64.b64decode(entry["float16_base64"]), SCALE_DTYPE).reshape(entry["shape"]).astype(np.float32)


def encode(values: np.ndarray, dtype: str, scales: np.ndarray | None = None) -> np.ndarray:
    """One utterance's float32 stack ``(frames, L, D)`` -> its stored block (see the module docstring);
    ``scales``: the cache's float32 ``(L, D)`` scales, for int8-calibrated only. Values beyond what
    the block can hold leave it non-finite (``overflow``), or for int8-calibrated are clipped."""
    if dtype in FLOAT_DTYPES:
        return values.astype(FLOAT_DTYPES[dtype])
    if dtype == INT8_CALIBRATED:
        codes = np.rint(values / np.where(scales > 0, scales, 1))
        return np.clip(codes, -INT8_LEVEL, INT8_LEVEL, out=codes).astype(np.int8)
    scales = _float16_at_least(np.abs(values).max(axis=0) / INT8_LEVEL)
    divisors = np.where(scales > 0, scales.astype(np.float32), 1)
    block = np.empty((SCALE_ROWS + values.shape[0], *values.shape[1:]), np.int8)
    block[:SCALE_ROWS] = scales.view(np.int8).reshape(SCALE_ROWS, *values.shape[1:])
    with np.errstate(invalid="ignore"):
        block[SCALE_ROWS:] = np.rint(values / divisors)
    return block


def clipped_count(values: np.ndarray, dtype: str, scales: np.ndarray | None = None) -> int:
    """How many of an utterance's float32 values ``(frames, L, D)`` int8-calibrated clips (0 for other dtypes)."""
    if dtype != INT8_CALIBRATED:
        return 0
    return int(np.count_nonzero(np.abs(values) > (INT8_LEVEL + 0.5) * scales))


def overflow(block: np.ndarray, dtype: str) -> str | None:
    """What a stored block could not hold (``"float16"``, ``"int8's float16 scales"``), or None
    (always for int8-calibrated, which clips: ``clipped_count``)."""
    if dtype in FLOAT_DTYPES:
        return None if np.isfinite(block).all() else FLOAT_DTYPES[dtype].__name__
    if dtype == INT8_CALIBRATED:
        return None
    return None if np.isfinite(int8_scales(block)).all() else "int8's float16 scales"


def int8_scales(block: np.ndarray) -> np.ndarray:
    """An int8 block's scales as float32 ``(L, D)``."""
    return np.ascontiguousarray(block[:SCALE_ROWS]).reshape(-1).view(SCALE_DTYPE).reshape(block.shape[1:]).astype(np.float32)


def decode_into(block: np.ndarray, dtype: str, out: Tensor, scales: Tensor | None = None) -> None:
    """Write a stored block's float32 values ``(frames, L, D)`` into ``out`` (a float32 tensor of
    that shape, any strides), converting on the way: no intermediate array. ``block`` must be
    writable (a copy-on-write map, as ``shards.open_shard`` gives); ``scales``: the cache's float32
    ``(L, D)`` scales, for int8-calibrated only."""
    if dtype in FLOAT_DTYPES:
        out.copy_(torch.from_numpy(block))
        return
    if dtype == INT8:
        block, scales = block[SCALE_ROWS:], torch.from_numpy(int8_scales(block))
    out.copy_(torch.from_numpy(block))
    out.mul_(scales)


def decode(block: np.ndarray, dtype: str, scales: np.ndarray | None = None) -> np.ndarray:
    """A stored block (writable, as ``decode_into`` needs) -> a new float32 array ``(frames, L, D)``."""
    frames = block.shape[0] - (SCALE_ROWS if dtype == INT8 else 0)
    values = torch.empty(frames, *block.shape[1:])
    decode_into(block, dtype, values, None if scales is None else torch.from_numpy(scales))
    return values.numpy()


@dataclass
class ReconstructionError:
    """How far read-back values are from the computed float32 ones, summed over what was stored."""

    squared_error: float = 0.0
    squared_value: float = 0.0
    max_abs_error: float = 0.0
    values: int = 0
    clipped: int = 0  # values int8-calibrated clipped to its scales' range

    def add(self, computed: np.ndarray, stored: np.ndarray, clipped: int = 0) -> None:
        error = stored.astype(np.float64) - computed
        self.squared_error += float(np.square(error).sum())
        self.squared_value += float(np.square(computed, dtype=np.float64).sum())
        self.max_abs_error = max(self.max_abs_error, float(np.abs(error).max(initial=0.0)))
        self.values += computed.size
        self.clipped += clipped

    def __iadd__(self, other: "ReconstructionError") -> "ReconstructionError":
        self.squared_error += other.squared_error
        self.squared_value += other.squared_value
        self.max_abs_error = max(self.max_abs_error, other.max_abs_error)
        self.values += other.values
        self.clipped += other.clipped
        return self

    @property
    def relative_rms(self) -> float:
        """sqrt(sum of squared errors / sum of squared values); 0 for nothing stored."""
        return (self.squared_error / self.squared_value) ** 0.5 if self.squared_value else 0.0

    def describe(self, dtype: str) -> str:
        text = f"{dtype} vs the computed float32: relative RMS error {self.relative_rms:.3%}, max abs error {self.max_abs_error:.4g}"
        if dtype == INT8_CALIBRATED:
            text += f", {self.clipped} of {self.values} values clipped to the calibrated scales' range ({self.clipped / max(self.values, 1):.2g})"
        return text
