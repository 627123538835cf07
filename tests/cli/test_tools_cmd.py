"""`modeldesk tools …` and `chat --tools` against the fake Ollama and the SDK-built test MCP server."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from desktop_app.cli import main
from tests.fakes.ollama import FakeOllama
from tests.fakes.tool_script import ToolScript

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def configured(fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]) -> FakeOllama:
    assert main(["source", "rm", "ollama"]) == 0
    assert main(["source", "add", "ollama", "ollama", fake_ollama.url]) == 0
    assert main(["sync"]) == 0
    capsys.readouterr()
    return fake_ollama


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_import_an_mcp_servers_file_keeps_secrets_out_of_tools_json(
    tmp_path: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "claude_desktop_config.json"
    file.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "fs": {
                        "command": "npx",
                        "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
                    },
                    "gh": {
                        "command": "gh-mcp",
                        "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_secret1", "LOG": "1"},
                    },
                    "web": {
                        "url": "http://127.0.0.1:9/mcp",
                        "headers": {"Authorization": "Bearer tok_secret2"},
                    },
                }
            }
        )
    )
    assert main(["tools", "import", str(file)]) == 0
    out = capsys.readouterr().out
    assert "fs: added" in out and "GITHUB_PERSONAL_ACCESS_TOKEN kept in the keyring" in out
    assert "web: added (http://127.0.0.1:9/mcp); its token kept in the keyring" in out
    saved = (isolated_home / "tools.json").read_text()
    assert "ghp_secret1" not in saved and "tok_secret2" not in saved
    assert main(["tools", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in listed["servers"]] == ["fs", "gh", "web"]
    assert listed["servers"][2]["transport"] == "http"
    assert {t["name"] for t in listed["builtin"]} == {"calculator", "current_time", "convert_units"}
    assert main(["tools", "rm", "gh"]) == 0
    assert main(["tools", "rm", "gh"]) == 2  # unknown now: says so


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"servers": 3}', 'no "mcpServers" object'),
        ('{"mcpServers": {"x": {"args": []}}}', "neither command nor url"),
        ('{"mcpServers": {"bad name!": {"command": "x"}}}', "cannot name a tool server"),
        ('{"mcpServers": {"w": {"url": "https://me:pw@example.com/mcp"}}}', "user name or password"),
        ('{"mcpServers": {"w": {"type": "sse", "url": "https://example.com/sse"}}}', "older SSE transport"),
    ],
)
def test_import_refuses_a_bad_file_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    file = tmp_path / "mcp.json"
    file.write_text(content)
    assert main(["tools", "import", str(file)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_add_test_and_a_server_that_will_not_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["tools", "add", "t", "--", sys.executable, "-m", "tests.fakes.mcp_server"]) == 0
    assert main(["tools", "test", "t"]) == 0
    assert "t/add" in capsys.readouterr().out
    assert (
        main(
            [
                "tools",
                "add",
                "broken",
                "--",
                sys.executable,
                "-m",
                "tests.fakes.mcp_server",
                "--crash-on-start",
            ]
        )
        == 0
    )
    assert main(["tools", "test", "broken"]) == 1
    err = capsys.readouterr().err
    assert "broken did not start" in err and "cannot open the database" in err


def test_chat_with_tools_refuses_without_a_terminal(
    configured: FakeOllama, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configured.tool_script = ToolScript(rounds=[[("calculator", {"expression": "6*7"})]])
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    assert main(["chat", "ollama/llama3.2:latest", "what is 6*7", "--tools", "calculator"]) == 2
    assert "no terminal to ask on" in capsys.readouterr().err
    assert configured.tool_script.seen == []  # nothing was sent


def test_chat_with_tools_yes_runs_them(configured: FakeOllama, capsys: pytest.CaptureFixture[str]) -> None:
    configured.tool_script = ToolScript(rounds=[[("calculator", {"expression": "2^31 * 3"})]])
    assert main(["chat", "ollama/llama3.2:latest", "2^31*3?", "--tools", "calc*", "--yes", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["tool_calls"] == [
        {
            "tool": "calculator",
            "arguments": {"expression": "2^31 * 3"},
            "approved": True,
            "is_error": False,
            "result": "6442450944",
        }
    ]
    assert "6442450944" in data["text"]


def test_chat_with_tools_asks_on_a_terminal(
    configured: FakeOllama, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configured.tool_script = ToolScript(
        rounds=[[("calculator", {"expression": "1+1"}), ("current_time", {"timezone": "Asia/Tokyo"})]]
    )
    monkeypatch.setattr(sys, "stdin", _Tty("y\nn\n"))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["chat", "ollama/llama3.2:latest", "hi", "--tools", "calculator,current_time"]) == 0
    captured = capsys.readouterr()
    assert 'Run calculator(expression="1+1")?' in captured.err
    assert "[calculator result]\n  2" in captured.err and "[current_time denied]" in captured.err
    assert "did not allow" in captured.out  # the model was told, and said so


def test_chat_with_an_unknown_tool_names_the_tools(
    configured: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chat", "ollama/llama3.2:latest", "hi", "--tools", "nope", "--yes"]) == 2
    assert "No tool matches 'nope'" in capsys.readouterr().err


def test_disable_a_tool_and_a_server(
    tmp_path: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tools", "disable", "calculator"]) == 0
    assert main(["tools", "add", "fs", "--", "npx", "-y", "server-fs"]) == 0
    assert main(["tools", "disable", "fs"]) == 0
    capsys.readouterr()
    assert main(["tools", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {t["name"]: t["enabled"] for t in listed["builtin"]}["calculator"] is False
    assert listed["servers"][0]["enabled"] is False
    assert main(["chat", "ollama/x", "hi", "--tools", "calculator", "--yes"]) == 2
    assert "No tool matches 'calculator'" in capsys.readouterr().err
    assert main(["chat", "ollama/x", "hi", "--tools", "fs/*", "--yes"]) == 2
    assert "tools enable fs" in capsys.readouterr().err
    assert main(["tools", "enable", "calculator"]) == 0
    assert main(["tools", "disable", "nope"]) == 2
