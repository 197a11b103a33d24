"""The typed model of a Rasa E2E test file (reference §11.1).

Every element remembers the 1-based line it came from, so failures and errors can point at the YAML.
The parser (``pytest_cmdgen.e2e.parser``) builds these; the runtime's E2E runner consumes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_cmdgen.actions.stub import StubResponse

# --- steps -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """Base of every test step; ``line`` is the 1-based YAML line of the step."""

    line: int


@dataclass(frozen=True)
class UserStep(Step):
    """``- user: text`` with optional ``metadata`` name and, in the assertion format, ``assertions``."""

    text: str
    metadata_name: str | None = None
    assertions: tuple[Assertion, ...] = ()
    assertion_order_enabled: bool = False


@dataclass(frozen=True)
class BotStep(Step):
    """``- bot: text``: some bot message of the latest turn has exactly this text."""

    text: str


@dataclass(frozen=True)
class UtterStep(Step):
    """``- utter: name``: some bot message of the latest turn came from this response."""

    name: str


@dataclass(frozen=True)
class SlotWasSetStep(Step):
    """One item of ``slot_was_set``: the slot was set in the latest turn (to ``value`` if ``has_value``)."""

    name: str
    value: Any = None
    has_value: bool = False


@dataclass(frozen=True)
class SlotWasNotSetStep(Step):
    """One item of ``slot_was_not_set``: the negation of the same match."""

    name: str
    value: Any = None
    has_value: bool = False


# --- assertions (assertion format, §11.4) --------------------------------------------------------------


@dataclass(frozen=True)
class Assertion:
    """Base of every assertion; ``line`` is its 1-based YAML line."""

    line: int

    #: The assertion's YAML key, e.g. ``flow_started``.
    kind: str = field(default="", init=False)


@dataclass(frozen=True)
class FlowStartedAssertion(Assertion):
    """``flow_started: flow_id`` or (3.15+) ``{operator: any|all, flow_ids: [...]}``."""

    flow_ids: tuple[str, ...] = ()
    operator: str = "any"
    kind: str = field(default="flow_started", init=False)


@dataclass(frozen=True)
class FlowCompletedAssertion(Assertion):
    """``flow_completed: {flow_id, flow_step_id?}``."""

    flow_id: str = ""
    flow_step_id: str | None = None
    kind: str = field(default="flow_completed", init=False)


@dataclass(frozen=True)
class FlowCancelledAssertion(Assertion):
    """``flow_cancelled: {flow_id, flow_step_id?}``."""

    flow_id: str = ""
    flow_step_id: str | None = None
    kind: str = field(default="flow_cancelled", init=False)


@dataclass(frozen=True)
class PatternClarificationContainsAssertion(Assertion):
    """``pattern_clarification_contains: [readable flow names]`` or (3.15+) ``{operator, flow_ids}``.

    The list form compares readable names; the mapping form compares flow ids with ``operator``.
    """

    flow_names: tuple[str, ...] = ()
    flow_ids: tuple[str, ...] = ()
    operator: str | None = None
    kind: str = field(default="pattern_clarification_contains", init=False)


@dataclass(frozen=True)
class ActionExecutedAssertion(Assertion):
    """``action_executed: action_name``."""

    action_name: str = ""
    kind: str = field(default="action_executed", init=False)


@dataclass(frozen=True)
class SlotExpectation:
    """One ``{name, value?}`` entry of a slot assertion."""

    name: str
    value: Any = None
    has_value: bool = False


@dataclass(frozen=True)
class SlotWasSetAssertion(Assertion):
    """``slot_was_set: [{name, value?}, ...]``."""

    slots: tuple[SlotExpectation, ...] = ()
    kind: str = field(default="slot_was_set", init=False)


@dataclass(frozen=True)
class SlotWasNotSetAssertion(Assertion):
    """``slot_was_not_set: [{name, value?}, ...]``."""

    slots: tuple[SlotExpectation, ...] = ()
    kind: str = field(default="slot_was_not_set", init=False)


@dataclass(frozen=True)
class ButtonExpectation:
    """An expected button: ``title`` and optional ``payload``."""

    title: str
    payload: str | None = None


@dataclass(frozen=True)
class BotUtteredAssertion(Assertion):
    """``bot_uttered: {utter_name?, text_matches?, buttons?}`` (at least one property)."""

    utter_name: str | None = None
    text_matches: str | None = None
    buttons: tuple[ButtonExpectation, ...] | None = None
    kind: str = field(default="bot_uttered", init=False)


@dataclass(frozen=True)
class BotDidNotUtterAssertion(Assertion):
    """``bot_did_not_utter: {utter_name?, text_matches?, buttons?}`` (3.11.20+/3.12.42+)."""

    utter_name: str | None = None
    text_matches: str | None = None
    buttons: tuple[ButtonExpectation, ...] | None = None
    kind: str = field(default="bot_did_not_utter", init=False)


@dataclass(frozen=True)
class GenerativeResponseAssertion(Assertion):
    """``generative_response_is_relevant`` / ``generative_response_is_grounded``: needs an LLM judge."""

    kind: str = "generative_response_is_relevant"
    threshold: float | None = None
    utter_name: str | None = None
    utter_source: str | None = None
    ground_truth: str | None = None


# --- file-level parts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    """A named set of slot values applied after session start (``fixtures:``)."""

    name: str
    slots: tuple[tuple[str, Any], ...]
    line: int


@dataclass(frozen=True)
class MetadataEntry:
    """A named message-metadata mapping (``metadata:``)."""

    name: str
    data: dict[str, Any]
    line: int


@dataclass(frozen=True)
class TestCase:
    """One ``test_cases`` entry."""

    __test__ = False  # not a pytest test class

    name: str
    steps: tuple[Step, ...]
    line: int
    file: Path
    fixture_names: tuple[str, ...] = ()
    metadata_name: str | None = None

    @property
    def uses_assertions(self) -> bool:
        """True if any step has ``assertions``: then the whole test is judged by assertions."""
        return any(isinstance(s, UserStep) and s.assertions for s in self.steps)

    @property
    def user_steps(self) -> list[UserStep]:
        """The user steps, in order."""
        return [s for s in self.steps if isinstance(s, UserStep)]


@dataclass(frozen=True)
class TestSuiteFile:
    """A parsed E2E test file."""

    __test__ = False

    path: Path
    test_cases: tuple[TestCase, ...]
    fixtures: dict[str, Fixture] = field(default_factory=dict)
    metadata: dict[str, MetadataEntry] = field(default_factory=dict)
    stub_custom_actions: dict[str, StubResponse] = field(default_factory=dict)

    def stub_for(self, test_case: str, action: str) -> StubResponse | None:
        """The stub for ``action`` in ``test_case``: ``<test case>::<action>`` wins over ``<action>``."""
        return self.stub_custom_actions.get(f"{test_case}::{action}") or self.stub_custom_actions.get(action)

    def fixtures_of(self, test_case: TestCase) -> list[Fixture]:
        """The fixtures a test case names, in the order it names them."""
        return [self.fixtures[n] for n in test_case.fixture_names if n in self.fixtures]

    def metadata_of(self, test_case: TestCase) -> dict[str, Any]:
        """The test case's metadata mapping (``{}`` if it names none)."""
        entry = self.metadata.get(test_case.metadata_name or "")
        return dict(entry.data) if entry else {}

    def step_metadata(self, test_case: TestCase, step: UserStep) -> dict[str, Any]:
        """Test-case metadata merged with the step's metadata (the step wins)."""
        merged = self.metadata_of(test_case)
        entry = self.metadata.get(step.metadata_name or "")
        if entry:
            merged.update(entry.data)
        return merged
