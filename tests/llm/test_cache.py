"""ResponseCache: content keys, modes, atomic concurrent writes; cache modes through the service."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from pytest_cmdgen.llm import CacheMissError, CacheMode, CacheRecord, LLMConfig, ResponseCache, cache_key
from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer

MESSAGES = [{"role": "user", "content": "hello"}]


def _key_for(config: LLMConfig, env: dict[str, str]) -> str:
    return cache_key("chat", config.provider, config.model_label, MESSAGES, config.sampling_params(env))


def test_key_is_stable_and_sensitive_to_content() -> None:
    params = {"temperature": 0.0, "max_tokens": 256}
    key = cache_key("chat", "openai", "gpt-4o", MESSAGES, params)
    assert key == cache_key("chat", "openai", "gpt-4o", [dict(m) for m in MESSAGES], dict(reversed(params.items())))
    assert len(key) == 64
    assert key != cache_key("chat", "openai", "gpt-4o-mini", MESSAGES, params)
    assert key != cache_key("chat", "openai", "gpt-4o", [{"role": "user", "content": "hello!"}], params)
    assert key != cache_key("chat", "openai", "gpt-4o", MESSAGES, {**params, "temperature": 0.5})
    assert key != cache_key("embedding", "openai", "gpt-4o", MESSAGES, params)
    assert key != cache_key("chat", "azure", "gpt-4o", MESSAGES, params)


def test_key_independent_of_credentials_and_api_base() -> None:
    a = LLMConfig.from_rasa({"model": "gpt-4o", "api_key": "${KEY_A}", "api_base": "http://127.0.0.1:1/v1"})
    b = LLMConfig.from_rasa({"model": "gpt-4o", "api_key": "${KEY_B}", "api_base": "http://127.0.0.1:2/v1"})
    c = LLMConfig.from_rasa({"model": "gpt-4o"})
    env = {"KEY_A": "sk-aaaaaaaaaaaa", "KEY_B": "sk-bbbbbbbbbbbb", "OPENAI_API_KEY": "sk-cccccccccc"}
    assert _key_for(a, env) == _key_for(b, env) == _key_for(c, env)
    assert _key_for(a, env) == _key_for(a, {})


def test_record_roundtrip_sharded(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    key = "ab" + "0" * 62
    path = cache.put(CacheRecord(key=key, kind="chat", model="m", text="StartFlow(x)", usage={"prompt_tokens": 3}))
    assert path == tmp_path / "ab" / f"{key}.json"
    record = cache.get(key)
    assert record is not None and record.text == "StartFlow(x)" and record.usage == {"prompt_tokens": 3}
    assert cache.get("cd" + "0" * 62) is None
    assert len(cache) == 1
    assert not [p for p in path.parent.iterdir() if p.suffix == ".tmp"]


def test_corrupt_record_is_a_miss(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    key = "ef" + "1" * 62
    cache.path_for(key).parent.mkdir(parents=True)
    cache.path_for(key).write_text("{not json", encoding="utf-8")
    assert cache.get(key) is None


def _writer(directory: str, key: str, worker: int, rounds: int) -> None:
    cache = ResponseCache(directory)
    for i in range(rounds):
        cache.put(CacheRecord(key=key, kind="chat", model="m", text=f"w{worker}-{i}-" + "x" * 20000))
        record = cache.get(key)
        assert record is not None and record.text is not None and record.text.endswith("x" * 20000)


def test_atomic_concurrent_writes_from_processes(tmp_path: Path) -> None:
    key = "9f" + "2" * 62
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), key, w, 30)) for w in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    record = ResponseCache(tmp_path).get(key)
    assert record is not None and record.text is not None and record.text.startswith("w")
    leftovers = [p.name for p in (tmp_path / "9f").iterdir() if p.name != f"{key}.json"]
    assert leftovers == []


# ---------------------------------------------------------------------------------------------- via service
def test_use_mode_records_then_serves(
    scripted: ScriptedLLMServer, make_service, gpt4o: LLMConfig, tmp_path: Path
) -> None:
    scripted.add_rule("hello", "StartFlow(greet)")
    service = make_service(cache=ResponseCache(tmp_path, "use"))
    first = service.chat(gpt4o, "hello", purpose="annotation")
    second = service.chat(gpt4o, "hello", purpose="annotation")
    assert (first.cached, second.cached) == (False, True)
    assert second.text == first.text == "StartFlow(greet)"
    assert second.usage == first.usage
    assert scripted.counts["chat"] == 1
    usage = service.meter.get("annotation")
    assert (usage.calls, usage.cache_hits) == (1, 1)
    stored = (tmp_path / first.cache_key[:2] / f"{first.cache_key}.json").read_text(encoding="utf-8")
    assert "sk-" not in stored and "127.0.0.1" not in stored
    assert json.loads(stored)["text"] == "StartFlow(greet)"


def test_refresh_mode_always_asks_and_overwrites(
    scripted: ScriptedLLMServer, make_service, gpt4o: LLMConfig, tmp_path: Path
) -> None:
    make_service(cache=ResponseCache(tmp_path, "use")).chat(gpt4o, "hello")
    scripted.add_rule("hello", "CancelFlow()")
    refreshed = make_service(cache=ResponseCache(tmp_path, CacheMode.REFRESH)).chat(gpt4o, "hello")
    assert not refreshed.cached and refreshed.text == "CancelFlow()"
    replayed = make_service(cache=ResponseCache(tmp_path, "replay")).chat(gpt4o, "hello")
    assert replayed.cached and replayed.text == "CancelFlow()"
    assert scripted.counts["chat"] == 2


def test_replay_miss_names_key_and_model_and_never_calls(
    scripted: ScriptedLLMServer, make_service, gpt4o: LLMConfig, tmp_path: Path
) -> None:
    service = make_service(cache=ResponseCache(tmp_path, "replay"))
    with pytest.raises(CacheMissError) as info:
        service.chat(gpt4o, "never recorded")
    message = str(info.value)
    assert info.value.key in message
    assert "gpt-4o" in message
    assert "--cmdgen-cache-mode use" in message
    assert scripted.counts["chat"] == 0
    assert service.meter.get("annotation").failures == 1


def test_off_mode_neither_reads_nor_writes(
    scripted: ScriptedLLMServer, make_service, gpt4o: LLMConfig, tmp_path: Path
) -> None:
    service = make_service(cache=ResponseCache(tmp_path, "off"))
    assert not service.chat(gpt4o, "a").cached
    assert not service.chat(gpt4o, "a").cached
    assert scripted.counts["chat"] == 2
    assert len(ResponseCache(tmp_path)) == 0


def test_embeddings_are_cached(scripted: ScriptedLLMServer, make_service, tmp_path: Path) -> None:
    config = LLMConfig.from_rasa({"model": "text-embedding-3-small"})
    service = make_service(cache=ResponseCache(tmp_path, "use"))
    first = service.embed(config, ["a", "b"])
    second = service.embed(config, ["a", "b"])
    assert second.cached and second.vectors == first.vectors
    assert scripted.counts["embeddings"] == 1
