"""Every ``--cmdgen-*`` option and its ``cmdgen_*`` ini mirror, in one table, resolved into one frozen object.

Resolution is CLI > ini > default. As pytest does for paths, a relative path given on the command line
resolves against the invocation directory and one in an ini file against the ini file's directory (the
rootdir when there is none). A bad value is a usage error with one clear line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pytest_cmdgen.errors import CmdgenInputError
from pytest_cmdgen.session.config import SessionConfig, config_defaults


class OptionValueError(CmdgenInputError, ValueError):
    """An option has a value we cannot use; the message names the option and what was expected."""


@dataclass(frozen=True)
class OptionSpec:
    """One option: its CLI flag, ini key, how to read its value, default and help."""

    name: str  # attribute of ``CmdgenSettings``; CLI ``--cmdgen-<name with ->``, ini ``cmdgen_<name>``
    help: str
    kind: str = "str"  # str | int | float | flag | path | paths | choice | datetime | list (comma-separated) | llm
    default: Any = None
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    cli: bool = True
    check: Callable[[Any], str | None] | None = None  # returns a problem text, or None if the value is fine

    @property
    def flag(self) -> str:
        """The command-line flag."""
        return "--cmdgen-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        """The ini key."""
        return "cmdgen_" + self.name

    @property
    def dest(self) -> str:
        """The argparse destination."""
        return "cmdgen_" + self.name


def _at_least(low: int) -> Callable[[Any], str | None]:
    return lambda v: None if v >= low else f"expected an integer >= {low}"


def _in_range(low: int, high: int) -> Callable[[Any], str | None]:
    return lambda v: None if low <= v <= high else f"expected an integer from {low} to {high}"


def _fraction(value: float) -> str | None:
    return None if 0 < value <= 1 else "expected a number with 0 < F <= 1"


def _percent(value: float) -> str | None:
    return None if 0 <= value <= 100 else "expected a percentage from 0 to 100"


def _command_names(names: tuple[str, ...]) -> str | None:
    from pytest_cmdgen.coverage.commands import unknown_command_names, valid_names_text

    unknown = unknown_command_names(names)
    if not unknown:
        return None
    return f"unknown command type {', '.join(repr(n) for n in unknown)}; valid: {valid_names_text()}"


def _rasa_version(value: str) -> str | None:
    parts = value.split(".")
    well_formed = len(parts) in (2, 3) and all(p.isdigit() for p in parts)
    if well_formed and (3, 10) <= (int(parts[0]), int(parts[1])) <= (3, 21):
        return None
    return "expected a Rasa version X.Y or X.Y.Z from 3.10 to 3.21"


_DEFAULT = config_defaults()  # the library's defaults: one source for the CLI, ini, README and scripts

OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec("assistant", "Rasa project directory (config.yml, domain, data/, endpoints.yml).", "path",
               default=str(_DEFAULT["assistant"]), metavar="PATH"),
    OptionSpec("e2e_paths", "Directories or files whose E2E test YAML files are collected (ini only).", "paths",
               default=(), cli=False),
    OptionSpec("rasa_version", "Rasa version whose behaviour to reproduce: X.Y.Z, or X.Y for the patch release "
               "the README names (3.12: the latest); when unset, the rasa-pro==X.Y.Z the project's lock or "
               "requirements file pins, else inferred from the project.", "str", metavar="X.Y[.Z]",
               check=_rasa_version),
    OptionSpec("command_script", "Answer user turns from this annotated-conversations YAML file instead of "
               "an LLM (offline/regression mode).", "path", metavar="PATH"),
    OptionSpec("action_timeout", "Seconds to wait for the action server per custom action.", "float",
               default=_DEFAULT["action_timeout"], metavar="SECONDS",
               check=lambda v: None if v > 0 else "expected a number > 0"),
    OptionSpec("now", "Freeze current_datetime in prompts to this ISO 8601 timestamp (naive means UTC).",
               "datetime", metavar="ISO8601"),
    OptionSpec("concurrency", "Most LLM calls in flight at once, across the whole session.", "int",
               default=_DEFAULT["concurrency"], metavar="N", check=_at_least(1)),
    OptionSpec("max_retries", "Retries per LLM call on 429, 5xx, connection errors and time-outs.", "int",
               default=_DEFAULT["max_retries"], metavar="N", check=_at_least(0)),
    OptionSpec("cache", "Directory of the LLM record/replay cache (default: .cmdgen_cache in the rootdir).",
               "path", metavar="DIR"),
    OptionSpec("cache_mode", "use: read and write; refresh: re-ask and overwrite; replay: never call the "
               "network; off.", "choice", default=_DEFAULT["cache_mode"], choices=("use", "refresh", "replay", "off"),
               metavar="MODE"),
    OptionSpec("seed", "Seed for response variations and dataset shuffling.", "int", default=_DEFAULT["seed"],
               metavar="N"),
    OptionSpec("prepare", "Annotate passing E2E tests, rephrase and validate their user turns, and write the "
               "fine-tuning datasets at session end.", "flag", default=_DEFAULT["prepare"]),
    OptionSpec("out", "Output directory of --cmdgen-prepare.", "path", default=str(_DEFAULT["out"]), metavar="DIR"),
    OptionSpec("num_rephrases", "Paraphrases asked for per user message (0 skips rephrasing).", "int",
               default=_DEFAULT["num_rephrases"], metavar="N", check=_in_range(0, 49)),
    OptionSpec("rephrase_config", "YAML file with the rephraser's prompt_template and/or llm.", "path",
               metavar="PATH"),
    OptionSpec("train_frac", "Fraction of test cases whose data points go to train.", "float",
               default=_DEFAULT["train_frac"], metavar="F", check=_fraction),
    OptionSpec("output_format", "Rows of the train/val JSONL files: prompt/completion, or chat messages.", "choice",
               default=_DEFAULT["output_format"], choices=("instruction", "conversational"), metavar="FORMAT"),
    OptionSpec("hf_dataset", "Also save the train/val split as a Hugging Face DatasetDict "
               "(4_train_test_split/hf_dataset/; needs the datasets package).", "flag", default=_DEFAULT["hf_dataset"]),
    OptionSpec("coverage", "Write the coverage report (flow coverage, command histograms, skeleton tests for "
               "missing steps) to coverage/ in the --cmdgen-out directory; implied by --cmdgen-prepare and the "
               "gates.", "flag", default=_DEFAULT["coverage"]),
    OptionSpec("min_flow_coverage", "Gate: fail the session (exit code 6) when the passed tests' total flow "
               "coverage is below PCT percent.", "float", metavar="PCT", check=_percent),
    OptionSpec("require_commands", "Gate: comma-separated command types (start flow, SetSlot, ...) that must "
               "appear in the train split (without --cmdgen-prepare: in the passed tests), else exit code 6.",
               "list", default=_DEFAULT["require_commands"], metavar="NAMES", check=_command_names),
    OptionSpec("min_command_examples", "How often each command type of --cmdgen-require-commands must appear.",
               "int", default=_DEFAULT["min_command_examples"], metavar="N", check=_at_least(1)),
    OptionSpec("train", "After --cmdgen-prepare (and the coverage gates, if any, passed), fine-tune a LoRA adapter "
               "of the command generator on the train split into model/ of the --cmdgen-out directory (needs "
               "pytest-cmdgen[train]).", "flag", default=_DEFAULT["train"]),
    OptionSpec("train_config", "Training config YAML: keys named as the Hugging Face / PEFT arguments they set, "
               "every key optional.", "path", metavar="PATH"),
    OptionSpec("base_model", "Base model to fine-tune: Hugging Face id or local directory (overrides the "
               "training config's model_name_or_path).", "str", metavar="NAME_OR_PATH"),
    OptionSpec("train_resume", "Continue an interrupted --cmdgen-train run from its newest checkpoint (implies "
               "--cmdgen-train).", "flag", default=_DEFAULT["train_resume"]),
    OptionSpec("llm", "Use this LLM for the command generator instead of config.yml's: openai:MODEL@URL (any "
               "OpenAI-compatible server; without @URL, OPENAI_BASE_URL / OPENAI_API_KEY apply) or local:PATH (a model "
               "or LoRA adapter directory, run in-process; needs pytest-cmdgen[train]). Greedy; the prompt stays the "
               "project's. The rephraser and the flow-retrieval embeddings keep config.yml's models.", "llm",
               metavar="SPEC"),
    OptionSpec("compare", "Compare the commands of this run with the annotations (the teacher) of a --cmdgen-prepare "
               "output DIR: pass rates, per-turn command exact match, the first diverging turn of each test; writes "
               "DIR/model/e2e_comparison.json. Without test paths, runs DIR's validation split.", "path",
               metavar="OUT_DIR"),
)


@dataclass(frozen=True)
class CmdgenSettings(SessionConfig):
    """The resolved value of every option (CLI > ini > default): the library's :class:`SessionConfig`
    plus what only the pytest skin uses."""

    e2e_paths: tuple[Path, ...] = ()
    """Where E2E files are collected (ini ``cmdgen_e2e_paths``)."""

    def session_config(self) -> SessionConfig:
        """The library's part of the settings."""
        return SessionConfig(**{f.name: getattr(self, f.name) for f in fields(SessionConfig)})


