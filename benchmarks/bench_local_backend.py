"""Benchmark: what the ``local`` back-end (``--cmdgen-llm local:PATH``) costs per call beyond generation itself.

The same prompts are answered three ways, one at a time, greedily, with the same ``max_tokens``:

* ``generate``: ``model.generate`` alone (``Generation.seconds``: the forward passes);
* ``direct``: :meth:`GenerationModel.generate` (chat template, tokenising, decoding around it);
* ``service``: :meth:`LLMService.chat` through the ``local`` back-end (cache off): the service's
  semaphore, the hop to the back-end's worker thread and back, usage accounting.

The overhead per call is ``service - generate`` (the back-end's own share, ``backend - generate``, is shown
too). Then the same prompts are sent all at once with a ticker on the service's event loop: its largest lag
shows the loop never waits for the model (generation runs on the worker thread).

Run: ``python benchmarks/bench_local_backend.py [--model DIR] [--calls N] [--max-tokens N]`` (without
``--model`` a tiny random model is built in a temporary directory; ``OMP_NUM_THREADS=1`` gives steadier
figures on a shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pytest_cmdgen.llm import LLMConfig, LLMService, parse_llm_spec, register_backend
from pytest_cmdgen.session.engine import LOCAL_BACKEND_FACTORY

TEMPLATES = Path(__file__).resolve().parents[1] / "pytest_cmdgen" / "generator" / "templates"


def prompts(count: int) -> list[str]:
    """Distinct prompts of a command generator's size (a prompt template with a numbered conversation)."""
    template = sorted(TEMPLATES.glob("*.jinja2"))[0].read_text(encoding="utf-8")[:1500]
    return [f"{template}\nUSER: I need a rental car in city number {n}\n" for n in range(count)]


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {1000 * statistics.median(ordered):7.2f} ms   p95 {1000 * p95:7.2f} ms"


def run(model_dir: Path, calls: int, max_tokens: int) -> dict[str, float]:
    """Run the benchmark; returns the medians (seconds) and the event loop's largest lag."""
    from pytest_cmdgen.trainer.inference import load_generation_model

    texts = prompts(calls)
    model = load_generation_model(model_dir)
    model.generate([texts[0]], max_new_tokens=max_tokens, batch_size=1)  # warm-up
    direct, generate = [], []
    for text in texts:
        start = time.perf_counter()
        (generation,) = model.generate([text], max_new_tokens=max_tokens, batch_size=1)
        direct.append(time.perf_counter() - start)
        generate.append(generation.seconds)
    model.close()

    register_backend("local", LOCAL_BACKEND_FACTORY)
    config = parse_llm_spec(f"local:{model_dir}").config(LLMConfig(max_tokens=max_tokens))
    with LLMService(concurrency=8) as service:
        service.chat(config, texts[0])  # loads the model on the worker thread
        backend = service._backends["local"]
        backend.timings.clear()  # type: ignore[attr-defined]
        wall = []
        for text in texts:
            start = time.perf_counter()
            service.chat(config, text)
            wall.append(time.perf_counter() - start)
        timings = list(backend.timings)  # type: ignore[attr-defined]

        lags: list[float] = []
        stop = asyncio.Event()

        async def ticker() -> None:
            while not stop.is_set():
                before = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append(time.perf_counter() - before - 0.005)

        ticking = service.run_coroutine(ticker())
        started = time.perf_counter()
        futures = [service.submit_chat(config, text + " (all at once)") for text in texts]
        for future in futures:
            future.result()
        burst = time.perf_counter() - started
        service.loop.call_soon_threadsafe(stop.set)
        ticking.result()

    in_backend = [t.total for t in timings]
    generated = [t.generation for t in timings]
    print(f"model {model_dir}, {calls} calls, max_tokens {max_tokens}, device {model.device}")
    print(f"generate (model.generate)   {_ms(generate)}")
    print(f"direct (GenerationModel)    {_ms(direct)}")
    print(f"service (LLMService.chat)   {_ms(wall)}")
    print(f"overhead service - generate {_ms([w - g for w, g in zip(wall, generated, strict=True)])}")
    print(f"  of it in the back-end     {_ms([b - g for b, g in zip(in_backend, generated, strict=True)])}")
    print(f"  of it in GenerationModel  {_ms([d - g for d, g in zip(direct, generate, strict=True)])} (direct run)")
    print(f"all {calls} at once: {burst:.2f} s; largest event-loop lag meanwhile {1000 * max(lags or [0]):.2f} ms")
    return {
        "generate_s": statistics.median(generate),
        "service_s": statistics.median(wall),
        "overhead_s": statistics.median([w - g for w, g in zip(wall, generated, strict=True)]),
        "max_loop_lag_s": max(lags or [0.0]),
    }


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, build a tiny model if none is given, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a model or adapter directory (default: a tiny random model)")
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        model_dir = args.model
        if model_dir is None:
            from pytest_cmdgen.testing.tiny_model import build_tiny_model

            corpus = [path.read_text(encoding="utf-8") for path in sorted(TEMPLATES.glob("*.jinja2"))]
            model_dir = build_tiny_model(Path(temporary) / "tiny", corpus)
        run(model_dir.resolve(), args.calls, args.max_tokens)
    return 0


if __name__ == "__main__":
    sys.exit(main())
