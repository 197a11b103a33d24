"""``python -m pytest_cmdgen.testing.tiny_model OUT``: the tiny base model of the README's CPU training loop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_cmdgen.testing import tiny_model
from tests.support.paths import EXAMPLES


def test_corpus_pieces_are_whole_lines_of_bounded_length() -> None:
    text = "short line\n" * 500 + "x" * (tiny_model.CHUNK_CHARS * 2 + 7) + "\nlast\n"
    pieces = list(tiny_model._chunks(text))
    assert "".join(pieces) == text
    assert max(len(piece) for piece in pieces) <= tiny_model.CHUNK_CHARS
    assert all(piece.endswith("\n") for piece in pieces if "x" not in piece)


def test_the_corpus_holds_the_prompt_templates_and_the_files_under_the_corpus_paths(tmp_path: Path) -> None:
    (tmp_path / "data.jsonl").write_text('{"prompt": "a JSONL prompt"}\n')
    (tmp_path / "weights.bin").write_bytes(b"\x00\x01")
    texts = list(tiny_model.corpus_texts([tmp_path]))
    assert any("a JSONL prompt" in text for text in texts)
    assert any("current_conversation" in text for text in texts)
    assert not any("\x00" in text for text in texts)


def test_a_missing_corpus_path_is_one_line_and_exit_status_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert tiny_model.main([str(tmp_path / "model"), "--corpus", str(tmp_path / "nowhere")]) == 1
    assert capsys.readouterr().err.strip().endswith(f"--corpus path not found: {tmp_path / 'nowhere'}")
    assert not (tmp_path / "model").exists()


def test_the_command_saves_a_model_and_a_chat_tokenizer_that_transformers_loads(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    out = tmp_path / "tiny-model"
    assert tiny_model.main([str(out), "--corpus", str(EXAMPLES / "car_rental" / "data")]) == 0
    assert json.loads((out / "config.json").read_text())["model_type"] == "llama"
    tokenizer = AutoTokenizer.from_pretrained(out)
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert rendered == "<|im_start|>user\nhi<|im_end|>\n"
