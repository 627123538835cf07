"""A kept conversation: the model it was held with, its system prompt, parameters and every turn with
its metrics. Pure data plus the exports (Markdown, JSON); saving is ``store.conversations``' job and
talking to the model is ``services.chat_session``'s.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from desktop_app.core.chat import ChatMessage, ChatMetrics, ChatOptions
from desktop_app.core.models import utcnow

__all__ = [
    "CONVERSATION_VERSION",
    "Conversation",
    "ConversationSummary",
    "Turn",
    "new_conversation_id",
    "pool_host",
    "reply_footer",
    "title_from",
]

CONVERSATION_VERSION = 1
TITLE_CHARS = 60

TurnState = Literal["done", "streaming", "stopped", "failed"]


def new_conversation_id() -> str:
    """Sortable by creation time (the timestamp first) and unique (a random tail)."""
    return f"{utcnow().strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"


def reply_footer(metrics: ChatMetrics | None, answered_by: str | None, *, no_metrics: str = "") -> str:
    """The line under a reply, in the window and in exports: its metrics (``no_metrics`` when it has
    none to tell), and ``via <host>`` for a pool's reply (``answered_by`` is ``<source>/<model>``)."""
    parts = [metrics.summary(" · ", total=True) or no_metrics] if metrics is not None else []
    host = pool_host(answered_by)
    if host:
        parts.append(f"via {host}")
    return " · ".join(p for p in parts if p)


def pool_host(answered_by: str | None) -> str | None:
    """The host (source name) of a pool member id ``<source>/<model>``; None for no member."""
    return answered_by.split("/", 1)[0] if answered_by else None


def title_from(text: str) -> str:
    """A conversation's default title: its first message, on one line, shortened."""
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


class Turn(BaseModel):
    """One message of the conversation, as shown (a reply keeps its thinking, metrics and how it ended)."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["user", "assistant"]
    content: str = ""
    thinking: str = ""
    images: list[str] = Field(default_factory=list)
    model_id: str | None = None  # assistant turns: who answered
    state: TurnState = "done"
    error: str = ""
    metrics: ChatMetrics | None = None
    # assistant turns: the tool calls the model made and the tools' replies, before this answer
    tool_messages: list[ChatMessage] = Field(default_factory=list)
    # a pool's reply (``pool/<model>``): the member that answered, ``<source>/<model>``
    answered_by: str | None = None
    at: datetime = Field(default_factory=utcnow)

    def footer(self) -> str:
        return reply_footer(self.metrics, self.answered_by)


class Conversation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: int = CONVERSATION_VERSION
    id: str = Field(default_factory=new_conversation_id)
    title: str = ""
    model_id: str = ""
    model_name: str = ""
    system_prompt: str = ""
    options: ChatOptions = Field(default_factory=ChatOptions)
    think: bool | str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    turns: list[Turn] = Field(default_factory=list)

    @property
    def display_title(self) -> str:
        if self.title:
            return self.title
        first = next((t.content for t in self.turns if t.role == "user" and t.content), "")
        return title_from(first) if first else "New conversation"

    def history(self) -> list[ChatMessage]:
        """What the model is sent as the conversation so far: user turns and the replies that said
        something (a reply that failed before its first word is left out, with its question)."""
        out: list[ChatMessage] = []
        pending: Turn | None = None
        for turn in self.turns:
            if turn.role == "user":
                pending = turn
            elif pending is not None and turn.content:
                out.append(ChatMessage(role="user", content=pending.content, images=pending.images))
                out += turn.tool_messages
                out.append(ChatMessage(role="assistant", content=turn.content))
                pending = None
        return out

    def summary(self) -> ConversationSummary:
        return ConversationSummary(
            id=self.id,
            title=self.display_title,
            model_id=self.model_id,
            model_name=self.model_name,
            created_at=self.created_at,
            updated_at=self.updated_at,
            turns=len(self.turns),
            preview=" ".join(t.content for t in self.turns)[:400],
        )

    def to_markdown(self) -> str:
        lines = [f"# {self.display_title}", ""]
        lines.append(f"- Model: `{self.model_id}`")
        lines.append(f"- Started: {self.created_at.astimezone().strftime('%Y-%m-%d %H:%M')}")
        opts = self.options.model_dump(exclude_none=True)
        if opts:
            lines.append("- Parameters: " + ", ".join(f"{k}={v}" for k, v in opts.items()))
        if self.think is not None:
            lines.append(f"- Thinking: {self.think}")
        if self.system_prompt:
            lines += ["", "## System prompt", "", self.system_prompt]
        for turn in self.turns:
            who = "You" if turn.role == "user" else (turn.model_id or self.model_id or "Assistant")
            lines += ["", f"## {who}", ""]
            if turn.thinking:
                lines += [
                    "<details><summary>Thinking</summary>",
                    "",
                    turn.thinking.strip(),
                    "",
                    "</details>",
                    "",
                ]
            if turn.content:
                lines.append(turn.content)
            if turn.images:
                lines.append(f"_({len(turn.images)} image{'s' if len(turn.images) != 1 else ''} attached)_")
            if turn.state == "stopped":
                lines.append("_(stopped)_")
            if turn.error:
                lines.append(f"> **Error:** {turn.error}")
            if turn.role == "assistant" and turn.footer():
                lines += ["", f"_{turn.footer()}_"]
        return "\n".join(lines).rstrip() + "\n"

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)


class ConversationSummary(BaseModel):
    """What the conversations list shows (and searches) without holding every turn."""

    id: str
    title: str
    model_id: str
    model_name: str
    created_at: datetime
    updated_at: datetime
    turns: int
    preview: str = ""

    def matches(self, text: str) -> bool:
        hay = f"{self.title} {self.model_id} {self.preview}".lower()
        return all(w in hay for w in text.lower().split())
