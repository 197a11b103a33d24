"""The starter packs' custom actions, re-implemented from their ACTIONS.md for the loopback action server.

Each action is a callable ``(tracker_dict, domain_dict) -> (events, responses)`` as
:class:`pytest_cmdgen.testing.action_server.ActionServer` serves them. The data come from the packs'
own files (retail banking: ``data/system/source/*.json``; telco: ``csvs/*.csv``).

Deliberate differences from upstream, for test isolation and speed:

* banking writes (add/remove payee, card status) go to an in-memory copy of the JSON data per
  :class:`BankingStore`, not to a SQLite file shared by every conversation;
* the telco actions do not sleep (``sleep=True`` restores the 3 s / 10 s waits);
* ``action_human_handoff`` is not registered, as upstream has no implementation (a call fails).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_cmdgen.testing.action_server import ActionServer
from tests.support.paths import ASSISTANTS  # noqa: E402

BANKING_DIR = ASSISTANTS / "starterpack-retail-banking-en"
TELCO_DIR = ASSISTANTS / "starterpack-telco-en"

Events = list[dict[str, Any]]
Responses = list[dict[str, Any]]
Action = Callable[[dict[str, Any], dict[str, Any]], tuple[Events, Responses]]


def slot(name: str, value: Any) -> dict[str, Any]:
    """A ``SlotSet`` event dict."""
    return {"event": "slot", "name": name, "value": value, "timestamp": None}


def action_listen() -> dict[str, Any]:
    """An ``ActionExecuted(action_listen)`` event dict."""
    return {"event": "action", "name": "action_listen", "policy": None, "confidence": None, "timestamp": None}


def text(message: str, **extra: Any) -> dict[str, Any]:
    """A bot response dict with text (and e.g. ``buttons``)."""
    return {"text": message, **extra}


def slots_of(tracker: dict[str, Any]) -> dict[str, Any]:
    """The tracker dict's slot values."""
    return dict(tracker.get("slots") or {})


def join_names(names: list[str]) -> str:
    """``A, B and C`` (one name alone; ``""`` for none)."""
    if not names:
        return ""
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


# --- retail banking ----------------------------------------------------------------------------------


@dataclass
class BankingStore:
    """An in-memory copy of the banking data; ids are 1-based row positions of each JSON file."""

    users: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    payees: list[dict[str, Any]] = field(default_factory=list)
    cards: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, pack: Path = BANKING_DIR) -> BankingStore:
        """Read ``data/system/source/{users,accounts,payees,cards}.json``."""
        source = pack / "data" / "system" / "source"

        def read(name: str) -> list[dict[str, Any]]:
            return json.loads((source / f"{name}.json").read_text(encoding="utf-8"))

        return cls(read("users"), read("accounts"), read("payees"), read("cards"))

    def user_id(self, username: str | None) -> int:
        """The 1-based id of the user with that display name (raises if unknown)."""
        for index, user in enumerate(self.users, start=1):
            if user["name"] == username:
                return index
        raise LookupError(f"unknown user {username!r}")

    def accounts_of(self, username: str | None) -> list[dict[str, Any]]:
        """The accounts of a user, in file order."""
        uid = self.user_id(username)
        return [a for a in self.accounts if a["user_id"] == uid]

    def payees_of(self, username: str | None) -> list[dict[str, Any]]:
        """The payees of a user, in file order."""
        uid = self.user_id(username)
        return [p for p in self.payees if p["user_id"] == uid]

    def cards_of(self, username: str | None) -> list[dict[str, Any]]:
        """The cards of a user, in file order."""
        uid = self.user_id(username)
        return [c for c in self.cards if c["user_id"] == uid]


#: The session user of the banking pack (hard-coded upstream).
SESSION_USER = "John Smith"


