"""Options: one table, CLI > ini > default, usage errors in one line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pytest_cmdgen.plugin.options import OPTIONS, OptionValueError, convert, resolve

pytest_plugins = ["pytester"]


def _resolve(cli: dict, ini: dict, tmp_path: Path):
    return resolve(
        cli_value=lambda s: cli.get(s.name),
        ini_value=lambda s: ini.get(s.name),
        invocation_dir=tmp_path / "cwd",
        ini_dir=tmp_path / "ini",
        rootdir=tmp_path / "root",
    )


def test_defaults(tmp_path: Path) -> None:
    settings = _resolve({}, {}, tmp_path)
    assert settings.concurrency == 16
    assert settings.max_retries == 5
    assert settings.cache_mode == "use"
    assert settings.cache == tmp_path / "root" / ".cmdgen_cache"
    assert settings.assistant == tmp_path / "root"
    assert settings.now is None


def test_cli_beats_ini_beats_default_and_paths_resolve_against_their_source(tmp_path: Path) -> None:
    settings = _resolve(
        {"concurrency": "4", "assistant": "proj"},
        {"concurrency": "8", "max_retries": "2", "assistant": "other", "cache": "c"},
        tmp_path,
    )
    assert settings.concurrency == 4
    assert settings.max_retries == 2
    assert settings.assistant == tmp_path / "cwd" / "proj"
    assert settings.cache == tmp_path / "ini" / "c"


def test_now_is_timezone_aware(tmp_path: Path) -> None:
    naive = _resolve({"now": "2024-01-15T14:30:45"}, {}, tmp_path).now
    assert naive == dt.datetime(2024, 1, 15, 14, 30, 45, tzinfo=dt.timezone.utc)
    offset = _resolve({"now": "2024-01-15T14:30:45+05:30"}, {}, tmp_path).now
    assert offset.utcoffset() == dt.timedelta(hours=5, minutes=30)


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("concurrency", "many", "--cmdgen-concurrency / cmdgen_concurrency: expected an integer, got 'many'"),
        ("concurrency", "0", "--cmdgen-concurrency / cmdgen_concurrency: expected an integer >= 1, got '0'"),
        ("cache_mode", "sometimes", "--cmdgen-cache-mode: expected one of use, refresh, replay, off, got 'sometimes'"),
        ("now", "yesterday", "--cmdgen-now / cmdgen_now: expected an ISO 8601 timestamp, got 'yesterday'"),
        ("rasa_version", "4.0", "expected a Rasa version X.Y or X.Y.Z from 3.10 to 3.21, got '4.0'"),
    ],
)
def test_bad_values_name_the_option(name: str, raw: str, message: str, tmp_path: Path) -> None:
    spec = next(s for s in OPTIONS if s.name == name)
    with pytest.raises(OptionValueError) as info:
        convert(spec, raw, tmp_path)
    assert message in str(info.value)


def test_bad_value_is_a_usage_error_in_pytest(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ncmdgen_max_retries = -1\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--cmdgen-max-retries / cmdgen_max_retries: expected an integer >= 0, got '-1'*"])
    assert "Traceback" not in result.stderr.str()


def test_every_option_is_registered_with_its_ini_mirror(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    out = result.stdout.str()
    for spec in OPTIONS:
        assert spec.ini in out
        if spec.cli:
            assert spec.flag in out


def test_readme_options_section_matches_the_registered_options() -> None:
    from pytest_cmdgen.plugin.options import options_markdown

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    begin, end = "<!-- options:begin -->", "<!-- options:end -->"
    section = readme.split(begin)[1].split(end)[0].strip()
    stale = "README options table is stale: run `python -m pytest_cmdgen.plugin.options`"
    assert section == options_markdown().strip(), stale
