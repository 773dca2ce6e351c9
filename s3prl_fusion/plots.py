"""The plugin's pictures (matplotlib's Agg backend, PNG files) and the text twin of one of them.

- what an interface learned: a bar chart of how much it uses each layer of each fused member,
  and the same shares as a text table; both take one ``(L_i,)`` vector per member,
  non-negative, summing to 1 (an interface's ``learned_layer_weights()``, or the sensitivity
  shares of ``layer_sensitivity``), and the chart says what a share is;
- the report's chart: one horizontal bar panel per metric, a bar per table row, the paper's
  value as a black tick, marked cells hatched with their marker and their notes below;
- the bench's training loss curves side by side (an int8 against an fp16 feature cache).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
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
    measure: str,
) -> None:
    """Write a PNG with one bar chart per member: layer index on x, its share on y; ``measure``
    (what a share is, e.g. "softmax layer weight") is written under the title."""
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
    figure.suptitle(f"{title}\n{measure}")
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


@dataclass(frozen=True)
class MetricPanel:
    """One metric of the report's chart: its title, a value per row, the paper's value per row
    (None where the paper has none) and a marker per row ("" for an unmarked cell; default: none)."""

    title: str
    values: Sequence[float]
    paper: Sequence[float | None]
    markers: Sequence[str] = ()


def plot_metric_bars(path: str | os.PathLike, row_labels: Sequence[str], panels: Sequence[MetricPanel], notes: Sequence[str] = ()) -> Figure:
    """Write a PNG with one horizontal bar panel per metric, a bar per row (the rows named on the
    first panel, top to bottom in ``row_labels`` order); the paper's value as a black tick; a marked
    bar hatched, its marker at its end; ``notes`` (lines) below the panels. Returns the figure."""
    figure = Figure(figsize=(4 * len(panels), 0.45 * max(len(row_labels), 2) + 1.5 + 0.2 * len(notes)))
    positions = list(range(len(row_labels)))
    for index, panel in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), index + 1)
        bars = axes.barh(positions, list(panel.values), color="tab:blue")
        for bar, marker in zip(bars, panel.markers):
            if marker:
                bar.set_hatch("//")
                bar.set_alpha(0.5)
                axes.annotate(marker, (bar.get_width(), bar.get_y() + bar.get_height() / 2), xytext=(2, 0), textcoords="offset points", va="center")
        paper = [(position, value) for position, value in zip(positions, panel.paper) if value is not None]
        if paper:
            axes.scatter([value for _, value in paper], [position for position, _ in paper], marker="|", s=200, color="black", label="paper")
            axes.legend(loc="lower right", fontsize="small")
        axes.set_yticks(positions)
        axes.set_yticklabels(list(row_labels) if index == 0 else [""] * len(row_labels), fontsize="small")
        axes.invert_yaxis()
        axes.set_title(panel.title)
    if notes:
        figure.text(0.01, 0.01, "\n".join(notes), fontsize="small", va="bottom")
    figure.tight_layout(rect=(0, 0.2 * len(notes) / figure.get_figheight(), 1, 1))
    FigureCanvasAgg(figure).print_png(str(path))
    return figure


def plot_loss_curves(path: str | os.PathLike, curves: dict[str, Sequence[float]], title: str) -> None:
    """Write a PNG of training loss curves side by side: left, every curve against the step;
    right, each curve's relative difference from the first one, in percent."""
    figure = Figure(figsize=(9, 3.2), layout="constrained")
    FigureCanvasAgg(figure)
    losses, differences = figure.subplots(1, 2)
    names = list(curves)
    reference = curves[names[0]]
    for index, name in enumerate(names):
        steps = range(1, len(curves[name]) + 1)
        color = f"C{index}"  # a curve's colour is the same in both panels
        losses.plot(steps, curves[name], label=name, color=color)
        if name != names[0]:
            percent = [100 * (value - base) / base for value, base in zip(curves[name], reference)]
            differences.plot(steps, percent, label=f"{name} vs {names[0]}", color=color)
    losses.set_xlabel("step")
    losses.set_ylabel("training loss")
    losses.legend()
    differences.axhline(0, color="black", linewidth=0.5)
    differences.set_xlabel("step")
    differences.set_ylabel("difference (%)")
    differences.legend()
    figure.suptitle(title)
    figure.savefig(path, format="png")
