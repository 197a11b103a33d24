"""LLMConfig: parsing Rasa llm mappings, merging defaults, resolving endpoints and credentials."""

from __future__ import annotations

import pytest

from pytest_cmdgen.llm import (
    COMMAND_GENERATOR_DEFAULTS,
    REPHRASER_DEFAULTS,
    LLMConfig,
    LLMConfigError,
)
from pytest_cmdgen.llm.config import DUMMY_API_KEY, expand_env


def test_defaults_merged_under_user_config() -> None:
    config = LLMConfig.from_rasa({"model": "gpt-4o", "temperature": 0.3}, COMMAND_GENERATOR_DEFAULTS)
    assert config.provider == "openai"
    assert config.model == "gpt-4o"
    assert config.temperature == 0.3
    assert config.max_tokens == 256
    assert config.timeout == 7.0


def test_no_user_config_gives_component_defaults() -> None:
    config = LLMConfig.from_rasa(None, REPHRASER_DEFAULTS)
    assert (config.model, config.max_tokens, config.temperature) == ("gpt-4o-mini", 4096, 0.0)


def test_legacy_spellings_are_accepted() -> None:
    config = LLMConfig.from_rasa(
        {
            "type": "openai",
            "model_name": "gpt-4",
            "request_timeout": 3,
            "openai_api_base": "http://127.0.0.1:9/v1",
            "max_tokens": 10,
        },
        COMMAND_GENERATOR_DEFAULTS,
    )
    assert config.model == "gpt-4"
    assert config.timeout == 3.0
    assert config.api_base == "http://127.0.0.1:9/v1"
    assert config.max_tokens == 10


def test_canonical_key_wins_over_alias() -> None:
    config = LLMConfig.from_rasa({"model": "gpt-4o", "model_name": "gpt-4"})
    assert config.model == "gpt-4o"


def test_other_provider_ignores_defaults() -> None:
    config = LLMConfig.from_rasa(
        {"provider": "self-hosted", "model": "llama", "api_base": "http://127.0.0.1:8000/v1"},
        COMMAND_GENERATOR_DEFAULTS,
    )
    assert config.provider == "self-hosted"
    assert config.max_tokens is None
    assert config.timeout is None


def test_deployment_without_provider_means_azure() -> None:
    config = LLMConfig.from_rasa({"deployment": "my-gpt4o", "api_version": "2024-02-15-preview"})
    assert config.provider == "azure"
    assert config.model is None
    assert config.model_label == "my-gpt4o"


def test_max_completion_tokens_spelling_is_kept_for_the_request() -> None:
    config = LLMConfig.from_rasa({"max_completion_tokens": 99}, COMMAND_GENERATOR_DEFAULTS)
    assert config.max_tokens == 99
    assert config.request_kwargs("chat")["max_completion_tokens"] == 99
    assert "max_tokens" not in config.request_kwargs("chat")


def test_extra_kwargs_forwarded_and_unknown_ones_go_to_extra_body() -> None:
    config = LLMConfig.from_rasa(
        {"model": "m", "top_p": 0.5, "seed": 3, "top_k": 40, "num_retries": 2, "use_chat_completions_endpoint": 1}
    )
    kwargs = config.request_kwargs("chat")
    assert kwargs["top_p"] == 0.5 and kwargs["seed"] == 3
    assert kwargs["extra_body"] == {"top_k": 40}
    assert "num_retries" not in kwargs and "use_chat_completions_endpoint" not in kwargs
    assert config.sampling_params() == {"temperature": 0.0, "top_p": 0.5, "seed": 3, "top_k": 40}


@pytest.mark.parametrize("key", ["stream", "n"])
def test_forbidden_keys(key: str) -> None:
    with pytest.raises(LLMConfigError, match=key):
        LLMConfig.from_rasa({"model": "m", key: True})


def test_unknown_provider_is_rejected() -> None:
    with pytest.raises(LLMConfigError, match="anthropic"):
        LLMConfig.from_rasa({"provider": "anthropic", "model": "claude"})


def test_model_group_uses_first_model() -> None:
    group = {"id": "g", "models": [{"provider": "openai", "model": "gpt-4o-2024-11-20", "top_p": 0.0}]}
    config = LLMConfig.from_model_group(group, COMMAND_GENERATOR_DEFAULTS)
    assert config.model == "gpt-4o-2024-11-20"
    assert config.max_tokens == 256
    with pytest.raises(LLMConfigError, match="model_group"):
        LLMConfig.from_rasa({"model_group": "g"})


