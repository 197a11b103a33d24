"""YAML load time of the starter packs: every project and E2E file read through ``pytest_cmdgen.yamlio``.

For each pack under ``../shared/assistants`` (or the directories given), every ``*.yml``/``*.yaml`` file is
read with :func:`pytest_cmdgen.yamlio.load_marked_file` (the loader the runtime, the E2E parser and the
command scripts use), best of ``--repeat`` rounds, and the whole project is loaded with
:meth:`pytest_cmdgen.runtime.project.Project.load` (files + parsing + default patterns), best of the same.
Also prints which loader class ran (the C-accelerated one when PyYAML has libyaml; ``--pure`` forces the
pure-Python one, as on a PyYAML built without libyaml).

Run: ``python benchmarks/bench_yaml_load.py [--repeat N] [--pure] [PACK_DIR ...]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pytest_cmdgen import yamlio
from pytest_cmdgen.runtime.project import Project

PACKS = Path(__file__).resolve().parents[1].parent / "shared" / "assistants"


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packs", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--pure", action="store_true", help="use the pure-Python parser even with libyaml")
    args = parser.parse_args()
    packs = args.packs or sorted(p for p in PACKS.iterdir() if p.is_dir())
    loader = yamlio.LOADER_NAME
    if args.pure:
        yamlio._Loader = yamlio._PureLoader
        loader = "PyYAML pure Python (forced)"
    print(f"loader: {loader}")
    for pack in packs:
        files = sorted(f for f in pack.rglob("*") if f.suffix in (".yml", ".yaml"))
        size = sum(f.stat().st_size for f in files)

        def load_files(files=files) -> None:
            for file in files:
                yamlio.load_marked_file(file)

        files_s = best_of(args.repeat, load_files)
        project_s = best_of(args.repeat, lambda pack=pack: Project.load(pack))
        print(
            f"{pack.name}: {len(files)} files, {size / 1024:.0f} KiB: all files {files_s * 1000:.1f} ms, "
            f"Project.load {project_s * 1000:.1f} ms (best of {args.repeat})"
        )


if __name__ == "__main__":
    main()
