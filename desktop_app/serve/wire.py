"""The request shapes of OpenAI's API that the server reads (checked against openai-python's
``types/chat/completion_create_params.py`` and ``types/embedding_create_params.py``).

Tolerant like OpenAI's own server is of fields it does not use (``user``, ``metadata``,
``frequency_penalty``…): unknown fields are accepted and ignored. Replies are built as plain dicts
in ``mapping`` (one ``json.dumps`` per streamed chunk, no model per chunk).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatCompletionRequest",
    "EmbeddingRequest",
    "RequestFunction",
    "RequestMessage",
    "RequestToolCall",
    "ResponseFormat",
    "StreamOptions",
]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())


class RequestFunction(_Wire):
    name: str
    arguments: str | dict[str, Any] = ""


class RequestToolCall(_Wire):
    id: str | None = None
    type: str = "function"
    function: RequestFunction


class RequestMessage(_Wire):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    # A string, or content parts ({"type": "text"|"image_url", ...}); None on an assistant tool call.
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[RequestToolCall] | None = None
    tool_call_id: str | None = None
    # What reasoning servers send back in their history (Ollama's /v1 "reasoning", DeepSeek's field).
    reasoning: str | None = None
    reasoning_content: str | None = None


class StreamOptions(_Wire):
    include_usage: bool = False


class ResponseFormat(_Wire):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None


class ChatCompletionRequest(_Wire):
    model: str
    messages: list[RequestMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: str | None = None
    # Ollama's own option names, accepted too (``extra_body={"top_k": 20}``).
    top_k: int | None = None
    num_ctx: int | None = None


class EmbeddingRequest(_Wire):
    model: str
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
