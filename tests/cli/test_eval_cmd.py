"""`modeldesk eval`: table, --json/--csv/--html, exit codes, progress, resume, and Ctrl-C in a real
process, against the fake Ollama."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from desktop_app.cli import main
from desktop_app.cli.eval_cmd import ProgressDisplay
from desktop_app.core.evaluation import CaseResult
from desktop_app.core.evaluators import EvaluatorResult
from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.services.context import AppContext
from desktop_app.services.evaluate import EvalProgress
from desktop_app.services.run_files import list_runs
from desktop_app.services.sync import sync_source
from tests.fakes.ollama import FakeOllama

ROOT = Path(__file__).resolve().parents[2]
SUMMARIZER = str(ROOT / "resources" / "suites" / "text-summarizer.prompt.yml")
LLAMA, QWEN = "ollama/llama3.2:latest", "ollama/qwen3:8b"
GOOD = "Summary - A fox jumped over a tired dog. Score: 4"


def use_ollama(fake: FakeOllama) -> None:
    ctx = AppContext.open()
    config = SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url=fake.url)
    ctx.settings.sources = [config]
    ctx.save_settings()

    async def go() -> None:
        try:
            assert (await sync_source(ctx, config)).ok
        finally:
            await ctx.aclose()

    asyncio.run(go())
    ctx.close()
    fake.reset_counters()


def small_suite(tmp_path: Path, cases: int, check: str = "contains: sky") -> str:
    rows = "\n".join(f"  - input: q{i}" for i in range(cases))
    path = tmp_path / "small.prompt.yml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: Small
            model: {LLAMA}
            messages:
              - role: user
                content: "{{{{input}}}}"
            evaluators:
              - name: check
                string: {{{check}}}
            """
        )
        + f"testData:\n{rows}\n",
        encoding="utf-8",
    )
    return str(path)


def test_side_by_side_table_and_exit_0(fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]) -> None:
    use_ollama(fake_ollama)
    fake_ollama.reply_text = GOOD
    code = main(["eval", SUMMARIZER, "--model", LLAMA, "--model", QWEN, "--judge", LLAMA])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    header = lines[0].split()
    assert header.count("★") == 1 and [h for h in header if h != "★"] == [LLAMA, QWEN]
    starred = header[header.index("★") + 1]  # same pass rate and scores: the faster one wins
    assert lines[2].startswith("Output should start with 'Summary -'") and "1.00 (2/2)" in lines[2]
    assert lines[3].startswith("Similarity") and lines[3].count("0.75 (2/2)") == 2
    assert re.search(r"^pass rate\s+100\.0% \(2/2\)\s+100\.0% \(2/2\)$", out, re.M)
    assert f"★ winner: {starred} (best pass rate, then mean score, then median latency)" in out
    assert "Failed cases" not in out
    # not a terminal: plain progress lines, then where the run was saved
    assert f"{LLAMA}: 1/2 cases" in err and f"{QWEN}: 2/2 cases" in err
    assert "\x1b[" not in err
    assert re.search(r"Run \S+ saved to .*runs/\S+\.jsonl", err)


def test_failures_exit_1_and_are_listed(fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]) -> None:
    use_ollama(fake_ollama)
    fake_ollama.reply_text = "A fox jumped. 2"
    code = main(["eval", SUMMARIZER, "-m", LLAMA, "--judge", LLAMA])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "Failed cases (2):" in out
    assert (
        f"case 0 · {LLAMA} · Output should start with 'Summary -': Expected to start with: 'Summary -'" in out
    )


