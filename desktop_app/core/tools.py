"""Tool types shared by the providers (built-in tools, MCP servers), the call loop and every front end.

A tool is named ``provider/tool`` for MCP tools (``fs/read_file``) and by its bare name for built-in
tools (``calculator``). Models see a *wire name* instead: OpenAI-compatible servers accept only
``[A-Za-z0-9_-]{1,64}``, so ``fs/read_file`` goes out as ``fs__read_file`` and the loop maps it back.
Pure: no I/O here.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from desktop_app.core.chat import ToolCall
from desktop_app.core.errors import InvalidInput

__all__ = [
    "BUILTIN_PROVIDER",
    "MODEL_RESULT_LIMIT",
    "SECRET_SHOWN",
    "Approval",
    "McpServerConfig",
    "ServerState",
    "ToolCallEvent",
    "ToolResult",
    "ToolResultEvent",
    "ToolSpec",
    "bearer_tokens",
    "check_env_name",
    "check_server",
    "check_server_name",
    "check_server_url",
    "describe_call",
    "env_text",
    "is_secret_env",
    "join_args",
    "parse_env",
    "parse_mcp_servers",
    "read_env_text",
    "select_tools",
    "split_args",
    "truncate_for_model",
    "wire_name",
]

BUILTIN_PROVIDER = "builtin"
# What a model gets of a tool's result, in characters. The UI always gets the whole text.
MODEL_RESULT_LIMIT = 16_000
_WIRE_OK = re.compile(r"[^A-Za-z0-9_-]")
_SECRET_ENV = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.I)
SECRET_SHOWN = "••••••••"  # how a value kept in the keyring shows in a form (never the value)
_SERVER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def is_secret_env(name: str) -> bool:
    """Environment variables whose values go to the keyring, not to tools.json (API keys, tokens)."""
    return bool(_SECRET_ENV.search(name))


def wire_name(name: str) -> str:
    """The name a model sees: ``fs/read_file`` → ``fs__read_file``; at most 64 characters."""
    return _WIRE_OK.sub("_", name.replace("/", "__"))[:64]


def check_server_name(name: str) -> str:
    """A tool server's name, or InvalidInput saying what a name may contain."""
    name = name.strip()
    if not _SERVER_NAME.match(name) or name == BUILTIN_PROVIDER:
        raise InvalidInput(
            f"{name!r} cannot name a tool server: use letters, digits, '.', '_' or '-' "
            f"(at most 40, starting with a letter or digit; {BUILTIN_PROVIDER!r} is taken)."
        )
    return name


class ToolSpec(BaseModel):
    """One tool a model may be offered."""

    name: str = Field(description="built-in: 'calculator'; MCP: 'server/tool'")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    provider: str = BUILTIN_PROVIDER
    enabled: bool = True

    @property
    def wire_name(self) -> str:
        return wire_name(self.name)

    def to_wire(self) -> dict[str, Any]:
        """The OpenAI/Ollama ``tools`` entry (both take the same shape)."""
        return {
            "type": "function",
            "function": {
                "name": self.wire_name,
                "description": self.description,
                "parameters": self.parameters or {"type": "object", "properties": {}},
            },
        }


class ToolResult(BaseModel):
    """What a tool returned. ``text`` is whole (the UI shows it); the model gets ``for_model()``."""

    text: str = ""
    is_error: bool = False
    duration_s: float | None = None

    def for_model(self, limit: int = MODEL_RESULT_LIMIT) -> str:
        return truncate_for_model(self.text, limit)


def truncate_for_model(text: str, limit: int = MODEL_RESULT_LIMIT) -> str:
    """At most ``limit`` characters, with a note saying how much was left out (so the model knows)."""
    if len(text) <= limit:
        return text
    note = f"\n[… {len(text) - limit:,} more characters of the tool's result were left out]"
    return text[:limit] + note


class Approval(StrEnum):
    """The user's answer to 'may the model run this tool?'."""

    ONCE = "once"
    ALWAYS = "always"  # for this tool, for the rest of the chat session
    DENY = "deny"


class ServerState(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    FAILED = "failed"  # did not start, crashed, or stopped answering


class ToolCallEvent(BaseModel):
    """The model asked for a tool. ``spec`` is None when it named a tool it was not offered."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    call: ToolCall
    spec: ToolSpec | None = None
    round: int = 1


class ToolResultEvent(BaseModel):
    """A call's outcome: run (``approved``), denied, or failed before running."""

    call: ToolCall
    name: str
    result: ToolResult
    approved: bool = True


def describe_call(name: str, arguments: Mapping[str, Any]) -> str:
    """``calculator(expression="2**31*3")``: how a call is shown to the user."""
    args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items())
    return f"{name}({args})"


