"""Benchmark: throughput of the LLM service against the scripted server.

200 independent, distinct chat calls, 200 ms server latency, concurrency 16, cache off. The ideal wall time
is ``calls * latency / concurrency`` (2.5 s); the target is a ratio below 1.3.

Run: ``python benchmarks/bench_llm_concurrency.py [--calls N] [--latency S] [--concurrency C]``.
"""

from __future__ import annotations

import argparse
import sys
import time

from pytest_cmdgen.llm import LLMConfig, LLMService
from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer


def run(calls: int = 200, latency: float = 0.2, concurrency: int = 16) -> dict[str, float]:
    """Run the benchmark once and return wall time, bound, ratio and the server's observed concurrency."""
    with ScriptedLLMServer(latency=latency) as server:
        server.add_rule(".*", lambda prompt: f"ChitChat()  # {len(prompt)}")
        env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-bench"}
        config = LLMConfig.from_rasa({"model": "gpt-4o-mini", "timeout": 30})
        with LLMService(concurrency=concurrency, env=env) as service:
            service.chat(config, "warm-up", purpose="benchmark")  # client creation, first connection
            server.reset_counters()
            start = time.perf_counter()
            futures = [service.submit_chat(config, f"distinct prompt {i}", "benchmark") for i in range(calls)]
            answers = [future.result() for future in futures]
            wall = time.perf_counter() - start
        assert len(answers) == calls and not any(a.cached or a.deduplicated for a in answers)
        bound = calls * latency / concurrency
        return {
            "wall_s": wall,
            "bound_s": bound,
            "ratio": wall / bound,
            "max_concurrency_observed": float(server.max_concurrency_observed),
            "requests": float(server.counts["chat"]),
        }


def main(argv: list[str] | None = None) -> int:
    """Print the measured figures; exit status 1 when the ratio misses the 1.3 target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    result = run(args.calls, args.latency, args.concurrency)
    print(f"calls={args.calls} latency={args.latency}s concurrency={args.concurrency} cache=off")
    print(f"wall time:        {result['wall_s']:.3f} s")
    print(f"bound:            {result['bound_s']:.3f} s  ({args.calls}x{args.latency}/{args.concurrency})")
    print(f"ratio:            {result['ratio']:.3f}  (target < 1.3)")
    print(f"server requests:  {int(result['requests'])}, max concurrency observed "
          f"{int(result['max_concurrency_observed'])}")  # fmt: skip
    return 0 if result["ratio"] < 1.3 else 1


if __name__ == "__main__":
    sys.exit(main())
