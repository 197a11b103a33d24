"""Benchmark: wall time of a whole ``--cmdgen-prepare`` run against its LLM-latency lower bound, and why.

A synthetic suite of E2E test cases for the car_rental example assistant (destinations, car types, dates
and conversation lengths of 1 to 5 user turns varied; with the realistic mix, the default, a long tail of
15- to 20-turn conversations, one in twenty, placed last in file order) and the matching recorded annotations
(``llm_commands`` and ``passing_rephrasings`` for every user turn) are generated into a temporary
directory. A :class:`ScriptedLLMServer` with a fixed latency answers every command-generator, rephrase and
validation prompt from them; pytest runs the suite in a subprocess with ``--cmdgen-prepare
--cmdgen-cache-mode off`` (every call reaches the server) and the whole run is timed.

The lower bound is ``max(longest chain x latency, total calls x latency / concurrency)``: the longest
chain of one conversation is its annotation calls (one per user turn, in sequence), then its one rephrase
call, then one round of validation calls (concurrent within a conversation); the total is the server's
count of chat and embedding requests. The target at concurrency 16 is a ratio (wall / bound) of at most
1.10 (1.05 from 1,000 tests: ``--tests 1000``). Besides wall time, the run's timeline (from the server's
request log; every answer takes the fixed latency) tells where the time went: start-up until the first
call, the time with every slot busy, the slot-seconds left empty between the first call and the last
answer, and the wind-down from the last answer to the end of the run. ``--nagle`` serves with Nagle's
algorithm left on, as many real servers do (the scripted server turns it off by default), so a client
that stalls on delayed ACKs shows.

Python's bytecode cache is warm, as on a user's machine from the second run on: pytest runs with its own
cache directory (``PYTHONPYCACHEPREFIX``, bytecode writing on even where ``PYTHONDONTWRITEBYTECODE`` is set),
filled by an untimed warm-up run of one test case against a server of its own. Without a cache every module
is compiled again, and pytest rewrites the asserts of every module of a pytest plugin's distribution (ours,
hypothesis, anyio, xdist) on each run: ``--cold`` measures that.

Run: ``python benchmarks/bench_prepare.py [--tests N] [--latency S] [--concurrency N] [--rephrases N]
[--mix realistic|uniform] [--nagle] [--cold]``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pytest_cmdgen.testing.scripted_answers import derived_rephrasings, parse_command_prompt, parse_rephrase_prompt
from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "car_rental"
TARGET = 1.10
TARGET_LARGE = 1.05  # from LARGE tests on
LARGE = 1000
TESTS_PER_FILE = 25
LONG_TAIL_EVERY = 20  # realistic mix: one test in this many is a 15- to 20-turn conversation

CITIES = (
    "Basel", "Zurich", "Geneva", "Bern", "Lugano", "Lausanne", "Lucerne", "Zug", "Chur", "Sion",
    "Thun", "Biel", "Aarau", "Olten", "Locarno", "Montreux", "Davos", "Winterthur", "Fribourg", "Neuchatel",
)  # fmt: skip
CARS = (("compact", "a compact car"), ("suv", "an SUV"), ("van", "a van"))
RELATIVE_DATES = ("tomorrow", "next Monday", "on Friday", "this weekend", "next Tuesday", "the day after tomorrow")
FIRST_DAY = datetime.date(2026, 1, 1)
DESTINATION_WORDINGS = (
    "I need a rental car in {city}",
    "Can I rent a car in {city}?",
    "I'd like to hire a car in {city}",
    "do you have cars in {city}",
    "looking for a rental in {city}",
    "book me a car in {city}",
    "I want to pick up a car in {city}",
    "any rental cars left in {city}?",
    "I'm after a hire car in {city}",
)
NAMES = (
    "Anna", "Ben", "Carla", "David", "Elena", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Klara", "Luca",
    "Mia", "Noah", "Olivia", "Paul", "Rosa", "Simon", "Tara", "Urs", "Vera", "Walter", "Yara", "Zoe",
)  # fmt: skip
GREETINGS = ("Hi, this is {name}. I want to rent a car", "Hello, {name} here, I'd like a rental car",
             "Good morning, my name is {name} and I need a car")  # fmt: skip


# ------------------------------------------------------------------------------------ the synthetic suite
@dataclass
class Turn:
    """One user turn: the message, the commands the command generator answers, the bot's utterances."""

    user: str
    commands: list[str]
    utters: list[str]


