"""Find E2E test files and their test cases without pytest, with the ids the pytest items get."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pytest_cmdgen.e2e.parser import looks_like_e2e_file, parse_e2e_text, read_e2e_text, resembles_e2e_file
from pytest_cmdgen.session.config import SessionConfig
from pytest_cmdgen.session.runner import CaseRef

YAML_SUFFIXES = (".yml", ".yaml")


def is_e2e_file(path: Path) -> bool:
    """True for a YAML file to collect as an E2E file: one whose text has a top-level ``test_cases:`` key
    (malformed files included), and one that looks meant as one (a misspelt ``test_cases`` key, a top-level
    list of test cases, bytes that are not UTF-8), so that parsing it reports the mistake with file:line.
    Other YAML files (a domain, flows, config, a command script…) are not E2E files."""
    if path.suffix not in YAML_SUFFIXES:
        return False
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError:
        return False
    except UnicodeDecodeError:
        return True
    return looks_like_e2e_file(text) or resembles_e2e_file(text)


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
    A file that does not parse, or looks meant as an E2E file but is not one, raises its
    :class:`~pytest_cmdgen.errors.CmdgenInputError` (file:line), as pytest reports it as a collection error.
    """
    base = base or Path.cwd()
    rephrase = config.prepare and config.num_rephrases > 0
    cases: list[CaseRef] = []
    for path in find_e2e_files(paths):
        shown = display_path(path, base)
        suite = parse_e2e_text(read_e2e_text(path, shown), shown)
        file_id = config.shown(path)
        cases.extend(
            CaseRef(f"{file_id}::{case.name}", path, suite, case, rephrase=rephrase) for case in suite.test_cases
        )
    return cases


__all__ = ["discover_cases", "display_path", "find_e2e_files", "is_e2e_file"]
