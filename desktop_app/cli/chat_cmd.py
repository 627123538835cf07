"""`chat` and `embed`: talk to any model in the registry, local or remote, the same way."""

from __future__ import annotations

import argparse
import base64
import codecs
import json
import sys
from pathlib import Path
from typing import TextIO

from desktop_app.cli import EXIT_OK, tools_chat
from desktop_app.cli._common import print_json, run_async, warn
from desktop_app.core.chat import THINK_LEVELS, ChatMessage, ChatOptions, ChatResult
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
    think = p.add_mutually_exclusive_group()
    think.add_argument(
        "--think",
        nargs="?",
        const=True,
        type=_think_level,
        metavar="LEVEL",
        help="ask a reasoning model to think, and show it; LEVEL is low, medium, high or max "
        "(gpt-oss takes levels only). Without --think or --no-think the model's own default applies "
        "(Ollama's thinking models think, unshown)",
    )
    think.add_argument(
        "--no-think",
        dest="think",
        action="store_const",
        const=False,
        help="ask a reasoning model not to think",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object: text, thinking, metrics")
    tools_chat.add_arguments(p)
    p.set_defaults(handler=cmd_chat)

    p = sub.add_parser("embed", help="embedding vectors for one or more texts")
    p.add_argument("id")
    p.add_argument("text", nargs="+")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_embed)


def _think_level(text: str) -> str:
    level = text.strip().lower()
    if level not in THINK_LEVELS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a thinking level: use one of {', '.join(THINK_LEVELS)}, or --think alone for on "
            "(after the prompt: chat MODEL PROMPT --think)"
        )
    return level


def _read_image(path: Path) -> str:
    try:
        return base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError as exc:
        raise InvalidInput(f"Cannot read image {path}: {exc.strerror or exc}") from None


def read_prompt(stream: TextIO | None) -> str:
    """The prompt piped on standard input, decoded strictly in the terminal's encoding (UTF-8 nearly
    everywhere; a UTF-8 byte-order mark is dropped).

    Bytes that are not text in that encoding are refused with a message saying where, rather than
    replaced: a replacement character sends the model a different prompt than the file holds, and the
    answer would look like an answer to it. One ``iconv`` fixes the file; a guess cannot be undone."""
    if stream is None:
        raise InvalidInput(
            "There is no standard input to read the prompt from; give the prompt as an argument."
        )
    raw = getattr(stream, "buffer", None)
    if raw is None:  # already text (an embedding program replaced sys.stdin)
        return stream.read()
    data: bytes = raw.read()
    encoding = codecs.lookup(getattr(stream, "encoding", None) or "utf-8").name
    if encoding == "utf-8" and data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidInput(
            f"The prompt on standard input is not {encoding.upper()} text: byte 0x{data[exc.start]:02x} on "
            f"line {line} (offset {exc.start}) is not valid there. Convert the file first, e.g. "
            f"`iconv -f latin1 -t {encoding} FILE | modeldesk chat MODEL -`."
        ) from None


def cmd_chat(args: argparse.Namespace) -> int:
    prompt = read_prompt(sys.stdin) if args.prompt == "-" else args.prompt
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
    answered: list[str] = []  # a pool's chat: the host entry that answered

    async def go(ctx: AppContext) -> None:
        in_thinking = False
        async for chunk in stream_chat(
            ctx,
            args.id,
            messages,
            options,
            think=args.think,
            on_wait=lambda s, msg: warn(msg),
            on_host=answered.append,
        ):
            result.add(chunk)
            if args.json:
                continue
            if chunk.thinking and args.think not in (None, False):
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
                **({"host": answered[0]} if answered else {}),
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
        if answered:
            summary = f"{answered[0]}" + (f" · {summary}" if summary else "")
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
