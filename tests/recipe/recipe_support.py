"""Test helpers: a tiny v1 DSL, a prompt builder shaped like Rasa's v1 prompt, the car-rental example."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path

from pytest_cmdgen.e2e import model as m
from pytest_cmdgen.llm import LLMConfig, LLMService, Purpose
from pytest_cmdgen.recipe.annotate import TurnInput, annotate_test_case
from pytest_cmdgen.recipe.conversation import Conversation
from pytest_cmdgen.recipe.rephrase import llm_completer
from pytest_cmdgen.runtime.commands import (
    CancelFlow,
    ChitChat,
    Clarify,
    Command,
    Knowledge,
    SetSlot,
    SkipQuestion,
    StartFlow,
)
from pytest_cmdgen.runtime.events import BotUttered, UserUttered
from pytest_cmdgen.testing.scripted_llm import RecordedRequest, ScriptedLLMServer


def serialize(commands: Sequence[Command]) -> str:
    """v1 DSL of the commands this test suite uses."""
    lines = []
    for c in commands:
        if isinstance(c, StartFlow):
            lines.append(f"StartFlow({c.flow})")
        elif isinstance(c, SetSlot):
            lines.append(f"SetSlot({c.name}, {c.value})")
        elif isinstance(c, Clarify):
            lines.append(f"Clarify({', '.join(c.options)})")
        elif isinstance(c, CancelFlow):
            lines.append("CancelFlow()")
        elif isinstance(c, ChitChat):
            lines.append("ChitChat()")
        elif isinstance(c, Knowledge):
            lines.append("SearchAndReply()")
        elif isinstance(c, SkipQuestion):
            lines.append("SkipQuestion()")
    return "\n".join(lines)


_SET = re.compile(r"SetSlot\(([a-zA-Z_][a-zA-Z0-9_-]*), ?(.*)\)")
_START = re.compile(r"StartFlow\(([a-zA-Z0-9_-]+)\)")


def parse(text: str) -> list[Command]:
    """Parse v1 DSL lines (SetSlot, StartFlow, CancelFlow, ChitChat)."""
    out: list[Command] = []
    for line in text.strip().split("\n"):
        if match := _SET.search(line):
            out.append(SetSlot(match.group(1), match.group(2).strip()))
        elif match := _START.search(line):
            out.append(StartFlow(match.group(1)))
        elif "CancelFlow()" in line:
            out.append(CancelFlow())
        elif "ChitChat()" in line:
            out.append(ChitChat())
    return out


def build_prompt(history: Sequence[tuple[str, str]], latest: str) -> str:
    """A prompt shaped like Rasa's v1 one: flows, history (``USER:``/``AI:`` lines), the latest message."""
    lines = [f"{'USER' if actor == 'user' else 'AI'}: {text}" for actor, text in history]
    conversation = "\n".join(lines) + f"\nUSER: {latest}"
    return (
        "These are the flows that can be started:\n\nrent_car: rent a car\n    slot: city\n\n"
        "===\nHere is what happened previously in the conversation:\n"
        f"{conversation}\n\n===\n"
        f'The user just said """{latest}""".\n\nYour action list:'
    )


# --- the car-rental example of Rasa's fine-tuning docs (reference §6.2) ----------------------------------

CAR_FILE = "e2e_tests/car_rental.yml"
CAR_NAME = "user books a car"
CAR_ID = f"{CAR_FILE}::{CAR_NAME}"

# (user text, commands, bot reply after it: (text, utter_action))
CAR_TURNS: list[tuple[str, list[Command], tuple[str, str | None]]] = [
    ("I'd like to book a car", [StartFlow("search_rental_car")], ("in which city?", None)),
    ("to Basel", [SetSlot("trip_destination", "Basel")], ("When would you like to pick up the car?", None)),
    (
        "from may 14th to the 17th",
        [SetSlot("car_rental_start_date", "may 14th"), SetSlot("car_rental_end_date", "may 17th")],
        ("Which car would you like?", "utter_ask_car_rental_selection"),
    ),
    ("I'll take the luxury one! looks nice", [SetSlot("car_rental_selection", "luxury")], ("Booked!", None)),
]

CAR_PASSING = [
    ["I need to reserve a car.", "Could I arrange for a car rental?", "I'm interested in hiring a car."],
    ["The destination is Basel.", "I'd like to go to Basel."],
    [
        "The rental period will be May 14th to 17th.",
        "I need the car from May 14th to May 17th.",
        "I'll require the vehicle from the 14th to the 17th of May.",
    ],
    [
        "I'd like to go with the luxury option; it looks appealing.",
        "I'll choose the luxury model; it seems nice.",
        "I'm opting for the luxury car; it looks great.",
    ],
]


def car_test_case(file: str = CAR_FILE, name: str = CAR_NAME) -> m.TestCase:
    """The test case: user, bot, user, bot, user, utter, user."""
    steps: list[m.Step] = [
        m.UserStep(line=3, text=CAR_TURNS[0][0]),
        m.BotStep(line=4, text="in which city?"),
        m.UserStep(line=5, text=CAR_TURNS[1][0]),
        m.BotStep(line=6, text="When would you like to pick up the car?"),
        m.UserStep(line=7, text=CAR_TURNS[2][0]),
        m.UtterStep(line=8, name="utter_ask_car_rental_selection"),
        m.UserStep(line=9, text=CAR_TURNS[3][0]),
    ]
    return m.TestCase(name=name, steps=tuple(steps), line=2, file=Path(file))


