"""Entry script for the PyInstaller bundle."""

from desktop_app.cli import main

raise SystemExit(main())
