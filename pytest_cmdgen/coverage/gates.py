"""Coverage gates: minimum flow coverage, required command types, and users' own gates.

A gate looks at the :class:`~.report.CoverageReport` and passes or fails with the lines that say exactly
what is missing (a flow's step with its ``file:line`` range; a command type with the count found and the
count required). Failing a gate is not an error of the pipeline: the datasets stay written, every gate's
result is recorded, and the session ends with :data:`GATES_FAILED_EXIT_CODE`.

* ``min_flow_coverage`` — the total flow coverage of the passed tests, in percent;
* ``require_commands`` — each command type appears at least ``min_command_examples`` times among the
  train split's data points (a prepare run), else among the passed tests' LLM-annotated turns;
* a :class:`CustomGate` — a callable given the report that returns the failures to show (the pytest skin
  turns the ``pytest_cmdgen_coverage_gate`` hook into one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_cmdgen.coverage.commands import resolve_command_names
from pytest_cmdgen.coverage.report import CoverageReport

GATES_FAILED_EXIT_CODE = 6
"""The exit code of a session whose tests passed but whose coverage gates failed (pytest uses 0–5)."""


@dataclass(frozen=True)
class GateResult:
    """The outcome of one gate: passed or not, the figures compared, and the failure lines to show."""

    name: str
    passed: bool
    subject: str | None = None
    """What the gate is about, when it is one of several of its kind (the command type)."""
    found: float | int | None = None
    required: float | int | None = None
    failures: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The gate as ``result_summary.yaml`` records it."""
        data: dict[str, Any] = {"gate": self.name}
        if self.subject is not None:
            data["subject"] = self.subject
        if self.found is not None:
            data["found"] = self.found
        if self.required is not None:
            data["required"] = self.required
        data["passed"] = self.passed
        if self.failures:
            data["failures"] = list(self.failures)
        return data


@dataclass(frozen=True)
class CustomGate:
    """A gate of the user's: ``check(report)`` returns the failures to show (nothing when it passes)."""

    name: str
    check: Callable[[CoverageReport], Iterable[str] | None]


@dataclass(frozen=True)
class GateSettings:
    """Which gates apply."""

    min_flow_coverage: float | None = None
    """Least total flow coverage of the passed tests, in percent (None: no gate)."""
    require_commands: tuple[str, ...] = ()
    """Command types that must appear, in any spelling :func:`~.commands.canonical_command` knows."""
    min_command_examples: int = 1
    """How often each required command type must appear."""

    @property
    def any(self) -> bool:
        """Whether any built-in gate is set."""
        return self.min_flow_coverage is not None or bool(self.require_commands)


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 2)


def flow_coverage_gate(report: CoverageReport, minimum: float) -> GateResult:
    """The passed tests' total flow coverage must reach ``minimum`` percent; the failures name every
    missing step."""
    passed = report.passed
    steps, missing = passed.num_steps, passed.num_missing
    found = (steps - missing) / steps * 100 if steps else 0.0
    ok = (steps - missing) * 100 >= minimum * steps if steps else minimum <= 0
    failures: list[str] = []
    if not ok:
        failures.append(
            f"flow coverage of the passed tests is {found:.2f} %, below the required {_number(minimum)} % "
            f"({steps - missing} of {steps} steps visited)"
        )
        for flow in passed.flows:
            failures += [
                f"flow {flow.flow_id}: step {step.step_id} ({step.kind}) at {step.location} was never visited"
                for step in flow.missing
            ]
    return GateResult(
        "min_flow_coverage", ok, found=round(found, 2), required=_number(minimum), failures=tuple(failures)
    )


def command_counts_for_gates(report: CoverageReport) -> tuple[Mapping[str, int], str]:
    """The histogram the command gates count in, and its name: the train split's data points when there
    is one, else the passed tests' LLM-annotated turns."""
    if report.data_points is not None:
        return report.data_points.get("train", {}), "the train split's data points"
    return report.passed.commands, "the passed tests' LLM-annotated turns"


def command_gates(report: CoverageReport, commands: Iterable[str], minimum: int) -> list[GateResult]:
    """One gate per required command type: it must appear at least ``minimum`` times."""
    counts, where = command_counts_for_gates(report)
    results = []
    for command in resolve_command_names(commands):
        found = counts.get(command, 0)
        ok = found >= minimum
        failures = () if ok else (f"command type {command!r}: {found} found in {where}, {minimum} required",)
        results.append(GateResult("require_command", ok, command, found, minimum, failures))
    return results


def custom_gate(report: CoverageReport, gate: CustomGate) -> GateResult:
    """Run a user's gate."""
    failures = tuple(str(line) for line in gate.check(report) or ())
    return GateResult(gate.name, not failures, failures=failures)


def evaluate_gates(
    report: CoverageReport, settings: GateSettings, custom: Iterable[CustomGate] = ()
) -> list[GateResult]:
    """Every gate that applies, in a fixed order: flow coverage, required commands, then custom gates."""
    results: list[GateResult] = []
    if settings.min_flow_coverage is not None:
        results.append(flow_coverage_gate(report, settings.min_flow_coverage))
    if settings.require_commands:
        results += command_gates(report, settings.require_commands, settings.min_command_examples)
    results += [custom_gate(report, gate) for gate in custom]
    return results


__all__ = [
    "GATES_FAILED_EXIT_CODE",
    "CustomGate",
    "GateResult",
    "GateSettings",
    "command_counts_for_gates",
    "command_gates",
    "custom_gate",
    "evaluate_gates",
    "flow_coverage_gate",
]
