"""`tools list|add|import|rm|test|enable|disable`: the tool registry (built-in tools and MCP servers).

``tools add NAME -- COMMAND ARGS…`` adds a stdio server, ``tools add NAME --url URL [--token]`` a
streamable HTTP one (the token is asked without echo, or read from a pipe, and kept in the keyring).
``tools import FILE`` takes the ``{"mcpServers": {...}}`` file Claude Desktop, VS Code and LM Studio use.
Environment values that look like keys go to the keyring too; nothing here prints a secret.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from desktop_app.cli import EXIT_FAIL, EXIT_OK
from desktop_app.cli._common import context, print_json, read_secret, warn
from desktop_app.cli._format import table
from desktop_app.core.errors import InvalidInput
from desktop_app.core.tools import (
    McpServerConfig,
    ToolSpec,
    check_server,
    check_server_name,
    parse_env,
)
from desktop_app.services.context import AppContext
from desktop_app.services.tools import ToolRegistry

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("tools", help="tools models can call: built-in tools and MCP servers")
    tsub = p.add_subparsers(dest="tools_command", metavar="ACTION", required=True)

    ls = tsub.add_parser("list", help="built-in tools and configured MCP servers")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_list)

    add = tsub.add_parser(
        "add",
        help="add an MCP server: NAME -- COMMAND ARGS… (stdio) or NAME --url URL (streamable HTTP)",
        description="Examples: modeldesk tools add fs -- npx -y @modelcontextprotocol/server-filesystem ~/notes ; "
        "modeldesk tools add search --url https://example.com/mcp --token",
    )
    add.add_argument("name", help="a short name; its tools are called NAME/tool")
    _add_options(add)
    add.add_argument("rest", nargs=argparse.REMAINDER, help="[options] -- COMMAND ARGS…")
    add.set_defaults(handler=cmd_add)

    imp = tsub.add_parser("import", help='add every server of an {"mcpServers": …} JSON file')
    imp.add_argument("file", type=Path)
    imp.set_defaults(handler=cmd_import)

    rm = tsub.add_parser("rm", help="remove an MCP server (and its stored token)")
    rm.add_argument("name")
    rm.set_defaults(handler=cmd_rm)

    test = tsub.add_parser("test", help="start a server, list its tools, stop it")
    test.add_argument("name")
    test.add_argument("--json", action="store_true")
    test.set_defaults(handler=cmd_test)

    for action, enabled in (("enable", True), ("disable", False)):
        e = tsub.add_parser(action, help=f"{action} a server or a tool (e.g. calculator, fs/write_file)")
        e.add_argument("name")
        e.set_defaults(handler=cmd_enable, enabled=enabled)


def _add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", help="the server's streamable HTTP endpoint")
    p.add_argument("--token", action="store_true", help="ask for a bearer token (kept in the keyring)")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="environment (stdio)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds a call may take (default 30)")


def _split_add(args: argparse.Namespace) -> list[str]:
    """argparse stops at NAME (REMAINDER): read the options between NAME and ``--`` here, and return
    the command after ``--``."""
    rest = list(args.rest)
    # Without '--' here, argparse already took one right after NAME (all command), or there is no
    # command (all options).
    all_options = len(rest) if rest and rest[0].startswith("-") else -1
    cut = rest.index("--") if "--" in rest else all_options
    options, command = (rest[:cut], rest[cut + 1 :]) if cut >= 0 else ([], rest)
    if options:
        parser = argparse.ArgumentParser(prog="modeldesk tools add NAME", add_help=False)
        _add_options(parser)
        extra, unknown = parser.parse_known_args(options)
        if unknown:
            raise InvalidInput(f"Unknown option {unknown[0]!r}: put the server's own arguments after --.")
        args.url = extra.url or args.url
        args.token = extra.token or args.token
        args.env = [*args.env, *extra.env]
        if extra.timeout != 30.0:
            args.timeout = extra.timeout
    return command


def _registry(ctx: AppContext) -> ToolRegistry:
    registry = ToolRegistry.open(ctx)
    if registry.store.moved_aside is not None:
        warn(f"tools.json was unreadable and was moved to {registry.store.moved_aside}.")
    return registry


def cmd_list(args: argparse.Namespace) -> int:
    with context() as ctx:
        registry = _registry(ctx)
        builtin = registry.builtin()
        servers = registry.statuses()
    if args.json:
        print_json(
            {
                "builtin": [t.model_dump() for t in builtin],
                "servers": [
                    {"name": s.name, "transport": s.transport, "target": s.target, "enabled": s.enabled}
                    for s in servers
                ],
            }
        )
        return EXIT_OK
    rows = [[t.name, "built-in", "on" if t.enabled else "off", t.description.split(". ")[0]] for t in builtin]
    rows += [[f"{s.name}/*", f"MCP {s.transport}", "on" if s.enabled else "off", s.target] for s in servers]
    print(table(["TOOL", "PROVIDER", "STATE", "WHAT"], rows))
    if servers:
        print("\nA server's tools are listed when it starts: `modeldesk tools test NAME`.")
    return EXIT_OK


def cmd_add(args: argparse.Namespace) -> int:
    name = check_server_name(args.name)
    command = _split_add(args)
    if args.url and command:
        raise InvalidInput("Give either --url URL or -- COMMAND ARGS…, not both.")
    if not args.url and not command:
        raise InvalidInput(
            "Give the server: `modeldesk tools add NAME -- COMMAND ARGS…` or `modeldesk tools add NAME --url URL`."
        )
    if args.timeout <= 0:
        raise InvalidInput("--timeout must be more than 0 seconds.")
    if command and "/" in command[0] and not Path(command[0]).is_absolute():
        command[0] = str(Path(command[0]).absolute())  # the app may start it from another folder
    server = check_server(
        McpServerConfig(
            name=name,
            command=command[0] if command else None,
            args=command[1:],
            url=args.url or None,
            env=parse_env(args.env, what="--env"),
            cwd=str(Path.cwd()) if command else None,  # relative paths in its arguments keep working
            timeout_s=args.timeout,
        )
    )
    token = read_secret(f"Token for {name}", "token").strip() if args.token else None
    with context() as ctx:
        registry = _registry(ctx)
        replaced = registry.config.has(name)
        saved = registry.add_server(server, token=token or None)
    print(
        f"{'Replaced' if replaced else 'Added'} {name} ({saved.describe()}). Check it: modeldesk tools test {name}"
    )
    for env_name in saved.secret_env:
        print(f"  {env_name} is kept in the keyring, not in tools.json.")
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    with context() as ctx:
        imported = _registry(ctx).import_file(args.file)
    for one in imported:
        secrets = f"; {', '.join(one.kept)} kept in the keyring" if one.kept else ""
        kind = "replaced" if one.replaced else "added"
        print(f"{one.server.name}: {kind} ({one.server.describe()}){secrets}")
    print(f"Imported {len(imported)} server(s). Check one with `modeldesk tools test NAME`.")
    return EXIT_OK


def cmd_rm(args: argparse.Namespace) -> int:
    with context() as ctx:
        removed = _registry(ctx).remove_server(args.name)
    print(f"Removed {removed.name}.")
    return EXIT_OK


def cmd_test(args: argparse.Namespace) -> int:
    from desktop_app.adapters.mcp import ToolServerError

    with context() as ctx:
        registry = _registry(ctx)
        registry.config.server(args.name)  # an unknown name is a usage error before anything starts

        async def go() -> list[ToolSpec]:
            try:
                return await registry.test(args.name)
            finally:
                await registry.aclose()

        try:
            tools = asyncio.run(go())
        except ToolServerError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return EXIT_FAIL
    if args.json:
        print_json([t.model_dump() for t in tools])
        return EXIT_OK
    print(f"{args.name} started and offers {len(tools)} tool(s); it was stopped again.")
    if tools:
        print(table(["TOOL", "WHAT"], [[t.name, (t.description or "").split("\n")[0][:80]] for t in tools]))
    return EXIT_OK


def cmd_enable(args: argparse.Namespace) -> int:
    with context() as ctx:
        registry = _registry(ctx)
        name = args.name
        if registry.config.has(name):
            registry.set_server_enabled(name, args.enabled)
        else:
            if "/" not in name and name not in {t.name for t in registry.builtin()}:
                known = ", ".join(
                    [t.name for t in registry.builtin()] + [s.name for s in registry.config.servers]
                )
                raise InvalidInput(f"No tool or server named {name!r} (known: {known}).")
            registry.set_tool_enabled(name, args.enabled)
    print(f"{name} is {'on' if args.enabled else 'off'}.")
    return EXIT_OK
