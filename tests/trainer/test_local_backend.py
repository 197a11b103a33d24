"""The ``local`` back-end: a tiny model directory answering the command generator in-process.

The tiny model is random, so its answers are garbage: what is tested is the plumbing (the session runs
end to end with it, a malformed answer fails that turn's test with the answer shown and the session goes
on), not the answers' quality.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

# pytester's in-process runs drop the modules they imported; the back-end registry (imported before) would then
# keep an ``openai`` back-end class built on the dropped ``openai`` package. Import both once, up front.
import pytest_cmdgen.llm.backends.openai_backend  # noqa: F401
from pytest_cmdgen.llm import LLMConfig, LLMService, ResponseCache, parse_llm_spec, register_backend
from pytest_cmdgen.llm.backends.base import BackendCallError
from pytest_cmdgen.llm.config import Endpoint
from pytest_cmdgen.llm.errors import LLMCallError
from pytest_cmdgen.session.engine import LOCAL_BACKEND_FACTORY
from pytest_cmdgen.trainer.inference import GenerationModel, load_generation_model
from pytest_cmdgen.trainer.local_backend import TIMINGS_KEPT, LocalBackend
from tests.trainer.conftest import copy_car_rental

pytest_plugins = ["pytester"]


@pytest.fixture
def local_config(tiny_model: Path) -> LLMConfig:
    register_backend("local", LOCAL_BACKEND_FACTORY)
    return parse_llm_spec(f"local:{tiny_model}").config(LLMConfig(max_tokens=6))


def test_answers_are_greedy_and_independent_of_what_else_is_in_flight(local_config: LLMConfig) -> None:
    prompts = [f"USER: I need a car in city {n}" for n in range(4)]
    with LLMService(concurrency=1) as alone:
        expected = [alone.chat(local_config, prompt).text for prompt in prompts]
    with LLMService(concurrency=4) as crowded:
        futures = [crowded.submit_chat(local_config, prompt) for prompt in prompts]
        answers = [future.result() for future in futures]
        backend = crowded._backends["local"]
    assert [answer.text for answer in answers] == expected
    assert all(answer.usage.prompt_tokens > 0 and 0 < answer.usage.completion_tokens <= 6 for answer in answers)
    assert all(answer.model == local_config.model for answer in answers)
    timings = backend.timings  # type: ignore[attr-defined]
    assert len(timings) == 4
    assert len({timing.thread for timing in timings}) == 1  # one worker thread served every request
    assert timings[0].thread.startswith("cmdgen-local-model") and timings[0].thread != threading.main_thread().name


def test_embeddings_are_refused_with_a_clear_error(local_config: LLMConfig) -> None:
    with LLMService(concurrency=1) as service, pytest.raises(LLMCallError) as caught:
        service.embed(local_config, ["hello"])
    assert "the local back-end serves chat requests only, not embeddings" in str(caught.value)
    assert caught.value.attempts == 1


def test_a_model_that_cannot_load_fails_each_request_in_one_line(tmp_path: Path, tiny_model: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "model.safetensors").write_bytes(b"not weights")
    register_backend("local", LOCAL_BACKEND_FACTORY)
    config = parse_llm_spec(f"local:{broken}").config()
    with LLMService(concurrency=1) as service:
        for prompt in ("one", "two"):
            with pytest.raises(LLMCallError) as caught:
                service.chat(config, prompt)
            assert f"the local model cannot be loaded: {broken}: " in str(caught.value)
            assert caught.value.attempts == 1 and "\n" not in str(caught.value)


class FailingModel(GenerationModel):
    """The real tiny model, whose generation raises what a device would (out of memory, a too-long prompt)."""

    error: BaseException | None = None

    def _generate_batch(self, batch: list[list[int]], max_new_tokens: int) -> Any:
        assert self.error is not None
        raise self.error


def _chat(backend: LocalBackend, model: str, prompt: str) -> Any:
    endpoint = Endpoint(client_kind="local", base_url=None, api_key="", api_version=None, model=model)
    return asyncio.run(backend.chat(endpoint, [{"role": "user", "content": prompt}], {"max_tokens": 2}, 10.0))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ValueError("Input length 9000 exceeds the maximum 2048\nsecond line"), "ValueError: Input length 9000"),
        (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\ndetails"), "RuntimeError: CUDA out of memory"),
    ],
)
def test_a_failing_generation_fails_its_request_in_one_line_naming_the_error(
    tiny_model: Path, error: Exception, expected: str
) -> None:
    real = load_generation_model(tiny_model)
    failing = FailingModel(**{f.name: getattr(real, f.name) for f in dataclasses.fields(real)})
    failing.error = error
    backend = LocalBackend()
    backend._models[str(tiny_model)] = failing
    try:
        with pytest.raises(BackendCallError) as caught:
            _chat(backend, str(tiny_model), "USER: I need a car")
        message = str(caught.value)
        assert expected in message and "\n" not in message and "closed" not in message
        assert "the local model failed to answer" in message and not caught.value.retryable
        backend._models[str(tiny_model)] = real  # the next request is served: one failure fails only its request
        assert _chat(backend, str(tiny_model), "USER: I need a car").usage.completion_tokens > 0
    finally:
        asyncio.run(backend.close())


def test_close_is_idempotent_and_a_closed_backend_says_so(tiny_model: Path) -> None:
    backend = LocalBackend()
    asyncio.run(backend.close())
    asyncio.run(backend.close())
    with pytest.raises(BackendCallError, match="the local model is closed"):
        _chat(backend, str(tiny_model), "hello")
    assert backend.timings.maxlen == TIMINGS_KEPT


def test_a_retrained_model_in_the_same_directory_is_not_answered_from_the_cache(
    tmp_path: Path, tiny_model: Path
) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    register_backend("local", LOCAL_BACKEND_FACTORY)
    before = parse_llm_spec(f"local:{model}").config(LLMConfig(max_tokens=2))
    with LLMService(concurrency=1, cache=ResponseCache(tmp_path / "cache", "use")) as service:
        first = service.chat(before, "hello")
        assert service.chat(before, "hello").cached
        (model / "config.json").write_text((model / "config.json").read_text() + "\n")  # "retrained"
        after = parse_llm_spec(f"local:{model}").config(LLMConfig(max_tokens=2))
        again = service.chat(after, "hello")
    assert not again.cached and again.cache_key != first.cache_key


def test_e2e_tests_run_with_the_local_model_and_a_malformed_answer_fails_only_its_test(
    pytester: pytest.Pytester, tiny_model: Path
) -> None:
    assistant = copy_car_rental(pytester.path / "car_rental")
    config = assistant / "config.yml"
    config.write_text(config.read_text().replace("temperature: 0.0", "temperature: 0.0\n      max_tokens: 6"))
    result = pytester.runpytest(
        "car_rental/tests",
        "--cmdgen-assistant",
        "car_rental",
        "--cmdgen-llm",
        f"local:{tiny_model}",
        "--cmdgen-concurrency",
        "2",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(failed=4)  # the random model's answers are no commands: every test fails, none errors
    out = result.stdout.str()
    assert "INTERNALERROR" not in out and "Traceback" not in out
    result.stdout.fnmatch_lines(
        [f"cmdgen: *commands from SingleStepLLMCommandGenerator, model local:{tiny_model} (--cmdgen-llm)"]
    )
    answer_shown = (
        r"the command generator's answer to 'I need a rental car in Basel' \(line 16\) gave no command: "
        r"(.+)$"
    )
    shown = re.findall(answer_shown, out, re.M)
    assert shown and all(answer.startswith(("'", '"')) for answer in shown)
    result.stdout.fnmatch_lines(["*cmdgen summary*", "E2E tests *0 passed, 4 failed, 0 skipped*"])


def test_the_comparison_with_the_local_model(pytester: pytest.Pytester, tiny_model: Path, prepared: Path) -> None:
    out = shutil.copytree(prepared, pytester.path / "out")
    assistant = copy_car_rental(pytester.path / "car_rental")
    config = assistant / "config.yml"
    config.write_text(config.read_text().replace("temperature: 0.0", "temperature: 0.0\n      max_tokens: 4"))
    result = pytester.runpytest(
        "--cmdgen-assistant", "car_rental", "--cmdgen-llm", f"local:{tiny_model}", "--cmdgen-compare", "out",
        "-p", "no:cacheprovider",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    report = json.loads((out / "model" / "e2e_comparison.json").read_text())
    assert report["model"]["llm"] == f"local:{tiny_model} (--cmdgen-llm)"
    assert report["model"]["passed"] == 0 and report["teacher"]["passed"] == report["model"]["tests"] > 0
    assert report["turns"]["exact_match"] == 0
    for test in report["tests"]:
        first = test["first_divergence"]
        assert first["expected"] and first["produced"] == [] and first["answer"] is not None
