"""What the executor, the command processor and the default actions share during one turn."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_cmdgen.runtime.nlg import ResponseGenerator

if TYPE_CHECKING:
    from pytest_cmdgen.runtime.interfaces import ActionRunner, Responder
    from pytest_cmdgen.runtime.project import Project
    from pytest_cmdgen.runtime.tracker import Tracker


@dataclass
class RuntimeContext:
    """Project, tracker and the conversation's seeded randomness and plug-ins."""

    project: Project
    tracker: Tracker
    nlg: ResponseGenerator
    rng: random.Random
    action_runner: ActionRunner
    responder: Responder
    channel: str | None = None

    def new_frame_id(self) -> str:
        """8 random uppercase letters, as Rasa generates them (seeded here, so runs repeat)."""
        return "".join(self.rng.choices(string.ascii_uppercase, k=8))
