"""The Rasa-compatible flow coverage CSV, ``coverage_report_for_<passed|failed>_tests.csv`` (reference §11.5).

Columns ``Flow Name, Coverage, Num Steps, Missing Steps, Line Numbers``; one row per user flow in load
order, then a ``Total`` row. As pandas writes Rasa's data frame: a flow's coverage is the float percentage
(``66.66666666666667``), the total a string with two decimals and ``%`` (``80.00%``), a missing value an
empty cell, the line ranges ``[a-b, c-d]``; ``\\n`` line ends. A report without any test of that outcome, or
whose tests visited no testable step, is the header alone (Rasa's empty data frame).
"""

from __future__ import annotations

import csv
import io

from pytest_cmdgen.coverage.report import StatusCoverage

COLUMNS = ("Flow Name", "Coverage", "Num Steps", "Missing Steps", "Line Numbers")
"""Rasa's column order."""


def csv_file_name(status: str) -> str:
    """``coverage_report_for_<status>_tests.csv``."""
    return f"coverage_report_for_{status}_tests.csv"


def coverage_csv(status: StatusCoverage) -> str:
    """The CSV text of one outcome's flow coverage."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    if not status.num_tests or not status.visited_any:
        return buffer.getvalue()
    for flow in status.flows:
        coverage = "" if flow.coverage is None else repr(float(flow.coverage))
        lines = "[" + ", ".join(s.lines for s in flow.missing if s.lines) + "]"
        writer.writerow((flow.full_name, coverage, flow.num_steps, flow.num_missing, lines))
    total = "" if status.coverage is None else f"{status.coverage:.2f}%"
    writer.writerow(("Total", total, status.num_steps, status.num_missing, ""))
    return buffer.getvalue()


__all__ = ["COLUMNS", "coverage_csv", "csv_file_name"]
