"""``pip install …`` as the README-blocks test runs it: checked against this environment, never installed.

The tests run offline, in the environment CI built from the same requirements (``.ci/run`` installs them for
real), so a README block's ``pip install`` is verified instead of run: every requirement it names (the
project's extras resolved from ``pyproject.toml`` in the working directory, recursively, and plain
requirements such as ``torch==2.13.0``) must be installed here in a version its specifier allows, and every
extra must exist. A failure names the requirement and what was found, and exits 1, so a README that asks for
an extra that does not exist, or a pin nothing satisfies, fails its block.

Usage (what the README-blocks prelude's ``pip`` function runs): ``python pip_check.py install [flags] SPEC...``
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

FLAGS_WITH_VALUE = {"-r", "--requirement", "-c", "--constraint", "--index-url", "-i", "--extra-index-url"}


def project_requirements(root: Path, extras: set[str], seen: set[str]) -> tuple[list[Requirement], list[str]]:
    """The project's dependencies plus those of ``extras`` (self-references followed); unknown extras listed."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    name = canonicalize_name(project["name"])
    optional = project.get("optional-dependencies", {})
    found = [Requirement(text) for text in project.get("dependencies", [])]
    unknown: list[str] = []
    for extra in sorted(extras - seen):
        seen.add(extra)
        if extra not in optional:
            unknown.append(f"{project['name']} has no extra {extra!r} (it has: {', '.join(sorted(optional))})")
            continue
        for text in optional[extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == name:
                more, missing = project_requirements(root, set(requirement.extras), seen)
                found += more
                unknown += missing
            else:
                found.append(requirement)
    return found, unknown


def problems(specs: list[str], root: Path) -> list[str]:
    """What is missing from this environment for ``pip install SPECS`` run in ``root``."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements: list[Requirement] = []
    out: list[str] = []
    for spec in specs:
        local = spec.startswith(".")
        requirement = Requirement("project" + spec[1:] if local else spec)
        if local or canonicalize_name(requirement.name) == canonicalize_name(project["name"]):
            more, unknown = project_requirements(root, set(requirement.extras), set())
            requirements += more
            out += unknown
        else:
            requirements.append(requirement)
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            out.append(f"{requirement} is not installed")
            continue
        if requirement.specifier and not requirement.specifier.contains(version, prereleases=True):
            out.append(f"{requirement}: {version} is installed")
    return out


def main(argv: list[str]) -> int:
    """Check ``install [flags] SPEC...``; print what is missing and return 1, or return 0."""
    if not argv or argv[0] != "install":
        print(f"pip_check: only 'pip install' is checked, got: pip {' '.join(argv)}", file=sys.stderr)
        return 1
    specs: list[str] = []
    args = iter(argv[1:])
    for arg in args:
        if arg in FLAGS_WITH_VALUE:
            next(args, None)
        elif not arg.startswith("-"):
            specs.append(arg)
    if not specs:
        print("pip_check: pip install names nothing to install", file=sys.stderr)
        return 1
    missing = problems(specs, Path.cwd())
    for line in missing:
        print(f"pip_check: {line}", file=sys.stderr)
    if missing:
        return 1
    print(f"pip_check: already installed here: {' '.join(specs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
