"""The prepare scheduler of xdist runs: whole files per worker, every file sent at the start, balanced by items."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pytest_cmdgen.plugin.xdist import whole_files_up_front


class FakeNode:
    """What the scheduler needs of a worker: it is sent item indices and told to shut down."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.sent: list[list[int]] = []
        self.shutting_down = False

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.append(list(indices))

    def shutdown(self) -> None:
        self.shutting_down = True


def test_every_file_goes_to_a_worker_at_the_start_the_biggest_first_to_the_least_loaded(
    pytester: pytest.Pytester,
) -> None:
    sizes = {"a.yml": 3, "b.yml": 10, "c.yml": 4, "d.yml": 6, "e.yml": 2}
    collection = [f"e2e/{file}::case {n}" for file, count in sizes.items() for n in range(count)]
    scheduler = whole_files_up_front(pytester.parseconfig("--tx", "2*popen"), None)
    nodes = [FakeNode("gw0"), FakeNode("gw1")]
    for node in nodes:
        scheduler.add_node(node)
    for node in nodes:
        scheduler.add_node_collection(node, collection)
    assert scheduler.collection_is_completed
    scheduler.schedule()

    def files(node: FakeNode) -> list[str]:
        return [collection[batch[0]].split("::")[0].removeprefix("e2e/") for batch in node.sent]

    # largest first, each to the worker with fewer items: b(10) | d(6), c(4); a(3) on a tie to the first; e(2)
    assert files(nodes[0]) == ["b.yml", "a.yml"]
    assert files(nodes[1]) == ["d.yml", "c.yml", "e.yml"]
    assert sorted(i for node in nodes for batch in node.sent for i in batch) == list(range(len(collection)))
    assert all(node.shutting_down for node in nodes)  # nothing left to send: each ends when its queue is done
    assert not scheduler.workqueue
