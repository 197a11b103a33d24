"""Runtime overhead per user turn on the banking starter pack (command source and actions are instant fakes).

Run: ``python benchmarks/bench_runtime_turn.py [--conversations N]``; prints median and p95 per turn.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from pytest_cmdgen.runtime.agent import ActionResult, Agent, CommandPrediction, CommandRequest
from pytest_cmdgen.runtime.commands import CancelFlow, ChitChat, Command, SetSlot, StartFlow

PACK = Path(__file__).resolve().parents[2] / "shared" / "assistants" / "starterpack-retail-banking-en"

TURNS: list[tuple[str, list[Command]]] = [
    ("hello", [ChitChat()]),
    (
        "I want to transfer 55 to Amy",
        [StartFlow("transfer_money"), SetSlot("amount", "55"), SetSlot("payee_name", "Amy")],
    ),
    ("67890123", [SetSlot("account_from", "67890123")]),
    ("/SetSlots(timing=now)", []),
    ("Sorry, I meant 65", [SetSlot("amount", "65")]),
    ("yes", [SetSlot("confirm_immediate_payment", True)]),
    ("check my balance", [StartFlow("check_balance")]),
    ("stop", [CancelFlow()]),
]


class InstantSource:
    """Answers from the fixed script above."""

    def __init__(self) -> None:
        self.script = dict(TURNS)

    def predict(self, request: CommandRequest) -> CommandPrediction:
        return CommandPrediction(list(self.script.get(request.text, [])))


class InstantActions:
    """Every custom action succeeds immediately; a few set the slots the flows branch on."""

    results = {
        "action_check_payee_existence": ActionResult(events=[{"event": "slot", "name": "payee_exists", "value": True}]),
        "action_check_sufficient_funds": ActionResult(
            events=[{"event": "slot", "name": "sufficient_funds", "value": True}]
        ),
        "action_ask_account_from": ActionResult(responses=[{"text": "Which account?"}]),
        "action_ask_account": ActionResult(responses=[{"text": "Which account?"}]),
    }

    def run(self, action_name, tracker, project) -> ActionResult:
        return self.results.get(action_name, ActionResult())


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the per-turn statistics."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--pack", type=Path, default=PACK)
    args = parser.parse_args(argv)
    from pytest_cmdgen.runtime.project import Project

    project = Project.load(args.pack, "3.13")
    agent = Agent(project, InstantSource(), InstantActions(), seed=0)
    timings: list[float] = []
    for index in range(args.conversations):
        conversation = agent.start_conversation(f"bench-{index}")
        for text, _ in TURNS:
            start = time.perf_counter()
            conversation.handle_message(text)
            timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(f"turns: {len(timings)}")
    print(f"median per turn: {statistics.median(timings):.3f} ms")
    print(f"p95 per turn:    {p95:.3f} ms")
    print(f"max per turn:    {timings[-1]:.3f} ms")


if __name__ == "__main__":
    main()