@dataclass
class Case:
    """One generated E2E test case."""

    name: str
    turns: list[Turn]
    cars_available: bool = True
    file: str = ""


@dataclass
class Suite:
    """The generated suite: its test cases and where things were written."""

    root: Path
    project: Path
    tests_dir: Path
    annotations: Path
    cases: list[Case] = field(default_factory=list)

    @property
    def user_turns(self) -> int:
        return sum(len(c.turns) for c in self.cases)

    @property
    def longest(self) -> int:
        return max(len(c.turns) for c in self.cases)


def _full_request(city: str, car: tuple[str, str], date: str) -> Turn:
    return Turn(
        f"I'd like {car[1]} in {city} {date}",
        ["StartFlow(search_rental_car)", f"SetSlot(trip_destination, {city})", f"SetSlot(car_type, {car[0]})",
         f"SetSlot(pickup_date, {date})"],
        ["utter_ask_confirm_booking"],
    )  # fmt: skip


def _destination_turn(city: str, wording: int) -> Turn:
    text = DESTINATION_WORDINGS[wording % len(DESTINATION_WORDINGS)].format(city=city)
    if wording >= len(DESTINATION_WORDINGS):  # very large suites: keep the line unique all the same
        text = f"{text} (trip {wording // len(DESTINATION_WORDINGS)})"
    commands = ["StartFlow(search_rental_car)", f"SetSlot(trip_destination, {city})"]
    return Turn(text, commands, ["utter_ask_car_type"])


def _answer(yes: bool) -> Turn:
    if yes:
        return Turn("yes, book it", ["SetSlot(confirm_booking, True)"], ["utter_booking_confirmed"])
    return Turn("no, don't book it", ["SetSlot(confirm_booking, False)"], ["utter_booking_declined"])


def _car_turn(car: tuple[str, str]) -> Turn:
    return Turn(f"{car[1]} please", [f"SetSlot(car_type, {car[0]})"], ["utter_ask_pickup_date"])


def _date_turn(date: str) -> Turn:
    return Turn(f"pick it up {date}", [f"SetSlot(pickup_date, {date})"], ["utter_ask_confirm_booking"])


