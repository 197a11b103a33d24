"""Shared fixtures for pytest-cmdgen's own test suite."""

from __future__ import annotations

from pathlib import Path

import datasets  # noqa: F401  (see below)
import pytest

from tests.support.paths import ASSISTANTS

# `datasets` registers pyarrow extension types when first imported, and a second import in the same process
# fails ("type extension ... already defined"). pytester's in-process runs drop the modules they imported,
# so a test that imported `datasets` inside one would make the next import fail: import it once, up front.


@pytest.fixture(scope="session")
def assistants_dir() -> Path:
    """The shared starter-pack assistants (``../shared/assistants`` beside the repository)."""
    if not ASSISTANTS.is_dir():
        pytest.fail(f"shared assistants not found at {ASSISTANTS}; the suite needs ../shared beside the repository")
    return ASSISTANTS


@pytest.fixture(scope="session")
def banking_dir(assistants_dir: Path) -> Path:
    """The retail-banking starter pack."""
    return assistants_dir / "starterpack-retail-banking-en"


@pytest.fixture(scope="session")
def telco_dir(assistants_dir: Path) -> Path:
    """The telco starter pack."""
    return assistants_dir / "starterpack-telco-en"
