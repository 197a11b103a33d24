"""Action runners against the real loopback action server, stubs and the chooser."""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_cmdgen.actions import (
    ChoosingActionRunner,
    HttpActionRunner,
    StubActionRunner,
    endpoint_settings,
)
from pytest_cmdgen.e2e.model import StubResponse, TestSuiteFile
from pytest_cmdgen.runtime.errors import ActionError
from pytest_cmdgen.testing.action_server import ActionServer, RejectAction
from tests.support.paths import EXAMPLES, REPO


class FakeTracker:
    sender_id = "conv_1"

    def current_state(self) -> dict[str, Any]:
        return {"sender_id": "conv_1", "slots": {"name": "Ann"}, "events": [], "latest_message": {}}


@dataclass
class FakeDomain:
    data: dict[str, Any] = field(default_factory=lambda: {"slots": {"name": {"type": "text"}}})

    def as_dict(self) -> dict[str, Any]:
        return self.data


@dataclass
class FakeProject:
    domain: FakeDomain = field(default_factory=FakeDomain)
    endpoints: Any = None
    path: Path | None = None


@pytest.fixture
def server():
    srv = ActionServer()

    @srv.action("action_greet")
    def greet(tracker, domain):
        name = tracker["slots"]["name"]
        return [{"event": "slot", "name": "greeted", "value": True}], [{"text": f"Hi {name}"}]

    @srv.action("action_reject")
    def reject(tracker, domain):
        raise RejectAction("not now")

    @srv.action("action_crash")
    def crash(tracker, domain):
        raise ValueError("boom")

    answer_slow = threading.Event()  # set at teardown: until then action_slow never answers

    @srv.action("action_slow")
    def slow(tracker, domain):
        answer_slow.wait(timeout=60)
        return [], []

    with srv:
        try:
            yield srv
        finally:
            answer_slow.set()  # before the server stops, so that no handler is left waiting


def test_http_success_sends_the_webhook_payload(server: ActionServer) -> None:
    result = HttpActionRunner(server.url, timeout=5).run("action_greet", FakeTracker(), FakeProject())
    assert result.events == [{"event": "slot", "name": "greeted", "value": True}]
    assert result.responses == [{"text": "Hi Ann"}]
    call = server.calls[-1]
    assert call.action_name == "action_greet"
    assert call.sender_id == "conv_1"
    assert call.tracker["slots"] == {"name": "Ann"}
    assert call.domain == {"slots": {"name": {"type": "text"}}}
    assert call.version


def test_http_rejection_gives_action_execution_rejected(server: ActionServer) -> None:
    result = HttpActionRunner(server.url).run("action_reject", FakeTracker(), FakeProject())
    assert result.events == [{"event": "action_execution_rejected", "name": "action_reject"}]
    assert result.responses == []


def test_http_500_names_action_and_url(server: ActionServer) -> None:
    with pytest.raises(ActionError) as info:
        HttpActionRunner(server.url).run("action_crash", FakeTracker(), FakeProject())
    assert info.value.action_name == "action_crash"
    assert server.url in str(info.value) and "500" in str(info.value) and "boom" in str(info.value)


def test_http_unknown_action_is_an_error(server: ActionServer) -> None:
    with pytest.raises(ActionError, match="does not know this action"):
        HttpActionRunner(server.url).run("action_nope", FakeTracker(), FakeProject())


def test_http_timeout(server: ActionServer) -> None:
    with pytest.raises(ActionError, match="timed out") as info:
        HttpActionRunner(server.url, timeout=0.2).run("action_slow", FakeTracker(), FakeProject())
    assert server.url in str(info.value)


def test_http_unreachable() -> None:
    srv = ActionServer()
    url = srv.start()
    srv.stop()  # the port is free again: nothing listens there
    with pytest.raises(ActionError, match="cannot reach") as info:
        HttpActionRunner(url, timeout=2).run("action_greet", FakeTracker(), FakeProject())
    assert "action_greet" in str(info.value) and url in str(info.value)


def test_server_health_and_action_list(server: ActionServer) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{server.base_url}/health", timeout=5) as r:
        assert json.loads(r.read()) == {"status": "ok"}
    with urllib.request.urlopen(f"{server.base_url}/actions", timeout=5) as r:
        names = [a["name"] for a in json.loads(r.read())["actions"]]
    assert "action_greet" in names


def suite_with_stubs() -> TestSuiteFile:
    return TestSuiteFile(
        path=Path("t.yml"),
        test_cases=(),
        stub_custom_actions={
            "action_greet": StubResponse("action_greet", events=({"event": "slot", "name": "x", "value": 1},)),
            "case a::action_greet": StubResponse("case a::action_greet", responses=({"text": "specific"},)),
        },
    )


