"""Content-addressed record/replay cache of LLM and embedding responses.

Each response is one JSON file ``<dir>/<key[:2]>/<key>.json``; the key is the sha256 of the canonical JSON
of what determines the answer (kind, provider kind, model, messages or texts, sampling parameters) and
never of credentials, hostnames or ``api_base``. Writes go to a temporary file in the same directory
followed by :func:`os.replace`, so concurrent writers (threads or processes) of the same key are safe: the
last complete file wins and readers never see a partial file.

Reading is bounded: a record file larger than :data:`MAX_RECORD_BYTES` is not read, and one nested too
deeply for the JSON decoder is refused; either is a miss with a warning naming the file, like any other
unreadable record. (Records are JSON, which has no aliases: no YAML-style alias bomb can hide in one.)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

#: Bump when the key material or the record layout changes incompatibly.
CACHE_FORMAT_VERSION = 1

MAX_RECORD_BYTES = 64 * 1024 * 1024
"""Largest record file read (an embedding batch of a few hundred texts takes a few MB)."""

logger = logging.getLogger("pytest_cmdgen.llm")


class CacheMode(str, Enum):
    """How the cache is used.

    * ``use``: answer from the cache when recorded, else ask and record.
    * ``refresh``: always ask, overwrite the record.
    * ``replay``: never ask; a miss raises :class:`~pytest_cmdgen.llm.errors.CacheMissError`.
    * ``off``: neither read nor write.
    """

    USE = "use"
    REFRESH = "refresh"
    REPLAY = "replay"
    OFF = "off"

    @property
    def reads(self) -> bool:
        """Whether records are looked up."""
        return self in (CacheMode.USE, CacheMode.REPLAY)

    @property
    def writes(self) -> bool:
        """Whether answers are recorded."""
        return self in (CacheMode.USE, CacheMode.REFRESH)

    @property
    def network(self) -> bool:
        """Whether the network may be asked."""
        return self is not CacheMode.REPLAY


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def cache_key(
    kind: str,
    provider: str,
    model: str,
    payload: Sequence[Any],
    params: Mapping[str, Any],
) -> str:
    """The sha256 hex key of one request.

    Args:
        kind: ``"chat"`` or ``"embedding"``.
        provider: provider kind (``openai``, ``azure``, ``self-hosted``, ...).
        model: the model (Azure: deployment) name.
        payload: chat messages (list of ``{"role", "content"}``) or embedding input texts.
        params: sampling parameters (temperature, max_tokens, top_p, ...). Must not contain credentials.
    """
    material = {
        "v": CACHE_FORMAT_VERSION,
        "kind": kind,
        "provider": provider,
        "model": model,
        "payload": list(payload),
        "params": dict(params),
    }
    return hashlib.sha256(canonical_json(material).encode("utf-8")).hexdigest()


@dataclass
class CacheRecord:
    """What is stored for one key: the answer, its usage and model; never secrets.

    ``text`` is set for chat records, ``vectors`` for embedding records.
    """

    key: str
    kind: str
    model: str
    text: str | None = None
    vectors: list[list[float]] | None = None
    usage: dict[str, int] = field(default_factory=dict)
    response_model: str | None = None

    def to_json(self) -> str:
        """Serialise (pretty enough for diffs of recorded fixtures)."""
        return json.dumps({"format": CACHE_FORMAT_VERSION, **asdict(self)}, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> CacheRecord:
        """Parse a stored record (raises ``ValueError``/``KeyError``/``TypeError`` on a bad file)."""
        data = json.loads(text)
        if data.pop("format", None) != CACHE_FORMAT_VERSION:
            raise ValueError("unsupported cache record format")
        return cls(**data)


class ResponseCache:
    """A directory of content-addressed response records, used according to a :class:`CacheMode`."""

    def __init__(self, directory: str | os.PathLike[str], mode: CacheMode | str = CacheMode.USE) -> None:
        """Use ``directory`` (created on first write) in ``mode``."""
        self.directory = Path(directory)
        self.mode = CacheMode(mode)

    def __repr__(self) -> str:
        """Readable form with directory and mode."""
        return f"ResponseCache({str(self.directory)!r}, mode={self.mode.value!r})"

    def path_for(self, key: str) -> Path:
        """Where the record of ``key`` lives (sharded by the first two hex digits)."""
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> CacheRecord | None:
        """The stored record of ``key``; ``None`` when absent or unreadable (a corrupt file is a miss)."""
        path = self.path_for(key)
        try:
            size = path.stat().st_size
            if size > MAX_RECORD_BYTES:
                limit = MAX_RECORD_BYTES
                logger.warning("LLM cache record %s not read: %d bytes (limit %d); a miss", path, size, limit)
                return None
            record = CacheRecord.from_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except RecursionError:
            logger.warning("LLM cache record %s not read: JSON nested too deeply; a miss", path)
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return record if record.key == key else None

    def put(self, record: CacheRecord) -> Path:
        """Store ``record`` atomically (temp file in the same directory, then ``os.replace``)."""
        path = self.path_for(record.key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{record.key[:8]}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(record.to_json())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return path

    def __len__(self) -> int:
        """Number of stored records."""
        if not self.directory.is_dir():
            return 0
        return sum(1 for _ in self.directory.glob("??/*.json"))
