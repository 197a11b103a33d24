"""LLMCommandGenerator: model groups, defaults, frozen time, retrieval ordering, input checks, LLM failures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_cmdgen.generator.llm_generator import GeneratorConfigError, LLMCommandGenerator
from pytest_cmdgen.generator.model_groups import (
    ModelGroupError,
    embeddings_config,
    generator_llm_config,
    generator_llm_defaults,
    resolved_llm_block,
)
from pytest_cmdgen.generator.state import StateSettings, prompt_datetime, recently_started_flows
from pytest_cmdgen.llm import LLMCallError, LLMService
from pytest_cmdgen.runtime.agent import Agent
from pytest_cmdgen.runtime.commands import SetSlot
from pytest_cmdgen.runtime.errors import CommandSourceError
from pytest_cmdgen.runtime.events import BotUttered, SlotSet
from pytest_cmdgen.runtime.interfaces import CommandRequest
from pytest_cmdgen.runtime.postprocess import available_flows
from pytest_cmdgen.runtime.project import Project
from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer
from tests.generator_llm.conftest import BANKING, CAR_RENTAL, CarRentalActions

GROUPS = {
    "model_groups": [
        {"id": "g1", "models": [{"provider": "openai", "model": "gpt-4o-2024-11-20", "top_p": 0.0, "timeout": 7}]},
        {"id": "pool", "models": [{"model": "a"}, {"model": "b"}]},
        {"id": "routed", "models": [{"model": "a"}, {"model": "b"}], "router": {"routing_strategy": "least-busy"}},
        {"id": "dup", "models": [{"model": "a"}]},
        {"id": "dup", "models": [{"model": "b"}]},
    ]
}


def request_for(conversation, text: str) -> CommandRequest:
    """The CommandRequest the agent would build for ``text`` now."""
    from pytest_cmdgen.runtime.events import UserUttered

    available, startable = available_flows(conversation.tracker, conversation.project)
    return CommandRequest(
        message=UserUttered(text=text),
        tracker=conversation.tracker,
        project=conversation.project,
        available_flows=available,
        startable_flows=startable,
        profile=conversation.project.profile,
    )


# ------------------------------------------------------------------------------------------ model groups


def test_model_group_resolves_to_first_model_merged_over_version_defaults() -> None:
    config = generator_llm_config({"model_group": "g1"}, GROUPS, "search_ready", "3.13")
    assert config.provider == "openai" and config.model == "gpt-4o-2024-11-20"
    assert config.temperature == 0.0 and config.timeout == 7.0
    assert config.max_tokens == 256 and config.max_tokens_param == "max_completion_tokens"
    assert config.extra == {"top_p": 0.0}
    assert resolved_llm_block({"model_group": "pool"}, GROUPS) == {"model": "a"}  # several models, no router


def test_model_group_errors_use_rasas_wording() -> None:
    with pytest.raises(ModelGroupError, match="DOES NOT EXIST in the endpoints.yml file.*g1, pool"):
        generator_llm_config({"model_group": "nope"}, GROUPS, "compact", "3.13")
    with pytest.raises(ModelGroupError, match="NO MODEL GROUPS ARE DEFINED"):
        generator_llm_config({"model_group": "g1"}, {}, "compact", "3.13")
    with pytest.raises(ModelGroupError, match="No other parameters are allowed"):
        generator_llm_config({"model_group": "g1", "temperature": 1}, GROUPS, "compact", "3.13")
    with pytest.raises(ModelGroupError, match="'routed' configures a router; pytest-cmdgen .* does not route"):
        generator_llm_config({"model_group": "routed"}, GROUPS, "compact", "3.13")
    with pytest.raises(ModelGroupError, match="Multiple model groups with that id"):
        generator_llm_config({"model_group": "dup"}, GROUPS, "compact", "3.13")


def test_defaults_per_generator_and_version() -> None:
    assert generator_llm_defaults("single_step", "3.10")["model"] == "gpt-4-0613"
    assert "max_tokens" in generator_llm_defaults("single_step", "3.10")
    assert generator_llm_defaults("compact", "3.13")["model"] == "gpt-4o-2024-11-20"
    assert generator_llm_defaults("search_ready", "3.16")["model"] == "gpt-5.1-2025-11-13"
    # 3.16+: reasoning_effort kept for gpt-5.x, dropped for models that do not take it
    assert generator_llm_config(None, {}, "compact", "3.16").extra == {"reasoning_effort": "none"}
    assert "reasoning_effort" not in generator_llm_config({"model": "gpt-4o-2024-11-20"}, {}, "compact", "3.16").extra
    # another provider: the user's block alone
    alone = generator_llm_config(
        {"provider": "self-hosted", "model": "m", "api_base": "http://x"}, {}, "compact", "3.13"
    )
    assert alone.max_tokens is None and alone.temperature == 0.0
    assert embeddings_config(None, {}, "3.12").model == "text-embedding-ada-002"
    assert embeddings_config(None, {}, "3.13").model == "text-embedding-3-large"


def test_banking_generator_resolves_its_model_group(service: LLMService) -> None:
    generator = LLMCommandGenerator(Project.load(BANKING, "3.13"), service)
    assert generator.generator == "search_ready" and generator.syntax == "v3"
    assert generator.llm_config.model == "gpt-4o-2024-11-20" and generator.llm_config.extra == {"top_p": 0.0}
    assert generator.template.startswith("## Task Description")
    assert "search and reply" in generator.template


def test_env_references_are_expanded_only_at_call_time(
    scripted: ScriptedLLMServer,
    service: LLMService,
    project_copy: Callable[[Path], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = project_copy(CAR_RENTAL)
    config = (
        (root / "config.yml")
        .read_text()
        .replace("      temperature: 0.0", "      temperature: 0.0\n      api_base: ${CMDGEN_TEST_BASE}")
    )
    (root / "config.yml").write_text(config)
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("CMDGEN_TEST_BASE", raising=False)
    project = Project.load(root, "3.13")
    generator = LLMCommandGenerator(project, service)
    assert generator.llm_config.api_base == "${CMDGEN_TEST_BASE}"  # kept literal in the config
    monkeypatch.setenv("CMDGEN_TEST_BASE", scripted.base_url)
    scripted.add_rule("I want to rent a car", "StartFlow(search_rental_car)")
    conversation = Agent(project, generator, CarRentalActions()).start_conversation("env")
    conversation.handle_message("I want to rent a car")
    assert len(scripted.chat_prompts()) == 1


def test_a_project_without_a_generator_is_rejected(service: LLMService, project_copy: Callable[[Path], Path]) -> None:
    root = project_copy(CAR_RENTAL)
    (root / "config.yml").write_text("pipeline: []\npolicies:\n- name: FlowPolicy\n")
    with pytest.raises(GeneratorConfigError, match="no LLM command generator"):
        LLMCommandGenerator(Project.load(root, "3.13"), service)


# ------------------------------------------------------------------------------------------------ time


def test_now_is_frozen_by_cmdgen_now_then_mocked_datetime_then_clock() -> None:
    class FakeTracker:
        def __init__(self, mocked: str | None) -> None:
            self.mocked = mocked

        def get_slot(self, name: str):
            return self.mocked if name == "mocked_datetime" else None

    settings = StateSettings(generator="compact", rasa_version="3.15")
    frozen = dt.datetime(2025, 1, 2, 3, 4, 5)  # naive: UTC
    assert prompt_datetime(FakeTracker("2030-06-01T12:00:00+02:00"), settings, frozen) == frozen.replace(
        tzinfo=dt.timezone.utc
    )
    mocked = prompt_datetime(FakeTracker("2030-06-01T12:00:00+02:00"), settings)
    assert mocked.isoformat() == "2030-06-01T12:00:00+02:00"
    # before 3.15 the slot means nothing
    old = StateSettings(generator="compact", rasa_version="3.14")
    clock = prompt_datetime(FakeTracker("2030-06-01T12:00:00+02:00"), old)
    assert clock.tzinfo is not None and abs((dt.datetime.now(dt.timezone.utc) - clock).total_seconds()) < 60
    # a fixed offset timezone prints as UTC+05:30
    kolkata = StateSettings(generator="compact", rasa_version="3.15", timezone="Asia/Kolkata")
    assert prompt_datetime(FakeTracker(None), kolkata, frozen).strftime("%H:%M") == "08:34"
    assert not StateSettings(generator="compact", rasa_version="3.14").date_time_enabled
    assert StateSettings(generator="compact", rasa_version="3.15").date_time_enabled
    assert not StateSettings(generator="compact", rasa_version="3.15", include_date_time=False).date_time_enabled
    assert StateSettings(generator="single_step", rasa_version="3.10", custom_template=True).date_time_enabled


def test_frozen_now_in_the_3_15_banking_prompt(service: LLMService, banking_conversation_315) -> None:
    conversation, project = banking_conversation_315
    now = dt.datetime(2026, 2, 27, 23, 59, 1, tzinfo=dt.timezone.utc)
    generator = LLMCommandGenerator(project, service, now=now)
    prompt = generator.render(request_for(conversation, "hi"))
    block = (
        "\n---\n\n### Date & Time Context\n"
        "- Current date: 27 February, 2026   (DD Month, YYYY)\n"
        "- Current time: 23:59:01 (UTC)  (HH:MM:SS, 24-hour format with timezone)\n"
        "- Current day: Friday     (Day of week)\n"
    )
    assert block in prompt
    assert generator.render(request_for(conversation, "hi")) == prompt  # stable while frozen
    # the E2E fixture slot mocked_datetime is used when --cmdgen-now is not given
    conversation.tracker.update(SlotSet(key="mocked_datetime", value="2024-07-04T08:00:00+00:00"))
    unfrozen = LLMCommandGenerator(project, service)
    assert "- Current date: 04 July, 2024" in unfrozen.render(request_for(conversation, "hi"))
    assert "- Current day: Thursday" in unfrozen.render(request_for(conversation, "hi"))


@pytest.fixture
def banking_conversation_315(project_copy: Callable[[Path], Path]):
    root = project_copy(BANKING)
    config = (root / "config.yml").read_text() + ""
    config = config.replace(
        "    model_group: openai-direct-gpt-4o",
        "    model_group: openai-direct-gpt-4o\n  flow_retrieval:\n    active: false",
    )
    (root / "config.yml").write_text(config)
    project = Project.load(root, "3.15")

    class NoActions:
        def run(self, action_name, tracker, project):
            from pytest_cmdgen.runtime.interfaces import ActionResult

            return ActionResult()

    class NoSource:
        def predict(self, request):  # pragma: no cover - never asked
            raise AssertionError

    conversation = Agent(project, NoSource(), NoActions()).start_conversation("t")
    return conversation, project


# ------------------------------------------------------------------------------------------- retrieval


def _retrieval_project(project_copy: Callable[[Path], Path], active: bool) -> Project:
    root = project_copy(CAR_RENTAL)
    config = (root / "config.yml").read_text().replace("active: false", f"active: {str(active).lower()}")
    (root / "config.yml").write_text(config)
    return Project.load(root, "3.13")


def _flow_order(prompt: str) -> list[str]:
    section = prompt.split("These are the flows that can be started")[1].split("===")[0]
    return [line.split(":")[0] for line in section.splitlines() if line and not line.startswith(" ")][1:]


def test_retrieval_on_orders_by_recency_then_similarity(
    scripted: ScriptedLLMServer, service: LLMService, project_copy: Callable[[Path], Path]
) -> None:
    # documents start with the readable flow name; "search rental car" scores lower than "opening hours"
    def embed(text: str) -> list[float]:
        vector = [0.0] * scripted.embedding_dim
        if text.startswith("search rental car:"):
            vector[0] = 1.0
        elif text.startswith("opening hours:"):
            vector[1] = 1.0
        else:  # every query
            vector[0], vector[1] = 0.2, 0.8
        return vector

    scripted.embedding_for = embed  # type: ignore[method-assign]
    scripted.add_rule('said """I want to rent a car"""', "StartFlow(search_rental_car)")
    project = _retrieval_project(project_copy, active=True)
    generator = LLMCommandGenerator(project, service)
    conversation = Agent(project, generator, CarRentalActions()).start_conversation("r")
    conversation.handle_message("I want to rent a car")
    conversation.handle_message("Zurich")
    first, second = scripted.chat_prompts()
    assert _flow_order(first) == ["opening_hours", "search_rental_car"]  # similarity only
    assert _flow_order(second) == ["search_rental_car", "opening_hours"]  # started in the last 20 turns
    assert recently_started_flows(conversation.tracker)[-1] == "search_rental_car"
    embeddings = [r for r in scripted.requests if r.endpoint == "embeddings"]
    assert sorted(len(r.body["input"]) for r in embeddings) == [1, 1, 2]  # documents once, then one query a turn
    assert ["I want to rent a car"] in [r.body["input"] for r in embeddings[:2]]  # sent with the documents


def test_the_first_query_embedding_is_sent_while_the_flow_index_is_embedded(
    scripted: ScriptedLLMServer, service: LLMService, project_copy: Callable[[Path], Path]
) -> None:
    import threading

    query_arrived = threading.Event()
    overlapped: list[bool] = []
    plain = scripted.embedding_for

    def embed(text: str) -> list[float]:  # the server holds the index request until the query's arrives
        if text == "I want to rent a car":
            query_arrived.set()
        elif ":" in text:  # a flow document ("readable name: description ...")
            overlapped.append(query_arrived.wait(30))  # a safety net: never reached when both are sent at once
        return plain(text)

    scripted.embedding_for = embed  # type: ignore[method-assign]
    scripted.add_rule('said """I want to rent a car"""', "StartFlow(search_rental_car)")
    project = _retrieval_project(project_copy, active=True)
    conversation = Agent(project, LLMCommandGenerator(project, service), CarRentalActions()).start_conversation("r")
    conversation.handle_message("I want to rent a car")
    assert overlapped and all(overlapped)
    assert scripted.counts["embeddings"] == 2 and len(scripted.chat_prompts()) == 1


def test_retrieval_off_lists_flows_in_file_order_without_embeddings(
    scripted: ScriptedLLMServer, service: LLMService, project_copy: Callable[[Path], Path]
) -> None:
    project = _retrieval_project(project_copy, active=False)
    conversation = Agent(project, LLMCommandGenerator(project, service), CarRentalActions()).start_conversation("r")
    conversation.handle_message("hello")
    assert _flow_order(scripted.chat_prompts()[0]) == ["search_rental_car", "opening_hours"]
    assert not [r for r in scripted.requests if r.endpoint == "embeddings"]


# ------------------------------------------------------------------------------------ input and failures


def test_empty_and_too_long_messages_never_reach_the_llm(
    scripted: ScriptedLLMServer, service: LLMService, project_copy: Callable[[Path], Path]
) -> None:
    root = project_copy(CAR_RENTAL)
    config = (
        (root / "config.yml")
        .read_text()
        .replace("    flow_retrieval:", "    user_input:\n      max_characters: 10\n    flow_retrieval:")
    )
    (root / "config.yml").write_text(config)
    project = Project.load(root, "3.13")
    generator = LLMCommandGenerator(project, service)
    conversation = Agent(project, generator, CarRentalActions()).start_conversation("x")
    too_long = conversation.handle_message("x" * 11)
    empty = conversation.handle_message("   ")
    assert [e.utter_action for e in too_long if isinstance(e, BotUttered)] == ["utter_user_input_too_long_error_rasa"]
    assert [e.utter_action for e in empty if isinstance(e, BotUttered)] == ["utter_user_input_empty_error_rasa"]
    assert scripted.chat_prompts() == []


def test_force_slot_filling_answers_without_the_llm(
    scripted: ScriptedLLMServer, service: LLMService, project_copy: Callable[[Path], Path]
) -> None:
    root = project_copy(CAR_RENTAL)
    flows = (
        (root / "data" / "flows.yml")
        .read_text()
        .replace(
            "      - collect: trip_destination\n",
            "      - collect: trip_destination\n        force_slot_filling: true\n",
        )
    )
    (root / "data" / "flows.yml").write_text(flows)
    scripted.add_rule('said """I want to rent a car"""', "StartFlow(search_rental_car)")
    project = Project.load(root, "3.13")
    generator = LLMCommandGenerator(project, service)
    conversation = Agent(project, generator, CarRentalActions()).start_conversation("f")
    conversation.handle_message("I want to rent a car")
    prediction = generator.predict(request_for(conversation, "Zurich, please"))
    assert prediction.commands == [SetSlot("trip_destination", "Zurich, please")]
    assert prediction.commands[0].extractor == "CommandPayloadReader"
    assert len(scripted.chat_prompts()) == 1


def test_llm_failure_raises_with_the_providers_message(scripted: ScriptedLLMServer, service: LLMService) -> None:
    scripted.fail_always("The model is overloaded (scripted)", status=503)
    project = Project.load(CAR_RENTAL, "3.13")
    generator = LLMCommandGenerator(project, service)
    conversation = Agent(project, generator, CarRentalActions()).start_conversation("fail")
    with pytest.raises(CommandSourceError, match="The model is overloaded \\(scripted\\)") as info:
        generator.predict(request_for(conversation, "I want to rent a car"))
    cause = info.value.__cause__
    assert isinstance(cause, LLMCallError)
    assert cause.attempts == 3  # first try + 2 retries


def test_llm_failure_is_not_swallowed_by_the_agent(scripted: ScriptedLLMServer, service: LLMService) -> None:
    scripted.fail_always("The model is overloaded (scripted)", status=503)
    project = Project.load(CAR_RENTAL, "3.13")
    conversation = Agent(project, LLMCommandGenerator(project, service), CarRentalActions()).start_conversation("x")
    with pytest.raises(CommandSourceError, match="overloaded") as info:
        conversation.handle_message("I want to rent a car")
    assert isinstance(info.value.__cause__, LLMCallError)
