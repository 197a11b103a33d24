"""The package's import graph, as grimp reads it from the source (TYPE_CHECKING and function-level imports
included): no import cycle between modules, and pytest imported only by the pytest skin and the fixtures.

``.importlinter`` holds the layer contracts, which compare packages; a cycle inside one package (two modules of
``runtime`` importing each other) is invisible to them, so it is checked here, module by module.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import pairwise

import grimp
import pytest

PACKAGE = "pytest_cmdgen"
PYTEST_MODULES = ("pytest", "_pytest", "xdist")
MAY_IMPORT_PYTEST = (f"{PACKAGE}.plugin", f"{PACKAGE}.testing")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # No cache: a stale .grimp_cache must not hide an import that was just added.
    return grimp.build_graph(
        PACKAGE, include_external_packages=True, exclude_type_checking_imports=False, cache_dir=None
    )


def _internal(graph: grimp.ImportGraph) -> set[str]:
    return {m for m in graph.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")}


def _within(module: str, packages: Iterable[str]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def strongly_connected_components(graph: grimp.ImportGraph, modules: set[str]) -> Iterator[list[str]]:
    """Tarjan's algorithm (iterative, so a deep chain cannot hit the recursion limit) over ``modules``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    counter = 0
    for root in sorted(modules):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = []
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work.append((root, iter(sorted(graph.find_modules_directly_imported_by(root) & modules))))
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph.find_modules_directly_imported_by(succ) & modules))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    yield sorted(component)


def describe_cycle(graph: grimp.ImportGraph, component: list[str]) -> str:
    """One concrete cycle through the component, each arrow with the importing line(s)."""
    members = set(component)
    start = component[0]
    first = sorted(graph.find_modules_directly_imported_by(start) & members)[0]
    # Every path between two members of a strongly connected component stays inside it.
    back = graph.find_shortest_chain(importer=first, imported=start)
    assert back is not None
    cycle = [start, *back]
    lines = [f"import cycle among {len(component)} modules: {', '.join(component)}", "one cycle:"]
    for importer, imported in pairwise(cycle):
        where = ", ".join(
            f"line {d['line_number']}: {d['line_contents']}"
            for d in graph.get_import_details(importer=importer, imported=imported)
        )
        lines.append(f"  {importer} -> {imported}  ({where})")
    return "\n".join(lines)


def test_graph_sees_the_package(graph: grimp.ImportGraph) -> None:
    # Guards the checks below against passing on an empty or external-free graph.
    modules = _internal(graph)
    assert f"{PACKAGE}.plugin.hooks" in modules and f"{PACKAGE}.runtime.flows" in modules
    assert graph.direct_import_exists(importer=f"{PACKAGE}.plugin.hooks", imported="pytest")


def test_no_import_cycle_between_modules(graph: grimp.ImportGraph) -> None:
    modules = _internal(graph)
    cycles = [c for c in strongly_connected_components(graph, modules) if len(c) > 1]
    assert not cycles, "\n\n".join(describe_cycle(graph, c) for c in cycles)


def test_only_the_plugin_and_the_fixtures_import_pytest(graph: grimp.ImportGraph) -> None:
    offenders = []
    for external in PYTEST_MODULES:
        if external not in graph.modules:
            continue
        for importer in sorted(graph.find_modules_that_directly_import(external)):
            if not _within(importer, MAY_IMPORT_PYTEST):
                details = graph.get_import_details(importer=importer, imported=external)
                where = ", ".join(f"line {d['line_number']}: {d['line_contents']}" for d in details)
                offenders.append(f"{importer} imports {external} ({where})")
    assert not offenders, "only pytest_cmdgen.plugin and pytest_cmdgen.testing may import pytest:\n" + "\n".join(
        offenders
    )


def test_the_cycle_check_finds_a_cycle() -> None:
    """The detector itself: a three-module cycle inside one package, next to an acyclic part."""
    graph = grimp.ImportGraph()
    for importer, imported in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d"), ("p.e", "p.d")]:
        graph.add_import(importer=importer, imported=imported, line_number=1, line_contents=f"import {imported}")
    modules = set(graph.modules)
    components = [c for c in strongly_connected_components(graph, modules) if len(c) > 1]
    assert components == [["p.a", "p.b", "p.c"]]
    text = describe_cycle(graph, components[0])
    assert "p.a -> p.b" in text and "p.b -> p.c" in text and "p.c -> p.a" in text
