"""Kept conversations: one JSON file per conversation under the data dir's ``conversations/``.

Each save writes a temp file, fsyncs it and renames it over the old one, so a crash leaves either the
previous version or the new one, never half a file. A file that cannot be read is moved aside
(``<id>.json.corrupt-<stamp>``), never deleted, and left out of the list.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

from pydantic import ValidationError

from desktop_app.core.conversation import Conversation, ConversationSummary
from desktop_app.core.errors import InvalidInput, StorageError
from desktop_app.core.models import utcnow
from desktop_app.store.faults import storage_problem
from desktop_app.store.paths import data_dir

__all__ = ["ConversationStore", "export_text"]

log = logging.getLogger(__name__)

_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


class ConversationStore:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or data_dir() / "conversations"
        self.moved_aside: list[Path] = []

    def _path(self, conversation_id: str) -> Path:
        if not _ID.match(conversation_id):
            raise InvalidInput(f"{conversation_id!r} is not a conversation id.")
        return self.folder / f"{conversation_id}.json"

    def save(self, conversation: Conversation) -> None:
        """Write atomically (temp file, fsync, rename)."""
        self.write(conversation.id, conversation.to_json())

    def write(self, conversation_id: str, text: str) -> None:
        """Write a conversation already serialized (``Conversation.to_json``): the window serializes on
        its own thread and writes (and fsyncs) in a worker thread."""
        path = self._path(conversation_id)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{conversation_id}-", suffix=".tmp", dir=self.folder)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            message, hint = storage_problem(exc, path)
            raise StorageError(
                f"{message} The conversation stays open; it is saved with its next message.", hint=hint
            ) from None

    def load(self, conversation_id: str) -> Conversation:
        path = self._path(conversation_id)
        try:
            return Conversation.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            raise InvalidInput(f"No conversation {conversation_id!r}; it may have been deleted.") from None
        except (ValueError, ValidationError) as exc:
            aside = self._move_aside(path)
            raise StorageError(
                f"The conversation file {path.name} is damaged ({str(exc).splitlines()[0]}).",
                hint=f"It was moved to {aside}." if aside else "",
            ) from None
        except OSError as exc:
            raise StorageError(f"Cannot read {path}: {exc.strerror or exc}") from None

    def list(self) -> list[ConversationSummary]:
        """Every readable conversation, most recently updated first."""
        out: list[ConversationSummary] = []
        if not self.folder.is_dir():
            return out
        for path in self.folder.glob("*.json"):
            try:
                out.append(Conversation.model_validate_json(path.read_bytes()).summary())
            except (ValueError, ValidationError):
                log.warning("conversation file %s is damaged; moving it aside", path)
                self._move_aside(path)
            except OSError as exc:
                log.warning("cannot read %s: %s", path, exc)
        out.sort(key=lambda s: s.updated_at, reverse=True)
        return out

    def rename(self, conversation_id: str, title: str) -> Conversation:
        title = " ".join(title.split())
        if not title:
            raise InvalidInput("A conversation needs a title; type one, or press Esc to keep the old one.")
        conversation = self.load(conversation_id)
        conversation.title = title
        self.save(conversation)
        return conversation

    def delete(self, conversation_id: str) -> None:
        try:
            self._path(conversation_id).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"Cannot delete the conversation: {exc.strerror or exc}") from None

    def _move_aside(self, path: Path) -> Path | None:
        target = path.with_name(f"{path.name}.corrupt-{utcnow().strftime('%Y%m%dT%H%M%S')}")
        try:
            os.replace(path, target)
        except OSError:
            return None
        self.moved_aside.append(target)
        return target


def export_text(conversation: Conversation, fmt: str) -> str:
    """``markdown`` or ``json``."""
    if fmt in ("md", "markdown"):
        return conversation.to_markdown()
    if fmt == "json":
        return conversation.to_json()
    raise InvalidInput(f"Unknown export format {fmt!r}; use markdown or json.")
