"""The library's configuration of a session: what a script, a CLI or the pytest skin sets up a run with."""

from __future__ import annotations

import datetime as dt
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_cmdgen.llm.spec import LLMSpec


@dataclass(frozen=True)
class SessionConfig:
    """Everything the engine and the end-of-session pipeline need; no pytest in it.

    Relative paths are taken as given (callers resolve them); ``rootdir`` is what test ids and the paths
    shown in ``params.yaml`` are relative to, and where the default cache lives.
    """

    assistant: Path = Path(".")
    """The Rasa project directory (config.yml, domain, data/, endpoints.yml)."""
    rootdir: Path = field(default_factory=Path.cwd)
    """Test ids and the paths shown in outputs are relative to it; the default cache lives in it."""
    rasa_version: str | None = None
    """Rasa version whose behaviour to reproduce (X.Y); inferred from the project when None."""
    command_script: Path | None = None
    """Answer user turns from this annotated-conversations file instead of an LLM."""
    action_timeout: float = 10.0
    """Seconds to wait for the action server per custom action."""
    now: dt.datetime | None = None
    """Frozen ``current_datetime`` for prompts."""
    concurrency: int = 16
    """Most LLM calls in flight at once."""
    max_retries: int = 5
    """Retries per LLM call on 429, 5xx, connection errors and time-outs."""
    cache: Path | None = None
    """Directory of the LLM record/replay cache (None: ``.cmdgen_cache`` in ``rootdir``)."""
    cache_mode: str = "use"
    """use, refresh, replay or off."""
    seed: int = 42
    """Seed for response variations and dataset shuffling."""
    prepare: bool = False
    """Annotate passing tests, rephrase, and write the datasets at the end."""
    out: Path = Path("cmdgen_output")
    """Output directory of a prepare run."""
    num_rephrases: int = 10
    """Paraphrases asked for per user message (0 skips rephrasing)."""
    rephrase_config: Path | None = None
    """YAML file with the rephraser's prompt_template and/or llm."""
    train_frac: float = 0.8
    """Fraction of test cases whose data points go to train."""
    output_format: str = "instruction"
    """Rows of the train/val JSONL files: instruction (prompt/completion) or conversational (messages)."""
    hf_dataset: bool = False
    """Also save the split as a Hugging Face ``DatasetDict`` (needs ``datasets``)."""
    coverage: bool = False
    """Compute the coverage report (flow coverage, command histograms) and write ``<out>/coverage/``."""
    min_flow_coverage: float | None = None
    """Gate: least total flow coverage of the passed tests, in percent (None: no gate)."""
    require_commands: tuple[str, ...] = ()
    """Gate: command types that must appear (in the train split's data points, else the passed tests)."""
    min_command_examples: int = 1
    """Gate: how often each required command type must appear."""
    train: bool = False
    """Fine-tune the command generator on the split just written (``<out>/model/``; needs the train extra)."""
    train_config: Path | None = None
    """Training config YAML (keys as the Hugging Face / PEFT arguments they set; every key optional)."""
    base_model: str | None = None
    """Base model to fine-tune (hub id or local directory); overrides the training config's."""
    train_resume: bool = False
    """Continue an interrupted training run from its newest checkpoint (implies ``train``)."""
    llm: LLMSpec | None = None
    """The LLM that replaces the command generator's for this run (``--cmdgen-llm``); None: config.yml's."""
    compare: Path | None = None
    """A prepare output directory whose annotations (the teacher) this run's commands are compared with."""

    @property
    def coverage_enabled(self) -> bool:
        """Whether the coverage report is made: asked for, implied by preparing data or by a gate."""
        return self.coverage or self.prepare or self.min_flow_coverage is not None or bool(self.require_commands)

    @property
    def training(self) -> bool:
        """Whether the session trains at its end: ``train`` asked for, or a resume of it."""
        return self.train or self.train_resume

    @property
    def cache_dir(self) -> Path:
        """The cache directory in use."""
        return self.cache if self.cache is not None else self.rootdir / ".cmdgen_cache"

    def shown(self, path: Path) -> str:
        """A path as outputs show it: relative to ``rootdir`` when inside it, so outputs stay portable."""
        try:
            return path.relative_to(self.rootdir).as_posix()
        except ValueError:
            return str(path)


def config_defaults() -> dict[str, Any]:
    """Each field's default value (fields with a default factory are left out)."""
    return {f.name: f.default for f in fields(SessionConfig) if f.default is not MISSING}


__all__ = ["SessionConfig", "config_defaults"]
