"""Reading a suite from disk: only a regular file of bounded size; strict refuses what gh runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.core.errors import SuiteError
from desktop_app.services.suite_files import load_suite


def test_a_fifo_device_or_huge_file_is_refused_as_a_suite(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.prompt.yml"
    os.mkfifo(fifo)
    with pytest.raises(SuiteError, match=r"pipe\.prompt\.yml: is not a regular file"):
        load_suite(fifo)  # would wait forever for a writer
    with pytest.raises(SuiteError, match=r"^/dev/zero: is not a regular file"):
        load_suite("/dev/zero")  # would never end
    big = tmp_path / "big.prompt.yml"
    with open(big, "wb") as fh:
        fh.truncate(17 * 1024 * 1024)  # sparse: no disk used
    with pytest.raises(
        SuiteError, match=r"big\.prompt\.yml: is 17 MB or more; a suite is read only up to 16 MB"
    ):
        load_suite(big)


def test_strict_refuses_what_gh_runs(tmp_path: Path) -> None:
    path = tmp_path / "s.prompt.yml"
    path.write_text("messages: [{role: user, content: hi}]\nevaluators:\n  - string: {contains: a}\n")
    assert load_suite(path).evaluators[0].name == "evaluator 1"
    with pytest.raises(SuiteError, match="no name"):
        load_suite(path, strict=True)
