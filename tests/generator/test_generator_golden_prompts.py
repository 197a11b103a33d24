"""Rendered prompts compared byte for byte with golden files derived by hand from the templates.

The golden files under ``golden/`` were written by reading the templates and the reference's rules
(rasa-recipe.md §9.2–§9.4, rasa-modern-generators.md §2.4), never by running the renderer. The states
use the retail-banking starter pack's flows, slots and responses; the flow subsets are hand-picked.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pytest_cmdgen.generator.prompt import (
    FlowSlotState,
    PromptFlow,
    PromptSlot,
    PromptState,
    TranscriptTurn,
    current_conversation,
    default_template,
    format_allowed_values,
    format_slot_value,
    render_prompt,
    resolve_template,
    sanitize_message,
)

GOLDEN = Path(__file__).parent / "golden"

# ---------------------------------------------------------------------------------------------- flows

D_ACCOUNT = "banking account number"
D_PAYEE = "name of the payee"
D_AMOUNT = "The amount of money to transfer"
D_TIMING = "when the user wants to send this money, e.g. now or in the future"
D_PAYMENT_DATE = "the future payment date of the money transfer. Convert date to DD/MM/YYYY format"
D_CONFIRM = "A yes or no type response"
D_REASON = (
    "The reason for freezing or blocking the card, described as lost, damaged, stolen, suspected of fraud, "
    "malfunctioning, or expired. The user may say they are traveling or moving, or they may say they want "
    "to temporarily freeze their card. For all other responses, set reason_for_blocking slot to 'unknown'.\n"
)
D_ADDRESS = (
    'Confirm if the given address is correct. The answer should be an affirmative statement, such as "yes" '
    'or "correct," or a declined statement, such as "no" or "that\'s not right."\n'
)
TIMING_VALUES = format_allowed_values("categorical", ["now", "future"])
REASON_VALUES = format_allowed_values(
    "categorical", ["lost", "fraud", "stolen", "damaged", "expired", "traveling", "moving"]
)
BOOL_VALUES = format_allowed_values("bool")

TRANSFER_MONEY = PromptFlow(
    "transfer_money",
    "This flow guides the user through initiating a bank transfer, and supporting various entry points "
    "such as send money or transfer funds.",
    (
        PromptSlot("account_from", D_ACCOUNT),
        PromptSlot("payee_name", D_PAYEE),
        PromptSlot("amount", D_AMOUNT),
        PromptSlot("timing", D_TIMING, TIMING_VALUES),
        PromptSlot("payment_date", D_PAYMENT_DATE),
    ),
)
CHECK_BALANCE = PromptFlow(
    "check_balance",
    # a YAML block scalar: the description keeps its line break and the final newline
    "Guides the user through retrieving their account balance by requesting an\n"
    "account number and returning the balance on account\n",
    (PromptSlot("account", D_ACCOUNT),),
)
LIST_PAYEES = PromptFlow(
    "list_payees",
    "Retrieve and display the user’s list of authorized payees, allowing them to view all accounts "
    "available for transactions.",
)
BLOCK_CARD_DESCRIPTION = (
    "Block or freeze a user's debit or credit card to prevent unauthorized use, stop transactions, or "
    "report it lost, stolen, damaged, or misplaced for added security"
)
BLOCK_CARD = PromptFlow(
    "block_card",
    BLOCK_CARD_DESCRIPTION,
    (
        PromptSlot("reason_for_blocking", D_REASON, REASON_VALUES),
        PromptSlot("address_confirmed", D_ADDRESS, BOOL_VALUES),
    ),
)
BLOCK_CARD_WITH_CARD = PromptFlow(
    "block_card",
    BLOCK_CARD_DESCRIPTION,
    (PromptSlot("card", "card number of the user"), *BLOCK_CARD.slots),
)
ADD_PAYEE = PromptFlow(
    "add_payee",
    "Add a new payee to the user’s account by collecting and confirming details such as payee name, account "
    "number, payee type (person or business), and a reference note",
    (
        PromptSlot("payee_name", D_PAYEE),
        PromptSlot("account_number", D_ACCOUNT),
        PromptSlot(
            "payee_type",
            "type of the payee that can be either person or business",
            format_allowed_values("categorical", ["person", "business"]),
        ),
        PromptSlot("reference", "a short note to identify the payee or purpose"),
    ),
)
V1_FLOWS = [TRANSFER_MONEY, CHECK_BALANCE, LIST_PAYEES]
MODERN_FLOWS = [TRANSFER_MONEY, CHECK_BALANCE, LIST_PAYEES, BLOCK_CARD]

UTC_NOON = datetime(2024, 1, 15, 14, 30, 45, tzinfo=timezone.utc)
IST_LEAP_DAY = datetime(2024, 2, 29, 9, 5, 7, tzinfo=timezone(timedelta(hours=5, minutes=30)))


def transfer_slots(
    account: object = None,
    payee: object = None,
    amount: object = None,
    timing: object = None,
    confirm: bool | None | str = "absent",
) -> list[FlowSlotState]:
    slots = [
        FlowSlotState("account_from", format_slot_value(account), "text", D_ACCOUNT),
        FlowSlotState("payee_name", format_slot_value(payee), "text", D_PAYEE),
        FlowSlotState("amount", format_slot_value(amount), "float", D_AMOUNT),
        FlowSlotState("timing", format_slot_value(timing), "categorical", D_TIMING, TIMING_VALUES),
    ]
    if confirm != "absent":
        slots.append(
            FlowSlotState("confirm_immediate_payment", format_slot_value(confirm), "bool", D_CONFIRM, BOOL_VALUES)
        )
    slots.append(FlowSlotState("payment_date", "undefined", "text", D_PAYMENT_DATE))
    return slots


def state(
    flows: list[PromptFlow],
    turns: list,
    message: str,
    version: str,
    **kwargs: object,
) -> PromptState:
    return PromptState(
        available_flows=flows,
        current_conversation=current_conversation(turns, message, version),
        user_message=sanitize_message(message),
        **kwargs,  # type: ignore[arg-type]
    )


TRANSFER_START = [
    ("user", "I want to send money to Amy"),
    ("bot", "Okay lets transfer money"),
    ("bot", "Which account would you like to transfer money from?"),
    ("user", "67890123"),
    ("bot", "How much money would you like to transfer?"),
]
CONFIRM_TURNS = [
    *TRANSFER_START,
    ("user", "55 dollars"),
    TranscriptTurn("bot", "When would you like this transfer to be made?", buttons=("Immediate", "Future")),
    ("user", "/SetSlots(timing=now)"),
    ("bot", "An immediate payment of $55.0 to Amy will be processed. Is this correct?"),
]
GREETING = (
    "Hello! I'm Rasano, your helpful banking assistant.\nI can help you with transferring money, managing "
    "authorised payees, checking an account balance, blocking a card, and answering your general finance "
    "questions.\n"
)


def v1_cases() -> dict[str, tuple[PromptState, str]]:
    version = "3.10.16"
    template = default_template("single_step", "gpt-4", "openai", version)
    in_transfer = {"current_flow": "transfer_money"}
    return {
        "v1_a_not_in_flow": (state(V1_FLOWS, [], "I want to send money to Amy", version), template),
        "v1_b_in_flow_asking_slot": (
            state(
                V1_FLOWS,
                TRANSFER_START,
                "55 dollars",
                version,
                **in_transfer,
                current_slot="amount",
                current_slot_description=D_AMOUNT,
                flow_slots=transfer_slots(account="67890123", payee="Amy"),
            ),
            template,
        ),
        "v1_c_allowed_values": (
            state(
                V1_FLOWS,
                CONFIRM_TURNS,
                "yes please",
                version,
                **in_transfer,
                current_slot="confirm_immediate_payment",
                current_slot_description=D_CONFIRM,
                current_slot_type="bool",
                current_slot_allowed_values=BOOL_VALUES,
                flow_slots=transfer_slots("67890123", "Amy", 55.0, "now", confirm=None),
            ),
            template,
        ),
        "v1_d_after_correction": (
            state(
                V1_FLOWS,
                [
                    *CONFIRM_TURNS,
                    ("user", "Sorry, I meant 65"),
                    ("bot", "Ok, I am updating amount to 65 respectively."),
                    ("bot", "An immediate payment of $65.0 to Amy will be processed. Is this correct?"),
                ],
                "yes",
                version,
                **in_transfer,
                current_slot="confirm_immediate_payment",
                current_slot_description=D_CONFIRM,
                flow_slots=transfer_slots("67890123", "Amy", 65.0, "now", confirm=None),
            ),
            template,
        ),
        "v1_e_custom_datetime": (
            state(
                V1_FLOWS,
                TRANSFER_START,
                "55 dollars",
                version,
                **in_transfer,
                current_slot="amount",
                current_slot_description=D_AMOUNT,
                flow_slots=transfer_slots(account="67890123", payee="Amy"),
                current_datetime=IST_LEAP_DAY,
                include_date_time=True,
            ),
            resolve_template(
                "single_step",
                rasa_version=version,
                prompt_template="prompts/custom_command_prompt.jinja2",
                project_root=GOLDEN / "project",
            ),
        ),
        "v1_f_pattern_on_top": (
            state(
                V1_FLOWS,
                TRANSFER_START,
                "Sorry, I meant to send it to William",
                version,
                current_flow="pattern_correction",
            ),
            template,
        ),
    }


def v2_cases() -> dict[str, tuple[PromptState, str]]:
    payees_turns = [
        ("user", "who are my payees"),
        ("bot", "You are authorised to transfer money to: Amy, Fitness Gym and William"),
    ]
    template_313 = default_template("compact", "gpt-4o-2024-11-20", "openai", "3.13.9")
    template_321 = default_template("compact", "gpt-4o-2024-11-20", "openai", "3.21.0")
    block_turns = [
        ("user", "I want to block my card"),
        ("bot", "Okay, we can block a card. Let's do it in a few steps"),
        ("bot", "Which card would you like to block?"),
        ("user", "1234"),
        TranscriptTurn(
            "bot",
            "Please tell us the reason for blocking",
            buttons=(
                "I lost my card",
                "My card is damaged",
                "I suspect fraud on my account",
                "My card has expired",
                "I'm planning to travel soon",
                "I'm moving to a new address",
            ),
        ),
    ]
    return {
        "v2_gpt4o_313_not_in_flow": (
            state(MODERN_FLOWS, payees_turns, "I want to transfer 55 to Amy", "3.13.9"),
            template_313,
        ),
        "v2_gpt4o_313_in_flow": (
            state(
                MODERN_FLOWS,
                [
                    *payees_turns,
                    ("user", "I want to transfer 55 to Amy"),
                    ("bot", "Okay lets transfer money"),
                    ("bot", "Which account would you like to transfer money from?"),
                ],
                "67890123",
                "3.13.9",
                current_flow="transfer_money",
                current_slot="account_from",
                current_slot_description=D_ACCOUNT,
                flow_slots=transfer_slots(payee="Amy", amount=55.0),
            ),
            template_313,
        ),
        "v2_gpt4o_321_datetime_in_flow": (
            state(
                [BLOCK_CARD_WITH_CARD, CHECK_BALANCE],
                block_turns,
                "I think someone stole it",
                "3.21.0",
                current_flow="block_card",
                current_slot="reason_for_blocking",
                current_slot_description=D_REASON,
                flow_slots=[
                    FlowSlotState("card", "1234", "text", "card number of the user"),
                    FlowSlotState("reason_for_blocking", "undefined", "categorical", D_REASON, REASON_VALUES),
                    FlowSlotState("address_confirmed", "undefined", "bool", D_ADDRESS, BOOL_VALUES),
                ],
                current_datetime=UTC_NOON,
                include_date_time=True,
            ),
            template_321,
        ),
    }


def v3_cases() -> dict[str, tuple[PromptState, str]]:
    gpt4o_313 = default_template("search_ready", "gpt-4o-2024-11-20", "openai", "3.13.9")
    gpt4o_315 = default_template("search_ready", "gpt-4o-2024-11-20", "azure", "3.15.36")
    gpt51 = default_template("search_ready", "gpt-5.1-2025-11-13", "openai", "3.21.0")
    greeting_turns = [("bot", GREETING), ("bot", None)]  # the accordion response has no text
    cases = {
        "v3_gpt4o_313_not_in_flow": (
            state(MODERN_FLOWS, greeting_turns, "what are your opening hours?", "3.13.9"),
            gpt4o_313,
        ),
        "v3_gpt4o_315_datetime_in_flow": (
            state(
                MODERN_FLOWS,
                [
                    *greeting_turns,
                    ("user", "what's my balance?"),
                    ("bot", "Which account would you like the balance for?"),
                ],
                'my "everyday" account',
                "3.15.36",
                current_flow="check_balance",
                current_slot="account",
                current_slot_description=D_ACCOUNT,
                flow_slots=[FlowSlotState("account", "undefined", "text", D_ACCOUNT)],
                current_datetime=IST_LEAP_DAY,
                include_date_time=True,
            ),
            gpt4o_315,
        ),
        "v3_gpt4o_315_pattern_on_top": (
            state(
                [TRANSFER_MONEY, LIST_PAYEES],
                TRANSFER_START,
                "Sorry, I meant to send it to William",
                "3.15.36",
                current_flow="pattern_correction",
                current_datetime=IST_LEAP_DAY,
                include_date_time=False,
            ),
            gpt4o_315,
        ),
        "v3_gpt51_321_first_message": (
            state(
                MODERN_FLOWS,
                [],
                "I'd like to freeze my credit card",
                "3.21.0",
                current_datetime=UTC_NOON,
                include_date_time=True,
            ),
            gpt51,
        ),
        "v3_gpt51_321_no_datetime": (
            state(
                [ADD_PAYEE, LIST_PAYEES],
                [
                    ("user", "add a new payee"),
                    ("bot", "Which payee would you like to send money to?"),
                    ("user", "Amy"),
                    ("bot", "Please enter the account number for this payee"),
                    ("user", "12345678"),
                    TranscriptTurn("bot", "Please select the type of payee", buttons=("Person", "Business")),
                ],
                "she's my sister",
                "3.21.0",
                current_flow="add_payee",
                current_slot="payee_type",
                current_slot_description=ADD_PAYEE.slots[2].description,
                flow_slots=[
                    FlowSlotState("payee_name", "Amy", "text", D_PAYEE),
                    FlowSlotState("account_number", "12345678", "text", D_ACCOUNT),
                    FlowSlotState(
                        "payee_type",
                        "undefined",
                        "categorical",
                        ADD_PAYEE.slots[2].description,
                        ADD_PAYEE.slots[2].allowed_values,
                    ),
                    FlowSlotState("reference", "undefined", "text", ADD_PAYEE.slots[3].description),
                ],
                current_datetime=UTC_NOON,
                include_date_time=False,
            ),
            gpt51,
        ),
    }
    try:
        from zoneinfo import ZoneInfo

        berlin = datetime(2024, 7, 1, 8, 0, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    except Exception:  # no tz database on this machine
        return cases
    cases["v3_gpt51_321_in_flow_buttons"] = (
        state(
            MODERN_FLOWS,
            [
                ("user", "I want to transfer $55.55 to Amy"),
                ("bot", "Okay lets transfer money"),
                ("bot", "Which account would you like to transfer money from?"),
                ("user", "78901234"),
                TranscriptTurn("bot", "When would you like this transfer to be made?", buttons=("Immediate", "Future")),
            ],
            "as soon as possible",
            "3.21.0",
            current_flow="transfer_money",
            current_slot="timing",
            current_slot_description=D_TIMING,
            flow_slots=transfer_slots("78901234", "Amy", 55.55),
            current_datetime=berlin,
            include_date_time=True,
        ),
        gpt51,
    )
    return cases


CASES = {**v1_cases(), **v2_cases(), **v3_cases()}


def read_golden(name: str) -> str:
    return (GOLDEN / f"{name}.txt").read_bytes().decode("utf-8")


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_prompt(name: str) -> None:
    prompt_state, template = CASES[name]
    rendered = render_prompt(prompt_state, template)
    expected = read_golden(name)
    if rendered != expected:  # a readable diff first, then the byte comparison
        import difflib

        diff = "\n".join(
            difflib.unified_diff(expected.split("\n"), rendered.split("\n"), "golden", "rendered", lineterm="")
        )
        pytest.fail(f"prompt differs from golden/{name}.txt:\n{diff}")
    assert rendered.encode("utf-8") == expected.encode("utf-8")


def test_every_golden_file_is_used() -> None:
    names = {path.stem for path in GOLDEN.glob("*.txt")}
    assert names <= set(CASES) | set(REFERENCE_CASES) | {"v3_gpt51_321_in_flow_buttons"}
    assert set(CASES) <= names


# ---------------------------------------------------------------------------------------------- reference renders
# golden/ref_*.txt are the example renders printed in the reference notes (rasa-recipe.md Appendix A,
# rasa-modern-generators.md Appendix R), copied verbatim; their inputs are rebuilt here.

R_FLOWS = [
    PromptFlow(
        "transfer_money",
        "Send money to friends and family.",
        (
            PromptSlot("transfer_money_recipient", "the name of a person"),
            PromptSlot("transfer_money_amount"),
            PromptSlot("transfer_money_confirm", 'Ask the user "are you sure?"', BOOL_VALUES),
        ),
    ),
    PromptFlow(
        "check_balance",
        "Check the balance of an account\nfor a given account type",
        (PromptSlot("account_type", "type of account", format_allowed_values("categorical", ["checking", "savings"])),),
    ),
    PromptFlow("list_payees", "List the payees"),
]
R_FLOW_SLOTS = [
    FlowSlotState("transfer_money_recipient", "John", "text", "the name of a person"),
    FlowSlotState("transfer_money_amount", "undefined", "float"),
    FlowSlotState("transfer_money_confirm", "undefined", "bool", 'Ask the user "are you sure?"', BOOL_VALUES),
]
R_IN_FLOW = {
    "current_flow": "transfer_money",
    "current_slot": "transfer_money_amount",
    "current_slot_description": None,
    "flow_slots": R_FLOW_SLOTS,
}


def reference_cases() -> dict[str, tuple[PromptState, str]]:
    hello = [("user", "hi"), ("bot", "Hello! How can I help?")]
    r_turns = [*hello, ("user", "send money to John"), ("bot", "How much would you like to send?")]
    r3_turns = [
        ("user", "hi"),
        TranscriptTurn("bot", "Hello! How can I help?", buttons=("Transfer money", "Check balance")),
        ("user", "send money to John"),
        ("bot", "How much would you like to send?"),
    ]
    return {
        "ref_appendix_a": (
            state(
                [
                    PromptFlow(
                        "transfer_money",
                        "Send money to friends and family.",
                        (
                            PromptSlot("transfer_money_recipient", "the name of a person"),
                            PromptSlot("transfer_money_amount"),
                        ),
                    ),
                    PromptFlow("check_balance", "Check the balance of an account"),
                ],
                hello,
                "send 50 to John",
                "3.10.16",
                current_flow="transfer_money",
                current_slot="transfer_money_recipient",
                current_slot_description="the name of a person",
                flow_slots=[
                    FlowSlotState("transfer_money_recipient", "undefined", "text", "the name of a person"),
                    FlowSlotState("confirm", "undefined", "bool", None, BOOL_VALUES),
                ],
            ),
            default_template("single_step", None, None, "3.10.16"),
        ),
        "ref_r1": (
            state(R_FLOWS, r_turns, "50 dollars", "3.13.9", **R_IN_FLOW),  # type: ignore[arg-type]
            default_template("compact", "gpt-4o-2024-11-20", "openai", "3.13.9"),
        ),
        "ref_r2": (
            state(R_FLOWS, hello, "what's my balance?", "3.13.9"),
            default_template("search_ready", None, None, "3.13.9"),
        ),
        "ref_r3": (
            state(
                R_FLOWS,
                r3_turns,
                "50 dollars",
                "3.21.0",
                current_datetime=datetime.fromisoformat("2024-01-15T14:30:45+00:00"),
                include_date_time=True,
                **R_IN_FLOW,  # type: ignore[arg-type]
            ),
            default_template("search_ready", None, None, "3.21.0"),
        ),
    }


REFERENCE_CASES = reference_cases()


@pytest.mark.parametrize("name", sorted(REFERENCE_CASES))
def test_reference_render(name: str) -> None:
    prompt_state, template = REFERENCE_CASES[name]
    assert render_prompt(prompt_state, template) == read_golden(name)
