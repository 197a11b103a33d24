"""Template choice, packaged templates, transcript and small layout helpers (reference §9.3–§9.4, §9.8)."""

# ruff: noqa: E501

from __future__ import annotations

import locale
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pytest_cmdgen.generator.prompt import (
    PromptFlow,
    PromptSlot,
    PromptState,
    TemplateNotAvailableError,
    TranscriptTurn,
    current_conversation,
    default_template,
    english_datetime,
    flow_retrieval_document,
    format_allowed_values,
    format_slot_value,
    load_prompt_template,
    packaged_template,
    readable_transcript,
    render_prompt,
    resolve_template,
    template_file_name,
    to_json_escaped_string,
)
from pytest_cmdgen.generator.retrieval import effective_num_flows, order_prompt_flows, top_k_similar
from tests.support.paths import reference_text  # noqa: E402

# ---------------------------------------------------------------------------------------------- template choice


@pytest.mark.parametrize(
    ("generator", "model", "provider", "version", "expected"),
    [
        ("single_step", "gpt-4o-2024-11-20", "openai", "3.21.0", "command_prompt_template.jinja2"),
        ("compact", "gpt-4o-2024-11-20", "openai", "3.13.9", "command_prompt_v2_gpt_4o_2024_11_20_template.jinja2"),
        ("compact", "gpt-4o-2024-11-20", "azure", "3.21.0", "command_prompt_v2_gpt_4o_2024_11_20_template.jinja2"),
        # provider is a substring of the model: the key is the model alone
        ("compact", "openai/gpt-4o-2024-11-20", "openai", "3.21.0", "command_prompt_v2_gpt_4o_2024_11_20_template.jinja2"),
        ("compact", "azure-gpt-4o-2024-11-20", "azure", "3.21.0", "command_prompt_v2_gpt_5_1_2025_11_13_template.jinja2"),
        # no provider -> "None/<model>" -> fallback
        ("compact", "gpt-4o-2024-11-20", None, "3.21.0", "command_prompt_v2_gpt_5_1_2025_11_13_template.jinja2"),
        ("compact", None, None, "3.15.36", "command_prompt_v2_gpt_4o_2024_11_20_template.jinja2"),
        ("compact", None, None, "3.16.0", "command_prompt_v2_gpt_5_1_2025_11_13_template.jinja2"),
        ("compact", "claude-3-5-sonnet-20240620", "anthropic", "3.12.42", "command_prompt_v2_claude_3_5_sonnet_20240620_template.jinja2"),
        ("compact", "anthropic.claude-3-5-sonnet-20240620-v1:0", "bedrock", "3.13.9", "command_prompt_v2_claude_3_5_sonnet_20240620_template.jinja2"),
        ("compact", "gpt-5.1-2025-11-13", "openai", "3.15.36", "command_prompt_v2_gpt_4o_2024_11_20_template.jinja2"),
        ("compact", "gpt-5.2-2025-12-11", "azure", "3.16.32", "command_prompt_v2_gpt_5_2_2025_12_11_template.jinja2"),
        ("compact", "claude-sonnet-4-6", "anthropic", "3.21.0", "command_prompt_v2_claude_sonnet_4_5_20250929_template.jinja2"),
        ("search_ready", "rasa/command-generator-llama-3.1-8b-instruct", "rasa", "3.14.29", "command_prompt_v3_gpt_4o_2024_11_20_template.jinja2"),
        ("search_ready", "rasa/command-generator-llama-3.1-8b-instruct", "self-hosted", "3.16.0", "command_prompt_v3_gpt_5_1_2025_11_13_template.jinja2"),
        ("search_ready", "anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrock", "3.21.0", "command_prompt_v3_claude_sonnet_4_5_20250929_template.jinja2"),
    ],
)  # fmt: skip
def test_template_file_name(
    generator: str, model: str | None, provider: str | None, version: str, expected: str
) -> None:
    assert template_file_name(generator, model, provider, version) == expected  # type: ignore[arg-type]


