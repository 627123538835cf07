"""Category rules as data: one table, user-overridable.

Precedence is the order of ``CAPABILITY_RULES``: a model is in every category it qualifies for and its
primary ``category`` is the first one. Remote catalog models also get a publisher category
(``cloud_*``) which comes first for them, so the tree shows them under the cloud branch while a
capability filter still finds them beside local models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase

from desktop_app.core.models import Category

__all__ = [
    "CAPABILITY_RULES",
    "DEFAULT_RULES",
    "PUBLISHER_GUESSES",
    "PUBLISHER_RULES",
    "CategoryRules",
    "guess_publisher",
]

# (capability, category), in precedence order. Capabilities use Ollama's vocabulary; remote adapters
# translate catalog metadata into it (embeddings output → "embedding", image input → "vision",
# tool-calling → "tools", a reasoning tag → "thinking"). Ollama's "image" (the model generates images;
# it cannot chat) and "audio" (it hears audio) are media beyond text: multimodal, never plain text.
CAPABILITY_RULES: tuple[tuple[str, Category], ...] = (
    ("embedding", Category.EMBEDDING),
    ("vision", Category.MULTIMODAL),
    ("image", Category.MULTIMODAL),
    ("audio", Category.MULTIMODAL),
    ("tools", Category.FUNCTION_CALLING),
    ("thinking", Category.REASONING),
    ("completion", Category.TEXT),
)

# (glob over the catalog id "publisher/name", category); first match wins.
PUBLISHER_RULES: tuple[tuple[str, Category], ...] = (
    ("openai/*", Category.CLOUD_TEXT),
    ("meta/*", Category.CLOUD_TEXT),
    ("deepseek/*", Category.CLOUD_CODE),
    ("microsoft/*", Category.CLOUD_MULTIMODAL),
    ("*", Category.CLOUD_GENERAL),
)


# OpenAI-compatible servers list bare ids ("gpt-4o-mini", "qwen2.5-vl-7b-instruct"). The publisher is
# guessed from the name's start so the publisher rules apply to them too: (prefix, publisher), first wins.
PUBLISHER_GUESSES: tuple[tuple[str, str], ...] = (
    ("gpt-", "openai"),
    ("chatgpt", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("text-embedding-", "openai"),
    ("llama", "meta"),
    ("meta-llama", "meta"),
    ("deepseek", "deepseek"),
    ("phi-", "microsoft"),
    ("phi3", "microsoft"),
    ("phi4", "microsoft"),
    ("mistral", "mistral-ai"),
    ("mixtral", "mistral-ai"),
    ("codestral", "mistral-ai"),
    ("qwen", "alibaba"),
    ("gemma", "google"),
    ("gemini", "google"),
    ("claude", "anthropic"),
    ("command", "cohere"),
)


def guess_publisher(model_name: str) -> str | None:
    """The publisher of a bare model id by its name, or None; ids that name one (``a/b``) keep theirs."""
    lowered = model_name.lower()
    if "/" in lowered:
        return lowered.split("/", 1)[0]
    for prefix, publisher in PUBLISHER_GUESSES:
        if lowered.startswith(prefix):
            return publisher
    return None


class CategoryRules:
    """Applies the rule tables. Overrides come from settings as plain mappings."""

    def __init__(
        self,
        capability_rules: Sequence[tuple[str, Category]] = CAPABILITY_RULES,
        publisher_rules: Sequence[tuple[str, Category]] = PUBLISHER_RULES,
    ) -> None:
        self.capability_rules = tuple(capability_rules)
        self.publisher_rules = tuple(publisher_rules)

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, Mapping[str, str]] | None) -> CategoryRules:
        """``overrides = {"capabilities": {"audio": "multimodal"}, "publishers": {"mistral-ai/*": "cloud_text"}}``.

        Overrides go first, so they win; unknown category names raise ``ValueError``.
        """
        if not overrides:
            return cls()
        caps = [(k, Category(v)) for k, v in overrides.get("capabilities", {}).items()]
        pubs = [(k, Category(v)) for k, v in overrides.get("publishers", {}).items()]
        return cls(tuple(caps) + CAPABILITY_RULES, tuple(pubs) + PUBLISHER_RULES)

    def for_capabilities(self, capabilities: Iterable[str]) -> list[Category]:
        """Categories for a local model. A model with no known capability still lands in ``text``."""
        caps = {c.strip().lower() for c in capabilities}
        found = [cat for cap, cat in self.capability_rules if cap in caps]
        found = list(dict.fromkeys(found))
        return found or [Category.TEXT]

    def for_publisher(self, catalog_id: str) -> Category:
        lowered = catalog_id.lower()
        for pattern, cat in self.publisher_rules:
            if fnmatchcase(lowered, pattern):
                return cat
        return Category.CLOUD_GENERAL

    def for_remote(self, catalog_id: str, capabilities: Iterable[str]) -> list[Category]:
        """Publisher category first, then capability categories (without the generic ``text``)."""
        caps = [c for c in self.for_capabilities(capabilities) if c is not Category.TEXT]
        return list(dict.fromkeys([self.for_publisher(catalog_id), *caps]))

    def for_experimental(self, parent_categories: Iterable[Category]) -> list[Category]:
        return list(dict.fromkeys([Category.EXPERIMENTAL, *parent_categories]))


DEFAULT_RULES = CategoryRules()
