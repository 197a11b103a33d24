"""Prompts sent by ``LLMCommandGenerator`` through the real ``LLMService`` to a scripted server, vs. goldens.

Every golden under ``golden/`` was derived by hand from the templates and the reference rules
(rasa-recipe.md §9.2–§9.4, §9.8; rasa-modern-generators.md §2.4): the flow list, transcript and state
parts were typed from the projects' YAML, the static parts are the templates' own text. None was
produced by the code under test. Conversations run through the runtime's ``Agent``; the server captures
the exact prompt bytes each turn.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_cmdgen.actions import HttpActionRunner
from pytest_cmdgen.generator.llm_generator import LLMCommandGenerator
from pytest_cmdgen.llm import LLMService
from pytest_cmdgen.runtime.agent import Agent
from pytest_cmdgen.runtime.project import Project
from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer
from tests.generator_llm.conftest import BANKING, CAR_RENTAL, GOLDEN, CarRentalActions
from tests.support.starter_actions import action_server_for


def golden(name: str) -> str:
    return (GOLDEN / name).read_text(encoding="utf-8")


def v1_rule(server: ScriptedLLMServer, message: str, answer: str) -> None:
    server.add_rule(re.compile(re.escape(f'The user just said """{message}"""')), answer)


def v3_rule(server: ScriptedLLMServer, message: str, answer: str) -> None:
    server.add_rule(re.compile(re.escape(f'last message: """{message}"""')), answer)


# ------------------------------------------------------------------------------------- car rental (v1)


def test_car_rental_prompts_not_in_flow_asking_and_after_correction(
    scripted: ScriptedLLMServer, service: LLMService
) -> None:
    v1_rule(scripted, "I want to rent a car", "StartFlow(search_rental_car)")
    v1_rule(scripted, "Zurich", "SetSlot(trip_destination, Zurich)")
    v1_rule(scripted, "actually make that Geneva, not Zurich", "SetSlot(trip_destination, Geneva)")
    v1_rule(scripted, "on Friday", "SetSlot(pickup_date, Friday)")
    project = Project.load(CAR_RENTAL, "3.13")
    conversation = Agent(project, LLMCommandGenerator(project, service), CarRentalActions()).start_conversation("c")
    for text in [
        "I want to rent a car",
        "Zurich",
        "/SetSlots(car_type=compact)",  # a button payload: no LLM call
        "actually make that Geneva, not Zurich",
        "on Friday",
    ]:
        conversation.handle_message(text)
    prompts = scripted.chat_prompts()
    assert len(prompts) == 4
    assert prompts[0] == golden("car_a_not_in_flow.txt")
    assert prompts[1] == golden("car_b_asking_slot.txt")
    assert prompts[3] == golden("car_d_after_correction.txt")
    # the prompt and the parsed commands are stored on the message for annotation
    last_user = [e for e in conversation.tracker.events if e.type_name == "user"][-1]
    assert last_user.parse_data["llm_prompt"] == prompts[3]
    assert last_user.parse_data["llm_commands"] == [
        {"command": "set slot", "name": "pickup_date", "value": "Friday", "extractor": "LLM"}
    ]
    assert conversation.tracker.get_slot("trip_destination") == "Geneva"


def test_car_rental_prompt_with_allowed_values(scripted: ScriptedLLMServer, service: LLMService) -> None:
    v1_rule(scripted, "I need a rental car in Basel", "StartFlow(search_rental_car)\nSetSlot(trip_destination, Basel)")
    v1_rule(scripted, "an SUV please", "SetSlot(car_type, suv)")
    project = Project.load(CAR_RENTAL, "3.13")
    conversation = Agent(project, LLMCommandGenerator(project, service), CarRentalActions()).start_conversation("c")
    conversation.handle_message("I need a rental car in Basel")
    conversation.handle_message("an SUV please")
    prompts = scripted.chat_prompts()
    assert prompts[1] == golden("car_c_allowed_values.txt")
    assert conversation.tracker.get_slot("car_type") == "suv"


CUSTOM_TEMPLATE = """\
Today is {{ current_datetime.strftime("%A, %d %B %Y") }}, {{ current_datetime.strftime("%H:%M:%S") }} \
{{ current_datetime.tzname() }}.
Flows:
{% for flow in available_flows %}- {{ flow.name }}{% for slot in flow.slots %} [{{ slot.name }}]{% endfor %}
{% endfor %}
{% if current_flow %}Asking for {{ current_slot }} ({{ current_slot_type }}{% if current_slot_allowed_values %}, \
one of {{ current_slot_allowed_values }}{% endif %}) in {{ current_flow }}.
{% endif %}
{{ current_conversation }}
Commands:
"""


def test_custom_template_gets_frozen_current_datetime(
    scripted: ScriptedLLMServer, service: LLMService, project_copy: Callable[[Path], Path]
) -> None:
    root = project_copy(CAR_RENTAL)
    (root / "prompts").mkdir()
    (root / "prompts" / "dated.jinja2").write_text(CUSTOM_TEMPLATE, encoding="utf-8")
    config = (root / "config.yml").read_text()
    config = config.replace(
        "    flow_retrieval:",
        "    prompt_template: prompts/dated.jinja2\n    timezone: Europe/Zurich\n    flow_retrieval:",
    )
    (root / "config.yml").write_text(config)
    scripted.add_rule(
        "USER: I need a rental car in Basel\nCommands:",
        "StartFlow(search_rental_car)\nSetSlot(trip_destination, Basel)",
    )
    scripted.add_rule("USER: an SUV please\nCommands:", "SetSlot(car_type, suv)")
    project = Project.load(root, "3.13")
    frozen = dt.datetime(2025, 3, 14, 9, 26, 53, tzinfo=dt.timezone.utc)  # 10:26:53 CET in Zurich
    generator = LLMCommandGenerator(project, service, now=frozen)
    conversation = Agent(project, generator, CarRentalActions()).start_conversation("c")
    conversation.handle_message("I need a rental car in Basel")
    conversation.handle_message("an SUV please")
    assert scripted.chat_prompts()[1] == golden("car_e_custom_datetime.txt")
    assert conversation.tracker.get_slot("car_type") == "suv"


# ------------------------------------------------------------------------------ retail banking (v3, 3.13)

# flow -> axis of the hand-made embedding space; documents start with the flow's readable name
BANKING_AXES = {
    "check an account balance": 0,
    "block a card": 1,
    "goodbye flow": 2,
    "help you": 3,
    "human handoff": 4,
    "add payee": 5,
    "list payees": 6,
    "transfer money": 7,
}
# query -> score of each flow (by readable name); all distinct so the ranking is unambiguous
BANKING_QUERIES = {
    "I want to send money to James": dict(zip(BANKING_AXES, [0.3, 0.2, 0.01, 0.1, 0.05, 0.5, 0.4, 0.9], strict=True)),
    "67890123": dict(zip(BANKING_AXES, [0.6, 0.4, 0.1, 0.3, 0.2, 0.5, 0.7, 0.05], strict=True)),
    "right now please": dict(zip(BANKING_AXES, [0.4, 0.6, 0.7, 0.8, 0.9, 0.5, 0.3, 0.2], strict=True)),
}


def axis_embeddings(
    axes: dict[str, int], queries: dict[str, dict[str, float]], dim: int
) -> Callable[[str], list[float]]:
    """Documents → one-hot on their flow's axis; known queries → their scores; anything else → zeros."""

    def embed(text: str) -> list[float]:
        vector = [0.0] * dim
        if text in queries:
            for name, score in queries[text].items():
                vector[axes[name]] = score
            return vector
        name = text.split(":", 1)[0]
        if name in axes:
            vector[axes[name]] = 1.0
        return vector

    return embed


