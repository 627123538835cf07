"""A protocol-faithful fake of GitHub Models (models.github.ai) as it was before its retirement,
and as it answers since (modes ``retired``, ``retired_403``, ``brownout``).

Built from github/docs ``src/rest/data/fpt-2022-11-28/models.json`` and github/gh-models:

- ``GET /catalog/models`` → a JSON array of ``{id, name, publisher, registry, summary, html_url,
  version, capabilities, limits{max_input_tokens, max_output_tokens}, rate_limit_tier,
  supported_input_modalities, supported_output_modalities, tags}``
- ``POST /inference/chat/completions`` (SSE when ``stream``), ``POST /inference/embeddings``, and the
  org-scoped ``/orgs/{org}/inference/...`` (the org is recorded in ``request.extra["org"]``)
- errors ``{"error": {"code": "unauthorized" | "unknown_model" | "RateLimitReached" | "content_filter",
  "message"}}``; 429 with ``x-ratelimit-timeremaining`` or ``Retry-After``.

Modes and knobs are those of ``tests.fakes.openai_compat.FakeOpenAIServer``; ``catalog`` is a settable
list of raw entries (so tests can serve entries with missing or unknown fields).

Run standalone: ``python -m tests.fakes.github_models --port 8002 [--mode retired] [--key KEY]``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.openai_compat import FakeOpenAIServer, new_test_key, serve_main

__all__ = ["CATALOG", "FakeGitHubModels", "fake_github"]


def _entry(
    id: str,
    name: str,
    publisher: str,
    registry: str,
    summary: str,
    *,
    version: str,
    capabilities: list[str],
    max_in: int,
    max_out: int | None,
    tier: str,
    inputs: list[str],
    outputs: list[str],
    tags: list[str],
) -> dict[str, Any]:
    slug = id.split("/", 1)[1].replace(".", "-")
    return {
        "id": id,
        "name": name,
        "publisher": publisher,
        "registry": registry,
        "summary": summary,
        "html_url": f"https://github.com/marketplace/models/{registry}/{slug}",
        "version": version,
        "capabilities": capabilities,
        "limits": {"max_input_tokens": max_in, "max_output_tokens": max_out},
        "rate_limit_tier": tier,
        "supported_input_modalities": inputs,
        "supported_output_modalities": outputs,
        "tags": tags,
    }


CATALOG: list[dict[str, Any]] = [
    _entry(
        "openai/gpt-4.1",
        "OpenAI GPT-4.1",
        "OpenAI",
        "azure-openai",
        "gpt-4.1 outperforms gpt-4o across the board, with major gains in coding, instruction following, "
        "and long-context understanding",
        version="2025-04-14",
        capabilities=["streaming", "tool-calling"],
        max_in=1048576,
        max_out=32768,
        tier="high",
        inputs=["text", "image"],
        outputs=["text"],
        tags=["multipurpose", "multilingual", "multimodal"],
    ),
    _entry(
        "openai/gpt-4.1-mini",
        "OpenAI GPT-4.1-mini",
        "OpenAI",
        "azure-openai",
        "gpt-4.1-mini outperform gpt-4o-mini across the board, including notable gains in coding",
        version="2025-04-14",
        capabilities=["streaming", "tool-calling"],
        max_in=1048576,
        max_out=32768,
        tier="low",
        inputs=["text", "image"],
        outputs=["text"],
        tags=["multipurpose", "multilingual", "multimodal"],
    ),
    _entry(
        "openai/text-embedding-3-small",
        "OpenAI Text Embedding 3 (small)",
        "OpenAI",
        "azure-openai",
        "Text-embedding-3 series models are the latest and most capable embedding model from OpenAI.",
        version="1",
        capabilities=[],
        max_in=8191,
        max_out=None,
        tier="embeddings",
        inputs=["text"],
        outputs=["embeddings"],
        tags=["rag", "multilingual"],
    ),
    _entry(
        "meta/llama-3.3-70b-instruct",
        "Llama-3.3-70B-Instruct",
        "Meta",
        "azureml-meta",
        "Llama 3.3 70B Instruct offers enhanced reasoning, math, and instruction following with text only "
        "performance comparable to Llama 3.1 405B.",
        version="5",
        capabilities=["streaming"],
        max_in=128000,
        max_out=4096,
        tier="high",
        inputs=["text"],
        outputs=["text"],
        tags=["conversation"],
    ),
    _entry(
        "deepseek/deepseek-r1",
        "DeepSeek-R1",
        "DeepSeek",
        "azureml-deepseek",
        "DeepSeek-R1 excels at reasoning tasks using a step-by-step training process, such as language, "
        "scientific reasoning, and coding tasks.",
        version="1",
        capabilities=["streaming"],
        max_in=128000,
        max_out=4096,
        tier="custom",
        inputs=["text"],
        outputs=["text"],
        tags=["reasoning", "coding", "agents"],
    ),
    _entry(
        "microsoft/phi-4-multimodal-instruct",
        "Phi-4-multimodal-instruct",
        "Microsoft",
        "azureml",
        "First small multimodal model to have 3 modality inputs (text, audio, image), excelling in quality "
        "and efficiency",
        version="1",
        capabilities=["streaming"],
        max_in=131072,
        max_out=4096,
        tier="low",
        inputs=["audio", "image", "text"],
        outputs=["text"],
        tags=["multimodal", "multilingual"],
    ),
    _entry(
        "mistral-ai/mistral-small-2503",
        "Mistral Small 3.1",
        "Mistral AI",
        "azureml-mistral",
        "Enhanced Mistral Small 3 with multimodal capabilities and a 128k context length.",
        version="1",
        capabilities=["streaming", "tool-calling"],
        max_in=128000,
        max_out=4096,
        tier="low",
        inputs=["text", "image"],
        outputs=["text"],
        tags=["low latency", "multimodal", "multilingual"],
    ),
    _entry(
        "openai/o3-mini",
        "OpenAI o3-mini",
        "OpenAI",
        "azure-openai",
        "o3-mini includes the o1 features with significant cost-efficiencies for scenarios requiring high "
        "performance.",
        version="2025-01-31",
        capabilities=["streaming", "tool-calling"],
        max_in=200000,
        max_out=100000,
        tier="custom",
        inputs=["text"],
        outputs=["text"],
        tags=["reasoning", "multilingual", "coding"],
    ),
]

_ORG_INFERENCE = re.compile(r"^/orgs/([^/]+)/inference(/.*)$")


class FakeGitHubModels(FakeOpenAIServer):
    """``with FakeGitHubModels(api_key=...) as gh: ...``; ``gh.url`` is the base (like https://models.github.ai)."""

    prefix = ""

    def __init__(self, *, api_key: str | None = None, port: int = 0, mode: str = "normal") -> None:
        super().__init__(api_key=api_key, port=port, mode=mode, models=[])
        self.catalog: list[Any] = copy.deepcopy(CATALOG)
        self.prompt_filter_chunk = True  # Azure-hosted inference sends prompt_filter_results first

    @property
    def model_ids(self) -> list[str]:
        return [e["id"] for e in self.catalog if isinstance(e, dict) and isinstance(e.get("id"), str)]

    def route(self, method: str, path: str) -> tuple[str | None, dict[str, Any]]:
        if (method, path) == ("GET", "/catalog/models"):
            return "models", {}
        params: dict[str, Any] = {}
        rest = None
        if path.startswith("/inference/"):
            rest = path[len("/inference") :]
        else:
            match = _ORG_INFERENCE.match(path)
            if match:
                params["org"] = match.group(1)
                rest = match.group(2)
        table = {"/chat/completions": "chat", "/embeddings": "embeddings"}
        if rest is not None and method == "POST" and rest in table:
            return table[rest], params
        return None, {}

    def models_body(self) -> Any:
        return self.catalog

    def body_unauthorized(self, presented: str) -> dict[str, Any]:
        message = "Resource not accessible by integration"
        if self.echo_key and presented:
            message = f"Bad credentials: {presented}"
        return {"error": {"code": "unauthorized", "message": message, "details": None}}

    def body_rate_limited(self, model: str) -> dict[str, Any]:
        return {
            "error": {
                "code": "RateLimitReached",
                "message": f"Rate limit of 50 per 86400s exceeded for UserByModelByDay. "
                f"Please wait {self.rate_limit_wait:g} seconds before retrying.",
                "details": f"Rate limit of 50 per 86400s exceeded for UserByModelByDay. "
                f"Please wait {self.rate_limit_wait:g} seconds before retrying.",
            }
        }

    def unknown_model_response(self, model: str) -> tuple[int, dict[str, Any]]:
        return 400, {
            "error": {"code": "unknown_model", "message": f"Unknown model: {model}", "details": None}
        }


@pytest.fixture
def fake_github() -> Iterator[FakeGitHubModels]:
    """A running fake GitHub Models service that requires ``fake_github.api_key``."""
    with FakeGitHubModels(api_key=new_test_key("github_pat")) as server:
        yield server


if __name__ == "__main__":
    serve_main(FakeGitHubModels, "Fake GitHub Models service for ModelDesk tests.")