def test_json_is_gh_shaped(fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]) -> None:
    use_ollama(fake_ollama)
    fake_ollama.reply_text = GOOD
    assert main(["eval", SUMMARIZER, "--model", LLAMA, "--judge", LLAMA, "--json"]) == 0
    block = json.loads(capsys.readouterr().out)
    assert isinstance(block, dict)  # one model: exactly one gh block
    assert (block["name"], block["description"], block["model"]) == (
        "Text Summarizer",
        "Summarizes input text concisely",
        LLAMA,
    )
    assert {k: block["summary"][k] for k in ("totalTests", "passedTests", "failedTests", "passRate")} == {
        "totalTests": 2,
        "passedTests": 2,
        "failedTests": 0,
        "passRate": 100.0,
    }
    first = block["testResults"][0]
    assert first["testCase"]["expected"] == "Summary - A fox jumped over a lazy, unresponsive dog."
    assert first["modelResponse"] == GOOD
    assert [r["evaluatorName"] for r in first["evaluationResults"]] == [
        "Output should start with 'Summary -'",
        "Similarity",
    ]
    assert first["evaluationResults"][1]["score"] == 0.75

    assert main(["eval", SUMMARIZER, "-m", f"{LLAMA},{QWEN}", "--judge", LLAMA, "--json"]) == 0
    blocks = json.loads(capsys.readouterr().out)
    assert [b["model"] for b in blocks] == [LLAMA, QWEN]
    assert sorted(b["winner"] for b in blocks) == [False, True]  # exactly one winner


