"""The pytest side of a session: items ask the controller, the controller asks the engine.

Roles, as pytest-cov has them: in a single process the controller runs items and writes the datasets;
on an xdist worker it runs items and ships its results in ``config.workeroutput``; on the xdist
controller it only merges what workers sent and writes the datasets at session end, ordered by test id
so that ``-n 0`` and ``-n 2`` give byte-identical files.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_cmdgen.engine import Engine, TestOutcome
from pytest_cmdgen.plugin import SETTINGS_KEY

if TYPE_CHECKING:
    from pytest_cmdgen.items import E2EItem, RephraseItem
    from pytest_cmdgen.recipe.conversation import Conversation
    from pytest_cmdgen.recipe.output import RecipeOutput

_CONTROLLER_KEY = pytest.StashKey["Controller"]()
WORKER_OUTPUT_KEY = "cmdgen"


def is_xdist_worker(config: pytest.Config) -> bool:
    """True in an xdist worker process."""
    return hasattr(config, "workerinput")


@dataclass
class SessionResults:
    """What a process (or, merged, the whole session) produced: plain data, shippable between processes."""

    tests: Counter[str] = field(default_factory=Counter)
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)  # test id → transport dict
    sources: dict[str, str] = field(default_factory=dict)  # test file as in test ids → absolute path
    usage: list[dict[str, Any]] = field(default_factory=list)  # usage-meter snapshots
    rejections: list[str] = field(default_factory=list)  # rejected paraphrases, for the -v summary

    def to_payload(self) -> dict[str, Any]:
        """Builtins only, for ``config.workeroutput``."""
        return {
            "tests": dict(self.tests),
            "conversations": self.conversations,
            "sources": self.sources,
            "usage": self.usage,
            "rejections": self.rejections,
        }

    def merge(self, payload: dict[str, Any]) -> None:
        """Add a worker's payload."""
        self.tests.update(payload.get("tests", {}))
        self.conversations.update(payload.get("conversations", {}))
        self.sources.update(payload.get("sources", {}))
        self.usage.extend(payload.get("usage", []))
        self.rejections.extend(payload.get("rejections", []))


