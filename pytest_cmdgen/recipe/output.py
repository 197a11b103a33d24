"""Writing the recipe's output directory, atomically and byte-for-byte reproducibly (reference §2.2–§3).

Layout (Rasa's, with the fixes of :mod:`.conversation_yaml` and the 3.21 per-file E2E split)::

    <out>/
    ├── 1_command_annotations/<test file path>     every conversation of that file, before rephrasing
    ├── 2_rephrasings/<test file path>             the same with (passing/failing) rephrasings
    ├── 3_llm_finetune_data/llm_ft_data.jsonl      all data points
    ├── 4_train_test_split/
    │   ├── ft_splits/train.jsonl, ft_splits/val.jsonl
    │   ├── e2e_tests/train/<test file path>, e2e_tests/validation/<test file path>
    │   └── hf_dataset/                            only with ``hf_dataset=True`` and ``datasets`` installed
    ├── params.yaml
    └── result_summary.yaml

Everything is written into a temporary directory beside ``<out>``, which then replaces ``<out>``
(:func:`atomic_directory`): an interrupted run leaves the previous output as it was. Bytes are stable:
files and rows are ordered by test id, JSON rows use ``ensure_ascii=False`` one per line, YAML keeps key
order and unicode. ``params.yaml`` never holds secrets (keys that look like credentials are dropped).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pytest_cmdgen.recipe.conversation import Conversation, make_test_id, split_test_id
from pytest_cmdgen.recipe.conversation_yaml import (
    Serializer,
    conversation_file_path,
    conversation_item_yaml,
    conversations_file_text,
    dump_yaml,
)
from pytest_cmdgen.recipe.datapoints import DataPoint
from pytest_cmdgen.recipe.split import SplitResult, format_row, split_test_suite
from pytest_cmdgen.yamlio import load_marked_file

logger = logging.getLogger(__name__)

ANNOTATIONS_DIR = "1_command_annotations"
"""Conversations right after annotation."""
REPHRASINGS_DIR = "2_rephrasings"
"""Conversations with their rephrasings."""
FT_DATA_FILE = "3_llm_finetune_data/llm_ft_data.jsonl"
"""All data points."""
SPLIT_DIR = "4_train_test_split"
"""Train/validation split."""
TRAIN_FILE = f"{SPLIT_DIR}/ft_splits/train.jsonl"
"""Train rows in the output format."""
VAL_FILE = f"{SPLIT_DIR}/ft_splits/val.jsonl"
"""Validation rows in the output format."""
E2E_SPLIT_DIR = f"{SPLIT_DIR}/e2e_tests"
"""E2E test files of each side."""
HF_DATASET_DIR = f"{SPLIT_DIR}/hf_dataset"
"""The Hugging Face ``DatasetDict`` (``train`` / ``validation``)."""
PARAMS_FILE = "params.yaml"
"""Run parameters."""
SUMMARY_FILE = "result_summary.yaml"
"""Statistics, keys in Rasa's order."""

SUMMARY_KEYS = (
    "num_input_e2e_tests",
    "num_annotated_conversations",
    "num_user_messages_across_conversations",
    "num_user_messages_to_rephrase_across_conversations",
    "num_passing_rephrased_user_messages",
    "num_failing_rephrased_user_messages",
    "num_ft_data_points",
    "num_train_data_points",
    "num_val_data_points",
    "num_unvalidated_rephrased_user_messages",
)
"""``result_summary.yaml`` keys in Rasa's order (§2.2), then ours: paraphrases whose validation call failed."""

_SECRET_KEY_RE = re.compile(
    r"(?i)(api[_-]?key|secret|password|passwd|credential|authorization|bearer|(^|[_-])token$|access[_-]?token|"
    r"ad[_-]?token|private[_-]?key)"
)


@dataclass
class RecipeOutput:
    """Everything the output directory is made from.

    Attributes:
        num_input_e2e_tests: every test case read (passing or not).
        conversations: the final conversations (with rephrasings when rephrasing ran).
        data_points: all data points (order as built: by test id).
        split: the train/validation split of ``data_points``.
        params: the run's parameters (see :func:`make_params`); sanitised before writing.
        rephrased: whether rephrasing ran (``2_rephrasings/`` is written only then, as in Rasa).
        e2e_sources: test file (the file part of test ids) → path to read it from, for the E2E split;
            a file not listed is read from the test id's file path as is.
        items: test id → the conversation's items of the annotations and rephrasings files, where they were
            rendered already (:class:`~.pieces.ConversationPieces`); the others are rendered when written.
    """

    num_input_e2e_tests: int
    conversations: Sequence[Conversation]
    data_points: Sequence[DataPoint]
    split: SplitResult
    params: Mapping[str, Any] = field(default_factory=dict)
    rephrased: bool = True
    e2e_sources: Mapping[str, Path] = field(default_factory=dict)
    items: Mapping[str, tuple[str, str]] = field(default_factory=dict)


