"""Parse a Rasa E2E test file into the typed model, with errors that point at the YAML.

The schema is Rasa's (reference §11.1, plus the 3.11–3.21 additions: ``bot_did_not_utter``, the
``{operator, flow_ids}`` assertion forms, ``-`` in fixture and metadata names). Every violation raises
``InputFileError`` naming ``file:line:column``, the key and what was expected.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_cmdgen.e2e import model as m
from pytest_cmdgen.errors import InputFileError
from pytest_cmdgen.yamlio import Mark, MarkedDict, MarkedList, YamlSyntaxError, load_marked

_TOP_LEVEL_KEYS = ("test_cases", "fixtures", "metadata", "stub_custom_actions")
_TEST_CASE_KEYS = ("test_case", "steps", "fixtures", "metadata")
_ACTOR_KEYS = ("user", "bot", "utter", "slot_was_set", "slot_was_not_set")
_USER_EXTRA_KEYS = ("metadata", "assertions", "assertion_order_enabled")
_NAME_RE = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_-]*$")
_HAS_TEST_CASES_RE = re.compile(r"^test_cases\s*:", re.MULTILINE)
_TOP_LEVEL_KEY_RE = re.compile(r"""^["']?([A-Za-z][\w\- ]*?)["']?[ \t]*:(?:[ \t]|$)""", re.MULTILINE)
_TOP_LEVEL_ITEM_KEY_RE = re.compile(r"""^-[ \t]+["']?([A-Za-z][\w\-]*)["']?[ \t]*:(?:[ \t]|$)""", re.MULTILINE)
_OTHER_FILE_KEYS = frozenset(
    # domain, flows, NLU and stories data
    "intents entities slots responses actions forms session_config flows nlu stories rules "  # noqa: SIM905
    # config.yml and endpoints.yml
    "recipe language pipeline policies assistant_id action_endpoint nlg models model_groups tracker_store "
    "event_broker lock_store vector_store "
    # our own files: command scripts and annotations, the rephrase config
    "conversations prompt_template llm".split()
)
"""Top-level keys of the other YAML files a Rasa project or a cmdgen run keeps next to its tests."""


def looks_like_e2e_file(text: str) -> bool:
    """Cheap pre-check: does the text have a top-level ``test_cases:`` key?"""
    return bool(_HAS_TEST_CASES_RE.search(text))


def _close_to(key: str, word: str) -> bool:
    """Whether ``key`` is ``word`` give or take case, ``_``/``-``/spaces and a typo."""
    normal = re.sub(r"[\s_\-]", "", key.lower())
    return difflib.SequenceMatcher(None, normal, word).ratio() >= 0.85


def is_misspelt_test_cases(key: str) -> bool:
    """``test_case``, ``testcases``, ``Test-Cases``, ``test_caes``…: a top-level key meant as ``test_cases``."""
    return key != "test_cases" and _close_to(key, "testcases")


def resembles_e2e_file(text: str) -> bool:
    """Text without a top-level ``test_cases:`` key that was still meant as an E2E test file: a misspelt
    ``test_cases`` key, or a top-level list of test cases; never a file with a key of another known file
    (a domain, flows, config, endpoints, a command script, a rephrase config), which is something else."""
    text = text.lstrip("\ufeff")
    keys = [match.group(1).strip() for match in _TOP_LEVEL_KEY_RE.finditer(text)]
    if any(key in _OTHER_FILE_KEYS for key in keys):
        return False
    if any(is_misspelt_test_cases(key) for key in keys):
        return True
    first = next((line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")), "")
    item_keys = [match.group(1) for match in _TOP_LEVEL_ITEM_KEY_RE.finditer(text)]
    return first.startswith("-") and any(key == "steps" or _close_to(key, "testcase") for key in item_keys)


def read_e2e_text(path: Path, shown: Path | None = None) -> str:
    """The text of an E2E file; bytes that are not UTF-8 raise :class:`InputFileError` at their line and column
    (``shown`` is the path the message names, default ``path``)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", errors="replace")) + 1
        mark = Mark(before.count(b"\n") + 1, column)
        problem = f"not UTF-8 text ({exc.reason} at byte {exc.start}); save the file as UTF-8"
        raise InputFileError(shown or path, mark, None, problem) from None


def _type_name(value: Any) -> str:
    names: dict[type, str] = {
        dict: "a mapping",
        MarkedDict: "a mapping",
        list: "a list",
        MarkedList: "a list",
        str: "a string",
    }
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    return names.get(type(value), type(value).__name__)


class _Parser:
    """One file's parse: holds the path so every error can name it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, mark: Mark | None, key: str | None, problem: str) -> InputFileError:
        return InputFileError(self.path, mark, key, problem)

    # -- generic shape checks ------------------------------------------------------------------------

    def expect_mapping(self, value: Any, mark: Mark, key: str, what: str) -> MarkedDict:
        if not isinstance(value, MarkedDict):
            raise self.fail(mark, key, f"expected {what}, got {_type_name(value)}")
        return value

    def expect_list(self, value: Any, mark: Mark, key: str, what: str) -> MarkedList:
        if not isinstance(value, MarkedList):
            raise self.fail(mark, key, f"expected {what}, got {_type_name(value)}")
        return value

    def expect_str(self, value: Any, mark: Mark, key: str, hint: str = "") -> str:
        if not isinstance(value, str):
            extra = " (quote it)" if isinstance(value, int | float | bool) else ""
            raise self.fail(mark, key, f"expected a string{hint}{extra}, got {_type_name(value)}")
        return value

    def expect_single_key(self, item: Any, mark: Mark, key: str, what: str) -> tuple[str, Any, Mark]:
        if not isinstance(item, MarkedDict) or len(item) != 1:
            raise self.fail(mark, key, f"expected {what}, got {_type_name(item)}")
        (name, value), = item.items()
        return str(name), value, item.key_mark(name)

    def check_keys(self, mapping: MarkedDict, allowed: tuple[str, ...], where: str) -> None:
        for key in mapping:
            if key not in allowed:
                raise self.fail(
                    mapping.key_mark(key), str(key), f"unknown key in {where}; expected one of {', '.join(allowed)}"
                )

    def check_name(self, name: str, mark: Mark, key: str) -> None:
        if not _NAME_RE.match(name):
            raise self.fail(mark, key, f"invalid name {name!r}; expected letters, digits, '_' or '-'")

    # -- file ------------------------------------------------------------------------------------------

    def parse(self, text: str) -> m.TestSuiteFile:
        try:
            root = load_marked(text, self.path)
        except YamlSyntaxError as exc:
            raise InputFileError(self.path, exc.mark, None, exc.problem) from None
        if not isinstance(root, MarkedDict) or "test_cases" not in root:
            raise self.not_an_e2e_file(root)
        self.check_keys(root, _TOP_LEVEL_KEYS, "an E2E test file")
        fixtures = self.parse_fixtures(root)
        metadata = self.parse_metadata(root)
        stubs = self.parse_stubs(root)
        cases_value = root["test_cases"]
        cases = self.expect_list(cases_value, root.value_marks["test_cases"], "test_cases", "a list of test cases")
        test_cases: list[m.TestCase] = []
        seen: dict[str, int] = {}
        for index, raw in enumerate(cases):
            case = self.parse_test_case(raw, cases.item_mark(index), fixtures, metadata)
            if case.name in seen:
                raise self.fail(
                    cases.item_mark(index),
                    "test_case",
                    f"duplicate test case name {case.name!r} (first defined on line {seen[case.name]})",
                )
            seen[case.name] = case.line
            test_cases.append(case)
        return m.TestSuiteFile(
            path=self.path,
            test_cases=tuple(test_cases),
            fixtures=fixtures,
            metadata=metadata,
            stub_custom_actions=stubs,
        )

    def not_an_e2e_file(self, root: Any) -> InputFileError:
        """The error for a file without a top-level ``test_cases`` key, naming the near miss if there is one."""
        if isinstance(root, MarkedList):
            return self.fail(
                root.mark,
                "test_cases",
                "expected a top-level mapping with a 'test_cases' key, got a list; put 'test_cases:' on a line "
                "above the test cases and indent them under it",
            )
        if isinstance(root, MarkedDict):
            for key in root:
                if isinstance(key, str) and is_misspelt_test_cases(key):
                    return self.fail(
                        root.key_mark(key),
                        key,
                        "unknown top-level key; did you mean 'test_cases'? (an E2E test file has a top-level "
                        "'test_cases:' key)",
                    )
        return self.fail(Mark(1, 1), "test_cases", "expected a top-level mapping with a 'test_cases' key")

    def parse_fixtures(self, root: MarkedDict) -> dict[str, m.Fixture]:
        if root.get("fixtures") is None:
            return {}
        items = self.expect_list(root["fixtures"], root.value_marks["fixtures"], "fixtures", "a list of fixtures")
        fixtures: dict[str, m.Fixture] = {}
        for index, item in enumerate(items):
            mark = items.item_mark(index)
            name, slots, name_mark = self.expect_single_key(item, mark, "fixtures", "'- <name>: [<slot>: <value>]'")
            self.check_name(name, name_mark, "fixtures")
            slot_list = self.expect_list(slots, name_mark, name, "a list of '- <slot>: <value>' items")
            values: list[tuple[str, Any]] = []
            for slot_index, slot_item in enumerate(slot_list):
                slot, value, _ = self.expect_single_key(
                    slot_item, slot_list.item_mark(slot_index), name, "'- <slot>: <value>'"
                )
                values.append((slot, value))
            fixtures.setdefault(name, m.Fixture(name=name, slots=tuple(values), line=name_mark.line))
        return fixtures

    def parse_metadata(self, root: MarkedDict) -> dict[str, m.MetadataEntry]:
        if root.get("metadata") is None:
            return {}
        items = self.expect_list(root["metadata"], root.value_marks["metadata"], "metadata", "a list of metadata")
        entries: dict[str, m.MetadataEntry] = {}
        for index, item in enumerate(items):
            mark = items.item_mark(index)
            name, data, name_mark = self.expect_single_key(item, mark, "metadata", "'- <name>: {<key>: <value>}'")
            self.check_name(name, name_mark, "metadata")
            mapping = self.expect_mapping(data, name_mark, name, "a mapping of metadata keys to values")
            entries.setdefault(name, m.MetadataEntry(name=name, data=_plain(mapping), line=name_mark.line))
        return entries

    def parse_stubs(self, root: MarkedDict) -> dict[str, m.StubResponse]:
        if root.get("stub_custom_actions") is None:
            return {}
        mark = root.value_marks["stub_custom_actions"]
        stubs_map = self.expect_mapping(
            root["stub_custom_actions"], mark, "stub_custom_actions", "a mapping of action names to stubs"
        )
        stubs: dict[str, m.StubResponse] = {}
        for key, value in stubs_map.items():
            key_mark = stubs_map.key_mark(key)
            stub = self.expect_mapping(value, key_mark, str(key), "a mapping with 'events' and/or 'responses'")
            self.check_keys(stub, ("events", "responses"), f"stub {key!r}")
            parts: dict[str, tuple[dict[str, Any], ...]] = {}
            for part in ("events", "responses"):
                raw = stub.get(part)
                if raw is None:
                    parts[part] = ()
                    continue
                items = self.expect_list(raw, stub.value_marks[part], part, f"a list of {part[:-1]} mappings")
                for index, item in enumerate(items):
                    self.expect_mapping(item, items.item_mark(index), part, f"a {part[:-1]} mapping")
                parts[part] = tuple(_plain(item) for item in items)
            stubs[str(key)] = m.StubResponse(
                key=str(key), events=parts["events"], responses=parts["responses"], line=key_mark.line
            )
        return stubs

    # -- test cases ------------------------------------------------------------------------------------

    def parse_test_case(
        self,
        raw: Any,
        mark: Mark,
        fixtures: dict[str, m.Fixture],
        metadata: dict[str, m.MetadataEntry],
    ) -> m.TestCase:
        case = self.expect_mapping(raw, mark, "test_cases", "a test case mapping with 'test_case' and 'steps'")
        self.check_keys(case, _TEST_CASE_KEYS, "a test case")
        if "test_case" not in case:
            raise self.fail(case.mark, "test_case", "missing; every test case needs a 'test_case: <name>'")
        name = self.expect_str(case["test_case"], case.value_marks["test_case"], "test_case")
        if "steps" not in case:
            raise self.fail(case.mark, "steps", f"missing in test case {name!r}; expected a list of steps")
        steps_raw = self.expect_list(case["steps"], case.value_marks["steps"], "steps", "a list of steps")
        fixture_names: tuple[str, ...] = ()
        if case.get("fixtures") is not None:
            names = self.expect_list(case["fixtures"], case.value_marks["fixtures"], "fixtures", "a list of names")
            for index, fixture in enumerate(names):
                fixture_mark = names.item_mark(index)
                self.expect_str(fixture, fixture_mark, "fixtures")
                if fixture not in fixtures:
                    raise self.fail(fixture_mark, "fixtures", f"undefined fixture {fixture!r}; {_defined(fixtures)}")
            fixture_names = tuple(names)
        metadata_name = None
        if case.get("metadata") is not None:
            metadata_name = self.check_metadata_ref(case["metadata"], case.value_marks["metadata"], metadata)
        steps: list[m.Step] = []
        for index, raw_step in enumerate(steps_raw):
            steps.extend(self.parse_step(raw_step, steps_raw.item_mark(index), metadata))
        return m.TestCase(
            name=name,
            steps=tuple(steps),
            line=case.mark.line,
            file=self.path,
            fixture_names=fixture_names,
            metadata_name=metadata_name,
        )

    def check_metadata_ref(self, value: Any, mark: Mark, metadata: dict[str, m.MetadataEntry]) -> str:
        name = self.expect_str(value, mark, "metadata", " naming a metadata entry")
        if name not in metadata:
            raise self.fail(mark, "metadata", f"undefined metadata {name!r}; {_defined(metadata)}")
        return name

    def parse_step(self, raw: Any, mark: Mark, metadata: dict[str, m.MetadataEntry]) -> list[m.Step]:
        step = self.expect_mapping(raw, mark, "steps", f"a step mapping with one of {', '.join(_ACTOR_KEYS)}")
        actors = [key for key in step if key in _ACTOR_KEYS]
        if "slot_was_set" in actors and "slot_was_not_set" in actors:
            raise self.fail(
                step.key_mark("slot_was_not_set"),
                "slot_was_not_set",
                "cannot be in the same step as 'slot_was_set'; put them in separate steps",
            )
        if not actors:
            unknown = next(iter(step), None)
            key_mark = step.key_mark(unknown) if unknown is not None else step.mark
            raise self.fail(key_mark, str(unknown), f"unknown step key; expected one of {', '.join(_ACTOR_KEYS)}")
        if len(actors) > 1:
            raise self.fail(
                step.key_mark(actors[1]), actors[1], f"a step has exactly one of {', '.join(_ACTOR_KEYS)}"
            )
        actor = actors[0]
        allowed = (actor, *_USER_EXTRA_KEYS) if actor == "user" else (actor,)
        self.check_keys(step, allowed, f"a '{actor}' step")
        line = step.mark.line
        value, value_mark = step[actor], step.value_marks[actor]
        if actor == "user":
            return [self.parse_user_step(step, line, metadata)]
        if actor == "bot":
            return [m.BotStep(line=line, text=self.expect_str(value, value_mark, "bot").strip())]
        if actor == "utter":
            return [m.UtterStep(line=line, name=self.expect_str(value, value_mark, "utter").strip())]
        return self.parse_slot_steps(actor, value, value_mark)

    def parse_user_step(self, step: MarkedDict, line: int, metadata: dict[str, m.MetadataEntry]) -> m.UserStep:
        text = step["user"]
        text = "" if text is None else self.expect_str(text, step.value_marks["user"], "user").strip()
        metadata_name = None
        if step.get("metadata") is not None:
            metadata_name = self.check_metadata_ref(step["metadata"], step.value_marks["metadata"], metadata)
        assertions: tuple[m.Assertion, ...] = ()
        if "assertions" in step:
            items = self.expect_list(
                step["assertions"], step.value_marks["assertions"], "assertions", "a non-empty list of assertions"
            )
            if not items:
                raise self.fail(step.value_marks["assertions"], "assertions", "expected a non-empty list of assertions")
            assertions = tuple(self.parse_assertion(item, items.item_mark(i)) for i, item in enumerate(items))
        order = step.get("assertion_order_enabled", False)
        if "assertion_order_enabled" in step:
            order_mark = step.key_mark("assertion_order_enabled")
            if not isinstance(order, bool):
                problem = f"expected true or false, got {_type_name(order)}"
                raise self.fail(order_mark, "assertion_order_enabled", problem)
            if not assertions:
                raise self.fail(order_mark, "assertion_order_enabled", "requires 'assertions' in the same step")
        return m.UserStep(
            line=line, text=text, metadata_name=metadata_name, assertions=assertions, assertion_order_enabled=order
        )

    def parse_slot_steps(self, actor: str, value: Any, mark: Mark) -> list[m.Step]:
        items = self.expect_list(value, mark, actor, "a list of slot names or '<slot>: <value>' items")
        cls = m.SlotWasSetStep if actor == "slot_was_set" else m.SlotWasNotSetStep
        steps: list[m.Step] = []
        for index, item in enumerate(items):
            item_mark = items.item_mark(index)
            if isinstance(item, str):
                steps.append(cls(line=item_mark.line, name=item))
                continue
            name, slot_value, _ = self.expect_single_key(item, item_mark, actor, "a slot name or '<slot>: <value>'")
            steps.append(cls(line=item_mark.line, name=name, value=_plain(slot_value), has_value=True))
        return steps

    # -- assertions ------------------------------------------------------------------------------------

    def parse_assertion(self, raw: Any, mark: Mark) -> m.Assertion:
        kind, value, key_mark = self.expect_single_key(raw, mark, "assertions", "'- <assertion type>: <value>'")
        parser = _ASSERTION_PARSERS.get(kind)
        if parser is None:
            raise self.fail(key_mark, kind, f"unknown assertion; expected one of {', '.join(_ASSERTION_PARSERS)}")
        return parser(self, kind, value, key_mark)

    def flow_ids_or_operator(self, kind: str, value: Any, mark: Mark) -> tuple[tuple[str, ...], str]:
        mapping = self.expect_mapping(value, mark, kind, "a flow id or {operator: any|all, flow_ids: [...]}")
        self.check_keys(mapping, ("operator", "flow_ids"), kind)
        operator = mapping.get("operator", "any")
        if operator not in ("any", "all"):
            raise self.fail(mapping.key_mark("operator"), "operator", f"expected 'any' or 'all', got {operator!r}")
        if "flow_ids" not in mapping:
            raise self.fail(mapping.mark, "flow_ids", "missing; expected a list of flow ids")
        ids = self.expect_list(mapping["flow_ids"], mapping.value_marks["flow_ids"], "flow_ids", "a list of flow ids")
        return tuple(self.expect_str(i, ids.item_mark(n), "flow_ids") for n, i in enumerate(ids)), operator

    def flow_started(self, kind: str, value: Any, mark: Mark) -> m.Assertion:
        if isinstance(value, str):
            return m.FlowStartedAssertion(line=mark.line, flow_ids=(value,))
        ids, operator = self.flow_ids_or_operator(kind, value, mark)
        return m.FlowStartedAssertion(line=mark.line, flow_ids=ids, operator=operator)

    def flow_ended(self, kind: str, value: Any, mark: Mark) -> m.Assertion:
        mapping = self.expect_mapping(value, mark, kind, "a mapping with 'flow_id' and optional 'flow_step_id'")
        self.check_keys(mapping, ("flow_id", "flow_step_id"), kind)
        if "flow_id" not in mapping:
            raise self.fail(mapping.mark, "flow_id", f"missing in {kind}; expected a flow id")
        flow_id = self.expect_str(mapping["flow_id"], mapping.value_marks["flow_id"], "flow_id")
        step_id = mapping.get("flow_step_id")
        if step_id is not None:
            step_id = self.expect_str(step_id, mapping.value_marks["flow_step_id"], "flow_step_id")
        cls = m.FlowCompletedAssertion if kind == "flow_completed" else m.FlowCancelledAssertion
        return cls(line=mark.line, flow_id=flow_id, flow_step_id=step_id)

    def clarification(self, kind: str, value: Any, mark: Mark) -> m.Assertion:
        if isinstance(value, MarkedList):
            names = tuple(self.expect_str(v, value.item_mark(i), kind) for i, v in enumerate(value))
            return m.PatternClarificationContainsAssertion(line=mark.line, flow_names=names)
        ids, operator = self.flow_ids_or_operator(kind, value, mark)
        return m.PatternClarificationContainsAssertion(line=mark.line, flow_ids=ids, operator=operator)

    def action_executed(self, kind: str, value: Any, mark: Mark) -> m.Assertion:
        return m.ActionExecutedAssertion(line=mark.line, action_name=self.expect_str(value, mark, kind))

    def slots(self, kind: str, value: Any, mark: Mark) -> m.Assertion:
        items = self.expect_list(value, mark, kind, "a list of {name: <slot>, value: <value>} items")
        expectations: list[m.SlotExpectation] = []
        for index, item in enumerate(items):
            item_mark = items.item_mark(index)
            slot = self.expect_mapping(item, item_mark, kind, "a {name: <slot>, value: <value>} mapping")
            self.check_keys(slot, ("name", "value"), kind)
            if "name" not in slot:
                raise self.fail(item_mark, "name", f"missing in {kind}; expected the slot name")
            name = self.expect_str(slot["name"], slot.value_marks["name"], "name")
            expectations.append(
                m.SlotExpectation(name=name, value=_plain(slot.get("value")), has_value="value" in slot)
            )
        cls = m.SlotWasSetAssertion if kind == "slot_was_set" else m.SlotWasNotSetAssertion
        return cls(line=mark.line, slots=tuple(expectations))

    def bot_uttered(self, kind: str, value: Any, mark: Mark) -> m.Assertion:
        mapping = self.expect_mapping(value, mark, kind, "a mapping with utter_name, text_matches and/or buttons")
        self.check_keys(mapping, ("utter_name", "text_matches", "buttons"), kind)
        if not mapping:
            raise self.fail(mark, kind, "expected at least one of utter_name, text_matches, buttons")
        utter_name = mapping.get("utter_name")
        if utter_name is not None:
            utter_name = self.expect_str(utter_name, mapping.value_marks["utter_name"], "utter_name")
        pattern = mapping.get("text_matches")
        if pattern is not None:
            pattern_mark = mapping.value_marks["text_matches"]
            pattern = self.expect_str(pattern, pattern_mark, "text_matches")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise self.fail(pattern_mark, "text_matches", f"invalid regular expression: {exc}") from None
        buttons = None
        if "buttons" in mapping:
            items = self.expect_list(
                mapping["buttons"], mapping.value_marks["buttons"], "buttons", "a non-empty list of buttons"
            )
            if not items:
                raise self.fail(mapping.value_marks["buttons"], "buttons", "expected a non-empty list of buttons")
            parsed = []
            for index, item in enumerate(items):
                button = self.expect_mapping(item, items.item_mark(index), "buttons", "a {title, payload} mapping")
                self.check_keys(button, ("title", "payload"), "a button")
                if "title" not in button:
                    raise self.fail(button.mark, "title", "missing; every expected button needs a title")
                payload = button.get("payload")
                payload = None if payload is None else str(payload)
                parsed.append(m.ButtonExpectation(title=str(button["title"]), payload=payload))
            buttons = tuple(parsed)
        cls = m.BotUtteredAssertion if kind == "bot_uttered" else m.BotDidNotUtterAssertion
        return cls(line=mark.line, utter_name=utter_name, text_matches=pattern, buttons=buttons)

    def generative(self, kind: str, value: Any, mark: Mark) -> m.Assertion:
        mapping = self.expect_mapping(value, mark, kind, "a mapping with threshold, utter_name, ...")
        self.check_keys(mapping, ("threshold", "utter_name", "utter_source", "ground_truth"), kind)
        threshold = mapping.get("threshold")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int | float)):
            raise self.fail(mapping.value_marks["threshold"], "threshold", "expected a number between 0 and 1")
        return m.GenerativeResponseAssertion(
            line=mark.line,
            kind=kind,
            threshold=threshold,
            utter_name=mapping.get("utter_name"),
            utter_source=mapping.get("utter_source"),
            ground_truth=mapping.get("ground_truth"),
        )


_ASSERTION_PARSERS: dict[str, Callable[[_Parser, str, Any, Mark], m.Assertion]] = {
    "flow_started": _Parser.flow_started,
    "flow_completed": _Parser.flow_ended,
    "flow_cancelled": _Parser.flow_ended,
    "pattern_clarification_contains": _Parser.clarification,
    "action_executed": _Parser.action_executed,
    "slot_was_set": _Parser.slots,
    "slot_was_not_set": _Parser.slots,
    "bot_uttered": _Parser.bot_uttered,
    "bot_did_not_utter": _Parser.bot_uttered,
    "generative_response_is_relevant": _Parser.generative,
    "generative_response_is_grounded": _Parser.generative,
}


def _defined(names: dict[str, Any]) -> str:
    return f"defined: {', '.join(sorted(names))}" if names else "this file defines none"


def _plain(value: Any) -> Any:
    """Strip the position bookkeeping: plain dicts and lists for the runtime."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def parse_e2e_text(text: str, path: Path) -> m.TestSuiteFile:
    """Parse E2E YAML text; ``path`` is used in error messages and on the model."""
    return _Parser(path).parse(text)


def parse_e2e_file(path: Path) -> m.TestSuiteFile:
    """Read and parse an E2E test file."""
    return parse_e2e_text(read_e2e_text(path), path)
