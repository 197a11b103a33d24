"""The engine of a session: run E2E test cases, annotate the passing ones, rephrase them.

``Engine`` imports no pytest, so a CLI or another runner can drive it the same way. It owns the loaded
project, the session's LLM service and a pool of conversation threads: test cases submitted ahead of
time run concurrently, each blocking only on its own LLM calls, so up to ``--cmdgen-concurrency`` calls
stay in flight across the whole run. There are more conversation threads than slots (a conversation spends
part of its time between calls, on runtime work), so some call always waits for the next free slot; the
LLM service grants waiting calls by priority (a conversation turn first, the longest remaining chain
first, then rephrase calls, then validation calls). Rephrasing runs on threads of its own, so it starts as
soon as a conversation is annotated rather than behind conversations not yet started. Every result is
memoised by test id (never computed twice).

Its parts (the project, the LLM service and client, the generator's templates, the rephraser) are built,
and their modules imported, when first needed: a run that needs only some of them (a command script with no
LLM, a header that only loads the project) does not pay for the others.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_cmdgen.errors import CmdgenInputError
from pytest_cmdgen.session.config import SessionConfig

if TYPE_CHECKING:
    from pytest_cmdgen.e2e.model import TestCase, TestSuiteFile
    from pytest_cmdgen.e2e.runner import TestRun
    from pytest_cmdgen.generator.llm_generator import LLMCommandGenerator
    from pytest_cmdgen.generator.response_rephraser import ResponseRephraser
    from pytest_cmdgen.llm import LLMService
    from pytest_cmdgen.recipe.conversation import Conversation
    from pytest_cmdgen.recipe.rephrase import RephraseConfig
    from pytest_cmdgen.runtime.commands import Command
    from pytest_cmdgen.runtime.interfaces import ActionRunner, CommandSource
    from pytest_cmdgen.runtime.project import Project

CommandSourceFactory = Callable[["Project"], "CommandSource | None"]
"""Gives the command source to use for a project, or None for the default (script or LLM generator)."""
ActionRunnerFactory = Callable[["Project"], "ActionRunner | None"]
"""Gives the action runner to use for a project, or None for the default (stubs, server, module)."""

#: Conversation threads per LLM slot: more threads than slots keep a call queued for every slot that frees
#: up, while a conversation is busy between its calls.
WORKERS_PER_SLOT = 2
#: Rephrase threads per LLM slot. A rephrase thread waits for its conversation's validation calls, which
#: queue behind everything else: with few threads, the next conversations' rephrase calls would be asked
#: for late and leave a rephrase-then-validate tail at the end of the run.
REPHRASE_WORKERS_PER_SLOT = 8


@dataclass(frozen=True)
class TestOutcome:
    """A test case's run and, when preparing data and it passed, its annotated conversation."""

    __test__ = False

    test_id: str
    run: TestRun
    conversation: Conversation | None = None


def register_local_backend(settings: SessionConfig) -> None:
    """Register the trainer's in-process model back-end as ``"local"`` when ``--cmdgen-llm local:`` asks for it.

    Registered by name, as a string imported on first use: the LLM layer never imports the trainer (or
    torch); a back-end the user registered as ``"local"`` themselves is left alone.
    """
    from pytest_cmdgen.llm import LOCAL_BACKEND, known_backends, register_backend

    if settings.llm is not None and settings.llm.kind == LOCAL_BACKEND and LOCAL_BACKEND not in known_backends():
        register_backend(LOCAL_BACKEND, LOCAL_BACKEND_FACTORY)


#: Where the ``"local"`` back-end lives (the trainer layer: it imports torch and transformers when it loads).
LOCAL_BACKEND_FACTORY = "pytest_cmdgen.trainer.local_backend:LocalBackend"