def test_stub_precedence() -> None:
    suite = suite_with_stubs()
    specific = StubActionRunner.for_test_case(suite.stub_custom_actions, "case a")
    assert specific.run("action_greet").responses == [{"text": "specific"}]
    assert specific.run("action_greet").events == []
    general = StubActionRunner.for_test_case(suite.stub_custom_actions, "case b")
    assert general.run("action_greet").events == [{"event": "slot", "name": "x", "value": 1}]
    assert not general.has("action_other")
    with pytest.raises(ActionError):
        general.run("action_other")


def test_chooser_prefers_stubs_then_url(server: ActionServer) -> None:
    stubs = StubActionRunner.for_test_case(suite_with_stubs().stub_custom_actions, "case a")
    project = FakeProject(endpoints={"action_endpoint": {"url": server.url}})
    runner = ChoosingActionRunner.for_project(project, stubs=stubs)
    assert runner.run("action_greet", FakeTracker(), project).responses == [{"text": "specific"}]
    assert runner.run("action_reject", FakeTracker(), project).events[0]["event"] == "action_execution_rejected"
    assert len(server.calls) == 1


def test_chooser_without_any_endpoint_explains() -> None:
    with pytest.raises(ActionError, match="no way to run custom actions"):
        ChoosingActionRunner.for_project(FakeProject()).run("action_x", FakeTracker(), FakeProject())


def test_endpoint_settings_shapes() -> None:
    assert endpoint_settings(FakeProject(endpoints={"action_endpoint": {"actions_module": "actions"}})) == (
        None,
        "actions",
    )

    @dataclass
    class Endpoints:
        action_url: str | None = "http://x/webhook"
        actions_module: str | None = None

    assert endpoint_settings(FakeProject(endpoints=Endpoints())) == ("http://x/webhook", None)


#: A ``sitecustomize`` for an interpreter in which ``rasa_sdk`` is not installed: every finder on ``sys.meta_path``
#: is wrapped so that it finds nothing for ``rasa_sdk``, as on a machine without the package (``find_spec`` gives
#: None, ``import rasa_sdk`` raises ModuleNotFoundError).
WITHOUT_RASA_SDK = """\
import sys


class _WithoutRasaSdk:
    def __init__(self, inner):
        self._inner = inner

    def find_spec(self, name, path=None, target=None):
        if name == "rasa_sdk" or name.startswith("rasa_sdk."):
            return None
        find = getattr(self._inner, "find_spec", None)
        return find(name, path, target) if find else None

    def __getattr__(self, attribute):
        return getattr(self._inner, attribute)


sys.meta_path[:] = [_WithoutRasaSdk(finder) for finder in sys.meta_path]
"""


def test_module_runner_without_rasa_sdk_is_a_clear_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The car-rental example with its custom action run in-process (actions_module) instead of stubbed, tested
    # by a real pytest process whose interpreter cannot import rasa_sdk.
    project = pytester.path / "car_rental"
    shutil.copytree(EXAMPLES / "car_rental", project)
    (project / "endpoints.yml").write_text("action_endpoint:\n  actions_module: actions\n")
    (project / "actions.py").write_text(
        "from rasa_sdk import Action\n\n\n"
        "class CheckAvailability(Action):\n"
        "    def name(self):\n"
        "        return 'action_check_availability'\n\n"
        "    def run(self, dispatcher, tracker, domain):\n"
        "        return []\n"
    )
    tests = project / "tests" / "rental.yml"
    text = tests.read_text()
    tests.write_text(text[text.index("test_cases:") :])  # no stub_custom_actions: the module must run
    blocker = pytester.mkdir("without_rasa_sdk")
    (blocker / "sitecustomize.py").write_text(WITHOUT_RASA_SDK)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(blocker), str(REPO), os.environ.get("PYTHONPATH", "")]))

    result = pytester.runpytest_subprocess(
        "car_rental/tests",
        "--cmdgen-assistant",
        "car_rental",
        "--cmdgen-command-script",
        "car_rental/commands.yml",
        "-k",
        "book and not opening",
        "-p",
        "no:cacheprovider",
    )

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E2E test case 'book a car' failed at car_rental/tests/rental.yml:*",
            "  actual:   custom action 'action_check_availability' failed: the project runs its actions in-process "
            "(actions_module: 'actions') but rasa_sdk is not installed; install rasa-sdk, or serve the actions "
            "over HTTP and point action_endpoint.url at the server, or stub the action in the test file*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
