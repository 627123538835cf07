"""`modeldesk share` refuses bad options with one plain message, before loading anything heavy."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from desktop_app.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--password-file", "pw.txt"], "--password-file goes with --public"),
        (["--public", "--password-file", "missing.txt"], "does not exist"),
        (["--public", "--password-file", "short.txt"], "at least 8 characters"),
        (["--port", "70000"], "between 1 and 65535"),
        (["--tools", "*"], "would share every tool server's tools"),
        (["--tools", "calculator,nosuch/*"], "No tool matches 'nosuch/*'"),
    ],
)
def test_bad_options_are_usage_errors(
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "short.txt").write_text("abc\n", encoding="utf-8")
    loaded = "gradio" in sys.modules
    assert main(["share", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert ("gradio" in sys.modules) == loaded  # refused before gradio was imported


def test_help_names_the_security_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["share", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--public" in out and "--allow-remote" in out and "--password-file" in out and "127.0.0.1" in out
    assert "--tools" in out and "without asking" in out


async def test_login_check_compares_and_slows_wrong_guesses(monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop_app.share import server

    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(server.asyncio, "sleep", fake_sleep)
    check = server.login_check("correct-horse")
    assert await check("modeldesk", "correct-horse") is True
    assert waits == []
    assert await check("modeldesk", "correct-hors") is False
    assert await check("admin", "correct-horse") is False
    assert waits == [server.WRONG_LOGIN_DELAY] * 2