def make_case(i: int) -> Case:
    """The i-th test case: one of eight shapes (1 to 5 user turns), destination, car, date and wording varied.

    No two generated conversations share a prompt (so the service never merges identical in-flight calls
    and every user turn is one call): the date is the test's own day, and each shape's opening line
    combines a city or a name with a wording that changes every round of the cities (or names).
    """
    shape, j = i % 8, i // 8  # j: the test's number among those of its shape
    city = CITIES[j % len(CITIES)]
    wording = j // len(CITIES)
    car = CARS[i % len(CARS)]
    day = FIRST_DAY + datetime.timedelta(days=i)
    date = f"on {day:%B} {day.day} {day.year}"
    yes = j % 3 != 2
    name = f"case {i:04d}"
    if shape == 0:  # 1 turn: everything at once
        return Case(name, [_full_request(city, car, date)])
    if shape == 1:  # 1 turn: nothing available
        turn = _full_request(city, car, date)
        return Case(name, [Turn(turn.user, turn.commands, ["utter_no_cars"])], cars_available=False)
    if shape == 2:  # 1 turn: opening hours
        return Case(name, [Turn(f"is your desk in {city} open {date}?", ["StartFlow(opening_hours)"],
                                ["utter_opening_hours"])])  # fmt: skip
    if shape == 3:  # 2 turns: everything at once, then confirm or decline
        return Case(name, [_full_request(city, car, date), _answer(yes)])
    if shape in (4, 5):  # 3 turns: destination, car, date (4 turns: then confirm or decline)
        opening = _destination_turn(city, 3 * wording + shape - 4)
        turns = [opening, _car_turn(car), _date_turn(date)]
        return Case(name, turns + ([_answer(yes)] if shape == 5 else []))
    if shape == 6:  # 5 turns: start, destination, car, date, answer
        person = NAMES[j % len(NAMES)]
        start = GREETINGS[(j // len(NAMES)) % len(GREETINGS)].format(name=person)
        return Case(
            name,
            [
                Turn(start, ["StartFlow(search_rental_car)"], ["utter_ask_trip_destination"]),
                Turn(city, [f"SetSlot(trip_destination, {city})"], ["utter_ask_car_type"]),
                _car_turn(car),
                _date_turn(date),
                _answer(yes),
            ],
        )
    # 5 turns with an interruption: destination, opening hours, car, date, answer
    question = f"when are your desks open {RELATIVE_DATES[j % len(RELATIVE_DATES)]}?"
    return Case(
        name,
        [
            _destination_turn(city, 3 * wording + 2),
            Turn(
                question,
                ["StartFlow(opening_hours)"],
                ["utter_opening_hours", "utter_flow_continue_interrupted", "utter_ask_car_type"],
            ),  # fmt: skip
            _car_turn(car),
            _date_turn(date),
            _answer(yes),
        ],
    )


def make_long_case(i: int, turns: int) -> Case:
    """A long conversation of ``turns`` (at least 5) user turns: a destination, then opening-hours questions
    interrupting the booking, then car, date and answer."""
    j = i // 8
    city = CITIES[j % len(CITIES)]
    day = FIRST_DAY + datetime.timedelta(days=i)
    date = f"on {day:%B} {day.day} {day.year}"
    questions = [
        Turn(
            f"when are your desks open {RELATIVE_DATES[k % len(RELATIVE_DATES)]} (question {k + 1} of case {i})?",
            ["StartFlow(opening_hours)"],
            ["utter_opening_hours", "utter_flow_continue_interrupted", "utter_ask_car_type"],
        )
        for k in range(turns - 4)
    ]
    opening = Turn(f"I need a rental car in {city} for trip {i}", ["StartFlow(search_rental_car)",
                   f"SetSlot(trip_destination, {city})"], ["utter_ask_car_type"])  # fmt: skip
    car = CARS[i % len(CARS)]
    return Case(f"case {i:04d}", [opening, *questions, _car_turn(car), _date_turn(date), _answer(j % 3 != 2)])


def make_cases(tests: int, mix: str) -> list[Case]:
    """The suite's cases in file order: the eight short shapes, and with the ``realistic`` mix a long tail
    (one in :data:`LONG_TAIL_EVERY`, 15 to 20 user turns) at the end of the last files."""
    if mix == "uniform":
        return [make_case(i) for i in range(tests)]
    long_count = max(1, tests // LONG_TAIL_EVERY)
    short = [make_case(i) for i in range(tests - long_count)]
    return short + [make_long_case(i, 15 + n % 6) for n, i in enumerate(range(tests - long_count, tests))]


def generate_suite(root: Path, tests: int, rephrases: int, mix: str = "realistic") -> Suite:
    """Write the project copy, the E2E test files and the recorded annotations under ``root``."""
    project = root / "project"
    skip = shutil.ignore_patterns("tests", "conftest.py", "commands.yml", "__pycache__")
    shutil.copytree(EXAMPLE, project, ignore=skip)  # config, domain, data, endpoints
    tests_dir = root / "e2e"
    tests_dir.mkdir()
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # pins the rootdir: test ids e2e/...
    suite = Suite(root, project, tests_dir, root / "annotations.yml")
    suite.cases = make_cases(tests, mix)
    conversations: list[dict[str, Any]] = []
    for start in range(0, tests, TESTS_PER_FILE):
        batch = suite.cases[start : start + TESTS_PER_FILE]
        file = f"e2e/suite_{start // TESTS_PER_FILE:03d}.yml"
        stubs: dict[str, Any] = {
            "action_check_availability": {"events": [{"event": "slot", "name": "cars_available", "value": True}]}
        }
        test_cases = []
        for case in batch:
            case.file = file
            if not case.cars_available:
                stubs[f"{case.name}::action_check_availability"] = {
                    "events": [{"event": "slot", "name": "cars_available", "value": False}]
                }
            steps: list[dict[str, str]] = []
            for turn in case.turns:
                steps.append({"user": turn.user})
                steps.extend({"utter": u} for u in turn.utters)
            test_cases.append({"test_case": case.name, "steps": steps})
            conversations.append(
                {
                    "original_test_case": f"{file}::{case.name}",
                    "steps": [
                        {
                            "user": turn.user,
                            "llm_commands": turn.commands,
                            "passing_rephrasings": derived_rephrasings(turn.user, max(rephrases, 1)),
                        }
                        for turn in case.turns
                    ],
                }
            )
        document = {"stub_custom_actions": stubs, "test_cases": test_cases}
        (root / file).write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    suite.annotations.write_text(
        yaml.safe_dump({"conversations": conversations}, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return suite


# ------------------------------------------------------------------------------------ running and timing
def classify(server: ScriptedLLMServer, prompt: str) -> str:
    """``rephrase``, ``annotation`` (the latest message is a test's own) or ``validation`` (a paraphrase)."""
    if parse_rephrase_prompt(prompt) is not None:
        return "rephrase"
    conversation = parse_command_prompt(prompt)
    if conversation is None:
        return "other"
    match = server.index.match(conversation)
    if match is None:
        return "unmatched"
    return "annotation" if match.kind == "original" else "validation"


def breakdown(starts: Sequence[float], latency: float, concurrency: int, end: float) -> dict[str, float]:
    """Where the time went, from the calls' start times (seconds after the run started; each call is answered
    ``latency`` later): start-up until the first call, the time with every slot busy, the slot-seconds left
    empty between the first call and the last answer, and the wind-down from the last answer to ``end``."""
    if not starts:
        return {"startup_s": end, "all_busy_s": 0.0, "empty_slot_s": 0.0, "winddown_s": 0.0, "active_s": 0.0}
    edges = sorted([(t, 1) for t in starts] + [(t + latency, -1) for t in starts], key=lambda e: (e[0], e[1]))
    in_flight, all_busy, previous = 0, 0.0, edges[0][0]
    for at, change in edges:
        if in_flight >= concurrency:
            all_busy += at - previous
        in_flight += change
        previous = at
    first, last_answer = min(starts), max(starts) + latency
    active = last_answer - first
    return {
        "startup_s": first,
        "all_busy_s": all_busy,
        "empty_slot_s": max(0.0, concurrency * active - len(starts) * latency),
        "winddown_s": end - last_answer,
        "active_s": active,
    }


def run(
    tests: int,
    latency: float,
    concurrency: int,
    rephrases: int,
    keep: Path | None = None,
    extra_args: Sequence[str] = (),
    mix: str = "realistic",
    nagle: bool = False,
    cold: bool = False,
) -> dict[str, Any]:
    """Generate the suite, run pytest against the scripted server, and measure."""
    tmp = Path(tempfile.mkdtemp(prefix="cmdgen-bench-prepare-")) if keep is None else keep
    try:
        started = time.perf_counter()
        suite = generate_suite(tmp, tests, rephrases, mix)
        generated = time.perf_counter() - started

        def command(out: Path, *more: str) -> list[str]:
            return [
                sys.executable, "-m", "pytest", str(suite.tests_dir),
                "--cmdgen-assistant", str(suite.project),
                "--cmdgen-prepare", "--cmdgen-cache-mode", "off",
                "--cmdgen-concurrency", str(concurrency),
                "--cmdgen-num-rephrases", str(rephrases),
                "--cmdgen-out", str(out),
                "-q", "-p", "no:cacheprovider", *extra_args, *more,
            ]  # fmt: skip

        base_env = dict(os.environ, OPENAI_API_KEY="sk-bench-prepare")
        if not cold:  # a warm bytecode cache of its own, as a user has from the second run on
            base_env.pop("PYTHONDONTWRITEBYTECODE", None)
            base_env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
            with ScriptedLLMServer(annotations=suite.annotations, latency=0.0, nagle=nagle) as warm_up:
                subprocess.run(
                    command(tmp / "warm-up-out", "-k", suite.cases[0].name.split()[-1]),
                    cwd=tmp,
                    env=dict(base_env, OPENAI_BASE_URL=warm_up.base_url),
                    capture_output=True,
                    check=False,
                )
        with ScriptedLLMServer(annotations=suite.annotations, latency=latency, nagle=nagle) as server:
            env = dict(base_env, OPENAI_BASE_URL=server.base_url)
            t0 = time.time()
            start = time.perf_counter()
            proc = subprocess.run(command(tmp / "out"), cwd=tmp, env=env, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - start
            t1 = time.time()
            requests = list(server.requests)
            counts = dict(server.counts)
            max_observed = server.max_concurrency_observed
            kinds = [(r.received_at, classify(server, r.prompt) if r.endpoint == "chat" else r.endpoint)
                     for r in requests if r.endpoint in ("chat", "embeddings")]  # fmt: skip
            answer_times = sorted(r.answered_at - r.received_at for r in requests
                                  if r.endpoint in ("chat", "embeddings") and r.answered_at is not None)  # fmt: skip
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    total = counts.get("chat", 0) + counts.get("embeddings", 0)
    chain = suite.longest + (2 if rephrases > 0 else 0)
    bound_chain = chain * latency
    bound_throughput = total * latency / concurrency
    bound = max(bound_chain, bound_throughput)
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    by_kind: dict[str, list[float]] = {}
    for at, kind in kinds:
        by_kind.setdefault(kind, []).append(at - t0)
    expected = suite.user_turns * (1 + rephrases) + (len(suite.cases) if rephrases > 0 else 0)
    starts = [at - t0 for at, _ in kinds]
    return {
        "mix": mix,
        "nagle": nagle,
        "cold": cold,
        "breakdown": breakdown(starts, latency, concurrency, t1 - t0),
        "in_flight_per_second": in_flight_per_second(starts, latency),
        "server_answer_s": {"p50": _quantile(answer_times, 0.5), "p99": _quantile(answer_times, 0.99),
                            "max": answer_times[-1] if answer_times else 0.0},  # fmt: skip
        "tests": len(suite.cases),
        "user_turns": suite.user_turns,
        "longest_turns": suite.longest,
        "latency": latency,
        "concurrency": concurrency,
        "rephrases": rephrases,
        "generated_s": generated,
        "wall_s": wall,
        "end_s": t1 - t0,
        "total_calls": total,
        "expected_calls": expected,
        "counts": counts,
        "chain_calls": chain,
        "bound_chain_s": bound_chain,
        "bound_throughput_s": bound_throughput,
        "bound_s": bound,
        "ratio": wall / bound if bound else float("inf"),
        "mean_in_flight": total * latency / wall if wall else 0.0,
        "max_in_flight": max_observed,
        "timeline": {k: (min(v), max(v), len(v)) for k, v in sorted(by_kind.items())},
        "returncode": proc.returncode,
        "pytest_tail": tail,
        "pytest_output": proc.stdout + proc.stderr,
        "item_outcomes": _outcomes(tail),
    }


def in_flight_per_second(starts: Sequence[float], latency: float) -> list[float]:
    """The mean number of calls in flight in each second of the run (second 0 first), each call taking
    ``latency`` from its start."""
    if not starts:
        return []
    seconds = [0.0] * (int(max(starts) + latency) + 1)
    for start in starts:
        at, end = start, start + latency
        while at < end:
            second = int(at)
            until = min(end, second + 1)
            seconds[second] += until - at
            at = until
    return seconds


def _quantile(values: Sequence[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def _outcomes(tail: str) -> dict[str, int]:
    return {word: int(number) for number, word in re.findall(r"(\d+) (passed|failed|skipped|error|errors)", tail)}


def report(result: dict[str, Any]) -> None:
    """Print the figures of one run."""
    r = result
    print(f"tests={r['tests']} ({r['mix']} mix) user turns={r['user_turns']} (longest {r['longest_turns']}) "
          f"latency={r['latency']}s concurrency={r['concurrency']} rephrases={r['rephrases']} cache=off "
          f"server Nagle {'on' if r['nagle'] else 'off'}, "
          f"bytecode cache {'none' if r['cold'] else 'warm'}")  # fmt: skip
    print(f"pytest:           rc={r['returncode']}  {r['pytest_tail']}")
    print(f"wall time:        {r['wall_s']:.2f} s  (suite generation {r['generated_s']:.2f} s, not timed)")
    print(f"LLM calls:        {r['total_calls']} (chat {r['counts'].get('chat', 0)}, embeddings "
          f"{r['counts'].get('embeddings', 0)}; expected {r['expected_calls']})")  # fmt: skip
    print(f"bound:            {r['bound_s']:.2f} s  = max(chain {r['chain_calls']}x{r['latency']} = "
          f"{r['bound_chain_s']:.2f}, {r['total_calls']}x{r['latency']}/{r['concurrency']} = "
          f"{r['bound_throughput_s']:.2f})")  # fmt: skip
    print(f"ratio:            {r['ratio']:.2f}  (target <= {target(r['tests'])} at concurrency 16)")
    print(f"in flight:        mean {r['mean_in_flight']:.1f}, max {r['max_in_flight']} (limit {r['concurrency']})")
    b = r["breakdown"]
    print(f"breakdown:        start-up until the first call {b['startup_s']:.2f} s; first call to last answer "
          f"{b['active_s']:.2f} s, all {r['concurrency']} slots busy {b['all_busy_s']:.2f} s, "
          f"{b['empty_slot_s']:.1f} slot-seconds empty ({b['empty_slot_s'] / r['latency']:.0f} calls' worth); "
          f"wind-down after the last answer {b['winddown_s']:.2f} s")  # fmt: skip
    a = r["server_answer_s"]
    print(f"server:           answered {a['p50'] * 1000:.1f} ms after arrival (p50), p99 {a['p99'] * 1000:.1f} ms, "
          f"max {a['max'] * 1000:.1f} ms")  # fmt: skip
    if r.get("show_seconds"):
        print("in flight per second: " + " ".join(f"{n:.1f}" for n in r["in_flight_per_second"]))
    print("timeline (s after start: first request, last request, count):")
    for kind, (first, last, count) in r["timeline"].items():
        print(f"  {kind:<11} {first:7.2f} {last:7.2f} {count:6d}")
    print(f"  {'exit':<11} {r['end_s']:7.2f}")


def target(tests: int) -> float:
    """The ratio to reach at concurrency 16 with ``tests`` test cases."""
    return TARGET_LARGE if tests >= LARGE else TARGET


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures; exit status 1 on a pytest failure or a missed target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200, help="number of generated E2E test cases")
    parser.add_argument("--latency", type=float, default=0.3, help="scripted server latency per request (s)")
    parser.add_argument("--concurrency", type=int, default=16, help="--cmdgen-concurrency")
    parser.add_argument("--rephrases", type=int, default=3, help="--cmdgen-num-rephrases")
    parser.add_argument(
        "--mix",
        choices=("realistic", "uniform"),
        default="realistic",
        help="conversation lengths: 1-5 turns with a long tail of 15-20 last (realistic) or 1-5 only",
    )
    parser.add_argument("--nagle", action="store_true", help="the server leaves Nagle's algorithm on")
    parser.add_argument(
        "--cold", action="store_true", help="no bytecode cache: every module compiled (and plugin asserts rewritten)"
    )
    parser.add_argument("--seconds", action="store_true", help="also print the mean calls in flight per second")
    parser.add_argument("--keep", type=Path, default=None, help="generate into this (new) directory and keep it")
    parser.add_argument(
        "--pytest-args", default="", help="extra pytest arguments, one string (e.g. to try a fix: '-p my_patch')"
    )
    args = parser.parse_args(argv)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=False)
    extra = shlex.split(args.pytest_args)
    result = run(
        args.tests, args.latency, args.concurrency, args.rephrases, args.keep, extra, args.mix, args.nagle, args.cold
    )
    report(dict(result, show_seconds=args.seconds))
    outcomes = result["item_outcomes"]
    if result["returncode"] != 0 or outcomes.get("failed") or outcomes.get("skipped") or outcomes.get("error"):
        print(result["pytest_output"][-4000:], file=sys.stderr)
        print("FAILED: the generated suite did not pass cleanly", file=sys.stderr)
        return 1
    if result["total_calls"] != result["expected_calls"] or "unmatched" in result["timeline"]:
        print("WARNING: call count differs from the expected count (some turn was not answered as recorded)")
    return 0 if result["concurrency"] != 16 or result["ratio"] <= target(result["tests"]) else 1


if __name__ == "__main__":
    sys.exit(main())