def test_generator_availability() -> None:
    with pytest.raises(TemplateNotAvailableError):
        default_template("compact", None, None, "3.11.20")
    with pytest.raises(TemplateNotAvailableError):
        default_template("search_ready", None, None, "3.12.42")
    with pytest.raises(TemplateNotAvailableError):
        packaged_template("command_prompt_v2_gpt_5_1_2025_11_13_template.jinja2", "3.15.36")


def test_template_epochs() -> None:
    v1_310 = default_template("single_step", None, None, "3.10.16")
    assert "HumanHandoff()" in v1_310 and "RepeatLastBotMessages" not in v1_310
    assert default_template("single_step", None, None, "3.12.42") == v1_310
    v1_313 = default_template("single_step", None, None, "3.15.36")
    assert "HumanHandoff()" in v1_313 and "RepeatLastBotMessages()" in v1_313
    v1_316 = default_template("single_step", None, None, "3.21.0")
    assert "HumanHandoff()" not in v1_316 and "RepeatLastBotMessages()" in v1_316
    v2 = {
        v: default_template("compact", "gpt-4o-2024-11-20", "openai", v)
        for v in ("3.12.42", "3.13.25", "3.15.36", "3.16.32")
    }
    assert "`repeat message`" not in v2["3.12.42"] and "`repeat message`" in v2["3.13.25"]
    assert "current_datetime" not in v2["3.13.25"] and "current_datetime" in v2["3.15.36"]
    assert "`hand over`" in v2["3.15.36"] and "`hand over`" not in v2["3.16.32"]
    g51_0 = default_template("compact", None, None, "3.16.0")
    g51 = default_template("compact", None, None, "3.16.32")
    assert "`hand over`" in g51_0 and "`hand over`" not in g51
    assert (
        g51_0.replace("* `hand over`: Hand over to a human when requested or when the user seems frustrated.\n", "")
        == g51
    )
    v3_313 = default_template("search_ready", None, None, "3.13.9")
    v3_315 = default_template("search_ready", None, None, "3.15.36")
    assert "“stretch”" in v3_313 and '"stretch"' in v3_315
    assert v1_310.endswith("Your action list:\n") and not v3_315.endswith("\n")


def _reference_templates() -> dict[str, str]:
    text = reference_text("rasa-modern-generators.md")
    found: dict[str, str] = {}
    for match in re.finditer(r"^#### (T\.\d+\.\d+) `([^`]+)`[^\n]*\n\n````jinja\n(.*?)\n````$", text, re.M | re.S):
        found[match.group(1)] = match.group(3)
    return found


def test_packaged_templates_are_verbatim_copies() -> None:
    ref = _reference_templates()
    pairs = {
        "T.2.1": ("command_prompt_v2_gpt_4o_2024_11_20_template.jinja2", "3.13.9"),
        "T.2.2": ("command_prompt_v2_claude_3_5_sonnet_20240620_template.jinja2", "3.14.29"),
        "T.2.3": ("command_prompt_v3_gpt_4o_2024_11_20_template.jinja2", "3.13.9"),
        "T.2.4": ("command_prompt_v3_claude_3_5_sonnet_20240620_template.jinja2", "3.13.25"),
        "T.4.1": ("command_prompt_v2_gpt_4o_2024_11_20_template.jinja2", "3.21.0"),
        "T.4.2": ("command_prompt_v2_claude_3_5_sonnet_20240620_template.jinja2", "3.16.32"),
        "T.4.3": ("command_prompt_v2_gpt_5_1_2025_11_13_template.jinja2", "3.21.0"),
        "T.4.4": ("command_prompt_v3_gpt_5_1_2025_11_13_template.jinja2", "3.16.0"),
        "T.4.5": ("command_prompt_v2_gpt_5_2_2025_12_11_template.jinja2", "3.21.0"),
        "T.4.6": ("command_prompt_v3_gpt_5_2_2025_12_11_template.jinja2", "3.21.0"),
        "T.4.7": ("command_prompt_v2_claude_sonnet_4_5_20250929_template.jinja2", "3.21.0"),
        "T.4.8": ("command_prompt_v3_claude_sonnet_4_5_20250929_template.jinja2", "3.21.0"),
        "T.4.9": ("command_prompt_v3_gpt_4o_2024_11_20_template.jinja2", "3.15.36"),
        "T.4.10": ("command_prompt_v3_claude_3_5_sonnet_20240620_template.jinja2", "3.21.0"),
    }
    assert set(pairs) <= set(ref)
    for section, (name, version) in pairs.items():
        assert packaged_template(name, version) == ref[section], section
    recipe = reference_text("rasa-recipe.md")
    v1 = re.search(r"^### 9\.2 [^\n]*\n```jinja\n(.*?\n)```$", recipe, re.M | re.S)
    assert v1 is not None and packaged_template("command_prompt_template.jinja2", "3.10.16") == v1.group(1)


