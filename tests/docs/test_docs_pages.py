"""The docs pages: the configuration reference is what the code generates, every page is reachable from the
README, and every relative link (and its #anchor) points at something that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_cmdgen.plugin.reference import configuration_markdown, readme_with_options
from tests.support.paths import REPO

DOCS = REPO / "docs"
PAGES = sorted(DOCS.glob("*.md"))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
STALE = "stale: run `python -m pytest_cmdgen.plugin.reference --write` (rewrites docs/configuration.md, README table)"


def test_the_configuration_reference_is_what_the_options_table_and_training_config_generate() -> None:
    assert (DOCS / "configuration.md").read_text(encoding="utf-8") == configuration_markdown(), STALE


def test_the_readme_options_table_is_what_the_writer_would_write() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme_with_options(readme) == readme, STALE


def test_every_docs_page_is_linked_from_the_docs_index_and_the_index_from_the_readme() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    linked = {target.split("#")[0] for target in LINK.findall(index)}
    assert {page.name for page in PAGES} - {"README.md"} <= linked
    assert "docs/README.md" in LINK.findall((REPO / "README.md").read_text(encoding="utf-8"))


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {slug(line.lstrip("#")) for line in text.splitlines() if re.match(r"#{1,6} ", line)}


@pytest.mark.parametrize("page", [REPO / "README.md", *PAGES], ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_resolve(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+://|mailto:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.relative_to(REPO)}")
    assert not broken, f"{page.relative_to(REPO)}: broken links:\n" + "\n".join(broken)


def test_slugs_follow_github() -> None:
    assert slug("7. Knowledge (Enterprise Search) and chitchat") == "7-knowledge-enterprise-search-and-chitchat"
    assert slug("Training config keys") == "training-config-keys"
    assert slug("`--cmdgen-out DIR`") == "--cmdgen-out-dir"


def test_troubleshooting_covers_every_option_a_usage_error_names() -> None:
    """A new usage error in the plugin's start-up checks needs its row in docs/troubleshooting.md."""
    hooks = (REPO / "pytest_cmdgen" / "plugin" / "hooks.py").read_text(encoding="utf-8")
    named = set(re.findall(r"UsageError\(\s*f?\"(--cmdgen-[a-z-]+)", hooks))
    assert len(named) >= 4, named  # the check must keep finding what it checks
    documented = (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    assert sorted(flag for flag in named if f"`{flag}" not in documented) == []
