"""Train/validation split (reference §7): invariants, Rasa's cover example, formats, E2E split."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_cmdgen.recipe.datapoints import DataPoint
from pytest_cmdgen.recipe.split import (
    format_row,
    greedy_cover,
    group_data_points,
    split_data_points,
    split_test_suite,
    train_group_count,
)
from pytest_cmdgen.runtime.commands import (
    CancelFlow,
    ChitChat,
    Clarify,
    Command,
    Knowledge,
    SetSlot,
    SkipQuestion,
    StartFlow,
)

KINDS: list[Command] = [
    StartFlow("f"),
    SetSlot("s", "v"),
    CancelFlow(),
    ChitChat(),
    Knowledge(),
    SkipQuestion(),
    Clarify(("a", "b")),
]


def point(test_id: str, *commands: Command, n: int = 0) -> DataPoint:
    return DataPoint(f"prompt {test_id} {n}", "out", test_id, "u", None, tuple(commands), n)


def test_rasa_cover_example():
    groups = group_data_points(
        [
            point("t1", SetSlot("a", "1"), CancelFlow()),
            point("t2", CancelFlow()),
            point("t3", StartFlow("x")),
            point("t4", SetSlot("a", "1"), StartFlow("x")),
        ]
    )
    assert greedy_cover(groups) == [0, 2]


def test_split_small_example_and_warnings():
    points = [
        point("t1", StartFlow("a")),
        point("t1", StartFlow("a"), n=1),
        point("t2", SetSlot("x", "1")),
        point("t3", StartFlow("a")),
    ]
    result = split_data_points(points, train_frac=0.5, seed=1)
    assert result.cover == ("t1", "t2")
    assert result.train_test_ids == ["t1", "t2"]  # the cover already exceeds floor(3 * 0.5) = 1
    assert result.validation_test_ids == ["t3"]
    assert any("more than" in w for w in result.warnings)
    assert any("set slot" in w for w in result.warnings)  # missing from validation
    everything = split_data_points(points, train_frac=1.0)
    assert everything.validation == () and "the validation set is empty" in everything.warnings


@pytest.mark.parametrize("frac", [0.0, -0.1, 1.01, float("nan")])
def test_bad_train_frac(frac):
    with pytest.raises(ValueError):
        split_data_points([point("t", StartFlow("a"))], train_frac=frac)


def test_train_group_count_is_float_safe():
    assert train_group_count(100, 0.29) == 29
    assert train_group_count(10, 0.7) == 7
    assert train_group_count(3, 0.8) == 2


groups_strategy = st.lists(
    st.lists(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3), min_size=1, max_size=3),
    min_size=1,
    max_size=25,
)


def _points(spec):
    return [point(f"t{g:02d}", *cmds, n=i) for g, group in enumerate(spec) for i, cmds in enumerate(group)]


@settings(max_examples=150, deadline=None)
@given(spec=groups_strategy, frac=st.floats(min_value=0.01, max_value=1.0), seed=st.integers(0, 2**32))
def test_split_invariants(spec, frac, seed):
    points = _points(spec)
    result = split_data_points(points, train_frac=frac, seed=seed)
    train_ids, val_ids = result.train_test_ids, result.validation_test_ids
    # every group on exactly one side, whole
    assert sorted(train_ids + val_ids) == sorted({p.test_id for p in points})
    assert not set(train_ids) & set(val_ids)
    assert sorted(result.train_points + result.validation_points, key=lambda p: (p.test_id, p.step_index)) == sorted(
        points, key=lambda p: (p.test_id, p.step_index)
    )
    for group in result.train + result.validation:
        assert [p.step_index for p in group.points] == sorted(p.step_index for p in group.points)
    # every command type appears in train
    all_types = {c.command for p in points for c in p.commands}
    assert all_types == {c.command for p in result.train_points for c in p.commands}
    # the train fraction: at least floor(n * frac) groups, more only because of the cover
    wanted = train_group_count(len(spec), frac)
    assert len(train_ids) == max(wanted, len(result.cover))
    # reproducible for a seed
    assert split_data_points(points, train_frac=frac, seed=seed) == result


def test_different_seeds_shuffle_differently():
    points = _points([[[StartFlow("a")]]] * 30)
    orders = {tuple(split_data_points(points, 0.5, seed=s).validation_test_ids) for s in range(5)}
    assert len(orders) > 1


def test_formats():
    p = DataPoint("P", "C", "t", "u", None)
    assert format_row(p, "instruction") == {"prompt": "P", "completion": "C"}
    assert format_row(p, "conversational") == {
        "messages": [{"role": "user", "content": "P"}, {"role": "assistant", "content": "C"}]
    }
    with pytest.raises(ValueError, match="unknown output format"):
        format_row(p, "chatml")


def test_e2e_suite_split_keeps_top_level_keys_and_file_order():
    document = {
        "fixtures": [{"premium": [{"tier": "gold"}]}],
        "test_cases": [
            {"test_case": "a", "steps": []},
            {"test_case": "b", "steps": []},
            {"test_case": "c", "steps": []},
        ],
        "metadata": [{"m": {"k": 1}}],
    }
    train, validation = split_test_suite(document, "f.yml", ["f.yml::c", "f.yml::a", "g.yml::b"], ["f.yml::b"])
    assert list(train) == ["fixtures", "test_cases", "metadata"]
    assert [c["test_case"] for c in train["test_cases"]] == ["a", "c"]
    assert [c["test_case"] for c in validation["test_cases"]] == ["b"]
    assert split_test_suite(document, "f.yml", [], []) == (None, None)
