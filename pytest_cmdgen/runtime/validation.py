"""Checks of a loaded project against itself, like ``rasa data validate`` (and ``rasa train``) make them.

Loading (config, domain, flows) stops at the first file it cannot read; what it can read is checked here,
all at once, so that one run lists every mistake with its ``file:line``, the value found and what was
expected. What Rasa refuses is an error: :func:`raise_for_errors` raises one
:class:`ProjectValidationError` naming each. What Rasa only warns about, or lets through to fail silently
at run time, is a :class:`ProjectWarning`, kept on the project and shown as one line each.

The checks and their strictness follow Rasa Pro's ``rasa/validator.py`` (3.16):

- a pipeline or policy component Rasa cannot load (``Can't load class for name``), and a command generator
  pytest-cmdgen does not run: error;
- a slot type that is not one of Rasa's: error (Rasa fails loading the domain);
- a ``collect`` or ``set_slots`` step naming a slot the domain lacks, or a list slot: error
  (``verify_flows_steps_against_domain``);
- a ``collect`` step without its ``utter_ask_<slot>`` response (or ``utter:``) and without an
  ``action_ask_<slot>`` action, unless the slot has an initial value and is not asked before filling,
  or with both: error;
- an ``action`` step naming neither a response, a domain action nor a built-in action: error
  (actions interpolated from ``{context.…}`` are skipped, as Rasa does);
- ``call`` or ``link`` to an unknown flow, ``call`` to a pattern or to a flow that links: error;
- an ``nlu_trigger`` intent the domain does not list: warning (Rasa warns);
- a collect step's rejection ``utter`` that is no response: warning (Rasa does not check it; at run time
  it says nothing).

Only the project's own flows are checked (the default patterns it does not override are Rasa's).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_cmdgen.runtime.config import GENERATOR_NAMES, ProjectConfig
from pytest_cmdgen.runtime.domain import DEFAULT_ACTIONS, Domain
from pytest_cmdgen.runtime.errors import ProjectError
from pytest_cmdgen.runtime.flows import Flow, FlowsList, FlowStep
from pytest_cmdgen.yamlio import line_of

RASA_COMPONENTS = frozenset(
    {
        # Every class registered with @DefaultV1Recipe.register in Rasa Pro 3.16 and 3.21 ...
        "AugmentedMemoizationPolicy",
        "CRFEntityExtractor",
        "CompactLLMCommandGenerator",
        "ConveRTFeaturizer",
        "CountVectorsFeaturizer",
        "DIETClassifier",
        "DucklingEntityExtractor",
        "EnterpriseSearchPolicy",
        "EntitySynonymMapper",
        "FallbackClassifier",
        "FlowPolicy",
        "IntentBasedRouter",
        "IntentlessPolicy",
        "JiebaTokenizer",
        "KeywordIntentClassifier",
        "LLMBasedCommandGenerator",
        "LLMBasedRouter",
        "LLMCommandGenerator",
        "LanguageModelFeaturizer",
        "LexicalSyntacticFeaturizer",
        "LogisticRegressionClassifier",
        "MemoizationPolicy",
        "MitieEntityExtractor",
        "MitieFeaturizer",
        "MitieIntentClassifier",
        "MitieNLP",
        "MitieTokenizer",
        "MultiStepLLMCommandGenerator",
        "NLUCommandAdapter",
        "RegexEntityExtractor",
        "RegexFeaturizer",
        "RegexMessageHandler",
        "ResponseSelector",
        "RulePolicy",
        "SearchReadyLLMCommandGenerator",
        "SingleStepBasedLLMCommandGenerator",
        "SingleStepLLMCommandGenerator",
        "SklearnIntentClassifier",
        "SpacyEntityExtractor",
        "SpacyFeaturizer",
        "SpacyNLP",
        "SpacyTokenizer",
        "TEDPolicy",
        "UnexpecTEDIntentPolicy",
        "WhitespaceTokenizer",
        # ... and the LLM intent classifier of the 3.10 line.
        "LLMIntentClassifier",
    }
)
"""Component names Rasa resolves without a module path; any other bare name fails ``rasa train``."""

RASA_DEFAULT_ACTIONS = frozenset(
    {
        *DEFAULT_ACTIONS,
        # rasa.shared.core.constants.DEFAULT_ACTION_NAMES of 3.16 and 3.21 beyond the runtime's own list
        "action_agent_request_user_input",
        "action_reset_routing",
        "action_default_capabilities",
        "action_send_text_update",
    }
)
"""Actions a flow may name without the domain listing them (Rasa's ``DEFAULT_ACTION_NAMES``)."""

RASA_DEFAULT_INTENTS = frozenset(
    {"restart", "back", "out_of_scope", "session_start", "session_end", "silence_timeout", "nlu_fallback"}
)
"""Intents every Rasa domain has (``DEFAULT_INTENTS`` of 3.21): a trigger may name them unlisted."""

_SUPPORTED_GENERATORS = (
    "SingleStepLLMCommandGenerator",
    "CompactLLMCommandGenerator",
    "SearchReadyLLMCommandGenerator",
)
"""The generators pytest-cmdgen runs, as error messages name them (``LLMCommandGenerator`` is an alias)."""
_GENERATOR_SUFFIX = "CommandGenerator"
_LIST_SLOT = "list"


@dataclass(frozen=True)
class ProjectWarning:
    """Something Rasa only warns about (or lets fail silently at run time): shown, never fatal."""

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        location = f"{self.file}:{self.line}" if self.line else self.file
        return f"{location}: {self.key}: {self.message}"


class ProjectValidationError(ProjectError):
    """Every error :func:`validate_project` found: one problem reads as its own ``file:line`` error, several
    as a count and then one ``file:line: key: expected`` line each."""

    def __init__(self, root: str | Path, problems: Sequence[ProjectError]) -> None:
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            only = self.problems[0]
            super().__init__(only.file or str(root), only.line or 0, only.key or "", only.expected, only.hint)
            return
        listing = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(
            str(root),
            0,
            "",
            f"{len(self.problems)} problems in the project (checked like `rasa data validate`):\n{listing}",
        )


@dataclass
class ValidationReport:
    """What :func:`validate_project` found: errors (Rasa refuses the project) and warnings."""

    errors: list[ProjectError]
    warnings: list[ProjectWarning]

    def raise_for_errors(self, root: str | Path) -> None:
        """Raise one :class:`ProjectValidationError` listing every error, if there is any."""
        if self.errors:
            raise ProjectValidationError(root, self.errors)


def validate_project(
    config: ProjectConfig,
    domain: Domain,
    flows: FlowsList,
    user_flows: Iterable[Flow],
    found: Iterable[ProjectError] = (),
) -> ValidationReport:
    """Check the loaded parts against each other; ``found`` are problems loading already recorded."""
    report = ValidationReport(errors=[], warnings=[])
    _check_components(config, report)
    report.errors.extend(found)
    for flow in user_flows:
        for step in flow.steps:
            _check_step(flow, step, domain, flows, report)
        _check_triggers(flow, domain, report)
    return report


# --- config.yml ------------------------------------------------------------------------------------------


def _check_components(config: ProjectConfig, report: ValidationReport) -> None:
    source = str(config.path) if config.path else "config.yml"
    for section in ("pipeline", "policies"):
        components = config.raw.get(section) or []
        for index, component in enumerate(components):
            name = component.get("name")
            key = f"{section}[{index}].name"
            line = line_of(component, "name", line_of(components, index))
            if not isinstance(name, str) or not name:
                report.errors.append(ProjectError(source, line, key, f"a component name (got {name!r})"))
                continue
            if "." in name:
                continue  # a custom component, named by its module path
            if name not in RASA_COMPONENTS:
                report.errors.append(ProjectError(source, line, key, _unknown_component(name)))
            elif name.endswith(_GENERATOR_SUFFIX) and name not in GENERATOR_NAMES:
                report.errors.append(
                    ProjectError(
                        source,
                        line,
                        key,
                        f"a command generator pytest-cmdgen runs: {', '.join(_SUPPORTED_GENERATORS)} "
                        f"(got {name!r}, which it does not run)",
                    )
                )


def _unknown_component(name: str) -> str:
    guess = _did_you_mean(name, RASA_COMPONENTS)
    if guess:
        return f"a component Rasa knows (got {name!r}; {guess})"
    if name.endswith(_GENERATOR_SUFFIX):
        return f"a command generator Rasa knows: {', '.join(_SUPPORTED_GENERATORS)} (got {name!r})"
    return f"a component Rasa knows, or a custom one named by its module path (got {name!r})"


# --- flows against the domain ----------------------------------------------------------------------------


def _step_line(flow: Flow, step: FlowStep) -> int:
    first = str(step.metadata.get("line_numbers", "")).split("-")[0]
    return int(first) if first.isdigit() else flow.line


def _check_step(flow: Flow, step: FlowStep, domain: Domain, flows: FlowsList, report: ValidationReport) -> None:
    source = flow.file or "<flows>"
    line = _step_line(flow, step)
    key = f"flows.{flow.id}.{step.id}"

    def error(expected: str, suffix: str = "") -> None:
        report.errors.append(ProjectError(source, line, key + suffix, expected))

    if step.kind == "collect" and step.collect:
        slot = domain.slots.get(step.collect)
        if slot is None:  # (how it is asked for is checked once the name is right)
            error(_unknown_slot(step.collect, domain), ".collect")
        else:
            if slot.type == _LIST_SLOT:
                error(_list_slot(step.collect), ".collect")
            _check_ask(step, domain, error)
        for rejection in step.rejections:
            if rejection.utter not in domain.responses:
                report.warnings.append(
                    ProjectWarning(
                        source,
                        line,
                        f"{key}.rejections",
                        f"no response {rejection.utter!r} in the domain: a rejected value is refused without a "
                        "word (Rasa does not check this before running)",
                    )
                )
    elif step.kind == "set_slots":
        for name, _ in step.slot_sets:
            slot = domain.slots.get(name)
            if slot is None:
                error(_unknown_slot(name, domain), ".set_slots")
            elif slot.type == _LIST_SLOT:
                error(_list_slot(name), ".set_slots")
    elif step.kind == "action" and step.action:
        if "{context." in step.action:
            return  # interpolated at run time; Rasa skips it too
        known = step.action in domain.responses or step.action in domain.actions
        if not known and step.action not in RASA_DEFAULT_ACTIONS:
            error(_unknown_action(step.action, domain), ".action")
    elif step.kind in ("call", "link"):
        target = step.call if step.kind == "call" else step.link
        called = flows.get(target)
        if called is None:
            ids = [f.id for f in flows]
            guess = _did_you_mean(str(target), ids)
            error(f"an existing flow to {step.kind} (got {target!r}, no such flow{'; ' + guess if guess else ''})")
        elif step.kind == "call" and called.is_pattern:
            error(f"a user flow to call (got {target!r}: patterns cannot be called)")
        elif step.kind == "call" and called.has_link_step:
            error(f"a called flow without link steps (got {target!r}, which links)")


def _check_ask(step: FlowStep, domain: Domain, error: Any) -> None:
    """Rasa's ``_log_error_if_either_action_or_utterance_are_not_defined``."""
    slot_name = step.collect or ""
    utter = step.utter or f"utter_ask_{slot_name}"
    ask_action = step.collect_action()
    has_utter = utter in domain.responses
    has_action = ask_action in domain.actions or ask_action in domain.responses
    if has_utter and has_action:
        error(
            f"one way to ask for slot {slot_name!r}: the response {utter!r} or the action {ask_action!r}, "
            "not both (the domain defines both)"
        )
        return
    slot = domain.slots.get(slot_name)
    prefilled = slot is not None and slot.initial_value is not None
    if not has_utter and not has_action and (not prefilled or step.ask_before_filling):
        error(
            f"a response {utter!r} or an action {ask_action!r} in the domain to ask for slot {slot_name!r} "
            "(neither is defined)"
        )


def _check_triggers(flow: Flow, domain: Domain, report: ValidationReport) -> None:
    triggers = flow.raw.get("nlu_trigger") or []
    aligned = len(triggers) == len(flow.nlu_triggers)  # else a null entry was dropped: point at the list
    for index, (intent, _) in enumerate(flow.nlu_triggers):
        if intent not in domain.intents and intent not in RASA_DEFAULT_INTENTS:
            report.warnings.append(
                ProjectWarning(
                    flow.file or "<flows>",
                    line_of(triggers, index if aligned else None, flow.line),
                    f"flows.{flow.id}.nlu_trigger",
                    f"the intent {intent!r} is not listed in the domain (Rasa warns: add it to `intents:`)",
                )
            )


def _unknown_slot(name: str, domain: Domain) -> str:
    guess = _did_you_mean(name, domain.slots)
    return f"a slot defined in the domain (got {name!r}, no such slot{'; ' + guess if guess else ''})"


def _list_slot(name: str) -> str:
    return f"a slot that is not a list slot (got {name!r}, a list slot: Rasa does not support them in flows)"


def _unknown_action(name: str, domain: Domain) -> str:
    guess = _did_you_mean(name, [*domain.responses, *domain.actions])
    where = (
        "a response defined in the domain"
        if name.startswith("utter_")
        else "an action listed under `actions:` in the domain, a response or a built-in action"
    )
    return f"{where} (got {name!r}, defined nowhere{'; ' + guess if guess else ''})"


def _did_you_mean(name: str, candidates: Iterable[str]) -> str:
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.8)
    return f"did you mean {matches[0]!r}?" if matches else ""


__all__ = [
    "RASA_COMPONENTS",
    "ProjectValidationError",
    "ProjectWarning",
    "ValidationReport",
    "validate_project",
]