class Engine:
    """Runs test cases of one assistant project for one process (one per xdist worker)."""

    def __init__(
        self,
        settings: SessionConfig,
        *,
        command_source_factory: CommandSourceFactory | None = None,
        action_runner_factory: ActionRunnerFactory | None = None,
    ) -> None:
        self.settings = settings
        self._command_source_factory = command_source_factory
        self._action_runner_factory = action_runner_factory
        self._lock = threading.RLock()
        self._project: Project | None = None
        self._project_error: CmdgenInputError | None = None
        self._service: LLMService | None = None
        self._generator: LLMCommandGenerator | None = None
        self._script: Any = None
        self._rephrase_config: RephraseConfig | None = None
        self._response_rephraser: ResponseRephraser | None = None
        self._response_rephraser_built = False
        self._pool: ThreadPoolExecutor | None = None
        self._rephrase_pool: ThreadPoolExecutor | None = None
        self._outcomes: dict[str, Future[TestOutcome]] = {}
        self._rephrased: dict[str, Future[Conversation]] = {}
        self._closed = False

    # --- shared, lazily built parts -------------------------------------------------------------------

    def project(self) -> Project:
        """The assistant project (``--cmdgen-assistant``), loaded once; a broken one raises every time."""
        with self._lock:
            if self._project_error is not None:
                raise self._project_error
            if self._project is None:
                from pytest_cmdgen.runtime.project import Project

                try:
                    self._project = Project.load(self.settings.assistant, self.settings.rasa_version)
                except CmdgenInputError as exc:
                    self._project_error = exc
                    raise
            return self._project

    def service(self) -> LLMService:
        """The session's one LLM service: bounded concurrency, retries, record/replay cache."""
        with self._lock:
            self._check_open()
            if self._service is None:
                from pytest_cmdgen.llm import LLMService, ResponseCache, RetryPolicy

                register_local_backend(self.settings)
                self._service = LLMService(
                    concurrency=self.settings.concurrency,
                    retry=RetryPolicy(max_retries=self.settings.max_retries),
                    cache=ResponseCache(self.settings.cache_dir, self.settings.cache_mode),
                )
            return self._service

    def generator(self) -> LLMCommandGenerator:
        """The project's LLM command generator (also renders prompts for scripted runs)."""
        with self._lock:
            if self._generator is None:
                from pytest_cmdgen.generator.llm_generator import LLMCommandGenerator

                project = self.project()
                try:
                    self._generator = LLMCommandGenerator(project, self.service(), now=self.settings.now)
                except CmdgenInputError as exc:
                    component = project.config.generator
                    raise CmdgenInputError(
                        str(exc),
                        file=project.config.path or "config.yml",
                        line=component.line if component else None,
                        hint=f"Rasa {project.profile.version}, {project.version_reason}",
                    ) from None
                if self.settings.llm is not None:
                    # --cmdgen-llm: another model answers the same prompt (the template stays the project's:
                    # it is the one a fine-tuned model learnt), greedily, with the generator's max_tokens.
                    self._generator.llm_config = self.settings.llm.config(self._generator.llm_config)
            return self._generator

    def model_label(self) -> str:
        """Which model produces the commands: the ``--cmdgen-llm`` spec, else config.yml's model.

        Read from the project's config alone (no LLM service is started for it), so it works in a process
        that runs no test case (the xdist controller) and after the engine closed.
        """
        if self.settings.llm is not None:
            return f"{self.settings.llm.label} (--cmdgen-llm)"
        from pytest_cmdgen.generator.model_groups import generator_llm_config
        from pytest_cmdgen.generator.prompt import GENERATOR_CLASS_NAMES

        project = self.project()
        component = project.config.generator
        name = component.name.rpartition(".")[2] if component is not None else ""
        kind = GENERATOR_CLASS_NAMES.get(name)
        if component is None or kind is None:
            return "no LLM command generator"
        llm = component.raw.get("llm")
        try:
            config = generator_llm_config(llm if isinstance(llm, dict) else None, project.endpoints, kind,
                                          project.profile.release, name)  # fmt: skip
        except CmdgenInputError:
            return f"{name}'s LLM (config.yml)"
        return f"{config.model_label} (config.yml)"

    def response_rephraser(self) -> ResponseRephraser | None:
        """The project's response rephraser (``endpoints.yml`` ``nlg: {type: rephrase}``), else None."""
        with self._lock:
            if not self._response_rephraser_built:
                from pytest_cmdgen.generator.response_rephraser import ResponseRephraser
                from pytest_cmdgen.llm import LLMConfigError

                project = self.project()
                try:
                    self._response_rephraser = ResponseRephraser.from_project(project, self.service())
                except LLMConfigError as exc:
                    where = project.endpoints.path or "endpoints.yml"
                    raise CmdgenInputError(str(exc), file=where, key="nlg") from None
                self._response_rephraser_built = True
            return self._response_rephraser

    def rephrase_config(self) -> RephraseConfig:
        """The rephraser's prompt template and LLM (``--cmdgen-rephrase-config`` over the version's defaults)."""
        with self._lock:
            if self._rephrase_config is None:
                from pytest_cmdgen.recipe.rephrase import load_rephrase_config

                path = self.settings.rephrase_config
                self._rephrase_config = load_rephrase_config(path, self.project().profile.version)
            return self._rephrase_config

    def _check_open(self) -> None:
        if self._closed:
            from pytest_cmdgen.llm import ServiceClosedError

            raise ServiceClosedError("the session is over: no new conversation or LLM call is started")

    def _pool_executor(self) -> ThreadPoolExecutor:
        with self._lock:
            self._check_open()
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    WORKERS_PER_SLOT * self.settings.concurrency, thread_name_prefix="cmdgen-conversation"
                )
            return self._pool

    def _rephrase_executor(self) -> ThreadPoolExecutor:
        with self._lock:
            self._check_open()
            if self._rephrase_pool is None:
                self._rephrase_pool = ThreadPoolExecutor(
                    REPHRASE_WORKERS_PER_SLOT * self.settings.concurrency, thread_name_prefix="cmdgen-rephrase"
                )
            return self._rephrase_pool

    # --- running test cases ---------------------------------------------------------------------------

    def llm_still_needed(self) -> list[str]:
        """In a command-script run, what still calls an LLM, each with how to turn it off ([] for nothing).

        Commands come from the script and responses are never rephrased in such a run; preparing data may
        still need the flow-retrieval embeddings (to render Rasa's prompt) and the rephraser.
        """
        if self.settings.command_script is None or not self.settings.prepare:
            return []
        needs = []
        retriever = self.generator().retriever
        if retriever is not None:
            component = self.project().config.generator
            where = f"{self.project().config.path or 'config.yml'}:{component.line if component else 0}"
            needs.append(
                f"the dataset's prompts need the embeddings model {retriever.config.model_label!r} for flow "
                f"retrieval (turn it off with flow_retrieval: active: false in {where})"
            )
        if self.settings.num_rephrases > 0:
            needs.append(
                "paraphrases need the rephraser and the command LLM (turn them off with --cmdgen-num-rephrases 0)"
            )
        return needs

    def serializer(self) -> Callable[[Sequence[Command]], str]:
        """Commands → the completion text in the project's generator syntax (for data points and reports).

        Read from the project's config alone, so it works after the engine (and its LLM service) closed.
        """
        from pytest_cmdgen.generator.grammar import serialize_commands
        from pytest_cmdgen.generator.prompt import component_syntax

        project = self.project()
        syntax = component_syntax(project.config.generator.name if project.config.generator else None)
        version = project.profile.version
        return lambda commands: serialize_commands(list(commands), syntax, version)

    def command_source(self, test_id: str) -> Any:
        """The user's source if one was given, else the command script, else the LLM command generator."""
        project = self.project()
        if self._command_source_factory is not None:
            source = self._command_source_factory(project)
            if source is not None:
                return source
        if self.settings.command_script is None:
            return self.generator()
        from pytest_cmdgen.e2e.scripted_commands import CommandScript, ScriptedCommandSource

        with self._lock:
            if self._script is None:
                self._script = CommandScript.load(self.settings.command_script)
        # Preparing data needs the prompt the assistant would have sent: render it, without asking the LLM.
        builder = self.generator().render if self.settings.prepare else None
        return ScriptedCommandSource(self._script, prompt_builder=builder).for_test_case(test_id)

    def run(self, test_id: str, suite: TestSuiteFile, test_case: TestCase, rephrase: bool = False) -> TestOutcome:
        """Run one test case now, in this thread; annotate it when preparing data and it passed.

        With ``rephrase``, its rephrasing is queued as soon as it is annotated, so paraphrases of one
        conversation are asked for while other conversations still run.
        """
        from pytest_cmdgen.e2e.runner import build_agent, run_test_case

        project = self.project()
        source = self.command_source(test_id)
        agent = build_agent(
            project,
            source,
            suite=suite,
            test_case=test_case,
            action_timeout=self.settings.action_timeout,
            seed=self.settings.seed,
        )
        if source is self._generator:  # LLM runs only: `nlg: {type: rephrase}` rewrites flagged responses
            agent.nlg.rephraser = self.response_rephraser()
        if self._action_runner_factory is not None:
            runner = self._action_runner_factory(project)
            if runner is not None:
                agent.action_runner = runner
        run = run_test_case(test_case, suite, agent)
        conversation = None
        if self.settings.prepare and run.passed:
            conversation = self._annotate(test_id, test_case, run)
        outcome = TestOutcome(test_id, run, conversation)
        if rephrase and conversation is not None and self.settings.num_rephrases > 0:
            self.rephrased(outcome)
        return outcome

    def _annotate(self, test_id: str, test_case: TestCase, run: TestRun) -> Conversation | None:
        from pytest_cmdgen.generator.prompt import readable_transcript
        from pytest_cmdgen.generator.state import transcript_turns
        from pytest_cmdgen.recipe.annotate import annotate_test_case

        # The whole conversation, no 20-line limit (reference §4.2).
        transcript = readable_transcript(transcript_turns(run.tracker), self.project().profile.version, max_turns=None)
        return annotate_test_case(test_case, run.turns, transcript, test_id=test_id)

    def submit(
        self, test_id: str, suite: TestSuiteFile, test_case: TestCase, rephrase: bool = False
    ) -> Future[TestOutcome]:
        """Run a test case in the background (once), then its rephrasing if asked; the future holds its
        outcome or its error."""
        with self._lock:
            future = self._outcomes.get(test_id)
            if future is None:
                future = self._pool_executor().submit(self.run, test_id, suite, test_case, rephrase)
                self._outcomes[test_id] = future
            return future

    def outcome(self, test_id: str, suite: TestSuiteFile, test_case: TestCase) -> TestOutcome:
        """The test case's outcome, waiting for (or starting) its run."""
        return self.submit(test_id, suite, test_case).result()

    # --- rephrasing -----------------------------------------------------------------------------------

    def rephrased(self, outcome: TestOutcome) -> Future[Conversation]:
        """The conversation with validated paraphrases (one rephraser call per conversation, once)."""
        assert outcome.conversation is not None
        with self._lock:
            future = self._rephrased.get(outcome.test_id)
            if future is None:
                future = self._rephrase_executor().submit(self._rephrase, outcome.conversation)
                self._rephrased[outcome.test_id] = future
            return future

    def _rephrase(self, conversation: Conversation) -> Conversation:
        from pytest_cmdgen.generator.grammar import parse_commands
        from pytest_cmdgen.llm import LLMConfig
        from pytest_cmdgen.recipe.rephrase import llm_completer, rephrase_conversation

        config = self.rephrase_config()
        generator = self.generator()
        complete = llm_completer(self.service(), LLMConfig.from_rasa(config.llm), generator.llm_config)
        all_flow_ids = [flow.id for flow in self.project().flows]

        def parse(answer: str) -> list[Any]:
            return parse_commands(answer, generator.syntax, all_flow_ids, generator.rasa_version)

        return rephrase_conversation(
            conversation, self.settings.num_rephrases, complete, parse, template_text=config.template_text
        )

    def usage_snapshot(self) -> dict[str, Any] | None:
        """The LLM usage of this process (plain data), or None if no LLM was used."""
        with self._lock:
            return self._service.meter.snapshot() if self._service is not None else None

    def close(self) -> None:
        """Stop the LLM service, then the conversations: after this no new LLM call is made.

        The service goes first, so conversations still running (an interrupted or stopped session) fail at
        their next call instead of paying for calls whose results nobody will read; answers already
        received are in the cache.
        """
        with self._lock:
            self._closed = True
            pools = [pool for pool in (self._pool, self._rephrase_pool) if pool is not None]
            self._pool = self._rephrase_pool = None
            service, self._service = self._service, None
        if service is not None:
            service.close()
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)
