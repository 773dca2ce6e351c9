"""The plugin's pictures (matplotlib's Agg backend, PNG files) and the text twin of one of them.

- what an interface learned: a bar chart of how much it uses each layer of each fused member,
  and the same shares as a text table; both take one ``(L_i,)`` vector per member,
  non-negative, summing to 1 (an interface's ``learned_layer_weights()``, or the sensitivity
  shares of ``layer_sensitivity``), and the chart says what a share is;
- the report's chart: one horizontal bar panel per metric, a bar per table row, the paper's
  value as a black tick, each cell's 95 % interval as an error bar, marked cells hatched with
  their marker and their notes below; per task, grouped bars (interfaces by upstream set) with
  interval bars; a heat map of fusion gains with the significant ones marked;
- the bench's training loss curves side by side (an int8 against an fp16 feature cache).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np
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
    intervals: Sequence[tuple[float, float] | None] = ()  # (low, high) per row, drawn as an error bar; None: none


def plot_metric_bars(path: str | os.PathLike, row_labels: Sequence[str], panels: Sequence[MetricPanel], notes: Sequence[str] = ()) -> Figure:
    """Write a PNG with one horizontal bar panel per metric, a bar per row (the rows named on the
    first panel, top to bottom in ``row_labels`` order); the paper's value as a black tick; a marked
    bar hatched, its marker at its end; ``notes`` (lines) below the panels. Returns the figure."""
    figure = Figure(figsize=(4 * len(panels), 0.45 * max(len(row_labels), 2) + 1.5 + 0.2 * len(notes)))
    positions = list(range(len(row_labels)))
    for index, panel in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), index + 1)
        bars = axes.barh(positions, list(panel.values), color="tab:blue")
        _interval_bars(axes, positions, panel.values, panel.intervals, horizontal=True)
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


def _interval_bars(axes, positions: Sequence[float], values: Sequence[float], intervals: Sequence[tuple[float, float] | None], horizontal: bool) -> None:
    """Black error bars from each interval's low to its high (rows without one get none)."""
    present = [(position, value, interval) for position, value, interval in zip(positions, values, intervals) if interval is not None]
    if not present:
        return
    where = [position for position, _, _ in present]
    centre = [value for _, value, _ in present]
    spans = [[value - interval[0] for _, value, interval in present], [interval[1] - value for _, value, interval in present]]
    if horizontal:
        axes.errorbar(centre, where, xerr=spans, fmt="none", ecolor="black", capsize=3, linewidth=1)
    else:
        axes.errorbar(where, centre, yerr=spans, fmt="none", ecolor="black", capsize=3, linewidth=1)


@dataclass(frozen=True)
class IntervalSeries:
    """One interface of a task's interval chart: its value per upstream set (None: no result) and
    its 95 % interval per set (None: none)."""

    name: str
    values: Sequence[float | None]
    intervals: Sequence[tuple[float, float] | None]


def plot_interval_groups(path: str | os.PathLike, title: str, groups: Sequence[str], series: Sequence[IntervalSeries], ylabel: str) -> None:
    """Write a PNG of grouped bars: a group per upstream set, a bar per interface, each with its
    interval as an error bar; a bar without an interval is hatched and says so in the legend."""
    figure = Figure(figsize=(max(7.0, 0.6 * len(groups) * max(len(series), 1) + 3), 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    width = 0.8 / max(len(series), 1)
    for index, entry in enumerate(series):
        positions = [group + (index - (len(series) - 1) / 2) * width for group in range(len(groups))]
        shown = [(position, value, interval) for position, value, interval in zip(positions, entry.values, entry.intervals) if value is not None]
        bars = axes.bar([position for position, _, _ in shown], [value for _, value, _ in shown], width=width, label=entry.name, color=f"C{index}")
        for bar, (_, _, interval) in zip(bars, shown):
            if interval is None:
                bar.set_hatch("//")
        _interval_bars(axes, [position for position, _, _ in shown], [value for _, value, _ in shown], [interval for _, _, interval in shown], horizontal=False)
    axes.set_xticks(range(len(groups)))
    axes.set_xticklabels(list(groups), rotation=20, ha="right", fontsize="small")
    axes.set_ylabel(ylabel)
    axes.legend(fontsize="small", title="interface\n(hatched: no interval)", title_fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    axes.set_title(f"{title}\nbars: 95 % bootstrap interval over test units")
    figure.savefig(path, format="png")


@dataclass(frozen=True)
class GainPanel:
    """One task of the fusion-gain heat map: (sets, interfaces) relative gains in % (NaN: none) and
    which of them are significant (their interval excludes 0)."""

    title: str
    sets: Sequence[str]
    interfaces: Sequence[str]
    gains: np.ndarray
    significant: np.ndarray


def plot_gain_heatmaps(path: str | os.PathLike, panels: Sequence[GainPanel]) -> None:
    """Write a PNG with a heat map per task: a row per fused set, a column per interface, the colour
    its relative gain over the best single model (blue: fusion helps, red: it hurts), the value
    written in each cell, a significant one in bold with ``*`` and a black frame."""
    from matplotlib.patches import Rectangle

    longest = max(len(name) for panel in panels for name in panel.sets)
    figure = Figure(figsize=(max(3.2 * len(panels) + 0.09 * longest + 1.5, 7.0), 0.5 * max(len(panel.sets) for panel in panels) + 2.2),
                    layout="constrained")
    FigureCanvasAgg(figure)
    axes_list = figure.subplots(1, len(panels), squeeze=False)[0]
    limit = max(float(np.nanmax(np.abs(panel.gains))) if np.isfinite(panel.gains).any() else 1.0 for panel in panels) or 1.0
    for axes, panel in zip(axes_list, panels):
        image = axes.imshow(panel.gains, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
        for (row, column), gain in np.ndenumerate(panel.gains):
            if np.isnan(gain):
                continue
            significant = bool(panel.significant[row, column])
            axes.text(column, row, f"{gain:+.1f}{'*' if significant else ''}", ha="center", va="center", fontsize="small",
                      fontweight="bold" if significant else "normal", color="white" if abs(gain) > 0.6 * limit else "black")
            if significant:
                axes.add_patch(Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2))
        axes.set_xticks(range(len(panel.interfaces)))
        axes.set_xticklabels(list(panel.interfaces), fontsize="small")
        axes.set_yticks(range(len(panel.sets)))
        axes.set_yticklabels(list(panel.sets), fontsize="small")
        axes.set_title(panel.title)
    figure.colorbar(image, ax=list(axes_list), label="gain over best single (%)")
    figure.suptitle("Fusion gains over the best single model\n(* framed: 95 % paired interval excludes 0)")
    figure.savefig(path, format="png")


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