def test_custom_template(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "p.jinja2").write_text("{{ user_message }}!\n", encoding="utf-8")
    assert load_prompt_template("prompts/p.jinja2", tmp_path) == "{{ user_message }}!\n"
    assert load_prompt_template(tmp_path / "prompts" / "p.jinja2") == "{{ user_message }}!\n"
    text = resolve_template("compact", rasa_version="3.13.9", prompt_template="prompts/p.jinja2", project_root=tmp_path)
    state = PromptState(available_flows=[], current_conversation="\nUSER: hi", user_message="hi")
    assert render_prompt(state, text) == "hi!"
    with pytest.raises(FileNotFoundError):
        load_prompt_template("prompts/missing.jinja2", tmp_path)


# ---------------------------------------------------------------------------------------------- rendering details


def test_environment_does_not_escape_or_trim() -> None:
    state = PromptState(
        available_flows=[PromptFlow("a", "x <b> & 'y'")],
        current_conversation="",
        user_message="<script>",
        extra={"user_message": "ignored", "custom": 1},
    )
    template = "{% for f in available_flows %}{{ f.name }}={{ f.description }}{% endfor %}\n  {{ user_message }}{{ custom }}\n\n"
    assert render_prompt(state, template) == "a=x <b> & 'y'\n  <script>1\n"


def test_context_dicts_and_datetime_switch() -> None:
    now = datetime(2024, 1, 15, 14, 30, 45, tzinfo=timezone.utc)
    state = PromptState(
        available_flows=[PromptFlow("a", "d", (PromptSlot("s"),))],
        current_conversation="",
        user_message="",
        current_datetime=now,
    )
    ctx = state.template_context()
    assert ctx["available_flows"] == [
        {"name": "a", "description": "d", "slots": [{"name": "s", "description": None, "allowed_values": None}]}
    ]
    assert "current_datetime" not in ctx
    state.include_date_time = True
    assert state.template_context()["current_datetime"] == now


def test_json_filter() -> None:
    assert to_json_escaped_string(None) == "null"
    assert to_json_escaped_string('a "b"\nc’') == '"a \\"b\\"\\nc’"'


def test_english_datetime_ignores_locale() -> None:
    value = english_datetime(datetime(2024, 2, 29, 9, 5, 7, tzinfo=timezone(timedelta(hours=5, minutes=30))))
    previous = locale.setlocale(locale.LC_TIME)
    try:
        for candidate in ("de_DE.UTF-8", "fr_FR.UTF-8"):
            try:
                locale.setlocale(locale.LC_TIME, candidate)
                break
            except locale.Error:
                continue
        assert value.strftime("%A %a %d %B %b %Y %H:%M:%S %p %%A") == "Thursday Thu 29 February Feb 2024 09:05:07 AM %A"
        assert value.tzname() == "UTC+05:30"
    finally:
        locale.setlocale(locale.LC_TIME, previous)