def banking_actions(store: BankingStore | None = None, today: dt.date | None = None) -> dict[str, Action]:
    """Every custom action of the retail banking pack (see its ACTIONS.md), over ``store``."""
    db = store or BankingStore.load()

    def session_start(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        user = db.users[db.user_id(SESSION_USER) - 1]
        current = (today or dt.date.today()).strftime("%d/%m/%Y")
        events = [
            slot("current_date", current),
            slot("username", SESSION_USER),
            slot("segment", user["segment"]),
            slot("email_address", user["email"]),
            slot("physical_address", user["address"]),
            action_listen(),
        ]
        return events, []

    def ask_account(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        slots = slots_of(tracker)
        buttons = [
            {"title": f"{a['number']} ({a['type'].capitalize()})", "payload": a["number"]}
            for a in db.accounts_of(slots.get("username"))
        ]
        return [slot("account", slots.get("account"))], [
            text("Which account would you like the balance for?", buttons=buttons)
        ]

    def ask_account_from(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        slots = slots_of(tracker)
        buttons = [
            {"title": f"{a['type'].capitalize()} (Balance: ${a['balance']:.2f})", "payload": a["number"]}
            for a in db.accounts_of(slots.get("username"))
        ]
        return [], [text("Which account would you like to transfer money from?", buttons=buttons)]

    def ask_card(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        slots = slots_of(tracker)
        buttons = [
            {
                "title": f"{i}: x{c['number'][-4:]} ({c['type'].capitalize()})",
                "payload": f"/SetSlots(card_selection={c['number']})",
            }
            for i, c in enumerate(db.cards_of(slots.get("username")), start=1)
        ]
        return [], [text("Select the card you require assistance with:", buttons=buttons)]

    def check_balance(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        slots = slots_of(tracker)
        account = str(slots.get("account"))
        for a in db.accounts_of(slots.get("username")):
            if a["number"] == account:
                return [], [text(f"The balance is: ${a['balance']}")]
        raise LookupError(f"account {account!r} does not belong to {slots.get('username')!r}")

    def check_payee_existence(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        slots = slots_of(tracker)
        name = slots.get("payee_name")
        exists = any(p["name"] == name for p in db.payees_of(slots.get("username")))
        responses = [] if exists else [text(f"{name} is not an authorised payee. Let's add them!")]
        return [slot("payee_exists", exists)], responses

    def check_sufficient_funds(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        return [slot("sufficient_funds", True)], []  # upstream queries the balance but never compares

    def process_immediate_payment(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        return [slot("payment_processed", True)], []

    def validate_payment_date(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        slots = slots_of(tracker)
        current = dt.datetime.strptime(str(slots.get("current_date")), "%d/%m/%Y")
        payment = dt.datetime.strptime(str(slots.get("payment_date")), "%d/%m/%Y")
        return [slot("future_payment_date", payment > current)], []

    def schedule_payment(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        return [slot("payment_scheduled", True)], []

    def list_payees(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        names = [p["name"] for p in db.payees_of(slots_of(tracker).get("username"))]
        return [], [text(f"You are authorised to transfer money to: {join_names(names)}")]

    def add_payee(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        slots = slots_of(tracker)
        db.payees.append(
            {
                "user_id": db.user_id(slots.get("username")),
                "name": slots.get("payee_name"),
                "sort_code": slots.get("sort_code"),
                "account_number": slots.get("account_number"),
                "type": slots.get("payee_type"),
                "reference": slots.get("reference"),
            }
        )
        return [slot("payee_added", True)], []

    def remove_payee(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        slots = slots_of(tracker)
        uid = db.user_id(slots.get("username"))
        name = slots.get("payee_name")
        for index, payee in enumerate(db.payees):
            if payee["user_id"] == uid and payee["name"] == name:
                del db.payees[index]
                return [slot("payee_removed", True)], []
        return [slot("payee_removed", False)], [text(f"I'm sorry, but I couldn't find a payee named '{name}'")]

    def update_card_status(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        slots = slots_of(tracker)
        for card in db.cards_of(slots.get("username")):
            if card["number"] == slots.get("card_number"):  # the flows never fill card_number upstream
                card["status"] = "inactive"
        return [slot("card_status", "inactive")], []

    def check_card_existence(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        slots = slots_of(tracker)
        found = any(c["number"] == slots.get("card_number") for c in db.cards_of(slots.get("username")))
        return [slot("card_found", found)], []

    return {
        "action_session_start": session_start,
        "action_ask_account": ask_account,
        "action_ask_account_from": ask_account_from,
        "action_ask_card": ask_card,
        "action_check_balance": check_balance,
        "action_check_payee_existence": check_payee_existence,
        "action_check_sufficient_funds": check_sufficient_funds,
        "action_process_immediate_payment": process_immediate_payment,
        "action_validate_payment_date": validate_payment_date,
        "action_schedule_payment": schedule_payment,
        "action_list_payees": list_payees,
        "action_add_payee": add_payee,
        "action_remove_payee": remove_payee,
        "action_update_card_status": update_card_status,
        "action_check_card_existence": check_card_existence,
    }


# --- telco -------------------------------------------------------------------------------------------


@dataclass
class TelcoData:
    """The telco CSVs: customers and bills (dates in billing.csv are ``mm/dd/YYYY``)."""

    customers: list[dict[str, str]]
    bills: list[dict[str, str]]

    @classmethod
    def load(cls, pack: Path = TELCO_DIR) -> TelcoData:
        """Read ``csvs/customers.csv`` and ``csvs/billing.csv``."""

        def read(name: str) -> list[dict[str, str]]:
            with (pack / "csvs" / name).open(encoding="utf-8", newline="") as handle:
                return list(csv.DictReader(handle))

        return cls(read("customers.csv"), read("billing.csv"))

    def bills_of(self, customer_id: int) -> list[tuple[dt.date, float, str]]:
        """``(date, amount, source)`` of every bill of the customer, in file order."""
        out = []
        for row in self.bills:
            if int(row["customer_id"]) == customer_id:
                date = dt.datetime.strptime(row["date"], "%m/%d/%Y").date()
                out.append((date, float(row["amount"]), row["source"].strip()))
        return out


def telco_actions(
    data: TelcoData | None = None,
    *,
    year: int | None = None,
    sleep: bool = False,
    rng: random.Random | None = None,
) -> dict[str, Action]:
    """Every custom action of the telco pack (see its ACTIONS.md)."""
    store = data or TelcoData.load()
    chance = rng or random.Random(0)

    def session_start(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        return [], []

    def get_customer_info(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        raw = slots_of(tracker).get("customer_id")
        if raw is None or raw == "":
            return [], [text("Customer ID not provided.")]
        try:
            customer_id = int(float(raw))
        except (TypeError, ValueError):
            return [], [text("Invalid customer ID format.")]
        for row in store.customers:
            if int(row["customer_id"]) == customer_id:
                return [slot("customer_first_name", row["first_name"].strip())], []
        return [], [text("No customer found with this ID.")]

    def verify_bill_by_date(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        slots = slots_of(tracker)
        customer_id = int(float(slots.get("customer_id")))
        month = str(slots.get("bill_month") or "").strip()
        when = dt.datetime.strptime(f"{month} {year or dt.date.today().year}", "%B %Y").date()
        bills = store.bills_of(customer_id)
        amount = next((a for d, a, _ in bills if d == when), None)
        if amount is None:
            return [], [text(f"No bill found for {when.isoformat()}.")]
        average = sum(a for _, a, _ in bills) / len(bills)
        difference = amount - average
        direction = "higher" if difference > 0 else "lower"
        message = (
            f"Your bill for {month} {when.year} is ${amount:.2f}. \n"
            f"The average of your past bills is ${average:.2f}. \n"
            f"This bill is {direction} than your average by ${abs(difference):.2f}."
        )
        events = [
            slot("bill_amount", int(amount)),
            slot("average_bill", int(average)),
            slot("difference", int(difference)),
        ]
        return events, [text(message)]

    def recap_bill(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        customer_id = int(float(slots_of(tracker).get("customer_id")))
        lines = [f"{d.strftime('%b')}. {d.day}, {d.year} | ${a:.2f} | {s}" for d, a, s in store.bills_of(customer_id)]
        return [], [text("Here is a summary of your costs:"), *[text(line) for line in lines]]

    def run_speed_test(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        override = slots_of(tracker).get("network_speed_override")
        speed = override if override is not None else chance.randint(10, 140)
        if sleep:
            time.sleep(10)
        return [slot("network_speed", speed)], [text("Thank you for waiting... ✅ ")]

    def sleep_few_sec(tracker: dict[str, Any], domain: dict[str, Any]) -> tuple[Events, Responses]:
        if sleep:
            time.sleep(3)
        return [], []

    return {
        "action_session_start": session_start,
        "action_get_customer_info": get_customer_info,
        "action_verify_bill_by_date": verify_bill_by_date,
        "action_recap_bill": recap_bill,
        "actions_run_speed_test": run_speed_test,
        "action_sleep_few_sec": sleep_few_sec,
    }


def action_server_for(pack: str, **kwargs: Any) -> ActionServer:
    """A (not yet started) action server with every custom action of ``pack`` (``banking`` / ``telco``)."""
    actions = banking_actions(**kwargs) if pack == "banking" else telco_actions(**kwargs)
    server = ActionServer()
    for name, fn in actions.items():
        server.register(name, fn)
    return server


__all__ = [
    "BANKING_DIR",
    "TELCO_DIR",
    "BankingStore",
    "TelcoData",
    "action_server_for",
    "banking_actions",
    "join_names",
    "telco_actions",
]