@pytest.fixture
def banking_actions():
    with action_server_for("banking", today=dt.date(2026, 3, 1)) as server:
        yield HttpActionRunner(server.url, timeout=10)


def test_banking_search_ready_prompts_with_flow_retrieval(
    scripted: ScriptedLLMServer, service: LLMService, banking_actions: HttpActionRunner
) -> None:
    scripted.embedding_for = axis_embeddings(BANKING_AXES, BANKING_QUERIES, scripted.embedding_dim)  # type: ignore[method-assign]
    v3_rule(scripted, "I want to send money to James", "start flow transfer_money\nset slot payee_name James")
    v3_rule(scripted, "67890123", "set slot account_from 67890123")
    v3_rule(scripted, "55", "set slot amount 55")
    v3_rule(scripted, "right now please", "set slot timing now")
    project = Project.load(BANKING, "3.13")
    generator = LLMCommandGenerator(project, service)
    assert generator.syntax == "v3" and generator.retriever is not None
    conversation = Agent(project, generator, banking_actions).start_conversation("bank")
    for text in ["I want to send money to James", "67890123", "55", "right now please"]:
        conversation.handle_message(text)
    prompts = scripted.chat_prompts()
    assert len(prompts) == 4
    assert prompts[0] == golden("bank_a_first_message.txt")
    assert prompts[1] == golden("bank_b_asking_account.txt")
    assert prompts[3] == golden("bank_c_allowed_values.txt")
    assert conversation.tracker.get_slot("timing") == "now"
    # the flow documents are embedded once (one request, sent with the first query's), then one query per turn
    embeddings = [r for r in scripted.requests if r.endpoint == "embeddings"]
    assert len(embeddings) == 1 + 4
    index = max(embeddings[:2], key=lambda r: len(r.body["input"]))
    assert len(index.body["input"]) == len(BANKING_AXES)
    assert index.body["model"] == "text-embedding-3-large"
    # the chat request carries the model group's parameters merged over SearchReady's defaults
    body = next(r.body for r in scripted.requests if r.endpoint == "chat")
    assert body["model"] == "gpt-4o-2024-11-20"
    assert body["messages"] == [{"role": "user", "content": prompts[0]}]
    assert body["temperature"] == 0.0 and body["top_p"] == 0.0 and body["max_completion_tokens"] == 256


def test_banking_document_texts_follow_the_retrieval_template(service: LLMService) -> None:
    project = Project.load(BANKING, "3.13")
    generator = LLMCommandGenerator(project, service)
    assert generator.retriever is not None
    documents = dict(generator.retriever.documents())
    # link-only flows (if: False) are not embedded
    assert set(documents) == {
        "check_balance", "block_card", "goodbye_flow", "help", "human_handoff", "add_payee", "list_payees",
        "transfer_money",
    }  # fmt: skip
    assert documents["check_balance"] == (
        "check an account balance: Guides the user through retrieving their account balance by requesting an\n"
        "account number and returning the balance on account\n"
        "\n"
        "    account: banking account number\n"
        "    "
    )
