"""Rasa version strings as comparable tuples, shared by the grammar and the prompt modules."""

from __future__ import annotations

import re

Version = tuple[int, int, int]

_VERSION_RE = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(rasa_version: str | Version) -> Version:
    """Turn ``"3.10.16"`` (or ``"3.13"``, ``"3.12.0rc1"``) into ``(3, 10, 16)``; a tuple passes through."""
    if isinstance(rasa_version, tuple):
        major, minor, *rest = rasa_version
        return (int(major), int(minor), int(rest[0]) if rest else 0)
    match = _VERSION_RE.match(str(rasa_version))
    if not match:
        raise ValueError(f"not a Rasa version: {rasa_version!r}")
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))
