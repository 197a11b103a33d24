"""PNG charts of the coverage report, drawn with matplotlib when it is installed (the ``plots`` extra).

matplotlib is imported only here and only when charts are drawn; figures are made with the object API
(no pyplot, no global backend switch) under matplotlib's default style, and saved without the software
version, so the same report gives the same bytes. Charts:

* ``flow_coverage_for_<status>_tests.png`` — one horizontal bar per user flow (coverage in %, on a grey
  100 % track);
* ``commands_histogram_for_<status>_tests.png`` — Rasa's command histogram, one bar per command type;
* ``commands_histogram_for_data_points.png`` — train and val data points side by side (prepare runs).

A status without tests gets no chart.

A chart is drawn from plain data (:class:`PlannedChart`), so one drawn ahead of time (a :class:`ChartCache`,
filled while the last LLM calls of a run are out) is used only when the final report asks for a chart of
the very same data: the bytes are the same either way.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

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

#: Charts are drawn one at a time: matplotlib's style context changes process-wide settings.
_DRAWING = threading.Lock()


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


def _save(figure: Figure, target: Path | IO[bytes]) -> None:
    figure.tight_layout()
    figure.savefig(target, format="png", metadata={"Software": None})


FlowChartData = tuple[str, tuple[tuple[str, float], ...], float | None]
"""What a flow coverage chart shows: the status, (flow name, coverage %) per flow with steps, the total."""
HistogramData = tuple[str, tuple[tuple[str, int], ...]]
"""What a command histogram shows: its title, (command type, count) in drawing order."""
DataPointsData = tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]
"""What the train/val chart shows: (command type, count) of train and of val, sorted."""


def _flow_data(status: StatusCoverage) -> FlowChartData:
    flows = tuple((f.name, f.coverage or 0.0) for f in status.flows if f.num_steps)
    return status.status, flows, status.coverage


def _histogram_data(counts: Mapping[str, int], title: str) -> HistogramData:
    return title, tuple((name, counts[name]) for name in counts)


def _data_points_data(data_points: Mapping[str, Mapping[str, int]]) -> DataPointsData:
    train, val = data_points.get("train", {}), data_points.get("val", {})
    return tuple(sorted(train.items())), tuple(sorted(val.items()))


def _draw_flow_coverage(data: FlowChartData, target: Path | IO[bytes]) -> None:
    status, flows, total = data
    names = [name for name, _ in flows][::-1]  # first flow on top
    values = [value for _, value in flows][::-1]
    figure = _figure(8, max(2.5, 0.5 * len(flows) + 1.5))
    axes = figure.add_subplot()
    positions = list(range(len(flows)))
    axes.barh(positions, [100.0] * len(flows), color=TRACK_COLOR, height=0.6)
    bars = axes.barh(positions, values, color=BAR_COLOR, height=0.6)
    axes.bar_label(bars, labels=[f"{v:.1f} %" for v in values], padding=3)
    axes.set_yticks(positions, names)
    axes.set_xlim(0, 115)
    axes.set_xlabel("steps visited (%)")
    title = f"Flow coverage, {status} tests"
    axes.set_title(title if total is None else f"{title} (total {total:.1f} %)")
    _save(figure, target)


def _draw_histogram(data: HistogramData, target: Path | IO[bytes]) -> None:
    title, counts = data
    names = [name for name, _ in counts]
    figure = _figure(8, 4.5)
    axes = figure.add_subplot()
    bars = axes.bar(names, [count for _, count in counts], color=BAR_COLOR, width=0.7)
    axes.bar_label(bars, padding=2)
    axes.set_ylabel("count")
    _whole_counts(axes)
    axes.set_title(title)
    axes.set_xticks(range(len(names)), names, rotation=30, ha="right")
    axes.margins(y=0.15)
    _save(figure, target)


def _draw_data_points(data: DataPointsData, target: Path | IO[bytes]) -> None:
    train, val = dict(data[0]), dict(data[1])
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
    _save(figure, target)


def draw_flow_coverage(status: StatusCoverage, path: Path) -> None:
    """One horizontal bar per user flow: its coverage on a 100 % track."""
    _draw_flow_coverage(_flow_data(status), path)


def draw_histogram(counts: Mapping[str, int], title: str, path: Path) -> None:
    """Rasa's command histogram: one bar per command type, alphabetically."""
    _draw_histogram(_histogram_data(counts, title), path)


