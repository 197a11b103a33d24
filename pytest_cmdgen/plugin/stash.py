"""The keys under which the plugin keeps its per-session state in ``config.stash``."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_cmdgen.plugin.options import CmdgenSettings
from pytest_cmdgen.plugin.roles import Role

SETTINGS_KEY = pytest.StashKey[CmdgenSettings]()
"""The resolved options (CLI > ini > default), set at configure time."""

E2E_ROOTS_KEY = pytest.StashKey[tuple[Path, ...]]()
"""Where E2E files are collected."""

ROLE_KEY = pytest.StashKey[Role]()
"""This process's role (single process, xdist controller or xdist worker), chosen at configure time."""


def role_of(config: pytest.Config) -> Role:
    """This process's role."""
    return config.stash[ROLE_KEY]


__all__ = ["E2E_ROOTS_KEY", "ROLE_KEY", "SETTINGS_KEY", "role_of"]
