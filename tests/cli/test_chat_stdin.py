"""`chat MODEL -` reads the prompt from standard input: text in the terminal's encoding is read as is
(a UTF-8 byte-order mark dropped); bytes that are not text are refused with a message saying where,
never an internal error and never silently replaced."""

from __future__ import annotations

import io

import pytest

from desktop_app.cli import main
from desktop_app.cli.chat_cmd import read_prompt
from desktop_app.core.errors import InvalidInput
from tests.fakes.ollama import FakeOllama


def stdin_of(data: bytes, encoding: str = "utf-8") -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding)


def test_latin1_bytes_on_stdin_are_a_clear_error_not_an_internal_one(
    fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["source", "rm", "ollama"]) == 0
    assert main(["source", "add", "ollama", "ollama", fake_ollama.url]) == 0
    assert main(["sync"]) == 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", stdin_of("Résumé of this:\nun café\n".encode("latin-1")))
    assert main(["chat", "ollama/llama3.2:latest", "-"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "internal error" not in err
    assert "not UTF-8 text: byte 0xe9 on line 1 (offset 1)" in err
    assert "iconv -f latin1 -t utf-8" in err
    assert fake_ollama.requests["/api/chat"] == 0  # nothing half-decoded was sent


def test_utf8_text_is_read_as_written() -> None:
    assert read_prompt(stdin_of("un café ☕\n".encode())) == "un café ☕\n"
    assert read_prompt(stdin_of(b"\xef\xbb\xbfwith a BOM")) == "with a BOM"  # Notepad's UTF-8


def test_the_terminals_own_encoding_is_honoured() -> None:
    assert read_prompt(stdin_of("café".encode("latin-1"), encoding="latin-1")) == "café"
    with pytest.raises(InvalidInput, match=r"not ASCII text: byte 0xc3 on line 2"):
        read_prompt(stdin_of("ok\ncafé".encode(), encoding="ascii"))


def test_no_stdin_at_all_says_give_the_prompt_as_an_argument() -> None:
    with pytest.raises(InvalidInput, match="give the prompt as an argument"):
        read_prompt(None)