def result_summary(output: RecipeOutput) -> dict[str, int]:
    """The statistics of ``result_summary.yaml``, keys in Rasa's order."""
    steps = [s for c in output.conversations for s in c.annotated_steps]
    values = {
        "num_input_e2e_tests": output.num_input_e2e_tests,
        "num_annotated_conversations": len(output.conversations),
        "num_user_messages_across_conversations": sum(1 for s in steps if s.user),
        "num_user_messages_to_rephrase_across_conversations": sum(1 for s in steps if s.rephrase),
        "num_passing_rephrased_user_messages": sum(len(s.passing_rephrasings) for s in steps),
        "num_failing_rephrased_user_messages": sum(len(s.rejected_rephrasings) for s in steps),
        "num_ft_data_points": len(output.data_points),
        "num_train_data_points": len(output.split.train_points),
        "num_val_data_points": len(output.split.validation_points),
        "num_unvalidated_rephrased_user_messages": sum(len(s.unvalidated_rephrasings) for s in steps),
    }
    return {key: values[key] for key in SUMMARY_KEYS}


def make_params(
    *,
    num_rephrases: int,
    rephrase_config: Mapping[str, Any],
    model: str | None,
    endpoints: str | None,
    remote_storage: str | None = None,
    train_frac: float,
    output_format: str,
    out: str,
    **extra: Any,
) -> dict[str, Any]:
    """The ``parameters`` mapping of ``params.yaml`` in Rasa's key order (§2.3), then ``extra`` keys.

    ``rephrase_config`` should hold the *unexpanded* config (``${VAR}`` kept), e.g.
    :meth:`~pytest_cmdgen.recipe.rephrase.RephraseConfig.as_params`.
    """
    params: dict[str, Any] = {
        "num_rephrases": num_rephrases,
        "rephrase_config": dict(rephrase_config),
        "model": model,
        "endpoints": endpoints,
        "remote-storage": remote_storage,
        "train_frac": train_frac,
        "output_format": output_format,
        "out": out,
    }
    params.update(extra)
    return params


