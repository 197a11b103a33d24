"""Action runners against the real loopback action server, stubs and the chooser."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_cmdgen.actions import (
    ChoosingActionRunner,
    HttpActionRunner,
    ModuleActionRunner,
    StubActionRunner,
    endpoint_settings,
)
from pytest_cmdgen.e2e.model import StubResponse, TestSuiteFile
from pytest_cmdgen.runtime.errors import ActionError
from pytest_cmdgen.testing.action_server import ActionServer, RejectAction


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

    @srv.action("action_slow")
    def slow(tracker, domain):
        time.sleep(1.0)
        return [], []

    with srv:
        yield srv


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


def test_module_runner_without_rasa_sdk_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pytest_cmdgen.actions.module.rasa_sdk_available", lambda: False)  # as if not installed
    runner = ChoosingActionRunner.for_project(FakeProject(endpoints={"action_endpoint": {"actions_module": "actions"}}))
    assert isinstance(runner.module, ModuleActionRunner)
    with pytest.raises(ActionError, match="rasa_sdk is not installed"):
        runner.run("action_x", FakeTracker(), FakeProject())
