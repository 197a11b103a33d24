"""The starter packs' custom actions on the loopback server, called through HttpActionRunner."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from pytest_cmdgen.actions import HttpActionRunner
from pytest_cmdgen.runtime.errors import ActionError
from tests.support.starter_actions import action_server_for, join_names


def call(server, name: str, **slots: Any):
    tracker = {"sender_id": "s", "slots": slots, "events": []}
    return HttpActionRunner(server.url, timeout=5).run(name, tracker, None)


@pytest.fixture(scope="module")
def banking():
    with action_server_for("banking", today=dt.date(2026, 3, 1)) as server:
        yield server


@pytest.fixture(scope="module")
def telco():
    with action_server_for("telco", year=2026) as server:
        yield server


def test_join_names() -> None:
    assert join_names([]) == "" and join_names(["A"]) == "A" and join_names(["A", "B", "C"]) == "A, B and C"


def test_banking_session_start_and_lists(banking) -> None:
    result = call(banking, "action_session_start")
    slots = {e["name"]: e["value"] for e in result.events if e["event"] == "slot"}
    assert slots["username"] == "John Smith" and slots["current_date"] == "01/03/2026"
    assert result.events[-1]["name"] == "action_listen"
    payees = call(banking, "action_list_payees", username="John Smith")
    assert payees.responses == [{"text": "You are authorised to transfer money to: Robert, James and Food Market"}]
    accounts = call(banking, "action_ask_account_from", username="John Smith")
    assert accounts.responses[0]["buttons"][0] == {"title": "Savings (Balance: $10123.45)", "payload": "12345678"}
    balance = call(banking, "action_check_balance", username="John Smith", account="23456789")
    assert balance.responses == [{"text": "The balance is: $4923.67"}]
    with pytest.raises(ActionError, match="500"):
        call(banking, "action_check_balance", username="John Smith", account="67890123")


def test_banking_payee_existence_and_dates(banking) -> None:
    missing = call(banking, "action_check_payee_existence", username="John Smith", payee_name="Amy")
    assert missing.events[0]["value"] is False
    assert missing.responses == [{"text": "Amy is not an authorised payee. Let's add them!"}]
    future = call(banking, "action_validate_payment_date", current_date="01/03/2026", payment_date="02/03/2026")
    assert future.events[0] == {"event": "slot", "name": "future_payment_date", "value": True, "timestamp": None}


def test_telco_actions(telco) -> None:
    info = call(telco, "action_get_customer_info", customer_id="124")
    assert info.events[0]["value"] == "Lionel"
    bill = call(telco, "action_verify_bill_by_date", customer_id=123, bill_month="January")
    assert bill.responses[0]["text"].startswith("Your bill for January 2026 is $150.50.")
    speed = call(telco, "actions_run_speed_test", network_speed_override=50)
    assert speed.events[0]["value"] == 50
    recap = call(telco, "action_recap_bill", customer_id=123)
    assert recap.responses[1] == {"text": "Jan. 1, 2026 | $150.50 | Internet"}
