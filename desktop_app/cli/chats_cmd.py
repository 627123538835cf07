"""`chats list|export`: the conversations the window keeps (one JSON file each in the data folder)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from desktop_app.cli import EXIT_OK
from desktop_app.cli._common import print_json
from desktop_app.cli._format import table
from desktop_app.core.errors import InvalidInput

if TYPE_CHECKING:
    from desktop_app.store.conversations import ConversationStore

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("chats", help="list and export the conversations kept by the window")
    csub = p.add_subparsers(dest="chats_command", metavar="ACTION", required=True)
    ls = csub.add_parser("list", help="every kept conversation, newest first")
    ls.add_argument("--search", default="", help="only those whose title, model or text has these words")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_list)
    ex = csub.add_parser("export", help="one conversation as Markdown (default) or JSON")
    ex.add_argument("id", help="the conversation's id (see `modeldesk chats list`)")
    ex.add_argument("--format", choices=("markdown", "json"), default="markdown")
    ex.add_argument("-o", "--output", type=Path, help="write to this file (default: print it)")
    ex.set_defaults(handler=cmd_export)


def _store() -> ConversationStore:
    from desktop_app.store.conversations import ConversationStore

    return ConversationStore()


def cmd_list(args: argparse.Namespace) -> int:
    summaries = [s for s in _store().list() if not args.search.strip() or s.matches(args.search)]
    if args.json:
        print_json([s.model_dump(mode="json") for s in summaries])
        return EXIT_OK
    if not summaries:
        print("No conversations yet: chat in the window (modeldesk) and they are kept here.")
        return EXIT_OK
    rows = [
        [s.id, s.updated_at.astimezone().strftime("%Y-%m-%d %H:%M"), s.model_id, str(s.turns), s.title]
        for s in summaries
    ]
    print(table(["ID", "UPDATED", "MODEL", "MESSAGES", "TITLE"], rows))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from desktop_app.store.conversations import export_text

    text = export_text(_store().load(args.id), args.format)
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"Cannot write {args.output}: {exc.strerror or exc}.") from None
    print(f"Wrote {args.output}.")
    return EXIT_OK
