"""Scripted tool calls for the fake servers: a function-calling model, played from a script.

``ToolScript(rounds=[[("calculator", {"expression": "2^31*3"}), ("current_time", {...})]])`` makes a
fake answer the first turn after the user's message with those calls (only tools it was offered, as a
model does), the next turn with ``rounds[1]``, and so on; once the rounds are used up, or when no tools
are offered, it answers in text quoting every tool result it was sent since the user's message, so a test
can see the results reached the model (and in what form).

Both fakes set ``fake.tool_script = ToolScript(...)``; this module writes each protocol's shapes:
Ollama's ``message.tool_calls: [{id, function: {index, name, arguments: {…}}}]`` in one chunk, and
OpenAI's streamed ``delta.tool_calls`` fragments (id and name first, the arguments JSON string in
pieces), ``finish_reason: "tool_calls"``.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ToolScript"]


def _call_id() -> str:
    return "call_" + "".join(random.choices(string.ascii_lowercase + string.digits, k=8))


@dataclass
class ToolScript:
    rounds: list[list[tuple[str, dict[str, Any]]]]
    answer: str = "Here is what the tools said: {results}"
    seen: list[list[dict[str, Any]]] = field(default_factory=list)  # the messages of every request

    def plan(
        self, messages: list[Any], tools: list[Any] | None
    ) -> tuple[list[tuple[str, dict[str, Any]]], str]:
        """(calls, text): calls to make now, or the text answer when there are none."""
        self.seen.append([m for m in messages if isinstance(m, dict)])
        since_user: list[dict[str, Any]] = []
        for m in messages:
            if isinstance(m, dict):
                since_user = [] if m.get("role") == "user" else [*since_user, m]
        done = sum(1 for m in since_user if m.get("role") == "assistant" and m.get("tool_calls"))
        offered = {str((t.get("function") or {}).get("name")) for t in (tools or []) if isinstance(t, dict)}
        if offered and done < len(self.rounds):
            calls = [(name, args) for name, args in self.rounds[done] if name in offered]
            if calls:
                return calls, ""
        results = [str(m.get("content", "")) for m in since_user if m.get("role") == "tool"]
        shown = " | ".join(r if len(r) <= 300 else r[:300] + f"…({len(r)} chars)" for r in results)
        return [], self.answer.format(results=shown or "nothing")

    # ------------------------------------------------------------------ Ollama
    def ollama_calls(self, calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        return [
            {"id": _call_id(), "function": {"index": i, "name": name, "arguments": args}}
            for i, (name, args) in enumerate(calls)
        ]

    # ------------------------------------------------------------------ OpenAI
    def openai_message(self, calls: list[tuple[str, dict[str, Any]]], text: str) -> dict[str, Any]:
        if not calls:
            return {"role": "assistant", "content": text}
        return {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": _call_id(), "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
                for n, a in calls
            ],
        }

    def openai_deltas(self, calls: list[tuple[str, dict[str, Any]]], text: str) -> list[dict[str, Any]]:
        """The ``delta`` objects of a streamed reply, in order (the role delta comes first)."""
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": None if calls else ""}]
        if not calls:
            deltas += [{"content": w + " "} for w in text.split(" ")]
            deltas[-1]["content"] = deltas[-1]["content"].rstrip(" ")
            return deltas
        for i, (name, args) in enumerate(calls):
            deltas.append(
                {
                    "tool_calls": [
                        {
                            "index": i,
                            "id": _call_id(),
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
            raw = json.dumps(args)
            half = len(raw) // 2
            for piece in (raw[:half], raw[half:]):
                deltas.append({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
        return deltas


def serve_openai(fake: Any, h: Any, payload: dict[str, Any], model: str) -> None:
    """Answer one ``/chat/completions`` request of the OpenAI-compatible fake from its script."""
    script: ToolScript = fake.tool_script
    messages = payload.get("messages") or []
    calls, text = script.plan(messages, payload.get("tools"))
    prompt_tokens = sum(len(json.dumps(m).split()) for m in messages)
    completion_tokens = max(1, len(text.split())) + 8 * len(calls)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    finish = "tool_calls" if calls else "stop"
    base = {
        "id": "chatcmpl-fake0002",
        "object": "chat.completion.chunk",
        "created": 1_764_000_000,
        "model": model,
        "system_fingerprint": "fp_fake",
    }
    if not payload.get("stream"):
        choice = {"index": 0, "message": script.openai_message(calls, text), "logprobs": None}
        body = {**base, "object": "chat.completion", "choices": [{**choice, "finish_reason": finish}]}
        fake._json(h, 200, {**body, "usage": usage})
        return
    h.send_response(200)
    h.send_header("Content-Type", "text/event-stream; charset=utf-8")
    h.send_header("Cache-Control", "no-cache")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()

    def event(obj: Any) -> None:
        data = f"data: {json.dumps(obj)}\n\n".encode()
        h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    deltas = script.openai_deltas(calls, text)
    for delta in deltas:
        event({**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]})
    event({**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}]})
    if (payload.get("stream_options") or {}).get("include_usage"):
        event({**base, "choices": [], "usage": usage})
    data = b"data: [DONE]\n\n"
    h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
    h.wfile.write(b"0\r\n\r\n")