def test_api_key_never_in_repr() -> None:
    config = LLMConfig.from_rasa({"model": "gpt-4o", "api_key": "sk-literal-secret-value"})
    assert "sk-literal" not in repr(config)
    endpoint = config.resolve_endpoint({})
    assert "sk-literal" not in repr(endpoint)
    assert "sk-literal" not in str(endpoint.client_key())


def test_openai_env_resolution() -> None:
    config = LLMConfig.from_rasa({"model": "openai/gpt-4o"})
    env = {"OPENAI_API_KEY": "sk-env", "OPENAI_BASE_URL": "http://127.0.0.1:1234/v1/"}
    endpoint = config.resolve_endpoint(env)
    assert endpoint.api_key == "sk-env"
    assert endpoint.base_url == "http://127.0.0.1:1234/v1"
    assert endpoint.model == "gpt-4o"
    assert config.resolve_endpoint({"OPENAI_API_KEY": "k"}).base_url is None


def test_api_base_in_config_wins_over_env() -> None:
    config = LLMConfig.from_rasa({"model": "gpt-4o", "api_base": "http://127.0.0.1:5/v1"})
    endpoint = config.resolve_endpoint({"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://127.0.0.1:6/v1"})
    assert endpoint.base_url == "http://127.0.0.1:5/v1"


def test_missing_openai_key_is_a_config_error() -> None:
    with pytest.raises(LLMConfigError, match="OPENAI_API_KEY"):
        LLMConfig.from_rasa({"model": "gpt-4o"}).resolve_endpoint({})


def test_env_var_references_expand_only_at_call_time() -> None:
    config = LLMConfig.from_rasa({"model": "gpt-4o", "api_base": "${MY_BASE}", "api_key": "${MY_KEY}"})
    assert config.api_base == "${MY_BASE}"
    endpoint = config.resolve_endpoint({"MY_BASE": "http://127.0.0.1:7/v1", "MY_KEY": "sk-x"})
    assert (endpoint.base_url, endpoint.api_key) == ("http://127.0.0.1:7/v1", "sk-x")
    with pytest.raises(LLMConfigError, match="MY_KEY"):
        config.resolve_endpoint({"MY_BASE": "http://127.0.0.1:7/v1"})


def test_expand_env_leaves_unknown_variables() -> None:
    assert expand_env("a-$X-${Y}-$Z", {"X": "1", "Y": "2"}) == "a-1-2-$Z"


def test_self_hosted_gets_dummy_key_and_never_the_openai_key() -> None:
    config = LLMConfig.from_rasa({"provider": "self-hosted", "model": "hosted_vllm/llama", "api_base": "http://h/v1"})
    endpoint = config.resolve_endpoint({"OPENAI_API_KEY": "sk-real-openai"})
    assert endpoint.api_key == DUMMY_API_KEY
    assert endpoint.model == "llama"
    with pytest.raises(LLMConfigError, match="api_base"):
        LLMConfig.from_rasa({"provider": "self-hosted", "model": "llama"}).resolve_endpoint({})


def test_azure_env_resolution() -> None:
    config = LLMConfig.from_rasa({"provider": "azure", "deployment": "${DEPLOY}", "model": "gpt-4o"})
    env = {
        "AZURE_OPENAI_API_KEY": "az-key",
        "AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:8",
        "AZURE_API_VERSION": "2024-02-15-preview",
        "DEPLOY": "prod-4o",
    }
    endpoint = config.resolve_endpoint(env)
    assert endpoint.client_kind == "azure"
    assert (endpoint.api_key, endpoint.base_url, endpoint.api_version, endpoint.model) == (
        "az-key",
        "http://127.0.0.1:8",
        "2024-02-15-preview",
        "prod-4o",
    )
    env2 = {"AZURE_API_KEY": "k2", "AZURE_API_BASE": "http://b", "OPENAI_API_VERSION": "v", "DEPLOY": "d"}
    assert config.resolve_endpoint(env2).api_key == "k2"
    with pytest.raises(LLMConfigError, match="API key"):
        config.resolve_endpoint({"DEPLOY": "d"})


def test_numbers_normalised_for_stable_keys() -> None:
    a = LLMConfig.from_rasa({"model": "m", "temperature": 0, "max_tokens": "5"})
    b = LLMConfig.from_rasa({"model": "m", "temperature": 0.0, "max_tokens": 5})
    assert a == b
    assert a.sampling_params() == b.sampling_params()