def parse_datetime(text: str) -> dt.datetime:
    """Parse an ISO 8601 timestamp; a naive one is taken as UTC."""
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def convert(spec: OptionSpec, raw: Any, base: Path) -> Any:
    """Turn a raw CLI/ini value into the option's type; relative paths resolve against ``base``."""
    source = raw
    try:
        if spec.kind == "flag":
            value: Any = raw if isinstance(raw, bool) else str(raw).strip().lower() in ("1", "true", "yes", "on")
        elif spec.kind == "int":
            value = int(raw)
        elif spec.kind == "float":
            value = float(raw)
        elif spec.kind == "path":
            value = (base / Path(str(raw)).expanduser()).resolve()
        elif spec.kind == "paths":
            items = raw.split() if isinstance(raw, str) else list(raw)
            value = tuple((base / Path(str(p)).expanduser()).resolve() for p in items)
        elif spec.kind == "datetime":
            value = parse_datetime(str(raw))
        elif spec.kind == "list":
            items = str(raw).split(",") if isinstance(raw, str) else [str(item) for item in raw]
            value = tuple(item.strip() for item in items if item.strip())
        elif spec.kind == "llm":
            from pytest_cmdgen.llm.spec import parse_llm_spec

            value = parse_llm_spec(str(raw), base)
        elif spec.kind == "choice":
            value = str(raw).strip()
            if value not in spec.choices:
                raise OptionValueError(f"{spec.flag}: expected one of {', '.join(spec.choices)}, got {raw!r}")
        else:
            value = str(raw).strip()
    except (TypeError, ValueError) as exc:
        if isinstance(exc, OptionValueError):
            raise
        if spec.kind == "llm":  # the spec's own message says which part is wrong and what was expected
            raise OptionValueError(f"{spec.flag} / {spec.ini}: {exc}") from None
        expected = {"int": "an integer", "float": "a number", "datetime": "an ISO 8601 timestamp"}.get(
            spec.kind, "a valid value"
        )
        raise OptionValueError(f"{spec.flag} / {spec.ini}: expected {expected}, got {source!r}") from None
    if spec.check is not None:
        problem = spec.check(value)
        if problem:
            raise OptionValueError(f"{spec.flag} / {spec.ini}: {problem}, got {source!r}")
    return value


