"""``python -m desktop_app.gui [--exit-after-shown]``: the window without the CLI around it."""

from __future__ import annotations

import sys

from desktop_app.gui.app import run

raise SystemExit(run(sys.argv[:1], exit_after_shown="--exit-after-shown" in sys.argv[1:]))
