"""Find E2E test files and their test cases without pytest, with the ids the pytest items get."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pytest_cmdgen.e2e.parser import looks_like_e2e_file, parse_e2e_text
from pytest_cmdgen.errors import CmdgenInputError
from pytest_cmdgen.session.config import SessionConfig
from pytest_cmdgen.session.runner import CaseRef

YAML_SUFFIXES = (".yml", ".yaml")


def is_e2e_file(path: Path) -> bool:
    """True for a YAML file whose text has a top-level ``test_cases:`` key (malformed files included)."""
    if path.suffix not in YAML_SUFFIXES:
        return False
    try:
        return looks_like_e2e_file(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return False


def find_e2e_files(paths: Iterable[Path]) -> list[Path]:
    """The E2E files at or under ``paths``, each once, in sorted order."""
    found: set[Path] = set()
    for path in paths:
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        found.update(p.resolve() for p in candidates if p.is_file() and is_e2e_file(p))
    return sorted(found)


def display_path(path: Path, base: Path) -> Path:
    """``path`` as messages show it: relative to ``base`` (the invocation directory) when inside it."""
    try:
        return path.relative_to(base)
    except ValueError:
        return path


def discover_cases(paths: Iterable[Path], config: SessionConfig, base: Path | None = None) -> list[CaseRef]:
    """Every test case of the E2E files under ``paths``, with pytest's ids (``<file from rootdir>::<name>``).

    ``base`` is the directory paths are shown relative to in messages (default: the current directory).
    A file that does not parse raises its :class:`~pytest_cmdgen.errors.CmdgenInputError` (file:line).
    """
    base = base or Path.cwd()
    rephrase = config.prepare and config.num_rephrases > 0
    cases: list[CaseRef] = []
    for path in find_e2e_files(paths):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise CmdgenInputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=path) from None
        suite = parse_e2e_text(text, display_path(path, base))
        file_id = config.shown(path)
        cases.extend(
            CaseRef(f"{file_id}::{case.name}", path, suite, case, rephrase=rephrase) for case in suite.test_cases
        )
    return cases


__all__ = ["discover_cases", "display_path", "find_e2e_files", "is_e2e_file"]
