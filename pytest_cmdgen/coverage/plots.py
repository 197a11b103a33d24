"""PNG charts of the coverage report, drawn with matplotlib when it is installed (the ``plots`` extra).

matplotlib is imported only here and only when charts are drawn; figures are made with the object API
(no pyplot, no global backend switch) under matplotlib's default style, and saved without the software
version, so the same report gives the same bytes. Charts:

* ``flow_coverage_for_<status>_tests.png`` — one horizontal bar per user flow (coverage in %, on a grey
  100 % track);
* ``commands_histogram_for_<status>_tests.png`` — Rasa's command histogram, one bar per command type;
* ``commands_histogram_for_data_points.png`` — train and val data points side by side (prepare runs).

A status without tests gets no chart.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_cmdgen.coverage.report import CoverageReport, StatusCoverage

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

BAR_COLOR = "#2b6cb0"
"""Flow coverage bars, test histogram bars and train bars."""
VAL_COLOR = "#dd6b20"
"""Validation bars."""
TRACK_COLOR = "#d9dee5"
"""The 100 % track behind each flow's coverage bar."""
PLOTS_HINT = "PNG charts need matplotlib: pip install 'pytest-cmdgen[plots]'"
"""The one line a report without charts says."""
DATA_POINTS_CHART = "commands_histogram_for_data_points.png"
"""File name of the train/val chart."""


def plots_available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        return False


def flow_chart_name(status: str) -> str:
    """``flow_coverage_for_<status>_tests.png``."""
    return f"flow_coverage_for_{status}_tests.png"


def histogram_chart_name(status: str) -> str:
    """``commands_histogram_for_<status>_tests.png`` (Rasa's name)."""
    return f"commands_histogram_for_{status}_tests.png"


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def _whole_counts(axes: Axes) -> None:
    from matplotlib.ticker import MaxNLocator

    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.5 ticks


def _save(figure: Figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, format="png", metadata={"Software": None})


def draw_flow_coverage(status: StatusCoverage, path: Path) -> None:
    """One horizontal bar per user flow: its coverage on a 100 % track."""
    flows = [f for f in status.flows if f.num_steps]
    names = [f.name for f in flows][::-1]  # first flow on top
    values = [f.coverage or 0.0 for f in flows][::-1]
    figure = _figure(8, max(2.5, 0.5 * len(flows) + 1.5))
    axes = figure.add_subplot()
    positions = list(range(len(flows)))
    axes.barh(positions, [100.0] * len(flows), color=TRACK_COLOR, height=0.6)
    bars = axes.barh(positions, values, color=BAR_COLOR, height=0.6)
    axes.bar_label(bars, labels=[f"{v:.1f} %" for v in values], padding=3)
    axes.set_yticks(positions, names)
    axes.set_xlim(0, 115)
    axes.set_xlabel("steps visited (%)")
    total = status.coverage
    title = f"Flow coverage, {status.status} tests"
    axes.set_title(title if total is None else f"{title} (total {total:.1f} %)")
    _save(figure, path)


def draw_histogram(counts: Mapping[str, int], title: str, path: Path) -> None:
    """Rasa's command histogram: one bar per command type, alphabetically."""
    names = list(counts)
    figure = _figure(8, 4.5)
    axes = figure.add_subplot()
    bars = axes.bar(names, [counts[n] for n in names], color=BAR_COLOR, width=0.7)
    axes.bar_label(bars, padding=2)
    axes.set_ylabel("count")
    _whole_counts(axes)
    axes.set_title(title)
    axes.set_xticks(range(len(names)), names, rotation=30, ha="right")
    axes.margins(y=0.15)
    _save(figure, path)


def draw_data_points(data_points: Mapping[str, Mapping[str, int]], path: Path) -> None:
    """Train and validation histograms side by side, one pair of bars per command type."""
    train, val = data_points.get("train", {}), data_points.get("val", {})
    names = sorted(set(train) | set(val))
    figure = _figure(9, 4.5)
    axes = figure.add_subplot()
    positions = list(range(len(names)))
    width = 0.38
    left = axes.bar([p - width / 2 for p in positions], [train.get(n, 0) for n in names], width, color=BAR_COLOR,
                    label="train")
    right = axes.bar([p + width / 2 for p in positions], [val.get(n, 0) for n in names], width, color=VAL_COLOR,
                     label="val")
    axes.bar_label(left, padding=2)
    axes.bar_label(right, padding=2)
    axes.set_xticks(positions, names, rotation=30, ha="right")
    axes.set_ylabel("commands in data points")
    _whole_counts(axes)
    axes.set_title("Commands the model learns from (train / val data points)")
    axes.legend()
    axes.margins(y=0.15)
    _save(figure, path)


def write_plots(report: CoverageReport, directory: Path) -> list[str]:
    """Draw every chart of ``report`` into ``directory``; returns the file names written, sorted.

    Raises ``ImportError`` when matplotlib is missing (check :func:`plots_available` first).
    """
    import matplotlib.style

    written: list[str] = []
    with matplotlib.style.context("default"):  # the user's rc settings do not change our bytes
        for status in report.by_status():
            if not status.num_tests:
                continue
            draw_flow_coverage(status, directory / flow_chart_name(status.status))
            draw_histogram(
                status.commands,
                f"Commands in the {status.status} tests' LLM-annotated turns",
                directory / histogram_chart_name(status.status),
            )
            written += [flow_chart_name(status.status), histogram_chart_name(status.status)]
        if report.data_points is not None:
            draw_data_points(report.data_points, directory / DATA_POINTS_CHART)
            written.append(DATA_POINTS_CHART)
    return sorted(written)


__all__ = [
    "BAR_COLOR",
    "DATA_POINTS_CHART",
    "PLOTS_HINT",
    "TRACK_COLOR",
    "VAL_COLOR",
    "draw_data_points",
    "draw_flow_coverage",
    "draw_histogram",
    "flow_chart_name",
    "histogram_chart_name",
    "plots_available",
    "write_plots",
]