def resolve(
    cli_value: Callable[[OptionSpec], Any],
    ini_value: Callable[[OptionSpec], Any],
    invocation_dir: Path,
    ini_dir: Path,
    rootdir: Path,
) -> CmdgenSettings:
    """Resolve every option CLI > ini > default into ``CmdgenSettings``.

    ``cli_value`` / ``ini_value`` return None when the option was not given there.
    """
    values: dict[str, Any] = {}
    for spec in OPTIONS:
        raw = cli_value(spec) if spec.cli else None
        base = invocation_dir
        if raw is None:
            raw = ini_value(spec)
            base = ini_dir
        if raw is None or raw == "" or raw == []:
            default = spec.default
            is_path = spec.kind in ("path", "paths")
            values[spec.name] = convert(spec, default, rootdir) if is_path and default else default
            continue
        values[spec.name] = convert(spec, raw, base)
    if values["cache"] is None:
        values["cache"] = (rootdir / ".cmdgen_cache").resolve()
    values["rootdir"] = rootdir
    names = {f.name for f in fields(CmdgenSettings)}
    assert names == set(values), f"options table and CmdgenSettings disagree: {names ^ set(values)}"
    return CmdgenSettings(**values)


def options_markdown() -> str:
    """The options table for the README (checked by a test, so the README cannot drift)."""
    rows = ["| option | ini key | default | meaning |", "|---|---|---|---|"]
    for spec in OPTIONS:
        flag = f"`{spec.flag} {spec.metavar or ''}`".replace(" `", "`") if spec.cli else "—"
        default = "—" if spec.default in (None, ()) else f"`{spec.default}`"
        if spec.kind == "path" and spec.default == ".":
            default = "the rootdir"
        rows.append(f"| {flag} | `{spec.ini}` | {default} | {spec.help} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(options_markdown())
