"""``LLMCommandGenerator``: the runtime's command source that asks an LLM, exactly as Rasa's generators do.

Built from a loaded :class:`~pytest_cmdgen.runtime.project.Project`: the generator named in ``config.yml``
decides the kind and command syntax (``SingleStepLLMCommandGenerator`` / ``LLMCommandGenerator`` → v1,
``CompactLLMCommandGenerator`` → v2, ``SearchReadyLLMCommandGenerator`` → v3), its ``llm`` block (or
``model_group``) the client (:mod:`pytest_cmdgen.generator.model_groups`), its ``prompt_template`` or the
version's default the template. For each user message :meth:`LLMCommandGenerator.predict` builds the
template inputs (:mod:`pytest_cmdgen.generator.state`), renders the prompt, sends it as ONE ``user``
message through the session's :class:`~pytest_cmdgen.llm.LLMService` and parses the answer with the
version's grammar. The prompt and the parsed commands come back for annotation.

Failures of the LLM call (after the service's retries) are raised, never turned into commands: a test
run must stop with the provider's message rather than record a conversation Rasa would not have had.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pytest_cmdgen.errors import CmdgenInputError
from pytest_cmdgen.generator.grammar import GENERATOR_SYNTAX, Syntax, parse_commands
from pytest_cmdgen.generator.model_groups import (
    embeddings_config,
    generator_llm_config,
    resolved_llm_block,
    template_model_key,
)
from pytest_cmdgen.generator.prompt import GENERATOR_CLASS_NAMES, GeneratorName, PromptState, render_prompt
from pytest_cmdgen.generator.prompt import resolve_template as _resolve_template
from pytest_cmdgen.generator.state import (
    FlowRetriever,
    RetrievalSettings,
    StateSettings,
    asked_collect_step,
    build_prompt_state,
)
from pytest_cmdgen.llm.errors import LLMError
from pytest_cmdgen.llm.purpose import Purpose
from pytest_cmdgen.runtime.commands import Command, SetSlot
from pytest_cmdgen.runtime.errors import CommandSourceError
from pytest_cmdgen.runtime.interfaces import CommandPrediction, CommandRequest
from pytest_cmdgen.versions import profile_for

if TYPE_CHECKING:
    from pytest_cmdgen.llm.config import LLMConfig
    from pytest_cmdgen.llm.service import LLMService
    from pytest_cmdgen.runtime.project import Project

DEFAULT_MAX_CHARACTERS = 420
PROMPT_PURPOSE = Purpose.ANNOTATION
"""Usage-meter purpose of the generator's chat calls."""


class GeneratorConfigError(CmdgenInputError, ValueError):
    """``config.yml`` has no LLM command generator, or one this tool does not reproduce."""


