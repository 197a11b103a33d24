"""Parsers and serialisers of the v1/v2/v3 command syntaxes (reference §9.5, §6.1; modern §2.5–§2.7)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_cmdgen.generator.grammar import (
    UnsupportedSyntaxError,
    parse_commands,
    serialize_command,
    serialize_commands,
)
from pytest_cmdgen.runtime.commands import (
    CancelFlow,
    CannotHandle,
    ChitChat,
    Clarify,
    CorrectedSlot,
    CorrectSlots,
    Error,
    HumanHandoff,
    Knowledge,
    RepeatBotMessages,
    SetSlot,
    SkipQuestion,
    StartFlow,
)

FLOWS = ["transfer_money", "check_balance", "add_payee", "block_card", "pattern_cancel_flow", "list-payees"]


def v1(text: str, version: str = "3.10.16", flows: list[str] = FLOWS) -> list:
    return parse_commands(text, "v1", flows, version)


def v2(text: str, version: str = "3.13.9", flows: list[str] = FLOWS) -> list:
    return parse_commands(text, "v2", flows, version)


def v3(text: str, version: str = "3.13.9", flows: list[str] = FLOWS) -> list:
    return parse_commands(text, "v3", flows, version)


# ---------------------------------------------------------------------------------------------- v1


class TestV1:
    def test_every_command(self) -> None:
        text = "\n".join(
            [
                "StartFlow(transfer_money)",
                "SetSlot(payee_name, Amy)",
                "CancelFlow()",
                "ChitChat()",
                "SkipQuestion()",
                "SearchAndReply()",
                "HumanHandoff()",
                "Clarify(check_balance, add_payee)",
            ]
        )
        assert v1(text) == [
            StartFlow("transfer_money"),
            SetSlot("payee_name", "Amy"),
            CancelFlow(),
            ChitChat(),
            SkipQuestion(),
            Knowledge(),
            HumanHandoff(),
            Clarify(("add_payee", "check_balance")),
        ]

    @pytest.mark.parametrize(
        ("line", "value"),
        [
            ("SetSlot(amount, 50)", "50"),
            ("SetSlot('amount', '50')", "50"),
            ('SetSlot("amount", "50")', "50"),
            ("SetSlot(amount,50)", "50"),
            ("SetSlot(amount,   50  )", "50"),
            ("SetSlot(amount, [missing information])", None),
            ("SetSlot(amount, [missing])", None),
            ("SetSlot(amount, None)", None),
            ("SetSlot(amount, undefined)", None),
            ("SetSlot(amount, null)", None),
            ("SetSlot(amount, NULL)", "NULL"),
            ("SetSlot(amount, 'None')", None),
            ("SetSlot(amount, f(x)) trailing", "f(x)"),
            ("  1. SetSlot(amount, a, b)", "a, b"),
        ],
    )
    def test_set_slot_values(self, line: str, value: object) -> None:
        assert v1(line) == [SetSlot("amount", value)]

    def test_empty_value_310_kept_312_none(self) -> None:
        assert v1("SetSlot(amount, )") == [SetSlot("amount", "")]
        assert v1("SetSlot(amount, )", "3.12.42") == [SetSlot("amount", None)]

    def test_slot_names_not_validated(self) -> None:
        assert v1("SetSlot(whatever_slot, x)") == [SetSlot("whatever_slot", "x")]

    def test_flow_name_set_slot_starts_flow(self) -> None:
        assert v1("SetSlot(flow_name, transfer_money)") == [StartFlow("transfer_money")]
        assert v1("SetSlot(flow_name, unknown_flow)") == []

    def test_unknown_and_pattern_flows_dropped(self) -> None:
        assert v1("StartFlow(unknown)\nStartFlow(pattern_cancel_flow)\nStartFlow('check_balance')") == [
            StartFlow("check_balance")
        ]

    def test_310_first_match_per_line(self) -> None:
        assert v1("StartFlow(transfer_money) SetSlot(amount, 5)") == [SetSlot("amount", "5")]
        assert v1("StartFlow(transfer_money) CancelFlow()") == [StartFlow("transfer_money")]
        assert v1("StartFlow(transfer_money) CancelFlow()", "3.11.20") == [StartFlow("transfer_money")]

    def test_312_every_pattern_per_line(self) -> None:
        # SetSlot is greedy to the last ")", then StartFlow is also found on the line
        assert v1("StartFlow(transfer_money) SetSlot(amount, 5)", "3.12.42") == [
            SetSlot("amount", "5"),
            StartFlow("transfer_money"),
        ]
        assert v1("CancelFlow() StartFlow(check_balance) ChitChat()", "3.21.0") == [
            StartFlow("check_balance"),
            CancelFlow(),
            ChitChat(),
        ]

    def test_repeat_only_from_312(self) -> None:
        assert v1("RepeatLastBotMessages()") == []
        assert v1("RepeatLastBotMessages()", "3.12.42") == [RepeatBotMessages()]

    def test_human_handoff_removed_316(self) -> None:
        assert v1("HumanHandoff()", "3.15.36") == [HumanHandoff()]
        assert v1("HumanHandoff()", "3.16.0") == []

    def test_cannot_handle_never_parsed(self) -> None:
        assert v1("CannotHandle()", "3.21.0") == []

    def test_clarify_sorting_and_reduction_310(self) -> None:
        assert v1("Clarify(transfer_money, check_balance)") == [Clarify(("check_balance", "transfer_money"))]
        # one distinct valid option -> StartFlow
        assert v1("Clarify(transfer_money, unknown)") == [StartFlow("transfer_money")]
        assert v1("Clarify(transfer_money, transfer_money)") == [StartFlow("transfer_money")]
        assert v1("Clarify(unknown)") == []
        # duplicates kept with >= 2 distinct
        assert v1("Clarify(check_balance, add_payee, check_balance)") == [
            Clarify(("add_payee", "check_balance", "check_balance"))
        ]
        # sorted before quote removal: the quoted option sorts first
        assert v1("Clarify(check_balance, 'transfer_money')") == [Clarify(("transfer_money", "check_balance"))]
        # 3.10 regex: no dash, no empty list
        assert v1("Clarify(list-payees, check_balance)") == []
        assert v1("Clarify()") == []

    def test_clarify_312_plus(self) -> None:
        assert v1("Clarify(list-payees, check_balance)", "3.12.42") == [Clarify(("check_balance", "list-payees"))]
        assert v1("Clarify(check_balance, 'transfer_money')", "3.12.42") == [
            Clarify(("check_balance", "transfer_money"))
        ]
        assert v1("Clarify()", "3.14.29") == []
        assert v1("Clarify()", "3.15.36") == [Clarify(())]
        assert v1("Clarify(unknown)", "3.15.36") == [Clarify(())]

    def test_lines_without_commands_ignored(self) -> None:
        assert v1("Here are my actions:\n\nStartFlow(add_payee)\nThanks!") == [StartFlow("add_payee")]
        assert v1("") == []
        assert v1(None) == []  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- v2/v3


class TestV2V3:
    def test_every_command_v2(self) -> None:
        text = "\n".join(
            [
                "start flow transfer_money",
                "set slot payee_name Amy",
                "cancel flow",
                "offtopic reply",
                "skip question",
                "provide info",
                "hand over",
                "disambiguate flows check_balance add_payee",
                "repeat message",
                "cannot handle",
            ]
        )
        assert v2(text) == [
            StartFlow("transfer_money"),
            SetSlot("payee_name", "Amy"),
            CancelFlow(),
            ChitChat(),
            SkipQuestion(),
            Knowledge(),
            HumanHandoff(),
            Clarify(("add_payee", "check_balance")),
            RepeatBotMessages(),
        ]

    def test_knowledge_keyword_per_syntax(self) -> None:
        assert v2("search and reply") == []
        assert v3("search and reply") == [Knowledge()]
        assert v3("provide info") == []
        assert v3("offtopic reply") == [ChitChat()]

    @pytest.mark.parametrize(
        ("line", "slot", "value"),
        [
            ("1. set slot recipient John Smith.", "recipient", "John Smith"),
            ("- set slot email 'john@x.com'", "email", "john@x.com"),
            ("set slot amount $50", "amount", "$50"),
            ("set slot x hello!!!", "x", "hello"),
            ("set slot x 50€", "x", "50"),
            ("set slot x foo (bar)", "x", "foo (bar"),
            ("set slot x [missing information]", "x", "[missing information"),
            ("set slot x [missing]", "x", "[missing"),
            ("set slot x None", "x", None),
            ("set slot x 'null'", "x", None),
            ("set slot x ''", "x", None),
            ("* `set slot x True`", "x", "True"),
        ],
    )
    def test_set_slot_values(self, line: str, slot: str, value: object) -> None:
        assert v2(line) == [SetSlot(slot, value)]

    def test_set_slot_without_value_ignored(self) -> None:
        assert v2("set slot x") == []

    def test_bullets_numbers_backticks(self) -> None:
        assert v2("* `start flow transfer_money`") == [StartFlow("transfer_money")]
        assert v3("- `search and reply`") == [Knowledge()]
        assert v2("2) cancel flow") == [CancelFlow()]
        assert v2("start flow transfer_money.") == [StartFlow("transfer_money")]

    def test_case_sensitive_and_trailing_punctuation(self) -> None:
        assert v2("Start flow transfer_money") == []
        assert v2("cancel flow.") == []
        assert v3("search and reply.") == []

    def test_start_flow_line_with_more(self) -> None:
        assert v2("start flow transfer_money, set slot x 1") == [StartFlow("transfer_money")]

    def test_unknown_flows_and_flow_name(self) -> None:
        assert v2("start flow unknown\nstart flow pattern_cancel_flow") == []
        assert v2("set slot flow_name check_balance") == [StartFlow("check_balance")]

    def test_clarify(self) -> None:
        assert v2("disambiguate flows transfer_money, check_balance") == [Clarify(("check_balance", "transfer_money"))]
        assert v2("disambiguate flows 'transfer_money' check_balance") == [Clarify(("check_balance", "transfer_money"))]
        assert v2("disambiguate flows transfer_money unknown") == [StartFlow("transfer_money")]
        assert v2("disambiguate flows unknown") == []
        assert v2("disambiguate flows") == []
        assert v2("disambiguate flows unknown", "3.15.36") == [Clarify(())]
        assert v2("disambiguate flows", "3.15.36") == [Clarify(())]

    def test_hand_over_until_315(self) -> None:
        assert v2("hand over", "3.15.36") == [HumanHandoff()]
        assert v2("hand over", "3.16.32") == []

    def test_versions(self) -> None:
        with pytest.raises(UnsupportedSyntaxError):
            parse_commands("start flow x", "v2", FLOWS, "3.11.20")
        with pytest.raises(UnsupportedSyntaxError):
            parse_commands("start flow x", "v3", FLOWS, "3.12.42")
        assert v2("repeat message", "3.12.42") == [RepeatBotMessages()]


# ---------------------------------------------------------------------------------------------- DSL


class TestSerialize:
    COMMANDS = [
        StartFlow("transfer_money"),
        SetSlot("amount", 50.0),
        SetSlot("confirm", True),
        SetSlot("payee", None),
        Clarify(("add_payee", "check_balance")),
        CancelFlow(),
        ChitChat(),
        SkipQuestion(),
        Knowledge(),
        HumanHandoff(),
        RepeatBotMessages(),
        CannotHandle(),
        CorrectSlots((CorrectedSlot("amount", 5),)),
        Error(),
    ]

    def test_v1_310(self) -> None:
        assert serialize_commands(self.COMMANDS, "v1", "3.10.16") == "\n".join(
            [
                "StartFlow(transfer_money)",
                "SetSlot(amount, 50.0)",
                "SetSlot(confirm, True)",
                "SetSlot(payee, None)",
                "Clarify(add_payee, check_balance)",  # our fix: 3.10 wrote Clarify(['add_payee', ...])
                "CancelFlow()",
                "ChitChat()",
                "SkipQuestion()",
                "SearchAndReply()",
                "HumanHandoff()",
            ]
        )

    def test_v1_316(self) -> None:
        assert serialize_commands(self.COMMANDS, "v1", "3.21.0").splitlines()[-4:] == [
            "SkipQuestion()",
            "SearchAndReply()",
            "RepeatLastBotMessages()",
            "CannotHandle()",
        ]

    def test_v2_v3(self) -> None:
        expected_v2 = [
            "start flow transfer_money",
            "set slot amount 50.0",
            "set slot confirm True",
            "set slot payee None",
            "disambiguate flows add_payee check_balance",
            "cancel flow",
            "offtopic reply",
            "skip question",
            "provide info",
            "hand over",
            "repeat message",
            "cannot handle",
        ]
        assert serialize_commands(self.COMMANDS, "v2", "3.13.9") == "\n".join(expected_v2)
        out_v3 = serialize_commands(self.COMMANDS, "v3", "3.21.0").split("\n")
        assert "search and reply" in out_v3 and "hand over" not in out_v3

    def test_single(self) -> None:
        assert serialize_command(Error(), "v2", "3.13.9") is None
        assert serialize_command(CannotHandle(), "v1", "3.10.16") is None
        assert serialize_command(CannotHandle(), "v1", "3.11.20") == "CannotHandle()"
        assert serialize_commands([], "v1", "3.10.16") == ""


# ---------------------------------------------------------------------------------------------- round trip

VERSIONS = {
    "v1": ["3.10.16", "3.11.20", "3.12.42", "3.13.9", "3.15.36", "3.21.0"],
    "v2": ["3.12.42", "3.13.9", "3.15.36", "3.16.0", "3.21.0"],
    "v3": ["3.13.9", "3.15.36", "3.21.0"],
}
PAIRS = [(syntax, version) for syntax, versions in VERSIONS.items() for version in versions]

flow_ids = st.from_regex(r"[a-z][a-z0-9_-]{0,15}", fullmatch=True).filter(lambda s: not s.startswith("pattern_"))
slot_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_-]{0,15}", fullmatch=True).filter(lambda s: s != "flow_name")
# values the parsers give back unchanged: strings without parentheses or line breaks, not padded
# with quotes/spaces/backticks, ending with a word character (v2/v3 strip trailing punctuation)
_VALUE_ALPHABET = st.characters(
    codec="utf-8",
    categories=("L", "N", "P", "S", "Zs"),
    exclude_characters="()\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
)
slot_values = st.one_of(
    st.none(),
    st.text(_VALUE_ALPHABET, min_size=1, max_size=20).filter(
        lambda s: (
            s == s.strip("'\"` ") and s.strip() == s and s[-1].isalnum() and s not in {"None", "undefined", "null"}
        )
    ),
)


@st.composite
def command_lists(draw: st.DrawFn, syntax: str, version: str) -> tuple[list, list[str]]:
    from pytest_cmdgen.generator.grammar import grammar_profile

    profile = grammar_profile(syntax, version)  # type: ignore[arg-type]
    flows = draw(st.lists(flow_ids, min_size=2, max_size=6, unique=True))
    simple = [CancelFlow(), SkipQuestion(), Knowledge()]
    simple.append(ChitChat())
    if profile.has_human_handoff:
        simple.append(HumanHandoff())
    if profile.has_repeat:
        simple.append(RepeatBotMessages())
    # the 3.10/3.11 Clarify pattern has no "-": such options never come out of that parser
    clarifiable = [f for f in flows if "-" not in f] if profile.v1_legacy_clarify else flows
    clarify = st.lists(st.sampled_from(clarifiable or ["x"]), min_size=2, max_size=4).filter(
        lambda o: len(set(o)) > 1 and set(o) <= set(flows)
    )
    options = [
        st.sampled_from(simple),
        st.builds(StartFlow, flow=st.sampled_from(flows)),
        st.builds(SetSlot, name=slot_names, value=slot_values),
        clarify.map(lambda o: Clarify(tuple(sorted(o)))),
    ]
    if profile.clarify_empty_allowed:
        options.append(st.just(Clarify(())))
    commands = draw(st.lists(st.one_of(*options), max_size=8))
    return commands, flows


@pytest.mark.parametrize(("syntax", "version"), PAIRS)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_round_trip(syntax: str, version: str, data: st.DataObject) -> None:
    commands, flows = data.draw(command_lists(syntax, version))
    text = serialize_commands(commands, syntax, version)  # type: ignore[arg-type]
    assert parse_commands(text, syntax, flows, version) == commands  # type: ignore[arg-type]


@pytest.mark.parametrize("version", ["3.10.16", "3.11.20"])
def test_round_trip_empty_value_v1_legacy(version: str) -> None:
    cmds = [SetSlot("x", "")]
    assert parse_commands(serialize_commands(cmds, "v1", version), "v1", [], version) == cmds