def select_tools(specs: Sequence[ToolSpec], patterns: Iterable[str]) -> list[ToolSpec]:
    """The enabled tools matching any of ``patterns`` (``calculator``, ``fs/*``, ``*``), in order.
    A pattern that matches nothing raises InvalidInput naming the tools there are."""
    chosen: dict[str, ToolSpec] = {}
    for raw in patterns:
        pattern = raw.strip()
        if not pattern:
            continue
        hits = [s for s in specs if s.enabled and fnmatch.fnmatchcase(s.name, pattern)]
        if not hits:
            known = ", ".join(s.name for s in specs if s.enabled) or "none"
            raise InvalidInput(
                f"No tool matches {pattern!r} (tools: {known}).",
                hint="See `modeldesk tools list`; a server's tools are named server/tool.",
            )
        for spec in hits:
            chosen.setdefault(spec.name, spec)
    return list(chosen.values())


class McpServerConfig(BaseModel):
    """An MCP server: a command to spawn (stdio) or a URL (streamable HTTP). An HTTP server's token
    lives in the keyring under ``token_ref``, never here."""

    model_config = ConfigDict(extra="ignore")

    name: str
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    secret_env: list[str] = Field(
        default_factory=list, description="env names whose values are in the keyring"
    )
    cwd: str | None = None
    url: str | None = None
    enabled: bool = True
    timeout_s: float = 30.0

    @property
    def transport(self) -> str:
        return "http" if self.url else "stdio"

    @property
    def token_ref(self) -> str:
        return f"mcp:{self.name}"

    def env_ref(self, name: str) -> str:
        return f"mcp:{self.name}:env:{name}"

    def describe(self) -> str:
        if self.url:
            return self.url
        return " ".join([self.command or "", *self.args]).strip()


def check_server_url(url: str, *, where: str = "The URL") -> str:
    """An MCP server URL without credentials in it (they would end up in tools.json), checked by the
    project's one URL check (``core.urls.check_base_url``: scheme, host, port, IPv6 brackets, length).
    A query is allowed (some servers take one); the URL is returned as given, less outer spaces (a
    trailing slash can matter to a server)."""
    from urllib.parse import urlsplit, urlunsplit

    from desktop_app.core.urls import check_base_url

    text = url.strip()
    try:
        parts = urlsplit(text)
        has_credentials = bool(parts.username or parts.password)
    except ValueError:
        parts, has_credentials = None, False  # check_base_url names what is wrong
    if has_credentials:
        raise InvalidInput(
            f"{where} has a user name or password in it; those are not stored in tools.json.",
            hint="Give the URL without them, and the token apart (it is kept in the keyring).",
        )
    bare = urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) if parts is not None else text
    try:
        check_base_url(bare)
    except InvalidInput as exc:
        message = exc.message if where == "The URL" else f"{where}: {exc.message}"  # which entry of a file
        raise InvalidInput(message, hint="An MCP server's URL looks like https://example.com/mcp.") from None
    return text


def check_server(server: McpServerConfig) -> McpServerConfig:
    """A server as the CLI's ``tools add`` and the window's form both accept it: a valid name, either a
    command or a URL, a positive time limit and sane environment names. InvalidInput names the problem."""
    name = check_server_name(server.name)
    command = (server.command or "").strip()
    url = (server.url or "").strip()
    if command and url:
        raise InvalidInput("Give either a command (stdio) or a URL (streamable HTTP), not both.")
    if not command and not url:
        raise InvalidInput(
            "The server has no command and no URL.",
            hint="Give the command that starts it (e.g. npx), or its streamable HTTP URL.",
        )
    if url:
        url = check_server_url(url)
    if not server.timeout_s > 0:
        raise InvalidInput("The time limit of a call must be more than 0 seconds.")
    for env_name in server.env:
        check_env_name(env_name)
    return server.model_copy(update={"name": name, "command": command or None, "url": url or None})


def check_env_name(name: str) -> str:
    """An environment variable's name: not empty, no '=', no spaces or control characters."""
    if not name or "=" in name or any(ch.isspace() or not ch.isprintable() for ch in name):
        raise InvalidInput(
            f"{name!r} cannot name an environment variable: use letters, digits and '_' (e.g. API_KEY)."
        )
    return name


def parse_env(lines: Iterable[str], *, what: str = "Each environment line") -> dict[str, str]:
    """``NAME=VALUE`` pairs (the CLI's ``--env``, the window's environment box; blank lines skipped)."""
    out: dict[str, str] = {}
    for line in lines:
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"{what} takes NAME=VALUE, not {name.strip() or line!r}.")
        out[check_env_name(name.strip())] = value
    return out


