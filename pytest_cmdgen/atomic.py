"""Files written whole or not at all: a temporary file beside the target, then a rename over it.

A reader (or a crash, a Ctrl-C) never sees half a file. The file gets the mode a plain ``open(path, "w")``
would give it (``0o666`` less the process's umask), not ``mkstemp``'s private ``0o600``, unless ``mode``
says otherwise (e.g. the mode of the file being replaced).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _read_umask() -> int:
    try:  # Linux says it without changing it
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    # Elsewhere os.umask can only be read by setting it: done once, at import.
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


_UMASK = _read_umask()


def write_text_atomic(path: str | Path, text: str, *, mode: int | None = None) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically (``\\n`` stays ``\\n`` on every system), creating its
    directory; ``mode`` is the file's permission bits (default: ``0o666`` less the umask, as a plain write).
    Returns the path."""
    return write_bytes_atomic(path, text.encode("utf-8"), mode=mode)


def write_bytes_atomic(path: str | Path, data: bytes, *, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` atomically, creating its directory; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, (0o666 & ~_UMASK) if mode is None else mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


__all__ = ["write_bytes_atomic", "write_text_atomic"]
