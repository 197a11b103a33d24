"""The PNG charts read back (size, not blank, the expected number of bars), and the report without
matplotlib, in a real interpreter where it cannot be imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from pytest_cmdgen.coverage.plots import BAR_COLOR, PLOTS_HINT, TRACK_COLOR, VAL_COLOR
from tests.coverage_report.conftest import ShopRun
from tests.support.paths import REPO


def _mask(path: Path, *colors: str) -> np.ndarray:
    """Pixels of the image that have exactly one of ``colors``."""
    pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
    mask = np.zeros(pixels.shape[:2], dtype=bool)
    for color in colors:
        rgb = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
        mask |= (pixels == rgb).all(axis=2)
    return mask


def _runs(line: np.ndarray) -> int:
    """How many separate stretches of True a line of pixels holds."""
    values = line.astype(int)
    return int(values[0] + np.count_nonzero(np.diff(values) == 1))


def vertical_bars(path: Path, color: str) -> int:
    """Bars of ``color`` standing on the x axis: stretches of that colour in the row just above it."""
    mask = _mask(path, color)
    rows = np.flatnonzero(mask.any(axis=1))
    return 0 if rows.size == 0 else _runs(mask[rows.max() - 1])


def horizontal_bars(path: Path) -> int:
    """Flows drawn as bars from the y axis (coverage on a grey track): stretches in the first column."""
    mask = _mask(path, BAR_COLOR, TRACK_COLOR)
    columns = np.flatnonzero(mask.any(axis=0))
    return _runs(mask[:, columns.min() + 1])


def _not_blank(path: Path) -> None:
    pixels = np.asarray(Image.open(path).convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20  # axes, text, bars: far more than a blank page


def test_the_charts_have_their_size_and_one_bar_per_flow_or_command(shop: ShopRun) -> None:
    directory = shop.config.out / "coverage"
    flows = directory / "flow_coverage_for_passed_tests.png"
    assert Image.open(flows).size == (800, 300)  # 0.5 inch per flow + 1.5 inch, at 100 dpi
    _not_blank(flows)
    assert horizontal_bars(flows) == 3  # order pizza, check hours, greet politely

    for status in ("passed", "failed"):
        histogram = directory / f"commands_histogram_for_{status}_tests.png"
        assert Image.open(histogram).size == (800, 450)
        _not_blank(histogram)
        assert vertical_bars(histogram, BAR_COLOR) == 2  # start flow and set slot; the six zero counts draw nothing

    data_points = directory / "commands_histogram_for_data_points.png"
    assert Image.open(data_points).size == (900, 450)
    _not_blank(data_points)
    assert vertical_bars(data_points, BAR_COLOR) == 2  # train: start flow, set slot
    assert vertical_bars(data_points, VAL_COLOR) == 1  # val: start flow


def test_the_same_report_gives_the_same_bytes(shop: ShopRun, tmp_path: Path) -> None:
    from pytest_cmdgen.coverage import write_plots

    assert shop.context.coverage is not None
    written = write_plots(shop.context.coverage, tmp_path)
    for name in written:
        assert (tmp_path / name).read_bytes() == (shop.config.out / "coverage" / name).read_bytes()


def test_without_matplotlib_the_report_has_no_charts_and_says_how_to_get_them(tmp_path: Path) -> None:
    blocker = tmp_path / "no_matplotlib"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'matplotlib' or name.startswith('matplotlib.'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, _Refuse())\n"
    )
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tests.coverage_report.conftest import run_shop\n"
        "run = run_shop(Path(sys.argv[1]), prepare=True)\n"
        "assert not run.context.errors, run.context.errors\n"
        "print('matplotlib imported' if 'matplotlib' in sys.modules else 'no matplotlib')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "shop")], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "no matplotlib"
    directory = tmp_path / "shop" / "out" / "coverage"
    assert sorted(p.name for p in directory.iterdir()) == [
        "coverage.json",
        "coverage_report_for_failed_tests.csv",
        "coverage_report_for_passed_tests.csv",
        "missing_tests.yml",
    ]
    data = json.loads((directory / "coverage.json").read_text())
    assert data["charts"] == [] and data["charts_hint"] == PLOTS_HINT
