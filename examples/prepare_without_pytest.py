"""Prepare a fine-tuning dataset with the library alone: no pytest, the same bytes as a pytest run.

    python examples/prepare_without_pytest.py ASSISTANT_DIR TESTS_DIR OUT_DIR [NUM_REPHRASES]

Run it from the directory pytest would use as rootdir (test ids are relative to it). The LLM is reached as
in a pytest run: the project's config.yml and endpoints.yml, and the usual OPENAI_* environment variables.
"""

import sys
from pathlib import Path

from pytest_cmdgen.session import PipelineContext, SessionConfig, SessionRunner, default_pipeline, discover_cases

assistant, tests, out = (Path(arg).resolve() for arg in sys.argv[1:4])
num_rephrases = int(sys.argv[4]) if len(sys.argv) > 4 else 10
config = SessionConfig(assistant=assistant, rootdir=Path.cwd(), prepare=True, out=out, num_rephrases=num_rephrases)

runner = SessionRunner(config)
cases = discover_cases([tests], config)
runner.start(cases)  # conversations run concurrently; results are awaited in order below
for case in cases:
    outcome = runner.run_test(case)
    if case.rephrase and outcome.conversation is not None:
        runner.rephrase_case(case)
context = default_pipeline().run(PipelineContext(config, runner.results, runner.engine))
runner.finish_process()
print(f"{dict(runner.results.tests)} -> {context.written or context.errors}")
sys.exit(1 if context.errors else 0)
