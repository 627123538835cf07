"""`modeldesk eval` when its run file cannot be written (full disk) or read back (damaged, not ours)."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest

from desktop_app.cli import main
from desktop_app.services import run_files
from tests.cli.test_eval_cmd import LLAMA, list_runs_of_home, small_suite, use_ollama
from tests.fakes.ollama import FakeOllama


def made_run(fake: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str], cases: int = 3) -> Path:
    use_ollama(fake)
    assert main(["eval", small_suite(tmp_path, cases), "-m", LLAMA]) in (0, 1)
    capsys.readouterr()
    (path,) = list_runs_of_home()
    return path


def test_resume_of_a_file_that_is_not_a_run(
    fake_ollama: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made_run(fake_ollama, tmp_path, capsys)  # with a runs folder, a path was taken as a glob pattern
    for ref in ("/etc/passwd", "/nonexistent/run.jsonl", "/dev/zero", "../x"):
        assert main(["eval", "--resume", ref]) == 2
        err = capsys.readouterr().err
        assert ref in err and "internal error" not in err and "Traceback" not in err


def header_without_run(header: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in header.items() if k != "run"}


def header_with_models_as_text(header: dict[str, Any]) -> dict[str, Any]:
    return {**header, "run": {**header["run"], "model_ids": "ollama/llama3.2:latest"}}


def header_with_odd_version(header: dict[str, Any]) -> dict[str, Any]:
    return {**header, "version": "two"}


def header_without_suite(header: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in header.items() if k != "suite_yaml"}


def header_with_bad_run(header: dict[str, Any]) -> dict[str, Any]:
    return {**header, "run": {**header["run"], "status": 7, "run_id": None}}


@pytest.mark.parametrize(
    "damage",
    [
        header_without_run,
        header_with_models_as_text,
        header_with_odd_version,
        header_without_suite,
        header_with_bad_run,
    ],
)
def test_resume_of_a_damaged_run_file_names_it(
    fake_ollama: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: Any
) -> None:
    path = made_run(fake_ollama, tmp_path, capsys)
    lines = path.read_text().splitlines()
    lines[0] = json.dumps(damage(json.loads(lines[0])))
    path.write_text("\n".join(lines[:2]) + "\n")
    assert main(["eval", "--resume", path.stem]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "damaged" in err and "internal error" not in err


def test_resume_of_a_run_file_that_is_not_text(
    fake_ollama: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = made_run(fake_ollama, tmp_path, capsys)
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert main(["eval", "--resume", path.stem]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "not UTF-8" in err


class FullDisk:
    """A run file on a disk with room for ``room`` more lines; then every write fails with ENOSPC."""

    def __init__(self, fh: Any, room: int) -> None:
        self.fh, self.room = fh, room

    def write(self, text: str) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= 1
        return int(self.fh.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fh, name)


def test_a_full_disk_stops_the_run_clearly_and_resume_finishes_it(
    fake_ollama: FakeOllama,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_ollama(fake_ollama)
    real_open = open

    def opener(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        fh = real_open(file, mode, *args, **kwargs)
        return FullDisk(fh, room=3) if "a" in mode else fh  # only the run file is written

    monkeypatch.setattr(run_files, "open", opener, raising=False)
    assert main(["eval", small_suite(tmp_path, 8), "-m", LLAMA]) == 1
    err = capsys.readouterr().err
    assert "The disk is full" in err and "eval --resume" in err and "internal error" not in err
    (path,) = list_runs_of_home()
    assert len(path.read_text().splitlines()) == 3  # the header and the first cases are kept
    monkeypatch.delattr(run_files, "open")  # space freed
    assert main(["eval", "--resume", path.stem]) in (0, 1), capsys.readouterr().err
    run = run_files.load_run(path)
    assert len(run.cases) == 8 and run.complete
