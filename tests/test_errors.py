"""One error base for everything a user can meet, and one place that decides how an error is shown."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil

import pytest

import pytest_cmdgen
from pytest_cmdgen.errors import CmdgenError, CmdgenInputError, InputFileError, describe_error
from pytest_cmdgen.llm import CacheMissError, LLMCallError
from pytest_cmdgen.runtime import ActionError, ProjectError
from pytest_cmdgen.yamlio import Mark

#: Exceptions that never reach a user: raised and caught inside one module for control flow.
INTERNAL = {
    "pytest_cmdgen.runtime.slots.InvalidSlotValue",
    "pytest_cmdgen.runtime.command_processor.CommandInvariantError",
    "pytest_cmdgen.runtime.commands.UnknownCommandError",
    "pytest_cmdgen.testing.action_server.RejectAction",
    "pytest_cmdgen.testing.scripted_llm._Disconnect",
    "pytest_cmdgen.plugin.failures.E2EFailure",  # a test failure, reported with its transcript
}


def _exception_classes() -> dict[str, type[BaseException]]:
    found = {}
    for info in pkgutil.walk_packages(pytest_cmdgen.__path__, "pytest_cmdgen."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == info.name:
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return found


def test_every_exception_of_ours_derives_from_the_one_base() -> None:
    classes = _exception_classes()
    assert len(classes) > 20
    strays = sorted(name for name, cls in classes.items() if not issubclass(cls, CmdgenError) and name not in INTERNAL)
    assert strays == []
    assert set(classes) >= INTERNAL, "a listed internal exception no longer exists: update INTERNAL"


def test_the_message_carries_file_line_column_key_and_hint() -> None:
    error = CmdgenInputError("expected a list", file="flows.yml", line=12, column=5, key="steps", hint="see §3")
    assert str(error) == "flows.yml:12:5: steps: expected a list (see §3)"
    assert (error.file, error.line, error.column, error.key) == ("flows.yml", 12, 5, "steps")
    assert str(CmdgenError("no location")) == "no location"
    project_error = ProjectError("domain.yml", 3, "slots", "expected a mapping")
    assert str(project_error) == "domain.yml:3: slots: expected a mapping"
    assert str(InputFileError("t.yml", Mark(4, 7), "user", "expected text")) == "t.yml:4:7: user: expected text"


@pytest.mark.parametrize(
    "error",
    [
        ProjectError("domain.yml", 3, "slots", "expected a mapping"),
        ActionError("action_check", "cannot reach http://127.0.0.1:1"),
        LLMCallError("annotation request failed", status=500, attempts=3),
        CacheMissError("abc123", "gpt-4o"),
        InputFileError("t.yml", Mark(1, 2), None, "not a mapping"),
    ],
)
def test_errors_survive_pickling_with_their_fields(error: CmdgenError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__ == error.__dict__


def test_our_errors_are_one_line_and_anything_else_is_a_traceback() -> None:
    assert describe_error(ActionError("action_x", "timed out")) == "action 'action_x' failed: timed out"
    assert describe_error(ValueError("a bug of ours")) is None
    assert describe_error(KeyError("x")) is None
