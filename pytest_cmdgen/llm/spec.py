"""``--cmdgen-llm SPEC``: one string naming the LLM that replaces the command generator's for a run.

Two forms:

* ``openai:MODEL`` or ``openai:MODEL@URL``: an OpenAI-compatible server through the ``openai`` back-end.
  With a URL the server is called as a ``self-hosted`` provider (no OpenAI key is sent to it); without one,
  as ``openai`` with the usual ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` environment variables.
* ``local:PATH``: a model directory (or a LoRA adapter directory, whose base is named in its
  ``adapter_config.json``) run in-process by the back-end registered as ``"local"`` (the trainer's).

:func:`parse_llm_spec` checks the text (a :class:`LLMSpecError` with one line saying what was expected);
:meth:`LLMSpec.config` turns it into the :class:`~pytest_cmdgen.llm.config.LLMConfig` the command generator
calls, keeping the generator's own ``max_tokens`` and timeout and always sampling greedily. A local model
enters cache keys with a fingerprint of its files, so a model retrained in the same directory is never
answered from the cache of the previous one.
"""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from pytest_cmdgen.llm.config import LLMConfig
from pytest_cmdgen.llm.errors import LLMConfigError

#: The name the in-process model back-end is registered under.
LOCAL_BACKEND = "local"

#: The forms a spec may take, for usage messages.
SPEC_FORMS = "openai:MODEL[@URL] or local:PATH"

#: Files of a model directory that define its answers: weights, configs, tokenizer, chat template (their
#: names, sizes and times are hashed). Reports written into the directory (``evaluation.json``,
#: ``metrics.json``, ``e2e_comparison.json``) are not among them, so writing one keeps the cache key.
_FINGERPRINT_PATTERNS = (
    "adapter_config.json",
    "adapter_model.*",
    "config.json",
    "generation_config.json",
    "*.safetensors",
    "*.safetensors.index.json",
    "*.bin",
    "*.bin.index.json",
    "tokenizer*",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
    "*.model",
    "vocab*",
    "merges.txt",
)


class LLMSpecError(LLMConfigError, ValueError):
    """A ``--cmdgen-llm`` value that is not of a known form; the message says what was expected."""


@dataclass(frozen=True)
class LLMSpec:
    """A parsed ``--cmdgen-llm`` value.

    Attributes:
        kind: ``"openai"`` or ``"local"``.
        model: the model name sent to the server (openai), or the model directory as given (local).
        url: the server's base URL (openai with ``@URL``), else ``None``.
        path: the model directory, resolved (local), else ``None``.
    """

    kind: str
    model: str
    url: str | None = None
    path: Path | None = None

    @property
    def label(self) -> str:
        """How the session header names the model: ``local:/abs/path`` or ``openai:model@url``."""
        if self.kind == LOCAL_BACKEND:
            return f"local:{self.path}"
        return f"openai:{self.model}" + (f"@{self.url}" if self.url else "")

    def config(self, base: LLMConfig | None = None) -> LLMConfig:
        """The command generator's LLM config for this spec.

        ``base`` (the project's generator config) gives ``max_tokens`` and the timeout; the temperature is
        always 0 (greedy) and the provider's extras are not carried over (they belong to the other model).
        """
        max_tokens = base.max_tokens if base is not None else None
        timeout = base.timeout if base is not None else None
        if self.kind == LOCAL_BACKEND:
            assert self.path is not None
            return LLMConfig(
                provider=LOCAL_BACKEND,
                backend=LOCAL_BACKEND,
                model=str(self.path),
                max_tokens=max_tokens,
                extra={"model_fingerprint": model_fingerprint(self.path)},
            )
        return LLMConfig(
            provider="self-hosted" if self.url else "openai",
            model=self.model,
            api_base=self.url,
            max_tokens=max_tokens,
            timeout=timeout,
        )


def parse_llm_spec(text: str, base_dir: Path | None = None) -> LLMSpec:
    """Parse ``openai:MODEL[@URL]`` or ``local:PATH``; a relative PATH resolves against ``base_dir``.

    Raises:
        LLMSpecError: an unknown form, an empty model, a URL that is not http(s), or a local path that is
            not a model directory.
    """
    raw = text.strip()
    kind, sep, rest = raw.partition(":")
    kind = kind.strip().lower()
    rest = rest.strip()
    if not sep or kind not in ("openai", LOCAL_BACKEND):
        raise LLMSpecError(f"expected {SPEC_FORMS}, got {text!r}")
    if kind == LOCAL_BACKEND:
        if not rest:
            raise LLMSpecError(f"local: needs a model directory (local:PATH), got {text!r}")
        path = Path(rest).expanduser()
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        path = path.resolve()
        if not path.is_dir():
            raise LLMSpecError(f"local:PATH: no such directory: {path}")
        if not (path / "config.json").is_file() and not (path / "adapter_config.json").is_file():
            raise LLMSpecError(
                f"local:PATH: {path} is not a model directory (it has neither config.json nor adapter_config.json)"
            )
        return LLMSpec(LOCAL_BACKEND, str(path), path=path)
    model, at, url = rest.rpartition("@") if "@" in rest else (rest, "", "")
    model, url = model.strip(), url.strip()
    if not model:
        raise LLMSpecError(f"openai: needs a model name (openai:MODEL[@URL]), got {text!r}")
    if at:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise LLMSpecError(f"openai:MODEL@URL: expected an http(s) URL after '@', got {url!r}")
    return LLMSpec("openai", model, url=url.rstrip("/") or None)


def model_fingerprint(path: Path) -> str:
    """A short digest of a model directory's files (names, sizes, modification times), read in no time.

    Enters the cache key of a local model's answers: retraining into the same directory changes it. Only the
    files matching the patterns above count, so reports written next to the model do not.
    """
    digest = hashlib.sha256()
    for file in sorted(path.iterdir()):
        if file.is_file() and any(fnmatch.fnmatchcase(file.name, pattern) for pattern in _FINGERPRINT_PATTERNS):
            stat = file.stat()
            digest.update(f"{file.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


__all__ = ["LOCAL_BACKEND", "SPEC_FORMS", "LLMSpec", "LLMSpecError", "model_fingerprint", "parse_llm_spec"]
