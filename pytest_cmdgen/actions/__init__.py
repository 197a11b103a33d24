"""Running custom actions: over HTTP (rasa-sdk webhook), from test-file stubs, or in-process.

* :class:`HttpActionRunner` — POSTs to an action server (``action_endpoint.url``).
* :class:`StubActionRunner` — answers from a test file's ``stub_custom_actions``.
* :class:`ModuleActionRunner` — runs an ``actions_module`` in-process through ``rasa_sdk`` (if installed).
* :class:`ChoosingActionRunner` — picks one of those per action: stub, then URL, then module.

Every runner follows the runtime's ``ActionRunner`` protocol: ``run(action_name, tracker, project)`` returns
an ``ActionResult(events, responses)`` as a rasa-sdk server returns them, or raises ``ActionError``.
"""

from pytest_cmdgen.actions.base import ActionResult, rejection_result
from pytest_cmdgen.actions.chooser import ChoosingActionRunner, endpoint_settings
from pytest_cmdgen.actions.http import DEFAULT_TIMEOUT, HttpActionRunner
from pytest_cmdgen.actions.module import ModuleActionRunner
from pytest_cmdgen.actions.stub import StubActionRunner

__all__ = [
    "DEFAULT_TIMEOUT",
    "ActionResult",
    "ChoosingActionRunner",
    "HttpActionRunner",
    "ModuleActionRunner",
    "StubActionRunner",
    "endpoint_settings",
    "rejection_result",
]
