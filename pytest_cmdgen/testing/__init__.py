"""Testing helpers shipped with the plugin: real loopback servers and the fixture that starts one.

:class:`ScriptedLLMServer` is an OpenAI-compatible HTTP server that answers from recorded annotations
and scripted rules (also the ``cmdgen-scripted-llm`` console script); :class:`ActionServer` is a
rasa-sdk-compatible action server for custom actions written as Python functions; the
``cmdgen_scripted_llm`` fixture starts a scripted server and points ``OPENAI_BASE_URL`` at it, and
:func:`serve_recorded_llm` does so for a whole session from a project's ``conftest.py`` (offline demos);
:func:`build_tiny_model` saves a tiny Llama model and tokenizer built locally, to test training offline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_cmdgen._lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_cmdgen.testing.action_server import ActionServer
    from pytest_cmdgen.testing.fixtures import cmdgen_scripted_llm, serve_recorded_llm
    from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer
    from pytest_cmdgen.testing.tiny_model import build_tiny_model

__getattr__ = lazy_exports(
    __name__,
    {
        "ActionServer": "action_server",
        "build_tiny_model": "tiny_model",
        "cmdgen_scripted_llm": "fixtures",
        "ScriptedLLMServer": "scripted_llm",
        "serve_recorded_llm": "fixtures",
    },
)

__all__ = [
    "ActionServer",
    "ScriptedLLMServer",
    "build_tiny_model",
    "cmdgen_scripted_llm",
    "serve_recorded_llm",
]
