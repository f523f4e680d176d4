"""Figures of an audit: rates by group with their intervals, and two views side by side.

Figures are written as PNG with a fixed renderer and no timestamp, so the same numbers give
the same bytes with the same matplotlib. They are drawn on figures of their own with the Agg
canvas, never through pyplot: pyplot is not imported, no backend is chosen for the host (a
notebook keeps its own), and no figure is left registered anywhere.

Every text is shown as written (:func:`literal_text`): group names are data, and a dollar sign
in one is a dollar sign, never the start of a formula. Log axes are labelled with plain
numbers (:func:`plain_log_labels`).
"""

from __future__ import annotations

import functools
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import numpy as np
import pandas as pd

from audit.metrics import EXPLANATIONS

if TYPE_CHECKING:
    from matplotlib.axis import Axis
    from matplotlib.figure import Figure

Params = ParamSpec("Params")
Drawn = TypeVar("Drawn")

#: PNG metadata without the software version, so files depend only on the numbers drawn.
PNG_METADATA = {"Software": None}
#: Dots per inch of every written figure. Figures are drawn at the resolution they are
#: written at, so laying one out and writing it share one renderer and its text measures.
DPI = 110


class NothingToDraw(ValueError):
    """A figure has no value to draw (every one undefined or suppressed). Callers leave the
    figure out and say why; any other error is a real failure and is not taken for this."""


def literal_text(draw: Callable[Params, Drawn]) -> Callable[Params, Drawn]:
    """Have ``draw`` make and lay out its figure with every text shown as written.

    Matplotlib reads a text with two dollar signs as a formula (mathtext): a group named
    ``a$b$c`` would lose its dollars and show ``b`` in italics, and one named ``$\\frac{$``
    would fail the whole figure. Texts made while ``draw`` runs (titles, tick labels, legend
    entries, including tick labels made when the figure is laid out) take matplotlib's
    ``text.parse_math = False``; the setting is restored afterwards. A log axis drawn this
    way needs :func:`plain_log_labels`, since matplotlib's own log labels are formulas.
    """

    @functools.wraps(draw)
    def drawn(*args: Params.args, **kwargs: Params.kwargs) -> Drawn:
        import matplotlib

        with matplotlib.rc_context({"text.parse_math": False}):
            return draw(*args, **kwargs)

    return drawn


def plain_log_labels(axis: Axis, linthresh: float | None = None) -> None:
    """Label a log axis (``linthresh``: a symmetric log axis's linear range) with plain
    numbers (``0.5``, ``1``, ``2``) where matplotlib would write formulas (``10^0``): they
    read as the ratios they are, and show as written under :func:`literal_text`."""
    from matplotlib.ticker import LogFormatter, NullFormatter

    class PlainLogFormatter(LogFormatter):
        # The ticks matplotlib labels (minor ones where the axis spans few decades), each
        # as a plain number: 0.001 rather than 1e-03.
        def __call__(self, x: float, pos: int | None = None) -> str:
            return f"{x:g}" if super().__call__(x, pos) else ""

    axis.set_major_formatter(PlainLogFormatter(linthresh=linthresh))
    axis.set_minor_formatter(NullFormatter() if linthresh is not None
                             else PlainLogFormatter(labelOnlyBase=False))


def new_figure(figsize: tuple[float, float], nrows: int = 1, ncols: int = 1,
               **subplots: Any) -> tuple[Figure, Any]:
    """A figure on the Agg canvas at :data:`DPI` and its axes, as ``pyplot.subplots`` gives
    them (``subplots`` are its keyword arguments: ``sharey``, ``squeeze``, ...).

    Matplotlib is loaded here, on the first figure, so that importing this module (as every
    system's adapter does) costs nothing to a run or a worker that draws none.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **subplots)


def _shown(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows that may be drawn: defined and not suppressed."""
    flags = rows["flags"].fillna("").astype(str)
    return rows[~flags.str.contains("suppressed|undefined")]


@literal_text
def plot_rates_by_group(
    table: pd.DataFrame,
    grouping: str,
    metrics: Sequence[str],
    path: str | Path,
    *,
    title: str | None = None,
    max_groups: int = 40,
    labels: Mapping[str, str] | None = None,
    confidence: float = 0.95,
) -> Path:
    """Write :func:`rates_figure` as PNG at ``path`` and return the path.

    Raises
    ------
    NothingToDraw
        When no metric has a value to draw for any group (a ``ValueError``).
    """
    return save_figure(rates_figure(table, grouping, metrics, title=title,
                                    max_groups=max_groups, labels=labels,
                                    confidence=confidence), path)