def user_event(text: str, prompt: str | None, commands: Sequence[Command] | None) -> UserUttered:
    """A ``UserUttered`` whose parse data holds the annotation keys when given."""
    parse_data: dict = {"text": text}
    if prompt is not None:
        parse_data["llm_prompt"] = prompt
    if commands is not None:
        parse_data["llm_commands"] = [c.as_dict() for c in commands]
    return UserUttered(text=text, parse_data=parse_data, timestamp=0.0)


def turns_for(
    turn_specs: Sequence[tuple[str, list[Command] | None, tuple[str, str | None], dict | None]],
    step_indices: Sequence[int],
) -> tuple[dict[int, TurnInput], str]:
    """Turns (keyed by step index) with prompts built from the history, and the full transcript."""
    history: list[tuple[str, str]] = []
    turns: dict[int, TurnInput] = {}
    for (text, commands, (bot_text, utter), bot_data), index in zip(turn_specs, step_indices, strict=True):
        prompt = build_prompt(history, text) if commands is not None else None
        events = [
            user_event(text, prompt, commands),
            BotUttered(
                text=bot_text,
                data=bot_data or {},
                metadata={"utter_action": utter} if utter else {},
                timestamp=0.0,
            ),
        ]
        turns[index] = TurnInput(user_text=text, events=events)
        history += [("user", text), ("bot", bot_text)]
    transcript = "\n".join(f"{'USER' if a == 'user' else 'AI'}: {t}" for a, t in history)
    return turns, transcript


def car_conversation(file: str = CAR_FILE, name: str = CAR_NAME) -> Conversation:
    """The annotated car-rental conversation (no rephrasings yet)."""
    specs = [(text, commands, bot, None) for text, commands, bot in CAR_TURNS]
    turns, transcript = turns_for(specs, [0, 2, 4, 6])
    conversation = annotate_test_case(car_test_case(file, name), turns, transcript)
    assert conversation is not None
    return conversation


def with_passing(conversation: Conversation, passing: Sequence[Sequence[str]]) -> Conversation:
    """The conversation with the given passing rephrasings per annotated step."""
    from dataclasses import replace

    steps = [
        replace(s, passing_rephrasings=tuple(p)) for s, p in zip(conversation.annotated_steps, passing, strict=True)
    ]
    return conversation.with_annotated_steps(steps)


# --- the LLM behind the recipe: the real completer, service and a scripted server on loopback ----------------

#: The rephraser's LLM and the command generator's (the validation calls): the model names tell the server's
#: requests of the two apart, as the purposes do for the usage meter.
REPHRASER = LLMConfig.from_rasa({"model": "scripted-rephraser", "timeout": 5})
VALIDATOR = LLMConfig.from_rasa({"model": "scripted-command-generator", "timeout": 5})
PURPOSE_OF_MODEL = {"scripted-rephraser": Purpose.REPHRASING, "scripted-command-generator": Purpose.VALIDATION}


def is_rephrase_prompt(prompt: str) -> bool:
    """Whether ``prompt`` is the default rephrase prompt (validation prompts are command-generator prompts)."""
    return prompt.startswith("Objective:\n")


class RecipeLLM:
    """The completer a session builds (:func:`llm_completer`) over a real :class:`LLMService` and the
    scripted server, with what the server was asked."""

    def __init__(self, server: ScriptedLLMServer, service: LLMService) -> None:
        self.server = server
        self.service = service
        self.complete = llm_completer(service, REPHRASER, VALIDATOR)

    def answer(self, answer: Callable[[str], str], *, times: int | None = None) -> None:
        """Answer every prompt (after the rules added before) with ``answer(prompt)``."""
        self.server.add_rule(lambda prompt: True, answer, times=times)

    def chat_requests(self) -> list[RecordedRequest]:
        """The chat requests the server received, in arrival order."""
        return [r for r in self.server.requests if r.endpoint == "chat"]

    def calls(self) -> list[tuple[str, Purpose]]:
        """``(prompt, purpose)`` of every chat request, the purpose read from the model it was sent to."""
        return [(r.prompt, PURPOSE_OF_MODEL[r.body["model"]]) for r in self.chat_requests()]

    def purposes(self) -> list[Purpose]:
        """The purpose of every chat request, in arrival order."""
        return [purpose for _, purpose in self.calls()]


class AwaitOrder:
    """Wraps a completer to note how many calls had been submitted when the first answer was awaited."""

    def __init__(self, complete: Callable[[str, str], Future]) -> None:
        self.complete = complete
        self.submitted = 0
        self.submitted_at_first_result: int | None = None

    def __call__(self, prompt: str, purpose: str) -> _Watched:
        future = self.complete(prompt, purpose)
        self.submitted += 1
        return _Watched(self, future)


class _Watched:
    def __init__(self, owner: AwaitOrder, future: Future) -> None:
        self.owner = owner
        self.future = future

    def result(self, timeout: float | None = None) -> object:
        if self.owner.submitted_at_first_result is None:
            self.owner.submitted_at_first_result = self.owner.submitted
        return self.future.result(timeout)
