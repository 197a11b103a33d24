"""Charts drawn ahead (while a run's last LLM calls are out) give the very bytes drawn at the end, and are used
only for the same data; a session that looks ahead writes the same coverage directory as one that does not."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pytest_cmdgen.coverage.plots import DATA_POINTS_CHART, ChartCache, planned_charts, write_plots
from pytest_cmdgen.session import PipelineContext, SessionRunner, default_pipeline, discover_cases
from tests.coverage_report.conftest import ShopRun
from tests.support.outputs import files_of
from tests.support.pizza import write_pizza_shop


def test_charts_drawn_ahead_are_the_bytes_drawn_at_the_end(shop: ShopRun, tmp_path: Path) -> None:
    report = shop.context.coverage
    assert report is not None and report.data_points is not None
    cache = ChartCache()
    assert cache.draw_ahead(report) == 4  # flows and histogram of passed and of failed tests
    charts = planned_charts(report)
    assert [c.name for c in charts if cache.get(c) is None] == [DATA_POINTS_CHART]  # its data changes to the end
    fresh, ahead = tmp_path / "fresh", tmp_path / "ahead"
    fresh.mkdir(), ahead.mkdir()
    assert write_plots(report, fresh) == write_plots(report, ahead, cache)
    assert files_of(fresh) == files_of(ahead)
    assert files_of(ahead)["flow_coverage_for_passed_tests.png"] == cache.get(charts[0])


def test_a_chart_drawn_ahead_for_other_data_is_drawn_again(shop: ShopRun, tmp_path: Path) -> None:
    report = shop.context.coverage
    assert report is not None
    cache = ChartCache()
    cache.draw_ahead(report)
    counts = dict(report.passed.commands) | {"StartFlow": report.passed.commands.get("StartFlow", 0) + 5}
    changed = replace(report, passed=replace(report.passed, commands=counts))
    fresh, ahead = tmp_path / "fresh", tmp_path / "ahead"
    fresh.mkdir(), ahead.mkdir()
    write_plots(changed, fresh)
    write_plots(changed, ahead, cache)
    histogram = "commands_histogram_for_passed_tests.png"
    assert files_of(ahead)[histogram] == files_of(fresh)[histogram]
    assert files_of(ahead)[histogram] != files_of(shop.config.out / "coverage")[histogram]


def test_a_session_that_looks_ahead_writes_the_same_coverage(shop: ShopRun, tmp_path: Path) -> None:
    project = write_pizza_shop(tmp_path)
    config = replace(shop.config, assistant=project, rootdir=tmp_path, command_script=project / "commands.yml",
                     out=tmp_path / "out", cache=tmp_path / "cache")  # fmt: skip
    runner = SessionRunner(config)
    try:
        cases = discover_cases([project / "tests", project / "failing"], config, base=tmp_path)
        runner.start(cases, look_ahead=True)
        for case in cases:
            runner.run_test(case)
        look_ahead = runner.look_ahead
        assert look_ahead is not None
        assert look_ahead.run_if_ready()  # every run is done (a paraphrase wait calls it in a prepare run)
        assert not look_ahead.run_if_ready()  # once
        context = PipelineContext(config, runner.results, runner.engine, charts_drawn_ahead=look_ahead.charts)
        default_pipeline().run(context)
    finally:
        runner.finish_process()
    assert not context.errors
    assert context.coverage is not None and look_ahead.charts is not None
    assert look_ahead.charts.get(planned_charts(context.coverage)[0]) is not None  # drawn ahead, and used
    ours = files_of(tmp_path / "out" / "coverage")
    assert ours == files_of(shop.config.out / "coverage")
    assert DATA_POINTS_CHART in ours
