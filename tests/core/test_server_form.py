"""What the CLI's `tools add` and the window's server form both accept (core.tools): one check of a
server, its URL through the project's one URL check, environment lines with secrets kept out of sight,
arguments split as a shell splits them."""

from __future__ import annotations

import pytest

from desktop_app.core.errors import InvalidInput
from desktop_app.core.tools import (
    SECRET_SHOWN,
    McpServerConfig,
    check_server,
    check_server_url,
    env_text,
    join_args,
    parse_env,
    read_env_text,
    split_args,
)


def test_check_server_trims_and_accepts_a_command_or_a_url() -> None:
    server = check_server(McpServerConfig(name=" fs ", command=" npx ", args=["-y", "x"]))
    assert (server.name, server.command, server.url) == ("fs", "npx", None)
    web = check_server(McpServerConfig(name="web", url=" https://example.com/mcp/ "))
    assert web.url == "https://example.com/mcp/", "a trailing slash can matter to a server: kept"
    assert check_server_url("https://example.com/mcp?profile=work") == "https://example.com/mcp?profile=work"


@pytest.mark.parametrize(
    ("server", "message"),
    [
        (McpServerConfig(name="x"), "no command and no URL"),
        (McpServerConfig(name="x", command="npx", url="https://e.com/mcp"), "not both"),
        (McpServerConfig(name="x", command="  "), "no command and no URL"),
        (McpServerConfig(name="x y", command="npx"), "cannot name a tool server"),
        (McpServerConfig(name="x", url="ftp://e.com/mcp"), "must start with http:// or https://"),
        (McpServerConfig(name="x", url="https://[::1/mcp"), "never closed"),
        (McpServerConfig(name="x", url="https://e.com:0/mcp"), "port 0"),
        (McpServerConfig(name="x", url="https://u:p@e.com/mcp"), "user name or password"),
        (McpServerConfig(name="x", command="npx", timeout_s=0), "more than 0 seconds"),
        (McpServerConfig(name="x", command="npx", env={"A B": "1"}), "cannot name an environment variable"),
    ],
)
def test_check_server_names_what_is_wrong(server: McpServerConfig, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_server(server)


def test_environment_lines_keep_stored_secrets_out_of_sight() -> None:
    server = McpServerConfig(name="gh", command="npx", env={"LOG": "debug"}, secret_env=["GH_TOKEN"])
    text = env_text(server)
    assert text == f"LOG=debug\nGH_TOKEN={SECRET_SHOWN}"
    assert read_env_text(text, server.secret_env) == ({"LOG": "debug"}, ["GH_TOKEN"])
    # A new value replaces it; a name that was never stored keeps what was typed.
    assert read_env_text("GH_TOKEN=new\n\nOTHER=" + SECRET_SHOWN, ["GH_TOKEN"]) == (
        {"GH_TOKEN": "new", "OTHER": SECRET_SHOWN},
        [],
    )
    assert parse_env(["A=1=2", " B =x"]) == {"A": "1=2", "B": "x"}
    with pytest.raises(InvalidInput, match="--env takes NAME=VALUE, not 'oops'"):
        parse_env(["oops"], what="--env")


def test_arguments_split_as_a_shell_splits_them() -> None:
    args = ["-y", "@scope/server", "my notes", "it's"]
    assert split_args(join_args(args)) == args
    assert split_args('a "b c"') == ["a", "b c"]
    with pytest.raises(InvalidInput, match="cannot be read"):
        split_args("'open")


def test_an_imported_file_names_the_entry_whose_url_is_wrong() -> None:
    from desktop_app.core.tools import parse_mcp_servers

    with pytest.raises(InvalidInput, match=r'^f.json: mcpServers\["w"\].url: .* the port is not a number'):
        parse_mcp_servers({"mcpServers": {"w": {"url": "http://h:99999/mcp"}}}, file="f.json")