def test_csv_and_self_contained_html(
    fake_ollama: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_ollama(fake_ollama)
    fake_ollama.reply_text = "The <b>sky</b> & the sea"
    suite = small_suite(tmp_path, 3)
    csv_path, html_path = tmp_path / "out" / "r.csv", tmp_path / "r.html"
    assert (
        main(["eval", suite, "-m", LLAMA, "-m", QWEN, "--csv", str(csv_path), "--html", str(html_path)]) == 0
    )
    err = capsys.readouterr().err
    assert f"Wrote CSV to {csv_path}" in err and f"Wrote HTML report to {html_path}" in err
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    assert len(rows) == 6
    assert rows[0]["model"] == LLAMA and rows[0]["check.passed"] == "True" and rows[0]["check.score"] == "1.0"
    assert rows[0]["output"] == "The <b>sky</b> & the sea"
    assert json.loads(rows[0]["test_case"]) == {"input": "q0"}
    page = html_path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "</html>" in page
    assert "The &lt;b&gt;sky&lt;/b&gt; &amp; the sea" in page  # outputs are escaped
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched from elsewhere
    assert "<script" not in page and "@import" not in page
    assert page.count('class="case"') == 3


def test_malformed_suite_is_a_plain_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.prompt.yml"
    bad.write_text("name: x\nmessages:\n  - role: robot\n    content: hi\n", encoding="utf-8")
    assert main(["eval", str(bad), "-m", LLAMA]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"error: {bad}:3: messages[0].role: unknown message role 'robot': use system, user or assistant\n"
    )
    assert main(["eval", str(tmp_path / "missing.prompt.yml")]) == 2
    assert "missing.prompt.yml: no such file" in capsys.readouterr().err


def test_usage_errors(fake_ollama: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    use_ollama(fake_ollama)
    assert main(["eval"]) == 2
    assert "Give a suite file" in capsys.readouterr().err
    assert main(["eval", small_suite(tmp_path, 1), "--concurrency", "0"]) == 2
    assert "--concurrency must be 1 or more, not 0." in capsys.readouterr().err
    assert main(["eval", small_suite(tmp_path, 1), "-m", "nope"]) == 1
    assert "No model 'nope' in the registry" in capsys.readouterr().err


def test_resume_finishes_an_interrupted_run(
    fake_ollama: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_ollama(fake_ollama)
    suite = small_suite(tmp_path, 4)
    assert main(["eval", suite, "-m", LLAMA]) == 0
    capsys.readouterr()
    (path,) = list_runs_of_home()
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:3]) + "\n")  # header + 2 cases: as if killed mid-run
    fake_ollama.reset_counters()
    assert main(["eval", "--resume", path.stem, "-m", QWEN]) == 2
    assert "A resumed run keeps its models" in capsys.readouterr().err
    assert main(["eval", "--resume", path.stem[:12], "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["summary"]["totalTests"] == 4
    assert "2 already done" in err
    assert fake_ollama.requests["/api/chat"] == 2
    # the suite given with --resume must be the one the run was made with
    Path(suite).write_text(Path(suite).read_text().replace("q0", "changed"), encoding="utf-8")
    assert main(["eval", suite, "--resume", path.stem]) == 2
    assert "has changed since run" in capsys.readouterr().err


def list_runs_of_home() -> list[Path]:
    ctx = AppContext.open()
    try:
        return list_runs(ctx)
    finally:
        ctx.close()


def test_ctrl_c_stops_cleanly_and_the_run_resumes(
    fake_ollama: FakeOllama, tmp_path: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_ollama(fake_ollama)
    fake_ollama.delays = {"/api/chat": 0.05}
    suite = small_suite(tmp_path, 40)
    env = {**os.environ, "MODELDESK_HOME": str(isolated_home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "desktop_app", "eval", suite, "-m", LLAMA],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while fake_ollama.requests["/api/chat"] < 6 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    match = re.search(
        r"Stopped: (\d+) of 40 cases are kept in .*\nFinish the run with: modeldesk eval --resume (\S+)", err
    )
    assert match, err
    kept, run_id = int(match.group(1)), match.group(2)
    assert 4 <= kept < 40
    assert "check" in out  # the partial table is still printed
    fake_ollama.reset_counters()
    assert main(["eval", "--resume", run_id]) == 0
    assert f"{LLAMA}: 40/40 cases" in capsys.readouterr().err
    assert fake_ollama.requests["/api/chat"] == 40 - kept


# ------------------------------------------------------------------------------------------ progress display
def _event(model: str, done: int, passed: bool = True) -> EvalProgress:
    ev = EvaluatorResult(evaluator_name="e", score=float(passed), passed=passed)
    case = CaseResult(model_id=model, case_index=done - 1, evaluations=[ev])
    return EvalProgress("case", model, done, 20, done, 40, case=case)


def test_plain_progress_prints_every_tenth() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(["a", "b"], 20, stream, tty=False)
    display.start({"a": 0, "b": 0})
    for i in range(1, 21):
        display(_event("a", i, passed=i != 3))
    display(EvalProgress("wait", "b", 0, 20, 20, 40, message="b: rate limited; waiting 2 s"))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "Running 2 model(s) × 20 case(s)"
    assert lines[1:4] == ["a: 1/20 cases", "a: 2/20 cases", "a: 4/20 cases, 1 failed"]
    assert lines[-2:] == ["a: 20/20 cases, 1 failed", "b: rate limited; waiting 2 s"]
    assert len(lines) == 1 + 11 + 1


def test_terminal_progress_redraws_bars_in_place() -> None:
    stream = io.StringIO()
    display = ProgressDisplay([LLAMA, QWEN], 20, stream, tty=True)
    display.start({LLAMA: 0, QWEN: 10})
    display(_event(LLAMA, 20))
    display.finish()
    text = stream.getvalue()
    assert "\x1b[2F" in text  # cursor back up over the two bars
    last = text.rsplit("\x1b[2F", 1)[1]
    assert f"{LLAMA} [########################] 20/20" in last
    assert f"{QWEN}        [############------------] 10/20" in last


def test_strict_refuses_a_suite_gh_runs_and_without_it_warns(
    fake_ollama: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_ollama(fake_ollama)
    path = tmp_path / "gh.prompt.yml"
    path.write_text(
        f"model: {LLAMA}\nmessages: [{{role: user, content: hi}}]\ntestData: [{{input: a}}]\n"
        "evaluators:\n  - name: a\n    uses: github/vibes\n",
        encoding="utf-8",
    )
    assert main(["eval", str(path), "--strict"]) == 2
    assert "unknown evaluator 'github/vibes'" in capsys.readouterr().err
    assert main(["eval", str(path)]) == 1  # run as gh runs it: that evaluator fails
    out, err = capsys.readouterr()
    assert "warning:" in err and "it fails on every case, as in gh" in err
    assert "Error: unknown built-in evaluator: github/vibes" in out