class LLMCommandGenerator:
    """A :class:`~pytest_cmdgen.runtime.interfaces.CommandSource` backed by an LLM.

    Args:
        project: the loaded project (its config, endpoints, flows, domain and version profile).
        service: the session's LLM service (chat and embedding calls, cache, retries).
        now: a frozen "now" for ``current_datetime`` (``--cmdgen-now``); naive means UTC.
        component: the generator's pipeline entry to use instead of the one in ``config.yml`` (a mapping
            with ``name`` and the component keys), e.g. to try another template.

    Raises:
        GeneratorConfigError: no usable generator is configured.
        ModelGroupError: the ``llm`` block names a model group that ``endpoints.yml`` lacks.
        FileNotFoundError: a custom ``prompt_template`` does not exist.
    """

    def __init__(
        self,
        project: Project,
        service: LLMService,
        *,
        now: datetime | None = None,
        component: Mapping[str, Any] | None = None,
    ) -> None:
        self.project = project
        self.service = service
        self.now = now
        raw = dict(component) if component is not None else self._configured_component(project)
        self.component_name = str(raw.get("name", "")).rsplit(".", 1)[-1]
        if self.component_name not in GENERATOR_CLASS_NAMES:
            raise GeneratorConfigError(
                f"{self.component_name!r} is not an LLM command generator this tool reproduces; use one of "
                f"{sorted(GENERATOR_CLASS_NAMES)}"
            )
        self.raw = raw
        self.generator: GeneratorName = GENERATOR_CLASS_NAMES[self.component_name]
        self.syntax: Syntax = GENERATOR_SYNTAX[self.generator]
        self.rasa_version: str = project.profile.release  # the patch included: some facts are per patch
        llm_block = raw.get("llm")
        if llm_block is not None and not isinstance(llm_block, Mapping):
            raise GeneratorConfigError(f"{self.component_name}.llm must be a mapping")
        self.llm_config: LLMConfig = generator_llm_config(
            llm_block, project.endpoints, self.generator, self.rasa_version, self.component_name
        )
        template_path = raw.get("prompt_template") or (raw.get("prompt") if self.generator == "single_step" else None)
        self.prompt_template: str | None = str(template_path) if template_path else None
        model, provider = template_model_key(resolved_llm_block(llm_block, project.endpoints, self.component_name))
        self.template: str = _resolve_template(
            self.generator,
            rasa_version=self.rasa_version,
            model=model,
            provider=provider,
            prompt_template=self.prompt_template,
            project_root=project.root,
        )
        include = raw.get("include_date_time")
        self.settings = StateSettings(
            generator=self.generator,
            rasa_version=self.rasa_version,
            retrieval=RetrievalSettings.from_config(raw.get("flow_retrieval")),
            include_date_time=None if include is None else bool(include),
            timezone=str(raw.get("timezone") or "UTC"),
            custom_template=self.prompt_template is not None,
        )
        self.settings.tz()  # an unknown timezone fails here, not in the middle of a conversation
        self.retriever: FlowRetriever | None = None
        if self.settings.retrieval.active:
            block = (raw.get("flow_retrieval") or {}).get("embeddings")
            self.retriever = FlowRetriever(
                project,
                service,
                embeddings_config(block, project.endpoints, self.rasa_version, self.component_name),
                self.settings.retrieval,
            )

    @staticmethod
    def _configured_component(project: Project) -> dict[str, Any]:
        generator = project.config.generator
        if generator is None:
            raise GeneratorConfigError(
                "config.yml has no LLM command generator in its pipeline (SingleStepLLMCommandGenerator, "
                "CompactLLMCommandGenerator or SearchReadyLLMCommandGenerator)"
            )
        return dict(generator.raw)

    # ------------------------------------------------------------------ the prompt
    def build_state(self, request: CommandRequest) -> PromptState:
        """The template inputs for ``request`` (flow retrieval calls the embedding model when active)."""
        return build_prompt_state(request, self.settings, retriever=self.retriever, now=self.now)

    def render(self, request: CommandRequest) -> str:
        """The exact prompt Rasa would send for ``request``.

        Raises :class:`CommandSourceError` when flow retrieval could not get its embeddings: the prompt
        would not be Rasa's without them.
        """
        try:
            state = self.build_state(request)
        except LLMError as exc:
            raise CommandSourceError(f"flow retrieval needs the embeddings model: {exc}") from exc
        return render_prompt(state, self.template)

    # ------------------------------------------------------------------ CommandSource
    def predict(self, request: CommandRequest) -> CommandPrediction:
        """Commands for ``request.message``: input checks, prompt, ONE LLM call, parsing.

        Empty and too long messages, and answers to a ``force_slot_filling`` collect step (3.12+), never
        reach the LLM. LLM errors (:class:`~pytest_cmdgen.llm.LLMCallError`, ``CacheMissError``) propagate.
        """
        # Empty and too-long messages never get here: the runtime answers them for every command source.
        forced = self._forced_slot(request)
        if forced is not None:
            return CommandPrediction([SetSlot(name=forced, value=request.text, extractor="CommandPayloadReader")])
        try:
            prompt = self.render(request)
            completion = self.service.chat(
                self.llm_config, [{"role": "user", "content": prompt}], purpose=PROMPT_PURPOSE
            )
        except LLMError as exc:
            # Failed after its retries (or missing in replay mode): fail the test with the provider's message.
            raise CommandSourceError(str(exc)) from exc
        commands: list[Command] = parse_commands(
            completion.text, self.syntax, request.available_flow_ids, self.rasa_version
        )
        return CommandPrediction(
            commands=list(commands),
            llm_prompt=prompt,
            llm_commands=[command.as_dict() for command in commands],
            llm_answer=None if commands else completion.text,  # shown when the turn's test fails
        )

    def _forced_slot(self, request: CommandRequest) -> str | None:
        """The slot of a ``force_slot_filling`` collect step being asked (3.12+), else None."""
        if not profile_for(self.rasa_version).force_slot_filling:
            return None
        step = asked_collect_step(request.tracker, self.project)
        return step.collect if step is not None and step.force_slot_filling else None


__all__ = ["GeneratorConfigError", "LLMCommandGenerator"]
