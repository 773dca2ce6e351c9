"""Show how much an interface uses each layer of each fused member: a bar chart and a text table.

Takes the output of an interface's ``learned_layer_weights()``: one ``(L_i,)`` vector per
member, non-negative, summing to 1.
"""
from __future__ import annotations

import os
from typing import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor


def _check_names(weights: Sequence[Tensor], member_names: Sequence[str]) -> None:
    if len(weights) != len(member_names):
        raise ValueError(
            f"got {len(weights)} layer-weight vectors but {len(member_names)} member names "
            f"{list(member_names)}; pass one name per fused upstream"
        )


def plot_layer_weights(
    weights: Sequence[Tensor],
    member_names: Sequence[str],
    title: str,
    path: str | os.PathLike,
) -> None:
    """Write a PNG with one bar chart per member: layer index on x, its share on y."""
    _check_names(weights, member_names)
    figure = Figure(figsize=(4 * len(weights), 3.2), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(weights), squeeze=False)[0]
    for axis, vector, name in zip(axes, weights, member_names):
        shares = vector.detach().float().cpu().numpy()
        axis.bar(range(len(shares)), shares)
        axis.set_title(name)
        axis.set_xlabel("layer")
        axis.set_xticks(range(len(shares)))
    axes[0].set_ylabel("share")
    figure.suptitle(title)
    figure.savefig(path, format="png")


def summarize_layer_weights(
    weights: Sequence[Tensor], member_names: Sequence[str], top: int = 3
) -> str:
    """A text table, one line per member: its ``top`` most used layers and their shares,
    most used first, e.g. ``wavlm   L7 31.2%  L8 20.1%  L6 11.0%``."""
    _check_names(weights, member_names)
    width = max(len(name) for name in member_names)
    lines = [f"{'member'.ljust(width)}  top layers (share)"]
    for vector, name in zip(weights, member_names):
        shares = vector.detach().float().cpu()
        order = shares.argsort(descending=True, stable=True)[:top].tolist()
        ranked = "  ".join(f"L{layer} {100 * float(shares[layer]):.1f}%" for layer in order)
        lines.append(f"{name.ljust(width)}  {ranked}")
    return "\n".join(lines)
