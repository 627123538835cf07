"""Plain-text labels and explanations the window shows (no Qt, so tests and screenshots share them)."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from desktop_app.core.enums import Category, ModelStatus, ServingType, SourceHealth
from desktop_app.core.kinds import kind_spec
from desktop_app.core.model_query import (  # one definition for the window and the Gradio app
    BADGE_EXPERIMENTAL,
    BADGE_LOCAL,
    BADGE_REMOTE,
    CATEGORY_LABELS,
    CATEGORY_ORDER,
    badge_for,
)
from desktop_app.core.pools import is_pool_id

if TYPE_CHECKING:
    from desktop_app.core.models import UnifiedModel

__all__ = [
    "BADGE_EXPERIMENTAL",
    "BADGE_LOCAL",
    "BADGE_REMOTE",
    "CATEGORY_EMPTY_HINTS",
    "CATEGORY_HELP",
    "CATEGORY_LABELS",
    "CATEGORY_ORDER",
    "HEALTH_LABELS",
    "badge_for",
    "badge_of",
    "cloud_note",
    "explain_status",
    "for_window",
    "format_duration",
    "status_explanation",
    "sync_advice",
]

CATEGORY_HELP: dict[Category, str] = {
    Category.EMBEDDING: "Models that turn text into vectors, for search, clustering and similarity.",
    Category.MULTIMODAL: "Models that also read images or hear audio, and models that make images (those cannot chat).",
    Category.FUNCTION_CALLING: "Models that can call tools / functions you describe.",
    Category.REASONING: "Models that think step by step before they answer (a “thinking” section in chat).",
    Category.TEXT: "Models that complete and chat in text.",
    Category.CLOUD_TEXT: "Remote text models (OpenAI, Meta …) from your remote sources.",
    Category.CLOUD_CODE: "Remote models tuned for code (DeepSeek …).",
    Category.CLOUD_MULTIMODAL: "Remote multimodal models (Microsoft …).",
    Category.CLOUD_GENERAL: "Other remote models.",
    Category.EXPERIMENTAL: "Your experimental models and variants: a base model with a system prompt and parameters.",
}

# What an empty category says (its tooltip, and the detail pane): what would go there, and how.
_ADD_REMOTE = "add a remote source in Settings (Ctrl+,), then press F5"
CATEGORY_EMPTY_HINTS: dict[Category, str] = {
    Category.EMBEDDING: "No embedding models yet — pull one (e.g. nomic-embed-text) with Pull model…",
    Category.MULTIMODAL: "No multimodal models yet — pull one (e.g. llava) with Pull model…, or "
    + _ADD_REMOTE,
    Category.FUNCTION_CALLING: "No function-calling models yet — pull one (e.g. qwen3) with Pull model…, or "
    + _ADD_REMOTE,
    Category.REASONING: "No reasoning models yet — pull one (e.g. deepseek-r1) with Pull model…, or "
    + _ADD_REMOTE,
    Category.TEXT: "No local text models yet — pull one (e.g. llama3.2) with Pull model…",
    Category.CLOUD_TEXT: "No remote text models yet — " + _ADD_REMOTE,
    Category.CLOUD_CODE: "No remote code models yet — " + _ADD_REMOTE,
    Category.CLOUD_MULTIMODAL: "No remote multimodal models yet — " + _ADD_REMOTE,
    Category.CLOUD_GENERAL: "No other remote models yet — " + _ADD_REMOTE,
    Category.EXPERIMENTAL: "No experimental models yet — make one from a terminal: modeldesk variant create",
}


def badge_of(model: UnifiedModel) -> str:
    """POOL for a pool (``pool/<model>``), EXPERIMENTAL for variants and experimental models, else
    where the model runs."""
    if is_pool_id(model.id):
        return "POOL"
    return badge_for(model.model_type, model.serving_type)


def cloud_note(model: UnifiedModel) -> str:
    """The detail pane's "Cloud" fact: empty unless the model is an Ollama cloud model."""
    if model.serving_type is not ServingType.HYBRID:
        return ""
    where = model.remote_endpoint or "ollama.com"
    where = where.removeprefix("https://").removesuffix(":443")
    return (
        f"Runs on {where} as {model.remote_id or model.name}; {model.provider} passes requests on "
        "(needs internet and `ollama signin` on that host). Nothing is stored locally but a stub."
    )


_STATUS_WHY: dict[ModelStatus, str] = {
    ModelStatus.AVAILABLE: "Available.",
    ModelStatus.OFFLINE: "Its source did not answer at the last sync. The model is kept and comes back when "
    "the source does; press F5 to try again.",
    ModelStatus.RETIRED: "Its service was shut down for good. Configure another source in Settings (Ctrl+,).",
    ModelStatus.ERROR: "Its source reported an error at the last sync; see the status bar for details.",
    ModelStatus.DISABLED: "Its source is disabled in Settings (Ctrl+,); enable it there to chat with it again.",
}


def status_explanation(model: UnifiedModel) -> str:
    """Why a model is greyed: the source's own message when there is one, else a general reason."""
    return explain_status(model.status, model.status_message)


