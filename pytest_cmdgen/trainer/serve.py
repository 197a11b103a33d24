"""How the assistant uses the fine-tuned model: ``<out>/model/serve/``, written after training.

* ``vllm.sh`` — serves the base model with the adapter on an OpenAI-compatible endpoint
  (``vllm serve BASE --enable-lora --lora-modules cmdgen=ADAPTER``, ``--max-lora-rank`` when the rank needs
  it); the adapter is found relative to the script, so the output can be copied to the GPU server as is;
* ``config.yml`` — the command generator's entry, its ``llm`` pointing at the served adapter
  (``provider: self-hosted``, ``model: cmdgen``, ``api_base``), ready to paste into the assistant's
  ``config.yml``; for Rasa 3.11+ projects by a model group,
* ``endpoints.yml`` — (3.11+) that model group, ready to paste into ``endpoints.yml``.

The generator's name, the Rasa version and the project's style (model groups or inline ``llm`` blocks)
come from the prepare run's ``params.yaml``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pytest_cmdgen.atomic import write_text_atomic
from pytest_cmdgen.recipe.output import read_params
from pytest_cmdgen.trainer import outputs
from pytest_cmdgen.trainer.train_config import TrainConfig
from pytest_cmdgen.versions import parse_version

SERVE_DIR = "serve"
SCRIPT_FILE = "vllm.sh"
CONFIG_FRAGMENT = "config.yml"
ENDPOINTS_FRAGMENT = "endpoints.yml"
DEFAULT_API_BASE = "http://localhost:8000/v1"
"""Where ``vllm serve`` listens by default."""
MODEL_GROUP_ID = "cmdgen_command_generator"
DEFAULT_GENERATOR = "SingleStepLLMCommandGenerator"
MODEL_GROUPS_SINCE = parse_version("3.11")
"""Rasa reads ``model_groups`` from ``endpoints.yml`` from this version on."""


@dataclass(frozen=True)
class ServeTarget:
    """What the fragments are written for: the project's command generator and Rasa version."""

    generator: str
    rasa_version: str
    model_group: bool
    """Reference the model by a model group in ``endpoints.yml`` (Rasa 3.11+), else an inline ``llm`` block."""


def serve_target(out_dir: Path) -> ServeTarget:
    """The target recorded by the prepare run of ``out_dir`` (``params.yaml``): generator and Rasa version;
    model groups from 3.11 unless the project's generator configures its LLM inline."""
    params = read_params(out_dir)
    generator = str(params.get("command_generator") or DEFAULT_GENERATOR)
    version = str(params.get("rasa_version") or "3.10")
    try:
        groups_exist = parse_version(version) >= MODEL_GROUPS_SINCE
    except ValueError:
        groups_exist = False
    inline = params.get("command_generator_llm_style") == "inline"
    return ServeTarget(generator, version, groups_exist and not inline)


def llm_block(api_base: str = DEFAULT_API_BASE) -> dict[str, Any]:
    """The client settings of the served adapter, as Rasa reads them."""
    return {"provider": "self-hosted", "model": outputs.ADAPTER_NAME, "api_base": api_base}


def config_fragment(target: ServeTarget, api_base: str = DEFAULT_API_BASE) -> str:
    """The ``config.yml`` fragment: the command generator with its ``llm`` on the served adapter."""
    llm = {"model_group": MODEL_GROUP_ID} if target.model_group else llm_block(api_base)
    where = f"the model group {MODEL_GROUP_ID} of endpoints.yml (in this directory)" if target.model_group else "it"
    header = (
        f"# The command generator of your config.yml with the fine-tuned model: replace the llm block of its\n"
        f"# {target.generator} entry (keep your other keys). The model is served by vllm.sh; the llm block names\n"
        f"# {where}."
        + (" Rasa wants every component to use model groups then." if target.model_group else "")
        + "\n"
    )
    body = {"pipeline": [{"name": target.generator, "llm": llm}]}
    return header + yaml.safe_dump(body, sort_keys=False)


def endpoints_fragment(api_base: str = DEFAULT_API_BASE) -> str:
    """The ``endpoints.yml`` fragment (3.11+): the model group that serves the adapter."""
    header = "# Add this model group to model_groups in your endpoints.yml (the config.yml fragment refers to it).\n"
    body = {"model_groups": [{"id": MODEL_GROUP_ID, "models": [llm_block(api_base)]}]}
    return header + yaml.safe_dump(body, sort_keys=False)


def _base_argument(name: str) -> str:
    path = Path(name).expanduser()
    return str(path.resolve()) if path.is_dir() else name


def vllm_script(config: TrainConfig) -> str:
    """``vllm.sh``: the base model with the adapter of the directory above the script; extra arguments
    (``--port``, ``--gpu-memory-utilization``, ...) go to ``vllm serve``."""
    command = outputs.serve_command(config, "$ADAPTER", base=shlex.quote(_base_argument(config.model_name_or_path)))
    command = command.replace(f"{outputs.ADAPTER_NAME}=$ADAPTER", f'"{outputs.ADAPTER_NAME}=$ADAPTER"')
    return (
        "#!/bin/sh\n"
        "# Serve the fine-tuned command generator (pytest-cmdgen): the base model with the LoRA adapter of\n"
        f"# the directory above this script, as model {outputs.ADAPTER_NAME!r} on {DEFAULT_API_BASE}.\n"
        "# Arguments are passed to vllm serve (say --port 8001). Needs vLLM on a GPU: pip install vllm\n"
        "set -e\n"
        'ADAPTER="$(cd "$(dirname "$0")/.." && pwd)"\n'
        f'exec {command} "$@"\n'
    )


def write_serve_files(out_dir: Path, config: TrainConfig, api_base: str = DEFAULT_API_BASE) -> list[Path]:
    """Write ``<out_dir>/model/serve/`` (each file atomically); returns the files written."""
    target = serve_target(out_dir)
    directory = Path(out_dir) / outputs.MODEL_DIR / SERVE_DIR
    directory.mkdir(parents=True, exist_ok=True)
    script = write_text_atomic(directory / SCRIPT_FILE, vllm_script(config), mode=0o755)
    written = [script, write_text_atomic(directory / CONFIG_FRAGMENT, config_fragment(target, api_base))]
    stale = directory / ENDPOINTS_FRAGMENT
    if target.model_group:
        written.append(write_text_atomic(stale, endpoints_fragment(api_base)))
    else:
        stale.unlink(missing_ok=True)
    return written


__all__ = [
    "CONFIG_FRAGMENT",
    "DEFAULT_API_BASE",
    "ENDPOINTS_FRAGMENT",
    "MODEL_GROUP_ID",
    "SCRIPT_FILE",
    "SERVE_DIR",
    "ServeTarget",
    "config_fragment",
    "endpoints_fragment",
    "llm_block",
    "serve_target",
    "vllm_script",
    "write_serve_files",
]
