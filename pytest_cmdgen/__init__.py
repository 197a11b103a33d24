"""pytest-cmdgen: turn Rasa CALM E2E tests into fine-tuning data for a small command-generator LLM.

The packages are layers; each names its public API in ``__all__``, and imports point down only:

* :mod:`pytest_cmdgen.plugin` — the pytest skin (options, collection, items, xdist roles, reporting, hooks);
* :mod:`pytest_cmdgen.testing` — loopback servers and fixtures for tests (a scripted LLM, an action server);
* :mod:`pytest_cmdgen.session` — the engine, the per-process runner and the end-of-session pipeline;
* :mod:`pytest_cmdgen.recipe` — annotation, rephrasing, data points, split, output layout;
* :mod:`pytest_cmdgen.e2e` — Rasa's E2E test format: parse, run, judge;
* :mod:`pytest_cmdgen.generator` and :mod:`pytest_cmdgen.actions` — the LLM command generator (prompts,
  grammars, response rephrasing) and custom-action runners;
* :mod:`pytest_cmdgen.runtime` — the embedded CALM runtime (project, flows, stack, commands);
* :mod:`pytest_cmdgen.llm` — one LLM service (cache, concurrency, retries, usage) over pluggable back-ends;
* :mod:`pytest_cmdgen.errors`, :mod:`pytest_cmdgen.versions`, :mod:`pytest_cmdgen.yamlio` — the foundation.

Only the pytest skin and the testing helpers import pytest; everything else runs from a plain script
(see ``examples/prepare_without_pytest.py``).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
