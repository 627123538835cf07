"""What a model's capabilities let it do, decided once for the CLI, the window and the services.

Capabilities use Ollama's vocabulary (``completion, tools, insert, vision, embedding, thinking, image,
audio``; remote adapters translate into it). ``image`` means the model *generates* images (it cannot
chat: Ollama answers ``"x" does not support chat``); ``vision`` means it reads them.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["CAPABILITY_LABELS", "can_call_tools", "chat_refusal"]

CAPABILITY_LABELS: dict[str, str] = {"image": "image generation", "audio": "audio input"}


def chat_refusal(name: str, capabilities: Iterable[str]) -> str | None:
    """Why ``name`` cannot chat, in words for the user; None when it can (or its capabilities are unknown).

    Only models that say what they do and lack ``completion`` are refused, so a model with unknown
    capabilities is still tried (the server has the last word)."""
    caps = {c.strip().lower() for c in capabilities}
    if not caps or "completion" in caps:
        return None
    if "image" in caps:
        return f"{name} generates images and cannot chat."
    if "embedding" in caps:
        return f"{name} is an embedding model: it turns text into vectors and cannot chat."
    return None


def can_call_tools(capabilities: Iterable[str]) -> bool:
    """Ollama's ``tools`` capability, or a remote catalog's tool-calling flag (both map to ``tools``)."""
    caps = {c.strip().lower() for c in capabilities}
    return bool(caps & {"tools", "tool-calling", "tool_calling", "function_calling"})
