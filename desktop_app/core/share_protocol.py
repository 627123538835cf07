"""What `modeldesk share` prints, one fact per line, for the person who launched it and for the
window's Share dialog that reads it from the child process."""

from __future__ import annotations

__all__ = [
    "LINE_LOCAL",
    "LINE_LOGIN",
    "LINE_NO_PUBLIC",
    "LINE_PUBLIC",
    "LINE_READY",
    "LINE_STOPPED",
    "LINE_TOOLS",
]

LINE_LOCAL = "Local URL: "  # followed by http://127.0.0.1:PORT/
LINE_LOGIN = "Login: "  # followed by "USER / PASSWORD" (only with --public)
LINE_PUBLIC = "Public URL: "  # followed by the share link
LINE_NO_PUBLIC = "No public link: "  # followed by one sentence saying why
LINE_TOOLS = "Tools: "  # followed by the tools visitors' models may run (only with --tools)
LINE_READY = "Press Ctrl-C to stop."  # everything above has been said
LINE_STOPPED = "Stopped."