# ---------------------------------------------------------------------------------------------- transcript


def test_transcript_310_rules() -> None:
    turns = [
        ("user", "hi\nthere"),
        ("bot", None),
        TranscriptTurn("user", "x" * 500, error_type="rasa_internal_error_user_input_too_long"),
        TranscriptTurn("user", "   ", error_type="rasa_internal_error_user_input_empty"),
        TranscriptTurn("user", "boom", error_type="rasa_internal_error_default"),
        TranscriptTurn("bot", "Pick", buttons=("A", "B")),
    ]
    assert readable_transcript(turns, "3.10.16") == "\n".join(
        [
            "USER: hi there",
            "AI: ",
            "USER: [User sent really long message]",
            "USER: ",
            "USER: [User input triggered an error]",
            "AI: Pick",
        ]
    )


def test_transcript_buttons_and_empty_bot_from_31325() -> None:
    turns = [
        ("bot", ""),
        TranscriptTurn("bot", "Pick", buttons=("A", "", "C")),
        TranscriptTurn("bot", None, buttons=("Yes",)),
        ("bot", None),
    ]
    assert readable_transcript(turns, "3.13.9") == "AI: \nAI: Pick\nAI: \nAI: "
    assert readable_transcript(turns, "3.13.25") == 'AI: Pick button 1: "A", button 3: "C"\nAI: button 1: "Yes"'


def test_twenty_line_limit_before_append() -> None:
    turns = [("user", f"m{i}") for i in range(25)]
    conversation = current_conversation(turns, "latest\nline", "3.10.16")
    lines = conversation.split("\n")
    assert len(lines) == 21 and lines[0] == "USER: m5" and lines[-1] == "USER: latest line"
    assert current_conversation([], "hello", "3.10.16") == "\nUSER: hello"
    assert readable_transcript(turns, "3.10.16", max_turns=None).count("\n") == 24
    with pytest.raises(ValueError):
        readable_transcript([("system", "x")], "3.10.16")


def test_allowed_values_and_slot_value() -> None:
    assert format_allowed_values("bool") == "[True, False]"
    assert format_allowed_values("categorical", ["a", True, 1, None, "__other__"]) == "['a', 'True', '1']"
    assert format_allowed_values("text", ["x"]) is None
    assert format_slot_value(None) == "undefined"
    assert format_slot_value(50.0) == "50.0"
    assert format_slot_value(True) == "True"


def test_flow_retrieval_document() -> None:
    slots = (PromptSlot("account", "banking account number"), PromptSlot("kind", None, "['a', 'b']"))
    assert flow_retrieval_document("check an account balance", "Check it", slots) == (
        "check an account balance: Check it\n    account: banking account number\n    kind: , allowed values: ['a', 'b']\n    "
    )
    assert flow_retrieval_document("x", "y", slots, embed_slots=False) == "x: y\n    "


# ---------------------------------------------------------------------------------------------- retrieval order


def test_order_prompt_flows() -> None:
    candidates = {"a", "b", "c", "d", "e", "f"}
    order = order_prompt_flows(
        candidates,
        always_include=["e", "zz_not_candidate"],
        recently_started=["c", "e", "b"],
        similar=[("a", 0.2), ("b", 0.9), ("f", 0.5), ("link_only", 0.95), ("d", 0.5)],
        num_flows=4,
    )
    # top-4 by score: link_only, b, f, d (ties keep their order); link_only is no candidate
    assert order == ["e", "c", "b", "f", "d"]


def test_top_k() -> None:
    hits = [(f"f{i}", float(i)) for i in range(30)]
    assert top_k_similar(hits, None)[:2] == ["f29", "f28"] and len(top_k_similar(hits, -1)) == 20
    assert top_k_similar(hits, 0) == []
    assert effective_num_flows(5) == 5
    assert order_prompt_flows({"a"}) == []
