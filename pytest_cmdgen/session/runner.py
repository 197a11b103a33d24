"""Run a session's test cases through the engine and record what they produce, for any front end.

The pytest items call :class:`SessionRunner` (one per process); so does a plain script. It counts
outcomes, keeps each passing test's annotated (and, once rephrased, paraphrased) conversation by test id,
and notes rejected paraphrases; :meth:`SessionRunner.finish_process` adds the LLM usage and stops the
engine. What it records is :class:`~pytest_cmdgen.session.results.SessionResults`, plain data that the
end-of-session pipeline turns into datasets (and, with the flow steps each run visited, a coverage report).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_cmdgen.coverage.record import record_test
from pytest_cmdgen.errors import CmdgenError
from pytest_cmdgen.recipe.conversation import AnnotatedStep
from pytest_cmdgen.recipe.transport import conversation_to_dict
from pytest_cmdgen.session.config import SessionConfig
from pytest_cmdgen.session.engine import ActionRunnerFactory, CommandSourceFactory, Engine, TestOutcome
from pytest_cmdgen.session.lookahead import LookAhead
from pytest_cmdgen.session.results import SessionResults

if TYPE_CHECKING:
    from pytest_cmdgen.e2e.model import TestCase, TestSuiteFile
    from pytest_cmdgen.recipe.conversation import Conversation, FailedRephrasing
    from pytest_cmdgen.recipe.pieces import ConversationPieces
    from pytest_cmdgen.runtime.commands import Command


@dataclass(frozen=True)
class CaseRef:
    """One test case to run: its id (``<file>::<name>``), file and case, and whether to rephrase it."""

    test_id: str
    path: Path
    """The test file on disk (the E2E split is copied from it)."""
    suite: TestSuiteFile
    test_case: TestCase
    rephrase: bool = False


@dataclass(frozen=True)
class TurnRephrasing:
    """What rephrasing did for one user turn: ``kept`` of ``asked`` paraphrases, or why it did not run."""

    kept: int = 0
    asked: int = 0
    not_rephrased: str | None = None
    """Why the turn was not rephrased (the test failed, the turn did not reach the LLM, ...), else None."""
    unvalidated: tuple[str, ...] = ()
    """The paraphrases whose validation call failed, each with its error (kept out of the dataset)."""


class SessionRunner:
    """Per-process session state: the engine, and the results recorded from the test cases run."""

    def __init__(
        self,
        config: SessionConfig,
        *,
        command_source_factory: CommandSourceFactory | None = None,
        action_runner_factory: ActionRunnerFactory | None = None,
    ) -> None:
        self.config = config
        self.results = SessionResults()
        self._finished = False
        self.engine = Engine(
            config, command_source_factory=command_source_factory, action_runner_factory=action_runner_factory
        )
        self.look_ahead: LookAhead | None = None
        """What prepares the end of the session while the last LLM calls are out (see :meth:`start`)."""
        self.pieces: dict[str, tuple[dict[str, Any], ConversationPieces]] = {}
        """Test id → (its conversation as recorded in the results, that conversation's output parts), for
        the final conversations whose parts were computed during the run (:meth:`prepare_pieces`)."""
        self._final: deque[str] = deque()  # test ids recorded final, parts not computed yet
        self._recorded: dict[str, Conversation] = {}

    def start(self, cases: Iterable[CaseRef], look_ahead: bool = False) -> None:
        """Start test cases in the background, so their LLM calls overlap: the longest conversations (most
        user turns) first, since their chain of calls decides when the run can end; equal ones in order.
        (Results are still recorded in the order they are asked for.)

        With ``look_ahead`` (the process that runs the end-of-session pipeline), once every test case
        started has run, the end of the session is prepared while rephrasing goes on (:mod:`.lookahead`).
        """
        futures = [
            self.engine.submit(case.test_id, case.suite, case.test_case, rephrase=case.rephrase)
            for case in start_order(cases)
        ]
        if look_ahead and futures:
            if self.look_ahead is None:
                self.look_ahead = LookAhead(self.config, self.engine)
            self.look_ahead.watch(futures)

    def run_test(self, case: CaseRef) -> TestOutcome:
        """Run (or wait for) one test case and record its outcome; an error is counted as a failure and
        raised."""
        self.results.sources[case.test_id.rpartition("::")[0]] = str(case.path)
        try:
            running = self.engine.submit(case.test_id, case.suite, case.test_case)
            self.prepare_pieces(until=running)  # time this thread would spend waiting
            outcome = running.result()
        except Exception as exc:
            self.results.tests["failed"] += 1
            if self.config.compare is not None:
                from pytest_cmdgen.session.compare import error_record  # only a --cmdgen-compare run needs it

                self.results.compared[case.test_id] = error_record(case.test_case, exc)
            raise
        result = outcome.run.result
        if result.skipped:
            self.results.tests["skipped"] += 1
        elif result.passed:
            self.results.tests["passed"] += 1
            rephrased_later = case.rephrase and self.config.num_rephrases > 0
            self._record(outcome.test_id, outcome.conversation, final=not rephrased_later)
        else:
            self.results.tests["failed"] += 1
        if self.config.compare is not None and not result.skipped:
            from pytest_cmdgen.session.compare import run_record

            self.results.compared[outcome.test_id] = run_record(case.test_case, outcome.run)
        if self.config.coverage_enabled and not result.skipped:
            record = record_test(outcome.run.events, passed=result.passed)
            self.results.coverage[outcome.test_id] = record.to_dict()
        return outcome

    def rephrase_turn(self, case: CaseRef, step_line: int, label: str) -> TurnRephrasing:
        """Rephrase the test case's conversation (once) and report the user turn at ``step_line``.

        ``label`` names the turn in the rejected-paraphrase lines (the pytest node id, for instance).
        """
        try:
            outcome = self.engine.outcome(case.test_id, case.suite, case.test_case)
        except CmdgenError:  # reported once, on the test case itself
            outcome = None
        if outcome is None or not outcome.run.passed:
            return TurnRephrasing(not_rephrased="the test case did not pass: nothing to rephrase")
        step = annotated_step_at(outcome.conversation, step_line)
        if step is None:
            return TurnRephrasing(
                not_rephrased="this user turn did not go to the LLM (button payload, /intent or error): "
                "nothing to rephrase"
            )
        if not step.rephrase:
            return TurnRephrasing(not_rephrased="the message repeats a button payload: not rephrased, as Rasa does")
        rephrasing = self.engine.rephrased(outcome)
        if self.look_ahead is not None and not rephrasing.done():  # time this thread would spend waiting
            self.look_ahead.run_if_ready()
            self.prepare_pieces(until=rephrasing)
        conversation = rephrasing.result()
        self._record(outcome.test_id, conversation, final=True)
        rephrased = annotated_step_at(conversation, step_line)
        assert rephrased is not None
        serialize = self.engine.serializer()
        for failure in rephrased.rejected_rephrasings:
            self.results.rejections.append(f"{label}: {failure.text!r} gave {describe_difference(failure, serialize)}")
        kept = len(rephrased.passing_rephrasings)
        return TurnRephrasing(
            kept=kept,
            asked=kept + len(rephrased.failing_rephrasings),
            unvalidated=tuple(f"{f.text!r}: {f.error}" for f in rephrased.unvalidated_rephrasings),
        )

    def rephrase_case(self, case: CaseRef) -> list[TurnRephrasing]:
        """Rephrase every user turn of a test case (what its pytest sub-items do one turn each)."""
        return [
            self.rephrase_turn(case, step.line, f"{case.test_id}[rephrase {number}]")
            for number, step in enumerate(case.test_case.user_steps, start=1)
        ]

    def _record(self, test_id: str, conversation: Conversation | None, final: bool) -> None:
        if conversation is None or self._recorded.get(test_id) is conversation:
            return  # each sub-item of a test case records the same conversation
        self._recorded[test_id] = conversation
        self.results.conversations[test_id] = conversation_to_dict(conversation)
        if final and self.look_ahead is not None:  # this process writes the output: its parts can be made now
            self._final.append(test_id)

    def prepare_pieces(self, until: Future[Any] | None = None) -> None:
        """Compute the output parts of the final conversations recorded so far (what the end-of-session
        pipeline would otherwise do after the last answer), one conversation at a time, until ``until`` is
        done. Best effort: a conversation whose parts fail here is left to the pipeline, which reports it."""
        from pytest_cmdgen.recipe.pieces import conversation_pieces

        while self._final and (until is None or not until.done()):
            test_id = self._final.popleft()
            record, conversation = self.results.conversations.get(test_id), self._recorded.get(test_id)
            if record is None or conversation is None:
                continue
            try:
                self.pieces[test_id] = (record, conversation_pieces(conversation, self.engine.serializer()))
            except Exception:  # noqa: BLE001 - the pipeline computes (and reports) it again
                continue

    def finish_process(self) -> None:
        """Add this process's LLM usage to the results and stop the engine (once): no LLM call is made after
        this, also by conversations still running in an interrupted session."""
        if self._finished:
            return
        self._finished = True
        usage = self.engine.usage_snapshot()
        if usage is not None:
            self.results.usage.append(usage)
        self.engine.close()


def start_order(cases: Iterable[CaseRef]) -> list[CaseRef]:
    """The order to start test cases in: most user turns first (the longest chain of LLM calls decides when
    a run can end, so it must not start last), cases of equal length in the order given."""
    return sorted(cases, key=lambda case: -len(case.test_case.user_steps))


def annotated_step_at(conversation: Conversation | None, line: int) -> AnnotatedStep | None:
    """The annotated user step of ``conversation`` that stands at ``line`` of its test file, if any."""
    if conversation is None:
        return None
    return next((s for s in conversation.steps if isinstance(s, AnnotatedStep) and s.line == line), None)


def describe_difference(failure: FailedRephrasing, serialize: Callable[[Sequence[Command]], str]) -> str:
    """Why a paraphrase was rejected: an error, or the commands it gave that differ."""
    if failure.error:
        return f"an error ({failure.error})"

    def listed(commands: Sequence[Any]) -> str:
        return serialize(list(commands)).replace("\n", "; ") if commands else "nothing"

    return f"other commands (missing: {listed(failure.missing)}; unexpected: {listed(failure.unexpected)})"


__all__ = [
    "CaseRef",
    "SessionRunner",
    "TurnRephrasing",
    "annotated_step_at",
    "describe_difference",
    "start_order",
]
