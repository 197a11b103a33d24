"""The evaluation's scoring, without a model: answers and labels parsed with the project's grammar and compared
as command sets (order ignored, arguments counted), TP/FP/FN and P/R/F1 per command type, unparseable answers."""

from __future__ import annotations

import pytest

from pytest_cmdgen.trainer.command_metrics import (
    CommandParser,
    CommandScores,
    TypeCounts,
    command_text,
    flows_in_labels,
    infer_syntax,
    percentile,
    score,
    score_all,
)

V1 = CommandParser("v1", "3.10", ("search_rental_car", "opening_hours"))
V2 = CommandParser("v2", "3.12", ("search_rental_car", "opening_hours"))


def test_the_command_sets_are_compared_in_types_and_arguments_order_ignored() -> None:
    label = "StartFlow(search_rental_car)\nSetSlot(trip_destination, Basel)"
    assert score(V1, label, "SetSlot(trip_destination, Basel)\nStartFlow(search_rental_car)").exact
    assert score(V1, label, "  StartFlow(search_rental_car)\n\nSetSlot(trip_destination, 'Basel')").exact
    wrong_value = score(V1, label, "StartFlow(search_rental_car)\nSetSlot(trip_destination, Bern)")
    assert not wrong_value.exact and not wrong_value.unparseable
    assert [command_text(k) for k in wrong_value.got - wrong_value.expected] == [
        "SetSlot(name=trip_destination, value=Bern)"
    ]
    assert not score(V1, label, "StartFlow(search_rental_car)").exact  # a command missing
    assert score(V1, "Clarify(search_rental_car, opening_hours)", "Clarify(opening_hours, search_rental_car)").exact
    # The project's parser decides: a flow the project does not have is dropped, as Rasa drops it.
    assert score(V1, "StartFlow(opening_hours)", "StartFlow(book_hotel)").unparseable
    # The generator's own syntax: v2 labels and answers.
    v2_label = "start flow search_rental_car\nset slot trip_destination Basel"
    assert score(V2, v2_label, "set slot trip_destination Basel\nstart flow search_rental_car").exact
    assert score(V2, "start flow opening_hours", "StartFlow(opening_hours)").unparseable  # v1 text in a v2 project


def test_no_command_stands_for_cannot_handle_as_in_rasa() -> None:
    v1_312 = CommandParser("v1", "3.12", ("search_rental_car",))
    explicit = score(v1_312, "CannotHandle()", "CannotHandle()")
    assert explicit.exact and not explicit.unparseable  # the dataset writes it; Rasa reads nothing, then falls back
    garbage = score(v1_312, "CannotHandle()", "no idea")
    assert garbage.exact and garbage.unparseable  # the same command in the end, but flagged
    assert score(V2, "cannot handle", "cannot handle").exact and not score(V2, "x", "cannot handle").unparseable
    assert [command_text(k) for k in garbage.got] == ["CannotHandle()"]


@pytest.mark.parametrize("answer", ["", "I think the user wants a car", "StartFlow(", "<|im_end|>"])
def test_an_answer_without_a_command_is_unparseable(answer: str) -> None:
    scored = score(V1, "CancelFlow()", answer)
    assert scored.unparseable and not scored.exact


def test_true_and_false_positives_and_false_negatives_per_command_type() -> None:
    labels = [
        "StartFlow(search_rental_car)\nSetSlot(trip_destination, Basel)",  # answered exactly
        "SetSlot(car_type, suv)",  # wrong value: one FP and one FN for SetSlot
        "CancelFlow()",  # unparseable answer: one FN
        "StartFlow(opening_hours)",  # a spurious extra CancelFlow: one FP
    ]
    answers = [
        "SetSlot(trip_destination, Basel)\nStartFlow(search_rental_car)",
        "SetSlot(car_type, van)",
        "no idea",
        "StartFlow(opening_hours)\nCancelFlow()",
    ]
    scores = score_all(V1, labels, answers)
    assert (scores.exact_matches, scores.unparseable) == (1, 1)
    counts = {name: (c.tp, c.fp, c.fn) for name, c in scores.per_type.items()}
    # The unparseable answer stands for CannotHandle, as Rasa's fallback makes it: a false positive of its own.
    assert counts == {"StartFlow": (2, 0, 0), "SetSlot": (1, 1, 1), "CancelFlow": (0, 1, 1), "CannotHandle": (0, 1, 0)}
    document = scores.as_dict()
    assert (document["exact_match"], document["unparseable_share"]) == (0.25, 0.25)
    assert document["per_command"]["SetSlot"] == {
        "tp": 1, "fp": 1, "fn": 1, "support": 2, "precision": 0.5, "recall": 0.5, "f1": 0.5
    }  # fmt: skip
    assert document["per_command"]["CancelFlow"]["f1"] == 0.0
    assert document["micro"] == {
        "tp": 3, "fp": 3, "fn": 2, "support": 5, "precision": 0.5, "recall": 0.6, "f1": 0.5455
    }  # fmt: skip


def test_rates_of_edge_cases() -> None:
    assert (TypeCounts().precision, TypeCounts().recall, TypeCounts().f1) == (0.0, 0.0, 0.0)
    assert TypeCounts(tp=3, fp=1, fn=0).f1 == pytest.approx(2 * 0.75 / 1.75)
    assert CommandScores().as_dict()["exact_match"] == 0.0
    assert percentile([], 50) == 0.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile(range(1, 101), 95) == pytest.approx(95.05)
    assert percentile([7.0], 95) == 7.0


def test_what_an_output_that_records_no_syntax_falls_back_to() -> None:
    assert infer_syntax(["StartFlow(a)\nSetSlot(b, c)"]) == "v1"
    assert infer_syntax(["start flow a", "set slot b c"]) == "v2"
    assert infer_syntax(["start flow a", "search and reply"]) == "v3"
    labels = ["StartFlow(search_rental_car)\nSetSlot(x, y)", "Clarify(opening_hours, faq)"]
    assert flows_in_labels(labels, "v1") == ("faq", "opening_hours", "search_rental_car")
    assert flows_in_labels(["start flow a_b", "disambiguate flows c d"], "v2") == ("a_b", "c", "d")
