"""Real starter-pack conversations with scripted commands and stubbed custom actions."""

from __future__ import annotations

from pytest_cmdgen.runtime.agent import ActionResult, Agent
from pytest_cmdgen.runtime.commands import ChitChat, Knowledge, SetSlot, StartFlow
from pytest_cmdgen.runtime.project import Project
from tests.runtime.conftest import (
    ASSISTANTS,
    ScriptedSource,
    StubRunner,
    banking_stub_runner,
    event_kinds,
    texts,
    utters,
)

ESP_ANSWER = (
    "Based on the provided documents and the context of the recent conversation, the question about solving "
    "world hunger is not directly addressed. If you have any specific questions related to the documents or "
    "conversation context, feel free to ask for more information."
)


def test_retail_corrections_case():
    """tests/conversation_repair/corrections.yml of the banking pack, step by step."""
    project = Project.load(ASSISTANTS / "starterpack-retail-banking-en", "3.13")
    source = ScriptedSource(
        {
            "who are my payees": [StartFlow("list_payees")],
            "I want to transfer 55 to Amy": [
                StartFlow("transfer_money"),
                SetSlot("amount", "55"),
                SetSlot("payee_name", "Amy"),
            ],
            "67890123": [SetSlot("account_from", "67890123")],
            "Sorry, I meant 65 and from Current": [SetSlot("amount", "65"), SetSlot("account_from", "Current")],
            "yes": [SetSlot("confirm_immediate_payment", True)],
        }
    )
    conv = Agent(project, source, banking_stub_runner()).start_conversation("corrections")
    assert texts(conv.handle_message("who are my payees")) == [
        "You are authorised to transfer money to: Amy, Fitness Gym and William"
    ]
    events = conv.handle_message("I want to transfer 55 to Amy")
    assert utters(events)[0] == "utter_transfer_money_understand"
    assert "Which account would you like to transfer money from?" in texts(events)
    assert utters(conv.handle_message("67890123")) == ["utter_ask_timing"]
    assert utters(conv.handle_message("/SetSlots(timing=now)")) == ["utter_ask_confirm_immediate_payment"]
    events = conv.handle_message("Sorry, I meant 65 and from Current")
    assert utters(events) == ["utter_corrected_previous_input", "utter_ask_confirm_immediate_payment"]
    assert utters(conv.handle_message("yes")) == ["utter_transfer_successful"]


def test_retail_chitchat_case_with_a_search_responder():
    """tests/conversation_repair/chitchat.yml: the ESP answer comes from a pluggable responder."""

    class Responder:
        def respond(self, kind, tracker, project):
            assert kind == "search"
            return ActionResult(responses=[{"text": ESP_ANSWER}])

    project = Project.load(ASSISTANTS / "starterpack-retail-banking-en", "3.13")
    source = ScriptedSource({"hello,": [ChitChat()], "How can we solve world hunger?": [Knowledge()]})
    conv = Agent(project, source, banking_stub_runner(), responder=Responder()).start_conversation("chitchat")
    assert utters(conv.handle_message("hello,")) == ["utter_chitchat"]
    events = conv.handle_message("How can we solve world hunger?")
    assert texts(events) == [ESP_ANSWER]
    assert ("flow_completed", "pattern_search") in event_kinds(events)
    bot = [e for e in events if e.type_name == "bot"][0]
    assert bot.metadata["utter_source"] == "EnterpriseSearchPolicy"


def test_retail_session_start_greeting():
    project = Project.load(ASSISTANTS / "starterpack-retail-banking-en", "3.13")
    conv = Agent(project, ScriptedSource(), banking_stub_runner()).start_conversation("greet")
    assert utters(conv.handle_message("/session_start")) == ["utter_greeting", "utter_show_greeting_accordion"]


def test_telco_billing_happy_path():
    project = Project.load(ASSISTANTS / "starterpack-telco-en", "3.16")
    runner = StubRunner({"action_verify_bill_by_date": ActionResult(), "action_recap_bill": ActionResult()})
    source = ScriptedSource(
        {
            "I would like to check my bill": [StartFlow("understand_bill")],
            "January": [SetSlot("bill_month", "January")],
            "Yes, please": [SetSlot("breakdown_cost", "True")],
        }
    )
    conv = Agent(project, source, runner).start_conversation("billing", fixture_slots=[("customer_id", "124")])
    events = conv.handle_message("I would like to check my bill")
    assert ("flow_started", "understand_bill") in event_kinds(events)
    assert utters(events) == ["utter_ask_bill_month"]
    events = conv.handle_message("January")
    assert "action_verify_bill_by_date" in runner.calls
    bot = [e for e in events if e.type_name == "bot"][-1]
    assert bot.utter_action == "utter_ask_breakdown_cost"
    assert bot.buttons[0] == {"title": "Yes, please", "payload": "/SetSlots(breakdown_cost=True)"}
    assert utters(conv.handle_message("Yes, please")) == ["utter_ask_more_bill_details"]
    assert utters(conv.handle_message("/SetSlots(more_bill_details=True)")) == ["utter_provide_bill_sources"]


def test_telco_controlled_slot_rejects_llm_value():
    project = Project.load(ASSISTANTS / "starterpack-telco-en", "3.16")
    conv = Agent(
        project, ScriptedSource({"I am Bob": [SetSlot("customer_first_name", "Bob")]}), StubRunner()
    ).start_conversation("c")
    events = conv.handle_message("I am Bob")
    assert ("flow_started", "pattern_cannot_handle") in event_kinds(events)
    assert utters(events) == ["utter_ask_rephrase"]