@literal_text
def rates_figure(
    table: pd.DataFrame,
    grouping: str,
    metrics: Sequence[str],
    *,
    title: str | None = None,
    max_groups: int = 40,
    labels: Mapping[str, str] | None = None,
    confidence: float = 0.95,
) -> Figure:
    """Dot-and-interval plot of ``metrics`` per group of one grouping.

    Groups are ordered by the first metric; suppressed and undefined cells are left out (and
    the caption says so), and a metric undefined or suppressed for every group gets no panel.
    ``labels`` maps a group to the text shown for it (a country's name for its code);
    ``confidence`` is the level the table's intervals were computed at. The figure is not
    registered with pyplot, so a notebook shows it once, where it is returned.

    Raises
    ------
    NothingToDraw
        When no metric has a value to draw for any group (a ``ValueError``).
    """
    rows = table[(table["grouping"] == grouping) & table["metric"].isin(metrics)]
    shown = _shown(rows)
    metrics = [m for m in metrics if (shown["metric"] == m).any()]
    if not metrics:
        raise NothingToDraw(f"grouping {grouping!r}: every rate is undefined or suppressed; "
                            "there is nothing to draw")
    first = shown[shown["metric"] == metrics[0]].sort_values("value")
    groups = list(first["group"])[-max_groups:]
    height = max(2.5, 0.28 * len(groups) + 1.2)
    fig, axes = new_figure((4.2 * len(metrics), height), 1, len(metrics), sharey=True,
                           squeeze=False)
    positions = {group: i for i, group in enumerate(groups)}
    for axis, metric in zip(axes[0], metrics, strict=True):
        part = shown[(shown["metric"] == metric) & shown["group"].isin(groups)]
        if part.empty:
            axis.text(0.5, 0.5, "undefined or suppressed\nfor every group", ha="center",
                      va="center", transform=axis.transAxes, fontsize=9, color="#666666")
            axis.set_xticks([])
        y = part["group"].map(positions).to_numpy()
        value = part["value"].to_numpy()
        axis.errorbar(
            100 * value, y,
            xerr=100 * np.clip(
                np.vstack([value - part["ci_low"], part["ci_high"] - value]), 0, None
            ),
            fmt="o", color="#1f4e79", ecolor="#7f9fbf", capsize=2, markersize=4,
        )
        reference = part[part["flags"].str.contains("reference")]
        if not reference.empty:
            axis.axvline(100 * reference["value"].iloc[0], color="#b0b0b0", linestyle="--",
                         linewidth=1)
        axis.set_title(EXPLANATIONS[metric][0], fontsize=10)
        # The axis label explains the dashed line: a legend would sit on the points.
        axis.set_xlabel(f"% ({100 * confidence:g}% Wilson interval)"
                        + ("\ndashed: reference group" if not reference.empty else ""))
        axis.grid(axis="x", color="#eeeeee")
    axes[0][0].set_yticks(range(len(groups)), [_label(g, labels) for g in groups], fontsize=8)
    dropped = rows["group"].nunique() - len(groups)
    caption = f"{title or 'Rates by ' + grouping}"
    if dropped:
        caption += f" ({dropped} groups suppressed, undefined or beyond the {max_groups} shown)"
    # Wrapped, so that a long grouping name never runs off the figure.
    fig.suptitle(textwrap.fill(caption, 70), fontsize=11)
    fig.tight_layout()
    return fig