def env_text(server: McpServerConfig) -> str:
    """A server's environment as ``NAME=VALUE`` lines to edit; values kept in the keyring show as
    ``SECRET_SHOWN`` (never the value)."""
    lines = [f"{k}={v}" for k, v in server.env.items()]
    lines += [f"{k}={SECRET_SHOWN}" for k in server.secret_env if k not in server.env]
    return "\n".join(lines)


def read_env_text(text: str, stored_secret: Sequence[str] = ()) -> tuple[dict[str, str], list[str]]:
    """``env_text`` read back: (new or changed values, names whose keyring value is kept as it is).
    A name of ``stored_secret`` left at ``SECRET_SHOWN`` keeps its stored value."""
    env: dict[str, str] = {}
    kept: list[str] = []
    for name, value in parse_env(text.splitlines()).items():
        if value == SECRET_SHOWN and name in stored_secret:
            kept.append(name)
        else:
            env[name] = value
    return env, kept


def split_args(text: str) -> list[str]:
    """A command line's arguments as a shell splits them (quotes keep spaces), for the window's form."""
    import shlex

    try:
        return shlex.split(text)
    except ValueError as exc:
        raise InvalidInput(
            f"The arguments cannot be read: {exc} (a quote is opened and not closed).",
            hint="Quote an argument with spaces as \"my notes\" or 'my notes'.",
        ) from None


def join_args(args: Sequence[str]) -> str:
    """The inverse of ``split_args``: arguments as one line to edit."""
    import shlex

    return shlex.join(args)


def bearer_tokens(data: Any) -> dict[str, str]:
    """Tokens in an mcpServers file's ``headers: {"Authorization": "Bearer …"}``, by server name, so an
    import can put them in the keyring instead of tools.json."""
    out: dict[str, str] = {}
    servers = data.get("mcpServers", data.get("servers")) if isinstance(data, Mapping) else None
    for name, entry in (servers or {}).items() if isinstance(servers, Mapping) else []:
        headers = entry.get("headers") if isinstance(entry, Mapping) else None
        if not isinstance(headers, Mapping):
            continue
        for key, value in headers.items():
            if str(key).lower() == "authorization" and isinstance(value, str):
                scheme, _, token = value.strip().partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    out[str(name)] = token.strip()
    return out


def parse_mcp_servers(data: Any, *, file: str = "the file") -> list[McpServerConfig]:
    """Servers from the ``{"mcpServers": {name: {command, args, env} | {url}}}`` file other apps use
    (Claude Desktop, VS Code's ``servers``, LM Studio). Raises InvalidInput naming what is wrong."""
    if not isinstance(data, Mapping):
        raise InvalidInput(f'{file} must hold a JSON object with an "mcpServers" key.')
    servers = data.get("mcpServers", data.get("servers"))
    if not isinstance(servers, Mapping):
        raise InvalidInput(f'{file} has no "mcpServers" object (the format Claude Desktop and others use).')
    out: list[McpServerConfig] = []
    for raw_name, entry in servers.items():
        name = check_server_name(str(raw_name))
        where = f'{file}: mcpServers["{raw_name}"]'
        if not isinstance(entry, Mapping):
            raise InvalidInput(f"{where} must be an object with command (and args) or url.")
        command, url = entry.get("command"), entry.get("url")
        if not command and not url:
            raise InvalidInput(f"{where} has neither command nor url.")
        if command is not None and not isinstance(command, str):
            raise InvalidInput(f"{where}.command must be text.")
        args = entry.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str | int | float) for a in args):
            raise InvalidInput(f"{where}.args must be a list of strings.")
        env = entry.get("env", {})
        if not isinstance(env, Mapping):
            raise InvalidInput(f"{where}.env must be an object of names to values.")
        if url is not None and (not isinstance(url, str) or not re.match(r"^https?://", url)):
            raise InvalidInput(f"{where}.url must be an http:// or https:// URL.")
        if url and not command:
            check_server_url(url, where=f"{where}.url")
            if str(entry.get("type", "")).lower() == "sse":
                raise InvalidInput(
                    f"{where} uses the older SSE transport; ModelDesk speaks streamable HTTP. "
                    "Most servers offer both: use its streamable HTTP URL (often ending in /mcp)."
                )
        out.append(
            McpServerConfig(
                name=name,
                command=command or None,
                args=[str(a) for a in args],
                env={str(k): str(v) for k, v in env.items()},
                cwd=entry.get("cwd") if isinstance(entry.get("cwd"), str) else None,
                url=url if not command else None,
                enabled=not entry.get("disabled", False),
            )
        )
    return out
