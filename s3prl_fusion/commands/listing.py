"""List every upstream name the plugin adds (Whisper sizes, generic, presets) with members, layers, dims and frame rate."""
from __future__ import annotations

import argparse

from s3prl_fusion.upstreams import WHISPER_SIZE_NAMES
from s3prl_fusion.upstreams.known_shapes import KNOWN_SHAPES
from s3prl_fusion.upstreams.presets import PRESETS

FRAME_RATE_HZ = 50


def upstream_rows() -> list[tuple[str, str, str, str, str]]:
    """(name, members, hidden states, dims, frame rate) for every plugin upstream name."""
    rows = []
    for size in WHISPER_SIZE_NAMES:
        layers, dim = KNOWN_SHAPES[f"whisper_{size}"]
        rows.append((f"whisper_{size}", f"whisper_{size}", str(layers), str(dim), f"{FRAME_RATE_HZ} Hz"))
    rows.append(("whisper", "-k <id or path>", "-", "-", f"{FRAME_RATE_HZ} Hz"))
    rows.append(("hf_ssl", "-k <id or path>", "-", "-", f"{FRAME_RATE_HZ} Hz"))
    rows.append(("fused", "-k a,b,... or -g members.yaml", "-", "-", "fastest member's"))
    for name, members in PRESETS.items():
        shapes = [KNOWN_SHAPES[member["upstream"]] for member in members]
        rows.append((
            name,
            " + ".join(member["upstream"] for member in members),
            "/".join(str(layers) for layers, _ in shapes),
            "/".join(str(dim) for _, dim in shapes),
            f"{FRAME_RATE_HZ} Hz",
        ))
    return rows


def format_table(rows) -> str:
    header = ("upstream (-u)", "members", "hidden states", "dims", "frame rate")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> None:
    print(format_table(upstream_rows()))
    print("\nAny s3prl hub upstream (e.g. wavlm_base_plus) also works, alone or as a fused member.")