def read_params(out_dir: str | Path) -> dict[str, Any]:
    """The ``parameters`` mapping of ``<out_dir>/params.yaml`` as :func:`write_output` wrote it (see
    :func:`make_params`); empty when the file is missing, unreadable or holds no mapping, so that a reader
    falls back to its defaults for an output that records less."""
    try:
        loaded = yaml.safe_load((Path(out_dir) / PARAMS_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    parameters = loaded.get("parameters") if isinstance(loaded, dict) else None
    return dict(parameters) if isinstance(parameters, dict) else {}


def sanitize_params(value: Any) -> Any:
    """A copy without credential-like keys (``api_key``, ``*_token``, ``password``, ...), at any depth.

    Token *limits* (``max_tokens``, ``max_completion_tokens``) are kept. Paths become strings.
    """
    if isinstance(value, Mapping):
        return {
            str(k): sanitize_params(v)
            for k, v in value.items()
            if not (_SECRET_KEY_RE.search(str(k)) and not str(k).lower().startswith("max_"))
        }
    if isinstance(value, (list, tuple)):
        return [sanitize_params(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


# --- atomic directory --------------------------------------------------------------------------------


@contextlib.contextmanager
def atomic_directory(out_dir: str | Path, keep: Iterable[str] = ()) -> Iterator[Path]:
    """Build a directory in a temporary sibling and swap it into place when the block succeeds.

    On an exception the temporary directory is removed and ``out_dir`` is untouched. ``keep`` names
    entries of the old ``out_dir`` (e.g. ``model``) carried into the new one when it lacks them. The
    swap is two renames; should the process die between them, the previous output survives as
    ``.<name>.old-*`` beside it and is put back by the next call.
    """
    out = Path(out_dir)
    parent = out.parent
    parent.mkdir(parents=True, exist_ok=True)
    _recover(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} exists and is not a directory")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    try:
        yield tmp
        for name in keep:
            old, new = out / name, tmp / name
            if old.exists() and not new.exists():
                shutil.copytree(old, new) if old.is_dir() else shutil.copy2(old, new)
        os.chmod(tmp, 0o777 & ~_umask())
        if out.exists():
            backup = parent / f".{out.name}.old-{uuid.uuid4().hex}"
            os.rename(out, backup)
            os.rename(tmp, out)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _recover(out: Path) -> None:
    if out.exists():
        return
    backups = sorted(out.parent.glob(f".{out.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if backups:
        os.rename(backups[-1], out)
        logger.warning("restored the previous output %s from %s (an earlier run was interrupted)", out, backups[-1])


# --- writers -----------------------------------------------------------------------------------------


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text with ``\\n`` line ends, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def jsonl(rows: Iterable[Mapping[str, Any]]) -> str:
    """JSON Lines text: one ``json.dumps(row, ensure_ascii=False)`` per line, each ending in ``\\n``."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def write_conversations(directory: Path, items: Iterable[tuple[str, str]]) -> list[Path]:
    """One YAML file per test file under ``directory``, from ``(test id, item)`` pairs (each conversation's
    item of its file, in order); returns the files written."""
    by_file: dict[str, list[str]] = {}
    for test_id, item in items:
        by_file.setdefault(conversation_file_path(test_id), []).append(item)
    written = []
    for relative, members in by_file.items():
        path = directory / relative
        write_text(path, conversations_file_text(members))
        written.append(path)
    return written


def write_e2e_split(directory: Path, split: SplitResult, sources: Mapping[str, Path]) -> list[Path]:
    """Train/validation versions of each E2E test file with tests in the split (``train/``, ``validation/``)."""
    train_ids, validation_ids = split.train_test_ids, split.validation_test_ids
    files = sorted({split_test_id(t)[0] for t in [*train_ids, *validation_ids] if split_test_id(t)[0]})
    written = []
    for file in files:
        source = Path(sources.get(file, file))
        document = load_marked_file(source) or {}
        train_doc, validation_doc = split_test_suite(document, file, train_ids, validation_ids)
        relative = conversation_file_path(make_test_id(file, "x"))
        for side, doc in (("train", train_doc), ("validation", validation_doc)):
            if doc is not None:
                path = directory / side / relative
                write_text(path, dump_yaml(doc))
                written.append(path)
    return written


def save_hf_dataset(
    directory: Path, train_rows: Sequence[Mapping[str, Any]], validation_rows: Sequence[Mapping[str, Any]]
) -> bool:
    """Save a ``datasets.DatasetDict`` (``train``, ``validation``) if ``datasets`` is installed; True if saved."""
    try:
        import datasets  # noqa: PLC0415 - optional heavy dependency, imported only when asked for
    except ImportError:
        logger.info("datasets is not installed; %s not written", directory)
        return False
    dataset = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list([dict(r) for r in train_rows]),
            "validation": datasets.Dataset.from_list([dict(r) for r in validation_rows]),
        }
    )
    bars_were_off = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()  # its bars would land in the middle of pytest's output
    try:
        dataset.save_to_disk(str(directory))
    finally:
        if not bars_were_off:
            datasets.enable_progress_bars()
    return True


def write_output_tree(
    root: Path,
    output: RecipeOutput,
    serialize: Serializer,
    output_format: str = "instruction",
    hf_dataset: bool = False,
) -> None:
    """Write the whole layout into ``root`` (not atomic by itself; see :func:`write_output`)."""
    conversations = sorted(output.conversations, key=lambda c: c.test_id)

    def item(c: Conversation, rephrasings: bool) -> str:
        rendered = output.items.get(c.test_id)
        if rendered is not None:
            return rendered[rephrasings]
        return conversation_item_yaml(c if rephrasings else c.without_rephrasings(), serialize)

    write_conversations(root / ANNOTATIONS_DIR, [(c.test_id, item(c, False)) for c in conversations])
    if output.rephrased:
        write_conversations(root / REPHRASINGS_DIR, [(c.test_id, item(c, True)) for c in conversations])
    write_text(root / FT_DATA_FILE, jsonl(p.to_record() for p in output.data_points))
    train_rows = [format_row(p, output_format) for p in output.split.train_points]
    validation_rows = [format_row(p, output_format) for p in output.split.validation_points]
    write_text(root / TRAIN_FILE, jsonl(train_rows))
    write_text(root / VAL_FILE, jsonl(validation_rows))
    write_e2e_split(root / E2E_SPLIT_DIR, output.split, output.e2e_sources)
    if hf_dataset:
        save_hf_dataset(root / HF_DATASET_DIR, train_rows, validation_rows)
    write_text(root / PARAMS_FILE, dump_yaml({"parameters": sanitize_params(output.params)}))
    write_text(root / SUMMARY_FILE, dump_yaml(result_summary(output)))


def write_output(
    out_dir: str | Path,
    output: RecipeOutput,
    serialize: Serializer,
    output_format: str = "instruction",
    hf_dataset: bool = False,
    extra: Callable[[Path], None] | None = None,
    keep: Iterable[str] = (),
) -> Path:
    """Write the output directory atomically; ``extra(tmp_root)`` may add files (coverage, ...) first.

    Returns ``out_dir``. Any exception leaves the previous ``out_dir`` as it was.
    """
    format_row(DataPoint("", "", "", "", None), output_format)  # reject a bad format before writing
    with atomic_directory(out_dir, keep=keep) as root:
        write_output_tree(root, output, serialize, output_format, hf_dataset)
        if extra is not None:
            extra(root)
    return Path(out_dir)