def explain_status(status: ModelStatus, message: str) -> str:
    why = _STATUS_WHY[status]
    if status is ModelStatus.AVAILABLE:
        return why
    head = f"{status.value.capitalize()}: "
    return head + (f"{for_window(message).rstrip('.')}. {why}" if message else why)


HEALTH_LABELS: dict[SourceHealth, str] = {
    SourceHealth.OK: "reachable",
    SourceHealth.DOWN: "not reachable",
    SourceHealth.RETIRED: "retired",
    SourceHealth.DISABLED: "disabled",
    SourceHealth.UNKNOWN: "not checked yet",
}


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "—"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}:{s:02d}"
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


class _Source(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def base_url(self) -> str: ...


class _Report(Protocol):
    @property
    def source(self) -> str: ...
    @property
    def health(self) -> SourceHealth: ...
    @property
    def message(self) -> str: ...
    @property
    def unreachable(self) -> bool: ...


_LOOPBACK = ("localhost", "127.0.0.1", "::1", "0.0.0.0", "::")
_ADD_SERVICE = "add a remote service in Settings"


def _shown_url(url: str) -> str:
    """The URL without any user:password part (never shown)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


def _one_source(report: _Report, source: _Source | None) -> str:
    url = _shown_url(source.base_url) if source is not None else ""
    spec = kind_spec(source.kind) if source is not None else None
    if source is not None and spec is not None and spec.local and report.unreachable:
        host = urlsplit(source.base_url).hostname or ""
        product = spec.product or spec.label
        if host in _LOOPBACK or host.startswith("127."):
            return f"{product} is not running at {url} — {spec.not_running_hint or 'start it'}"
        return f"{product} at {url} cannot be reached — check that it is running and the address is right"
    where = f" at {url}" if url else ""
    return f"{report.source}{where} is {HEALTH_LABELS[report.health]}: {report.message.rstrip('.')}"


def sync_advice(reports: Sequence[_Report], sources: Sequence[_Source]) -> str | None:
    """What to do when a sync left no source answering (none set up, or every one down or retired),
    in words a first-time user can act on; None when at least one source synced."""
    if any(r.health is SourceHealth.OK for r in reports):
        return None
    if not reports:
        return "No source is set up: add an Ollama host or a remote service in Settings."
    by_name = {s.name: s for s in sources}
    parts = [_one_source(r, by_name.get(r.source)) for r in reports]
    if len(parts) == 1:
        return f"{parts[0]}, or {_ADD_SERVICE}."
    return f"No source answered. {'. '.join(parts)}. Or {_ADD_SERVICE}."


# CLI advice in errors and hints (written for the terminal), said in the window's own terms: its
# buttons (Refresh, Pull model…, Settings), not commands. Most specific first.
_WINDOW_WORDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), words)
    for pattern, words in (
        (
            r"\bset (?:a valid|the) key with `?modeldesk key set ([^`\s]+)`?",
            r"set a valid key for \1 in Settings (Ctrl+,)",
        ),
        (r"`?modeldesk key set <source>`?", "Settings (Ctrl+,)"),
        (r"`?modeldesk key set ([^`\s.,;]+)`?", r"Settings (Ctrl+,) (the key of \1)"),
        (r"`?modeldesk pull <name>`?", "Pull model…"),
        (r"`?modeldesk pull ([^`\s.,;]+)`?", r"Pull model… (\1)"),
        (r"\brun `?modeldesk sync`?", "press Refresh (F5)"),
        (r"`?modeldesk sync`?", "Refresh (F5)"),
        (r"the URL in `?modeldesk source list`? is right", "the URL in Settings (Ctrl+,) is right"),
        (r"`?modeldesk source list`?", "Settings (Ctrl+,)"),
        (r"(?:with )?`?modeldesk source add[^`.;]*`?", "in Settings (Ctrl+,)"),
        (
            r"Enable it in Settings, or with `?modeldesk source enable [^`\s.]+`?",
            "Enable it in Settings (Ctrl+,)",
        ),
        (r"`?modeldesk source enable ([^`\s.]+)`?", r"Settings (Ctrl+,) (tick \1)"),
        (r"then `?modeldesk list`?", "then look in the tree"),
        (r"`?modeldesk list`?", "the tree"),
        (r"`?modeldesk doctor`?", "Settings (Ctrl+,) and the status bar's dots"),
    )
)


def for_window(text: str) -> str:
    """A message or hint as the window says it: ``Run `modeldesk sync`, or pull the model first with
    `modeldesk pull <name>`.`` becomes ``Press Refresh (F5), or pull the model first with Pull model….``"""
    if "modeldesk " not in text.lower():
        return text
    out = text
    for pattern, words in _WINDOW_WORDS:
        out = pattern.sub(functools.partial(_same_case, words=words), out)
    return out


def _same_case(match: re.Match[str], words: str) -> str:
    """The replacement, capitalized when what it replaces was ("Run `modeldesk sync`" → "Press …")."""
    out = match.expand(words)
    return out[:1].upper() + out[1:] if match.group(0)[:1].isupper() else out
