"""`python -m desktop_app` runs the same entry point as the `modeldesk` command."""

from desktop_app.cli import main

raise SystemExit(main())
