"""``--cmdgen-llm`` specs: the two forms, what each becomes, and the one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_cmdgen.llm import LLMConfig, LLMSpecError, parse_llm_spec
from pytest_cmdgen.llm.cache import cache_key
from pytest_cmdgen.llm.spec import model_fingerprint

BASE = LLMConfig(provider="openai", model="gpt-4", max_tokens=256, timeout=7, extra={"top_p": 0.5}, temperature=0.3)


def test_a_served_model_with_a_url_is_a_self_hosted_provider() -> None:
    spec = parse_llm_spec("openai:cmdgen@http://127.0.0.1:8000/v1/")
    assert (spec.kind, spec.model, spec.url) == ("openai", "cmdgen", "http://127.0.0.1:8000/v1")
    config = spec.config(BASE)
    assert (config.provider, config.model, config.api_base) == ("self-hosted", "cmdgen", "http://127.0.0.1:8000/v1")
    assert (config.temperature, config.max_tokens, config.timeout, dict(config.extra)) == (0.0, 256, 7.0, {})
    endpoint = config.resolve_endpoint({"OPENAI_API_KEY": "sk-secret-not-sent"})
    assert endpoint.api_key != "sk-secret-not-sent" and endpoint.base_url == "http://127.0.0.1:8000/v1"


def test_the_environment_route() -> None:
    config = parse_llm_spec("openai:gpt-4o-mini").config()
    endpoint = config.resolve_endpoint({"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "http://h:1/v1"})
    assert (config.provider, endpoint.model, endpoint.base_url, endpoint.api_key) == (
        "openai",
        "gpt-4o-mini",
        "http://h:1/v1",
        "sk-x",
    )


def test_a_local_model_resolves_its_path_and_is_served_by_the_local_backend(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "base"}))
    spec = parse_llm_spec("local:model", tmp_path)
    assert (spec.kind, spec.path, spec.label) == ("local", model, f"local:{model}")
    config = spec.config(BASE)
    assert (config.backend_name, config.model, config.max_tokens, config.temperature) == ("local", str(model), 256, 0.0)


def test_cache_keys_differ_per_model(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text("{}")
    messages = [{"role": "user", "content": "hi"}]

    def key(config: LLMConfig) -> str:
        return cache_key("chat", config.provider, config.model_label, messages, config.sampling_params())

    keys = {
        key(BASE),
        key(parse_llm_spec("openai:gpt-4").config(BASE)),  # same name, but greedy: another request
        key(parse_llm_spec("openai:other").config(BASE)),
        key(parse_llm_spec("openai:gpt-4@http://h/v1").config(BASE)),
        key(parse_llm_spec(f"local:{model}").config(BASE)),
    }
    assert len(keys) == 5
    before = key(parse_llm_spec(f"local:{model}").config(BASE))
    (model / "config.json").write_text('{"retrained": true}')
    assert key(parse_llm_spec(f"local:{model}").config(BASE)) != before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gpt-4", "expected openai:MODEL[@URL] or local:PATH, got 'gpt-4'"),
        ("hf:model", "expected openai:MODEL[@URL] or local:PATH, got 'hf:model'"),
        ("openai:", "openai: needs a model name (openai:MODEL[@URL]), got 'openai:'"),
        ("openai:m@ftp://x", "openai:MODEL@URL: expected an http(s) URL after '@', got 'ftp://x'"),
        ("local:", "local: needs a model directory (local:PATH), got 'local:'"),
    ],
)
def test_bad_specs_say_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(LLMSpecError) as caught:
        parse_llm_spec(text)
    assert str(caught.value) == message


def test_a_local_path_must_be_a_model_directory(tmp_path: Path) -> None:
    with pytest.raises(LLMSpecError, match="no such directory"):
        parse_llm_spec("local:missing", tmp_path)
    with pytest.raises(LLMSpecError, match="is not a model directory"):
        parse_llm_spec(f"local:{tmp_path}")


def test_reports_written_into_a_model_directory_keep_its_fingerprint(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "base"}))
    (model / "adapter_model.safetensors").write_bytes(b"weights")
    (model / "tokenizer_config.json").write_text("{}")
    before = model_fingerprint(model)
    for report in ("evaluation.json", "metrics.json", "e2e_comparison.json", "README.md"):
        (model / report).write_text('{"passed": 3}')
    assert model_fingerprint(model) == before
    (model / "adapter_model.safetensors").write_bytes(b"retrained weights")
    assert model_fingerprint(model) != before
    retrained = model_fingerprint(model)
    (model / "chat_template.jinja").write_text("{{ messages }}")
    assert model_fingerprint(model) != retrained
