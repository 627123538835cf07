"""The FastAPI app: ``/v1/models``, ``/v1/chat/completions`` and ``/v1/embeddings`` over the same
services the window uses (``services.serving``: variants apply their system prompt and parameters
there, and a request's own parameters win).

Every reply that is not a success is OpenAI's ``{"error": {...}}`` with a fitting status. A stream
reads the source's first chunk before answering, so errors before the first token still get their
own status (404, 429 with Retry-After, 503…); later ones arrive as an error event, as OpenAI sends.
The registry is read per request, so models synced meanwhile (by the window or the CLI) are served
without a restart. Keys stay in the adapters: nothing a source sent in its headers reaches a client.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import TypeVar, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from desktop_app.core.chat import ChatChunk, ChatResult
from desktop_app.core.errors import InvalidInput, ModelDeskError, ModelNotFound
from desktop_app.core.models import ModelType, ServingType, UnifiedModel
from desktop_app.core.pools import is_pool_id
from desktop_app.serve.config import ServeConfig, is_loopback, is_remote
from desktop_app.serve.mapping import (
    ErrorReply,
    StreamEncoder,
    chat_call,
    completion_body,
    embedding_body,
    embedding_inputs,
    error_body,
    error_reply,
    model_entry,
)
from desktop_app.serve.wire import ChatCompletionRequest, EmbeddingRequest
from desktop_app.services.context import AppContext
from desktop_app.services.serving import embed, resolve, stream_chat

__all__ = ["create_app", "servable_models"]

log = logging.getLogger(__name__)

_M = TypeVar("_M", bound=BaseModel)
_readers: set[asyncio.Task[None]] = set()
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class _Refused(Exception):
    """A request stopped at the door (auth, host, content type): carries its OpenAI-shaped reply."""

    def __init__(self, reply: ErrorReply) -> None:
        super().__init__(reply.body["error"]["message"])
        self.reply = reply


def _json(reply: ErrorReply) -> JSONResponse:
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers or None)


def servable_models(ctx: AppContext, config: ServeConfig) -> list[UnifiedModel]:
    """Every usable model by its registry id, then each pool (``pool/<model>``: one model on several
    Ollama hosts, each request to the least busy host)."""
    from desktop_app.services.pools import list_pools, pool_model

    models = _registry_models(ctx, config)
    return models + [pool_model(ctx, pool) for pool in list_pools(ctx, models).values()]


def _registry_models(ctx: AppContext, config: ServeConfig) -> list[UnifiedModel]:
    """Every usable model the server may hand out (remote ones only with ``allow_remote``)."""
    return [m for m in ctx.registry.list_models() if m.usable and (config.allow_remote or not is_remote(m))]


def create_app(ctx: AppContext, config: ServeConfig) -> FastAPI:
    """The app over ``ctx`` (which the caller opens and closes)."""
    app = FastAPI(title="ModelDesk", docs_url=None, redoc_url=None, openapi_url=None)
    token = config.token.encode() if config.token else None

    def guard(request: Request, *, post: bool = False) -> None:
        """The token when one is set; without one (loopback only), a Host header naming this machine
        (a web page that rebinds its DNS name to 127.0.0.1 cannot pass). POSTs must be JSON, so a web
        page cannot send one without the browser asking first (a CORS preflight, never granted)."""
        if token is not None:
            header = request.headers.get("authorization", "")
            scheme, _, presented = header.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), token):
                message = (
                    "Missing bearer token: send the server's token as the API key (Authorization: Bearer …)."
                    if not header
                    else "The token is not the server's token."
                )
                raise _Refused(
                    ErrorReply(401, error_body(message, "invalid_request_error", "invalid_api_key"))
                )
        else:
            host = _host_of(request.headers.get("host", ""))
            if host and not is_loopback(host):
                raise _Refused(
                    ErrorReply(
                        403, error_body(f"Host {host!r} is not this machine.", "invalid_request_error")
                    )
                )
        if post:
            ctype = request.headers.get("content-type", "").partition(";")[0].strip().lower()
            if ctype != "application/json":
                raise _Refused(
                    ErrorReply(
                        415,
                        error_body(
                            "Send the request body as JSON (Content-Type: application/json).",
                            "invalid_request_error",
                        ),
                    )
                )

    async def parse(request: Request, cls: type[_M]) -> _M:
        guard(request, post=True)
        raw = await request.body()
        try:
            return cls.model_validate_json(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "body"
            if err["type"] == "json_invalid":
                raise InvalidInput("The request body is not valid JSON.") from None
            raise InvalidInput(f"{where}: {err['msg']}") from None

    def lookup(ref: str) -> UnifiedModel:
        try:
            if is_pool_id(ref):
                from desktop_app.services.pools import find_pool, pool_model

                return pool_model(ctx, find_pool(ctx, ref))  # local hosts only: never remote
            model = ctx.registry.get(ref)
        except ModelNotFound:
            raise ModelNotFound(
                f"The model {ref!r} does not exist in ModelDesk's registry.",
                hint="GET /v1/models lists the models served here.",
            ) from None
        if not config.allow_remote and _goes_remote(ctx, model):
            raise ModelNotFound(
                f"The model {ref!r} is a remote model, which this server does not serve.",
                hint="Start the server with `modeldesk serve --allow-remote` to serve remote (paid) models.",
            )
        return model

    # ------------------------------------------------------------------ errors in OpenAI's shape
    @app.exception_handler(_Refused)
    async def refused(_request: Request, exc: _Refused) -> JSONResponse:
        return _json(exc.reply)

    @app.exception_handler(ModelDeskError)
    async def modeldesk_error(_request: Request, exc: ModelDeskError) -> JSONResponse:
        return _json(error_reply(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            message = f"Unknown path {request.method} {request.url.path}; the API is under /v1."
        else:
            message = str(exc.detail)
        return JSONResponse(
            error_body(message, "invalid_request_error"), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(str(exc), "invalid_request_error"), status_code=400)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error in modeldesk serve")
        message = f"ModelDesk hit an internal error ({type(exc).__name__}); the server's log has details."
        return JSONResponse(error_body(message, "api_error"), status_code=500)

    # ------------------------------------------------------------------ routes
    @app.get("/v1/models")
    async def list_models(request: Request) -> JSONResponse:
        guard(request)
        data = [model_entry(m) for m in servable_models(ctx, config)]
        return JSONResponse({"object": "list", "data": data})

    @app.get("/v1/models/{model_id:path}")
    async def get_model(request: Request, model_id: str) -> JSONResponse:
        guard(request)
        return JSONResponse(model_entry(lookup(model_id)))

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        req = await parse(request, ChatCompletionRequest)
        model = lookup(req.model)
        call = chat_call(req)
        stream = cast(
            AsyncGenerator[ChatChunk, None],  # stream_chat is an async generator: it can be closed
            stream_chat(
                ctx,
                model,
                call.messages,
                call.options,
                think=call.think,
                tools=call.tools,
                response_format=call.response_format,
                wait_out_rate_limits=False,
            ),
        )
        if not req.stream:
            result = ChatResult()
            async with aclosing(stream):
                async for chunk in stream:
                    result.add(chunk)
            return JSONResponse(completion_body(req.model, result))
        try:
            first = await anext(stream)
        except StopAsyncIteration:
            first = None
        except BaseException:
            await stream.aclose()
            raise
        usage = req.stream_options is not None and req.stream_options.include_usage
        encoder = StreamEncoder(req.model, include_usage=usage)
        return StreamingResponse(
            _events(encoder, first, stream), media_type="text/event-stream", headers=_SSE_HEADERS
        )

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> JSONResponse:
        req = await parse(request, EmbeddingRequest)
        if req.dimensions is not None:
            raise InvalidInput("dimensions is not supported: each model returns its own vector size.")
        model = lookup(req.model)
        vectors = await embed(ctx, model, embedding_inputs(req.input))
        return JSONResponse(embedding_body(req.model, vectors, req.encoding_format))

    return app


async def _events(
    encoder: StreamEncoder, first: ChatChunk | None, rest: AsyncGenerator[ChatChunk, None]
) -> AsyncIterator[bytes]:
    """The SSE body. The source is read by its own task into a queue, and whatever has arrived by
    the time the client can take more goes out in one write: a source that sends a burst of tokens
    costs one send, not one per token. A client that leaves cancels the reader, which closes the
    source's stream."""
    queue: asyncio.Queue[ChatChunk | ModelDeskError | None] = asyncio.Queue()

    async def pump() -> None:
        try:
            async with aclosing(rest):
                async for chunk in rest:
                    queue.put_nowait(chunk)
        except ModelDeskError as exc:
            queue.put_nowait(exc)
        else:
            queue.put_nowait(None)

    first_event = encoder.start()
    if first is not None:
        first_event += encoder.chunk(first)
    reader = asyncio.create_task(pump())
    _readers.add(reader)  # a strong reference until it is done, as asyncio asks
    reader.add_done_callback(_readers.discard)
    try:
        yield first_event
        while True:
            item = await queue.get()
            parts: list[bytes] = []
            while True:
                if item is None:
                    parts.append(encoder.done())
                    break
                if isinstance(item, ModelDeskError):
                    parts.append(encoder.error(item))
                    break
                parts.append(encoder.chunk(item))
                if queue.empty():
                    break
                item = queue.get_nowait()
            yield b"".join(parts)
            if item is None or isinstance(item, ModelDeskError):
                return
    finally:
        # Not awaited: a client that left cancels this body under a cancel scope that would cancel
        # any await here too. The reader closes the source's stream in its own task.
        reader.cancel()


def _host_of(header: str) -> str:
    """``127.0.0.1:8765`` → ``127.0.0.1``; ``[::1]:8765`` → ``::1``."""
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rpartition(":")[0] if header.count(":") == 1 else header


def _goes_remote(ctx: AppContext, model: UnifiedModel) -> bool:
    """A remote model, or a variant whose requests end up at a remote source."""
    if is_remote(model):
        return True
    if model.model_type is ModelType.BASE:
        return False
    return resolve(ctx, model).backend.config.serving_type is not ServingType.LOCAL