@literal_text
def plot_views(
    views: Mapping[str, pd.DataFrame],
    grouping: str,
    metric: str,
    path: str | Path,
    *,
    title: str | None = None,
    max_groups: int = 40,
    labels: Mapping[str, str] | None = None,
    confidence: float = 0.95,
) -> Path:
    """Ratio to the reference group of one metric, per group, under each view side by side.

    ``views`` maps a view's name (``"true outcome"``) to its audit table; ``labels`` maps a
    group to the text shown for it; ``confidence`` is the level of the tables' intervals.

    Raises
    ------
    NothingToDraw
        When no group has the metric's ratio in every view (a ``ValueError``).
    """
    names = list(views)
    frames = []
    for name in names:
        rows = views[name]
        rows = _shown(rows[(rows["grouping"] == grouping) & (rows["metric"] == metric)])
        frames.append(rows.set_index("group")[["ratio", "ratio_ci_low", "ratio_ci_high"]]
                      .add_prefix(f"{name}|"))
    joined = pd.concat(frames, axis=1, join="inner")
    if joined.empty:
        raise NothingToDraw(f"grouping {grouping!r}: no group has a {metric} ratio in every "
                            "view (each is undefined or suppressed); there is nothing to draw")
    joined = joined.sort_values(f"{names[0]}|ratio").tail(max_groups)
    fig, axis = new_figure((7.5, max(2.5, 0.3 * len(joined) + 1.2)))
    colours = ["#1f4e79", "#c55a11", "#548235"]
    offsets = np.linspace(-0.18, 0.18, len(names))
    for i, name in enumerate(names):
        ratio = joined[f"{name}|ratio"].to_numpy()
        low = joined[f"{name}|ratio_ci_low"].fillna(joined[f"{name}|ratio"]).to_numpy()
        high = joined[f"{name}|ratio_ci_high"].fillna(joined[f"{name}|ratio"]).to_numpy()
        y = np.arange(len(joined)) + offsets[i]
        axis.errorbar(ratio, y, xerr=np.clip(np.vstack([ratio - low, high - ratio]), 0, None),
                      fmt="o",
                      color=colours[i % 3], label=name, capsize=2, markersize=4)
    axis.axvline(1, color="#b0b0b0", linestyle="--", linewidth=1)
    axis.set_yticks(range(len(joined)), [_label(g, labels) for g in joined.index], fontsize=8)
    axis.set_xscale("log")
    plain_log_labels(axis.xaxis)
    axis.set_xlabel(
        f"{EXPLANATIONS[metric][0]}: ratio to reference group (log scale, "
        f"{100 * confidence:g}% interval)"
    )
    # Beside the axes, never on the points.
    axis.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axis.set_title(textwrap.fill(title or f"{EXPLANATIONS[metric][0]} by {grouping}, by view",
                                 60), fontsize=11)
    axis.grid(axis="x", color="#eeeeee")
    fig.tight_layout()
    return save_figure(fig, path)


@literal_text
def plot_comparison(
    rows: pd.DataFrame,
    path: str | Path,
    *,
    title: str,
    xlabel: str,
) -> Path:
    """Two or more groups' rates side by side under each view, with their intervals.

    ``rows`` has one row per bar: ``series`` (a view's name), ``label`` (the group as shown),
    ``value``, ``ci_low`` and ``ci_high`` (rates in [0, 1]). Rows with no value are left out.
    Groups are drawn top to bottom in the order given, one colour per series.
    """
    rows = rows[np.isfinite(rows["value"].to_numpy(dtype=float))]
    series = list(dict.fromkeys(rows["series"]))
    groups = list(dict.fromkeys(rows["label"]))
    fig, axis = new_figure((7.5, max(2.2, 0.55 * len(groups) * len(series) + 1.0)))
    colours = ["#1f4e79", "#c55a11", "#548235"]
    height = 0.8 / max(len(series), 1)
    for i, name in enumerate(series):
        part = rows[rows["series"] == name].set_index("label").reindex(groups)
        value = part["value"].to_numpy(dtype=float)
        low = part["ci_low"].fillna(part["value"]).to_numpy(dtype=float)
        high = part["ci_high"].fillna(part["value"]).to_numpy(dtype=float)
        y = np.arange(len(groups)) - 0.4 + height * (i + 0.5)
        # Points with interval bars, as in every other figure of a report.
        axis.errorbar(100 * value, y, xerr=100 * np.clip(np.vstack([value - low, high - value]),
                                                         0, None),
                      fmt="o", color=colours[i % 3], capsize=2, markersize=4, label=name)
    axis.set_yticks(range(len(groups)), groups, fontsize=9)
    axis.invert_yaxis()
    axis.set_xlabel(xlabel)
    axis.set_title(textwrap.fill(title, 70), fontsize=10)
    axis.set_axisbelow(True)
    axis.grid(axis="x", color="#eeeeee")
    if len(series) > 1:
        axis.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return save_figure(fig, path)


def _label(group: object, labels: Mapping[str, str] | None) -> str:
    return str(group) if labels is None else str(labels.get(group, group))


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG at ``path`` (folders created) at :data:`DPI`, without metadata."""
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        # ``fig.tight_layout()`` leaves this placeholder behind, and savefig lays out a figure
        # with any engine once more, drawing it whole without output: the layout is done.
        fig.set_layout_engine(None)
    fig.savefig(path, dpi=DPI, metadata=PNG_METADATA)
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:  # a figure the caller drew through pyplot is released there
        pyplot.close(fig)
    return path
