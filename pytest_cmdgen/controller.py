"""Per-session state behind the E2E items: the loaded project, the command source, the action runner."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_cmdgen.errors import CmdgenInputError

if TYPE_CHECKING:
    from pytest_cmdgen.items import E2EItem

_CONTROLLER_KEY = pytest.StashKey["Controller"]()


class Controller:
    """Runs E2E items for one pytest session (one per xdist worker)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def run_item(self, item: E2EItem) -> None:
        """Run one test case and raise ``E2EFailure`` if it does not pass."""
        raise CmdgenInputError("the CALM runtime is not available yet in this build")


def controller_for(config: pytest.Config) -> Controller:
    """The session's controller, created on first use."""
    if _CONTROLLER_KEY not in config.stash:
        config.stash[_CONTROLLER_KEY] = Controller(config)
    return config.stash[_CONTROLLER_KEY]