def draw_data_points(data_points: Mapping[str, Mapping[str, int]], path: Path) -> None:
    """Train and validation histograms side by side, one pair of bars per command type."""
    _draw_data_points(_data_points_data(data_points), path)


_DRAWERS: dict[str, Callable[[Any, Path | IO[bytes]], None]] = {
    "flows": _draw_flow_coverage,
    "histogram": _draw_histogram,
    "data_points": _draw_data_points,
}


@dataclass(frozen=True)
class PlannedChart:
    """One chart of a report: its file name, its kind and the plain data it shows (equal data, equal bytes)."""

    name: str
    kind: str
    data: Any

    def render(self) -> bytes:
        """The chart's PNG bytes (call inside :func:`drawing`)."""
        buffer = io.BytesIO()
        _DRAWERS[self.kind](self.data, buffer)
        return buffer.getvalue()


def planned_charts(report: CoverageReport, *, data_points: bool = True) -> list[PlannedChart]:
    """Every chart of ``report`` (the train/val chart only with ``data_points``), in drawing order."""
    charts: list[PlannedChart] = []
    for status in report.by_status():
        if not status.num_tests:
            continue
        title = f"Commands in the {status.status} tests' LLM-annotated turns"
        charts.append(PlannedChart(flow_chart_name(status.status), "flows", _flow_data(status)))
        charts.append(
            PlannedChart(histogram_chart_name(status.status), "histogram", _histogram_data(status.commands, title))
        )
    if data_points and report.data_points is not None:
        charts.append(PlannedChart(DATA_POINTS_CHART, "data_points", _data_points_data(report.data_points)))
    return charts


@contextlib.contextmanager
def drawing() -> Iterator[None]:
    """Hold the drawing lock under matplotlib's default style (the user's rc settings do not change our
    bytes): charts are drawn one at a time."""
    import matplotlib.style

    with _DRAWING, matplotlib.style.context("default"):
        yield


class ChartCache:
    """PNG bytes of charts drawn ahead of time, by kind and data (thread-safe)."""

    def __init__(self) -> None:
        """An empty cache."""
        self._png: dict[tuple[str, Any], bytes] = {}

    def draw_ahead(self, report: CoverageReport) -> int:
        """Draw the charts of ``report`` that do not depend on the data points (those change until the last
        paraphrase is validated); returns how many were drawn."""
        charts = planned_charts(report, data_points=False)
        with drawing():
            for chart in charts:
                key = (chart.kind, chart.data)
                if key not in self._png:
                    self._png[key] = chart.render()
        return len(charts)

    def get(self, chart: PlannedChart) -> bytes | None:
        """The bytes drawn ahead for exactly this chart's data, else None."""
        return self._png.get((chart.kind, chart.data))


def write_plots(report: CoverageReport, directory: Path, drawn: ChartCache | None = None) -> list[str]:
    """Draw every chart of ``report`` into ``directory`` (taking those ``drawn`` has for the same data);
    returns the file names written, sorted.

    Raises ``ImportError`` when matplotlib is missing (check :func:`plots_available` first).
    """
    written: list[str] = []
    charts = planned_charts(report)
    with drawing():
        for chart in charts:
            png = drawn.get(chart) if drawn is not None else None
            (directory / chart.name).write_bytes(png if png is not None else chart.render())
            written.append(chart.name)
    return sorted(written)


__all__ = [
    "BAR_COLOR",
    "ChartCache",
    "DATA_POINTS_CHART",
    "PLOTS_HINT",
    "TRACK_COLOR",
    "VAL_COLOR",
    "draw_data_points",
    "draw_flow_coverage",
    "draw_histogram",
    "flow_chart_name",
    "histogram_chart_name",
    "PlannedChart",
    "planned_charts",
    "plots_available",
    "write_plots",
]
