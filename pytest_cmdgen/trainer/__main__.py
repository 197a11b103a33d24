"""``python -m pytest_cmdgen.trainer OUT_DIR ...`` (also under ``accelerate launch -m`` and ``torchrun -m``)."""

from __future__ import annotations

import sys

from pytest_cmdgen.trainer.cli import main

if __name__ == "__main__":
    sys.exit(main())
