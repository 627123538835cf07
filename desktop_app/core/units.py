"""Sizes in words, shared by the CLI, the window and the adapters' model descriptions (one formatter,
so a model's size reads the same everywhere)."""

from __future__ import annotations

__all__ = ["format_bytes"]


def format_bytes(n: float | None, *, missing: str = "—") -> str:
    """Decimal units, as Ollama and disk vendors count them: ``1.2 GB``, ``512 B``; ``missing`` for None."""
    if n is None:
        return missing
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"
