"""Fault injection: a ``--cmdgen-prepare`` run against a misbehaving LLM, a killed run and an interrupted one.

The synthetic car-rental suite of ``bench_prepare.py`` runs four times against a :class:`ScriptedLLMServer`:

1. **clean** — no faults: the reference counts of passing tests and kept paraphrases;
2. **faults** — 30 % HTTP 429 (with ``Retry-After``), 5 % HTTP 500, 10 % hangs (the request is held, then
   the connection dropped) and 5 % malformed 200 answers (an HTML page, a cut-off body, ``choices: []``,
   ``content: null``), each drawn per request from a seeded RNG: items failed, paraphrases kept against
   the clean run, calls retried and failed;
3. **SIGKILL, then resume** — a run with a cache is killed with SIGKILL after a share of its calls, then
   run again with the same cache: how many requests of the second run had already been answered in the
   first (goal: 0, every answer is in the cache);
4. **SIGINT** — a run is interrupted with Ctrl-C: how many requests reached the server after the signal
   (goal: at most the calls already in flight, i.e. ``--cmdgen-concurrency``), whether the previous
   output was left untouched, and the exit status.

Run: ``python benchmarks/bench_faults.py [--tests N] [--latency S] [--concurrency N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_prepare import Suite, generate_suite  # noqa: E402  (a sibling script, not a package)

from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer  # noqa: E402

FAULTS = {"rate_429": 0.30, "rate_500": 0.05, "rate_timeout": 0.10, "rate_malformed": 0.05}


def _command(suite: Suite, out: Path, cache_mode: str, concurrency: int, rephrases: int) -> list[str]:
    return [
        sys.executable, "-m", "pytest", str(suite.tests_dir),
        "--cmdgen-assistant", str(suite.project), "--cmdgen-prepare",
        "--cmdgen-cache", str(suite.root / "cache"), "--cmdgen-cache-mode", cache_mode,
        "--cmdgen-concurrency", str(concurrency), "--cmdgen-num-rephrases", str(rephrases),
        "--cmdgen-out", str(out), "-q", "-p", "no:cacheprovider",
    ]  # fmt: skip


def _env(server: ScriptedLLMServer) -> dict[str, str]:
    return dict(os.environ, OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="sk-bench-faults")


def _request_key(request: Any) -> str:
    return hashlib.sha256(json.dumps(request.body, sort_keys=True).encode()).hexdigest()


def _summary(out: Path) -> dict[str, int]:
    import yaml

    path = out / "result_summary.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _outcomes(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if " in " in line and ("passed" in line or "failed" in line)]
    return lines[-1] if lines else output.strip().splitlines()[-1] if output.strip() else ""


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def run_to_end(suite: Suite, server: ScriptedLLMServer, out: Path, cache_mode: str, concurrency: int,
               rephrases: int) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """One whole prepare run."""
    command = _command(suite, out, cache_mode, concurrency, rephrases)
    return subprocess.run(command, cwd=suite.root, env=_env(server), capture_output=True, text=True, check=False)


def run_until(suite: Suite, server: ScriptedLLMServer, out: Path, concurrency: int, rephrases: int,
              after_requests: int, sig: int) -> tuple[int, int, str, int]:  # fmt: skip
    """Start a run, send ``sig`` once the server got ``after_requests`` requests; return the count at the
    signal, the count at the end, the output and the exit status."""
    command = _command(suite, out, "use", concurrency, rephrases)
    process = subprocess.Popen(command, cwd=suite.root, env=_env(server), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    while process.poll() is None and len(server.requests) < after_requests:
        time.sleep(0.002)
    at_signal = len(server.requests)
    process.send_signal(sig)
    output, _ = process.communicate(timeout=600)
    time.sleep(0.5)  # answers still on the wire reach the log
    return at_signal, len(server.requests), output, process.returncode


def main(argv: list[str] | None = None) -> int:
    """Run the four scenarios and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=60)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rephrases", type=int, default=3)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="cmdgen-bench-faults-"))
    try:
        suite = generate_suite(root, args.tests, args.rephrases)
        figures: dict[str, Any] = {}
        with ScriptedLLMServer(annotations=suite.annotations, latency=args.latency, retry_after=0.05,
                               timeout_delay=0.5) as server:  # fmt: skip
            clean = run_to_end(suite, server, root / "clean", "off", args.concurrency, args.rephrases)
            figures["clean"] = {"pytest": _outcomes(clean.stdout), "calls": len(server.requests),
                                "summary": _summary(root / "clean")}  # fmt: skip

            server.reset_counters()
            server.set_fault_rates(seed=7, **FAULTS)
            faulty = run_to_end(suite, server, root / "faults", "off", args.concurrency, args.rephrases)
            statuses: dict[str, int] = {}
            for request in server.requests:
                statuses[str(request.status)] = statuses.get(str(request.status), 0) + 1
            figures["faults"] = {"pytest": _outcomes(faulty.stdout), "requests": len(server.requests),
                                 "statuses": statuses, "summary": _summary(root / "faults")}  # fmt: skip
            server.set_fault_rates()

            server.reset_counters()
            expected = figures["clean"]["calls"]
            at_kill, _, _, _ = run_until(suite, server, root / "killed", args.concurrency, args.rephrases,
                                         after_requests=expected // 2, sig=signal.SIGKILL)  # fmt: skip
            answered_before = {_request_key(r) for r in server.requests if r.status == 200}
            cached = sum(1 for p in (root / "cache").rglob("*") if p.is_file() and p.suffix == ".json")
            server.reset_counters()
            resumed = run_to_end(suite, server, root / "killed", "use", args.concurrency, args.rephrases)
            repeated = sum(1 for r in server.requests if _request_key(r) in answered_before)
            figures["sigkill"] = {"requests_before_kill": at_kill, "answered_before_kill": len(answered_before),
                                  "cached_before_kill": cached, "calls_of_a_whole_run": expected,
                                  "requests_on_resume": len(server.requests), "repeated_on_resume": repeated,
                                  "resumed": _outcomes(resumed.stdout)}  # fmt: skip

            before = _files(root / "clean")
            shutil.rmtree(root / "cache")
            server.reset_counters()
            at_int, at_end, output, status = run_until(suite, server, root / "clean", args.concurrency,
                                                       args.rephrases, after_requests=expected // 2,
                                                       sig=signal.SIGINT)  # fmt: skip
            figures["sigint"] = {"requests_at_signal": at_int, "requests_after_signal": at_end - at_int,
                                 "concurrency": args.concurrency, "exit_status": status,
                                 "previous_output_untouched": _files(root / "clean") == before,
                                 "said": [line for line in output.splitlines() if "interrupted:" in line]}  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)
    clean_kept = figures["clean"]["summary"].get("num_passing_rephrased_user_messages", 0)
    fault_kept = figures["faults"]["summary"].get("num_passing_rephrased_user_messages", 0)
    print(f"tests: {args.tests}, latency {args.latency} s, concurrency {args.concurrency}, faults {FAULTS}")
    print(f"clean:   {figures['clean']['pytest']}; {figures['clean']['calls']} calls; {clean_kept} paraphrases kept")
    faults = figures["faults"]
    print(f"faults:  {faults['pytest']}; {faults['requests']} requests {faults['statuses']}; "
          f"{fault_kept} paraphrases kept ({fault_kept / clean_kept:.1%} of the clean run), "
          f"{faults['summary'].get('num_unvalidated_rephrased_user_messages', 0)} not validated")  # fmt: skip
    kill = figures["sigkill"]
    print(f"SIGKILL: killed after {kill['requests_before_kill']} requests ({kill['answered_before_kill']} answered by "
          f"the server, {kill['cached_before_kill']} received and cached); resume made {kill['requests_on_resume']} "
          f"requests ({kill['calls_of_a_whole_run']} in a whole run), {kill['repeated_on_resume']} of them answered "
          f"before the kill but never received; {kill['resumed']}")  # fmt: skip
    sigint = figures["sigint"]
    print(f"SIGINT:  {sigint['requests_after_signal']} requests after the signal (concurrency "
          f"{sigint['concurrency']}); exit status {sigint['exit_status']}; previous output untouched: "
          f"{sigint['previous_output_untouched']}; said: {sigint['said']}")  # fmt: skip
    # Nothing received is asked again: the resumed run asks exactly for what the cache lacks.
    nothing_repeated = kill["requests_on_resume"] + kill["cached_before_kill"] == kill["calls_of_a_whole_run"]
    ok = (nothing_repeated and sigint["requests_after_signal"] <= args.concurrency
          and sigint["previous_output_untouched"])  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