class Controller:
    """Per-process session state behind the E2E items."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.settings = config.stash[SETTINGS_KEY]
        self.started = time.monotonic()
        self.results = SessionResults()
        self.written: Path | None = None
        self.write_error: str | None = None
        self.summary_output: RecipeOutput | None = None
        self._prefetched_files: set[pytest.Collector | None] = set()
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        """The engine of this process, with the users' hooks as its command source and action runner."""
        if self._engine is None:
            hook = self.config.hook
            self._engine = Engine(
                self.settings,
                command_source_factory=lambda project: hook.pytest_cmdgen_command_source(
                    config=self.config, project=project
                ),
                action_runner_factory=lambda project: hook.pytest_cmdgen_action_runner(
                    config=self.config, project=project
                ),
            )
        return self._engine

    # --- items ----------------------------------------------------------------------------------------

    def prefetch(self, items: list[pytest.Item]) -> None:
        """Start the test cases of ``items`` in the background, in order, so conversations overlap; those
        with selected rephrase sub-items are rephrased as soon as they are annotated."""
        from pytest_cmdgen.items import E2EItem, RephraseItem

        to_rephrase = {item.test_id for item in items if isinstance(item, RephraseItem)}
        for item in items:
            if isinstance(item, E2EItem | RephraseItem):
                self.engine.submit(item.test_id, item.suite, item.test_case, rephrase=item.test_id in to_rephrase)

    def prefetch_file(self, item: pytest.Item) -> None:
        """On an xdist worker preparing data, start every test case of the item's file when its first item
        runs: the file scheduler sends whole files, so they are all this worker's."""
        if not (self.settings.prepare and is_xdist_worker(self.config)) or item.parent in self._prefetched_files:
            return
        self._prefetched_files.add(item.parent)
        self.prefetch([other for other in item.session.items if other.parent is item.parent])

    def run_item(self, item: E2EItem) -> None:
        """Run one test case; raise ``E2EFailure`` if it fails, skip it if it cannot be judged here."""
        from pytest_cmdgen.items import E2EFailure

        self.prefetch_file(item)
        self.results.sources[item.nodeid.rpartition("::")[0]] = str(item.path)
        try:
            outcome = self.engine.outcome(item.test_id, item.suite, item.test_case)
        except Exception:
            self.results.tests["failed"] += 1
            raise
        result = outcome.run.result
        if result.skipped:
            self.results.tests["skipped"] += 1
            pytest.skip(result.reason or "cannot be judged here")
        if result.passed:
            self.results.tests["passed"] += 1
            self._record(outcome.test_id, outcome.conversation)
            return
        self.results.tests["failed"] += 1
        first = result.first_failure
        line = first.line if first else item.test_case.line
        expected = first.expected if first else "the test to pass"
        actual = first.actual if first else (result.reason or "it failed")
        if first and first.message:
            actual = f"{first.message}: {actual}"
        raise E2EFailure(item.name, item.suite.path, line, expected, actual, tuple(result.transcript))

    def run_rephrase_item(self, item: RephraseItem) -> tuple[int, int]:
        """Rephrase and validate one user turn's paraphrases; returns (kept, asked)."""
        from pytest_cmdgen.recipe.conversation import AnnotatedStep

        self.prefetch_file(item)
        outcome = self.engine.outcome(item.test_id, item.suite, item.test_case)
        if not outcome.run.passed:
            pytest.skip("the test case did not pass: nothing to rephrase")
        step = _annotated_step_at(outcome.conversation, item.step_line)
        if step is None:
            pytest.skip("this user turn did not go to the LLM (button payload, /intent or error): nothing to rephrase")
        if not step.rephrase:
            pytest.skip("the message repeats a button payload: not rephrased, as Rasa does")
        conversation = self.engine.rephrased(outcome).result()
        self._record(outcome.test_id, conversation)
        rephrased = _annotated_step_at(conversation, item.step_line)
        assert isinstance(rephrased, AnnotatedStep)
        serialize = self._serializer()
        for failure in rephrased.failing_rephrasings:
            self.results.rejections.append(
                f"{item.nodeid}: {failure.text!r} gave {_describe_difference(failure, serialize)}"
            )
        kept = len(rephrased.passing_rephrasings)
        return kept, kept + len(rephrased.failing_rephrasings)

    def _record(self, test_id: str, conversation: Conversation | None) -> None:
        from pytest_cmdgen.recipe.transport import conversation_to_dict

        if conversation is not None:
            self.results.conversations[test_id] = conversation_to_dict(conversation)

    # --- session end ----------------------------------------------------------------------------------

    def finish_process(self) -> None:
        """Collect usage, stop the engine; on an xdist worker, hand the results to the controller."""
        if self._engine is not None:
            usage = self._engine.usage_snapshot()
            if usage is not None:
                self.results.usage.append(usage)
            self._engine.close()
        if is_xdist_worker(self.config):
            self.config.workeroutput[WORKER_OUTPUT_KEY] = self.results.to_payload()  # type: ignore[attr-defined]

    def write_datasets(self) -> None:
        """Turn the session's conversations into the output layout (controller or single process only)."""
        from pytest_cmdgen.recipe.datapoints import build_all_data_points
        from pytest_cmdgen.recipe.output import RecipeOutput, make_params, write_output
        from pytest_cmdgen.recipe.split import split_data_points
        from pytest_cmdgen.recipe.transport import conversation_from_dict

        stored = self.results.conversations
        conversations = [conversation_from_dict(stored[test_id]) for test_id in sorted(stored)]
        serialize = self._serializer()
        points = build_all_data_points(conversations, serialize)
        split = split_data_points(points, self.settings.train_frac, self.settings.seed)
        params = make_params(
            num_rephrases=self.settings.num_rephrases,
            rephrase_config=self._rephrase_params(),
            model=None,
            endpoints=self._shown(self.settings.assistant / "endpoints.yml"),
            train_frac=self.settings.train_frac,
            output_format=self.settings.output_format,
            out=self._shown(self.settings.out),
            seed=self.settings.seed,
            rasa_version=self._rasa_version(),
        )
        output = RecipeOutput(
            num_input_e2e_tests=sum(self.results.tests.values()),
            conversations=conversations,
            data_points=points,
            split=split,
            params=params,
            rephrased=self.settings.num_rephrases > 0,
            e2e_sources={k: Path(v) for k, v in self.results.sources.items()},
        )
        self.summary_output = output
        try:
            # hf_dataset/ is added when the `datasets` package is installed (the train extra has it).
            self.written = write_output(
                self.settings.out, output, serialize, self.settings.output_format, hf_dataset=True
            )
        except OSError as exc:
            self.write_error = f"could not write {self.settings.out}: {exc}"

    def _shown(self, path: Path) -> str:
        """A path as params.yaml shows it: relative to the rootdir when inside it (outputs stay portable)."""
        try:
            return path.relative_to(self.config.rootpath).as_posix()
        except ValueError:
            return str(path)

    def _rasa_version(self) -> str:
        return self.engine.project().profile.version

    def _serializer(self) -> Any:
        from pytest_cmdgen.generator.grammar import serialize_commands

        generator = self.engine.generator()
        return lambda commands: serialize_commands(list(commands), generator.syntax, generator.rasa_version)

    def _rephrase_params(self) -> dict[str, Any]:
        return self.engine.rephrase_config().as_params()


def _annotated_step_at(conversation: Conversation | None, line: int) -> Any:
    from pytest_cmdgen.recipe.conversation import AnnotatedStep

    if conversation is None:
        return None
    return next((s for s in conversation.steps if isinstance(s, AnnotatedStep) and s.line == line), None)


def _describe_difference(failure: Any, serialize: Callable[[list[Any]], str]) -> str:
    if failure.error:
        return f"an error ({failure.error})"

    def listed(commands: tuple[Any, ...]) -> str:
        return serialize(list(commands)).replace("\n", "; ") if commands else "nothing"

    return f"other commands (missing: {listed(failure.missing)}; unexpected: {listed(failure.unexpected)})"


def controller_for(config: pytest.Config) -> Controller:
    """The session's controller, created on first use."""
    if _CONTROLLER_KEY not in config.stash:
        config.stash[_CONTROLLER_KEY] = Controller(config)
    return config.stash[_CONTROLLER_KEY]


def existing_controller(config: pytest.Config) -> Controller | None:
    """The controller if this session made one (the plugin stays inert otherwise)."""
    return config.stash.get(_CONTROLLER_KEY, None)


__all__ = ["Controller", "SessionResults", "TestOutcome", "controller_for", "existing_controller"]
