"""The output directory (reference §2.2, §2.3, §3): layout, determinism, atomicity, no secrets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from pytest_cmdgen.recipe.datapoints import build_all_data_points
from pytest_cmdgen.recipe.output import (
    SUMMARY_KEYS,
    RecipeOutput,
    atomic_directory,
    make_params,
    result_summary,
    sanitize_params,
    write_output,
)
from pytest_cmdgen.recipe.split import split_data_points
from tests.recipe.recipe_support import CAR_FILE, CAR_PASSING, car_conversation, serialize, with_passing

E2E_TEXT = """\
fixtures:
  - gold:
      - tier: gold
test_cases:
  - test_case: user books a car
    steps:
      - user: I'd like to book a car
  - test_case: user books a van
    fixtures: [gold]
    steps:
      - user: I'd like to book a van
  - test_case: failing one
    steps:
      - user: hi
"""


def _output(tmp_path: Path) -> RecipeOutput:
    e2e = tmp_path / "src" / "car_rental.yml"
    e2e.parent.mkdir(parents=True, exist_ok=True)
    e2e.write_text(E2E_TEXT, encoding="utf-8")
    conversations = [
        car_conversation(name="user books a van"),
        with_passing(car_conversation(), CAR_PASSING),
        car_conversation(file="other/trip.yml", name="ümlaut trip"),
    ]
    points = build_all_data_points(conversations, serialize)
    split = split_data_points(points, train_frac=0.5, seed=7)
    params = make_params(
        num_rephrases=3,
        rephrase_config={
            "prompt_template": None,
            "llm": {"model": "gpt-4o-mini", "api_key": "${KEY}", "max_tokens": 9},
        },
        model="models/m.tar.gz",
        endpoints="endpoints.yml",
        train_frac=0.5,
        output_format="instruction",
        out="output",
        seed=7,
    )
    other = tmp_path / "src" / "trip.yml"
    other.write_text("test_cases:\n  - test_case: ümlaut trip\n    steps: []\n", encoding="utf-8")
    return RecipeOutput(
        num_input_e2e_tests=4,
        conversations=conversations,
        data_points=points,
        split=split,
        params=params,
        e2e_sources={CAR_FILE: e2e, "other/trip.yml": other},
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_and_contents(tmp_path):
    output = _output(tmp_path)
    out = write_output(tmp_path / "output", output, serialize)
    tree = _tree(out)
    assert sorted(k for k in tree if not k.startswith("4_train_test_split/e2e_tests/")) == [
        "1_command_annotations/e2e_tests/car_rental.yml",
        "1_command_annotations/other/trip.yml",
        "2_rephrasings/e2e_tests/car_rental.yml",
        "2_rephrasings/other/trip.yml",
        "3_llm_finetune_data/llm_ft_data.jsonl",
        "4_train_test_split/ft_splits/train.jsonl",
        "4_train_test_split/ft_splits/val.jsonl",
        "params.yaml",
        "result_summary.yaml",
    ]
    sides = {k.split("/")[2] for k in tree if k.startswith("4_train_test_split/e2e_tests/")}
    assert sides <= {"train", "validation"} and "train" in sides
    # both test cases of the file are kept, sorted by test id; annotations carry no rephrasings
    annotations = yaml.safe_load(tree["1_command_annotations/e2e_tests/car_rental.yml"])
    assert [c["original_test_case"] for c in annotations["conversations"]] == [
        f"{CAR_FILE}::user books a car",
        f"{CAR_FILE}::user books a van",
    ]
    assert b"passing_rephrasings" not in tree["1_command_annotations/e2e_tests/car_rental.yml"]
    assert b"passing_rephrasings" in tree["2_rephrasings/e2e_tests/car_rental.yml"]
    # data points: one JSON object per line, raw UTF-8, Rasa's keys
    lines = tree["3_llm_finetune_data/llm_ft_data.jsonl"].decode("utf-8").split("\n")
    assert lines[-1] == "" and len(lines) - 1 == len(output.data_points) == 16 + 4 + 4
    first = json.loads(lines[0])
    assert list(first) == [
        "prompt",
        "output",
        "original_test_name",
        "original_user_utterance",
        "rephrased_user_utterance",
    ]
    assert "ümlaut" in tree["3_llm_finetune_data/llm_ft_data.jsonl"].decode("utf-8")
    train = [json.loads(x) for x in tree["4_train_test_split/ft_splits/train.jsonl"].decode().splitlines()]
    val = [json.loads(x) for x in tree["4_train_test_split/ft_splits/val.jsonl"].decode().splitlines()]
    assert all(list(r) == ["prompt", "completion"] for r in train + val)
    assert len(train) + len(val) == len(output.data_points)
    # E2E split: per source file, with its fixtures, only annotated tests
    e2e_files = [k for k in tree if k.startswith("4_train_test_split/e2e_tests/")]
    names = []
    for key in e2e_files:
        doc = yaml.safe_load(tree[key])
        names += [c["test_case"] for c in doc["test_cases"]]
        if key.endswith("car_rental.yml"):
            assert doc["fixtures"] == [{"gold": [{"tier": "gold"}]}]
    assert sorted(names) == ["user books a car", "user books a van", "ümlaut trip"]
    # summary: Rasa's keys in order
    summary_text = tree["result_summary.yaml"].decode()
    assert [line.split(":")[0] for line in summary_text.splitlines()] == list(SUMMARY_KEYS)
    summary = yaml.safe_load(summary_text)
    assert summary["num_input_e2e_tests"] == 4
    assert summary["num_annotated_conversations"] == 3
    assert summary["num_user_messages_across_conversations"] == 12
    assert summary["num_passing_rephrased_user_messages"] == 11
    assert summary["num_ft_data_points"] == 24
    # params: Rasa's keys first, no secrets, env references not expanded
    params = yaml.safe_load(tree["params.yaml"])["parameters"]
    assert list(params)[:8] == [
        "num_rephrases",
        "rephrase_config",
        "model",
        "endpoints",
        "remote-storage",
        "train_frac",
        "output_format",
        "out",
    ]
    assert params["rephrase_config"]["llm"] == {"model": "gpt-4o-mini", "max_tokens": 9}
    assert b"KEY" not in tree["params.yaml"]


def test_conversational_format(tmp_path):
    out = write_output(tmp_path / "o", _output(tmp_path), serialize, output_format="conversational")
    row = json.loads((out / "4_train_test_split/ft_splits/train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"]


def test_no_rephrasings_dir_without_rephrasing(tmp_path):
    output = _output(tmp_path)
    output.rephrased = False
    out = write_output(tmp_path / "o", output, serialize)
    assert not (out / "2_rephrasings").exists()


def test_same_input_gives_identical_bytes(tmp_path):
    first = _tree(write_output(tmp_path / "a", _output(tmp_path), serialize))
    second = _tree(write_output(tmp_path / "b", _output(tmp_path), serialize))
    assert first == second
    # and rewriting in place gives the same bytes too
    again = _tree(write_output(tmp_path / "a", _output(tmp_path), serialize))
    assert again == first


def test_crash_mid_write_leaves_the_previous_output_intact(tmp_path):
    out = tmp_path / "output"
    write_output(out, _output(tmp_path), serialize)
    before = _tree(out)

    # The serializer write_output is given is called while it writes the YAML files: once the temporary
    # directory holds two files, the process is interrupted (Ctrl-C) from inside it.
    written_at_crash: list[Path] = []

    def interrupted(commands):
        files = [p for p in tmp_path.glob(".output.tmp-*/**/*") if p.is_file()]
        if len(files) >= 2:
            written_at_crash.extend(files)
            raise KeyboardInterrupt("killed")
        return serialize(commands)

    changed = _output(tmp_path)
    changed.num_input_e2e_tests = 99
    with pytest.raises(KeyboardInterrupt):
        write_output(out, changed, interrupted)
    assert len(written_at_crash) == 2  # it crashed mid-write, not before the first file
    assert _tree(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".output")] == []  # temp dir cleaned


def test_extra_writer_failure_and_bad_format_leave_output_intact(tmp_path):
    out = tmp_path / "output"
    write_output(out, _output(tmp_path), serialize)
    before = _tree(out)

    def extra(root):
        (root / "coverage").mkdir()
        raise RuntimeError("coverage failed")

    with pytest.raises(RuntimeError):
        write_output(out, _output(tmp_path), serialize, extra=extra)
    with pytest.raises(ValueError):
        write_output(out, _output(tmp_path), serialize, output_format="nope")
    assert _tree(out) == before


def test_extra_and_keep(tmp_path):
    out = tmp_path / "output"
    out.mkdir()
    (out / "model").mkdir()
    (out / "model" / "adapter.bin").write_bytes(b"weights")
    (out / "stale.txt").write_text("old", encoding="utf-8")
    write_output(out, _output(tmp_path), serialize, extra=lambda root: (root / "coverage").mkdir(), keep=["model"])
    assert (out / "model" / "adapter.bin").read_bytes() == b"weights"
    assert (out / "coverage").is_dir()
    assert not (out / "stale.txt").exists()


def test_interrupted_swap_is_recovered(tmp_path):
    out = tmp_path / "output"
    backup = tmp_path / ".output.old-123"
    backup.mkdir()
    (backup / "result_summary.yaml").write_text("x: 1\n", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_directory(out):
        raise RuntimeError("boom")
    assert (out / "result_summary.yaml").read_text(encoding="utf-8") == "x: 1\n"
    assert not backup.exists()


def test_output_dir_permissions_follow_umask(tmp_path):
    out = write_output(tmp_path / "o", _output(tmp_path), serialize)
    mask = os.umask(0)
    os.umask(mask)
    assert (out.stat().st_mode & 0o777) == (0o777 & ~mask)


def test_sanitize_params():
    raw = {
        "llm": {"api_key": "sk-1", "OPENAI_API_KEY": "x", "max_tokens": 5, "max_completion_tokens": 6, "token": "t"},
        "list": [{"password": "p", "ok": 1}],
        "access_token": "a",
        "path": Path("a/b"),
    }
    assert sanitize_params(raw) == {
        "llm": {"max_tokens": 5, "max_completion_tokens": 6},
        "list": [{"ok": 1}],
        "path": "a/b",
    }


def test_summary_counts_failing(tmp_path):
    output = _output(tmp_path)
    assert list(result_summary(output)) == list(SUMMARY_KEYS)


def test_hf_dataset_is_optional(tmp_path):
    out = write_output(tmp_path / "o", _output(tmp_path), serialize, hf_dataset=True)
    try:
        import datasets  # noqa: F401
    except ImportError:
        assert not (out / "4_train_test_split/hf_dataset").exists()
    else:
        assert (out / "4_train_test_split/hf_dataset/dataset_dict.json").exists()


def test_the_libyaml_emitter_writes_the_pure_python_emitters_bytes(tmp_path):
    from pytest_cmdgen.recipe import conversation_yaml

    assert conversation_yaml._CDumper is not None  # PyYAML with libyaml: what the files below are written with
    tree = _tree(write_output(tmp_path / "o", _output(tmp_path), serialize))
    written = {name: data for name, data in tree.items() if name.endswith((".yml", ".yaml"))}
    assert any(name.startswith("2_rephrasings/") for name in written)
    for name, data in written.items():
        loaded = yaml.safe_load(data.decode("utf-8"))
        assert conversation_yaml.dump_yaml(loaded, pure_python=True).encode("utf-8") == data, name
        assert conversation_yaml.dump_yaml(loaded) == conversation_yaml.dump_yaml(loaded, pure_python=True), name
    # where libyaml would escape what PyYAML writes as is (NEL, emoji), the pure-Python emitter writes
    tricky = {"user": "book it 😀", "bot": "line\x85break", "keys": {"🚗": ["08001", "1e3", "yes", "a: b", " x "]}}
    assert conversation_yaml.dump_yaml(tricky) == conversation_yaml.dump_yaml(tricky, pure_python=True)
    assert "😀" in conversation_yaml.dump_yaml(tricky)
