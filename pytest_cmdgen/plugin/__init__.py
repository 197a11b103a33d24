"""The pytest skin: options, collection, items, xdist roles, reporting and the hooks for users' conftests.

It parses options into the library's :class:`~pytest_cmdgen.session.SessionConfig`, collects E2E files as
items, turns the library's results into pytest outcomes and reports, and hands results between xdist
workers and the controller. The library never imports it. The ``pytest11`` entry point is
:mod:`pytest_cmdgen.plugin.hooks`; users' ``conftest.py`` files implement the hooks of
:mod:`pytest_cmdgen.plugin.hookspecs`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_cmdgen._lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_cmdgen.plugin.options import OPTIONS, CmdgenSettings, OptionSpec, options_markdown
    from pytest_cmdgen.plugin.reference import configuration_markdown

__getattr__ = lazy_exports(
    __name__,
    {
        "OPTIONS": "options",
        "CmdgenSettings": "options",
        "OptionSpec": "options",
        "configuration_markdown": "reference",
        "options_markdown": "options",
    },
)

__all__ = ["OPTIONS", "CmdgenSettings", "OptionSpec", "configuration_markdown", "options_markdown"]
