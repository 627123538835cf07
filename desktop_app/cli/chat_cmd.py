"""`chat` and `embed`: talk to any model in the registry, local or remote, the same way."""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

from desktop_app.cli import EXIT_OK, tools_chat
from desktop_app.cli._common import print_json, run_async, warn
from desktop_app.core.chat import ChatMessage, ChatOptions, ChatResult
from desktop_app.core.errors import InvalidInput, StreamInterrupted
from desktop_app.services.context import AppContext
from desktop_app.services.serving import embed, stream_chat

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="send one prompt to a model and stream the reply")
    p.add_argument("id", help="model id, e.g. ollama/llama3.2:latest or github/openai/gpt-4.1")
    p.add_argument("prompt", help="the prompt; '-' reads it from standard input")
    p.add_argument("--system", help="system prompt")
    p.add_argument("--temperature", type=float)
    p.add_argument("--top-p", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--image", action="append", type=Path, help="attach an image (multimodal models)")
    p.add_argument("--think", action="store_true", help="ask a reasoning model to think, and show it")
    p.add_argument("--json", action="store_true", help="print one JSON object: text, thinking, metrics")
    tools_chat.add_arguments(p)
    p.set_defaults(handler=cmd_chat)

    p = sub.add_parser("embed", help="embedding vectors for one or more texts")
    p.add_argument("id")
    p.add_argument("text", nargs="+")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_embed)


def _read_image(path: Path) -> str:
    try:
        return base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError as exc:
        raise InvalidInput(f"Cannot read image {path}: {exc.strerror or exc}") from None


def cmd_chat(args: argparse.Namespace) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    images = [_read_image(p) for p in (args.image or [])]
    messages = []
    if args.system:
        messages.append(ChatMessage(role="system", content=args.system))
    messages.append(ChatMessage(role="user", content=prompt, images=images))
    options = ChatOptions(
        temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens, seed=args.seed
    )
    if args.tools:
        return tools_chat.cmd_chat_with_tools(args, messages, options)
    result = ChatResult()

    async def go(ctx: AppContext) -> None:
        in_thinking = False
        async for chunk in stream_chat(
            ctx,
            args.id,
            messages,
            options,
            think=True if args.think else None,
            on_wait=lambda s, msg: warn(msg),
        ):
            result.add(chunk)
            if args.json:
                continue
            if chunk.thinking and args.think:
                if not in_thinking:
                    sys.stderr.write("Thinking…\n")
                    in_thinking = True
                sys.stderr.write(chunk.thinking)
                sys.stderr.flush()
            if chunk.content:
                if in_thinking:
                    sys.stderr.write("\n…done thinking.\n\n")
                    in_thinking = False
                sys.stdout.write(chunk.content)
                sys.stdout.flush()

    try:
        run_async(go)
    except StreamInterrupted as exc:
        partial = exc.partial or result.content
        if args.json:
            print_json({"text": partial, "thinking": result.thinking, "error": str(exc), "metrics": None})
        else:
            sys.stdout.write("\n")
        raise
    if args.json:
        print_json(
            {
                "model": args.id,
                "text": result.content,
                "thinking": result.thinking,
                "tool_calls": [t.model_dump() for t in result.tool_calls],
                "metrics": {
                    "ttft_s": result.metrics.ttft_s,
                    "total_s": result.metrics.total_s,
                    "prompt_tokens": result.metrics.prompt_tokens,
                    "tokens": result.metrics.completion_tokens,
                    "tokens_per_s": result.metrics.tokens_per_s,
                    "done_reason": result.metrics.done_reason,
                },
            }
        )
    else:
        if not result.content.endswith("\n"):
            sys.stdout.write("\n")
        summary = result.metrics.summary()
        if summary and sys.stderr.isatty():
            print(f"[{summary}]", file=sys.stderr)
    return EXIT_OK


def cmd_embed(args: argparse.Namespace) -> int:
    async def go(ctx: AppContext) -> list[list[float]]:
        return await embed(ctx, args.id, args.text)

    vectors = run_async(go)
    if args.json:
        sys.stdout.write(json.dumps({"model": args.id, "embeddings": vectors}) + "\n")
    else:
        for text, vec in zip(args.text, vectors, strict=False):
            head = ", ".join(f"{x:.4f}" for x in vec[:4])
            print(f"{text[:40]!r}: dim {len(vec)} [{head}, …]")
    return EXIT_OK
