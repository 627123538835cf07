"""The evaluation workspace in the window, against the fake Ollama: a variant made from the tree and
chatted with, a suite run from the Evaluate view with the matrix filling in, cancel and resume,
exports, a past run reopened and compared, a malformed suite's error at its line, and qtmodeltester on
every new item model."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt

from desktop_app.core.evaluation import RunStatus
from desktop_app.core.models import Category
from desktop_app.gui.qt_evaluate_models import QtCasesModel, QtProgressModel, QtRunsModel
from desktop_app.gui.qt_model_tree import Col
from desktop_app.gui.qt_results_matrix import QtResultsMatrixModel
from desktop_app.services.context import AppContext
from desktop_app.services.eval_session import EvalSession
from desktop_app.services.run_files import past_runs
from tests.fakes.ollama import DEFAULT_MODELS, FakeOllama
from tests.gui.conftest import point_ollama
from tests.gui.test_live import start_chat

LLAMA, QWEN = "ollama/llama3.2:latest", "ollama/qwen3:8b"


def suite_text(cases: int) -> str:
    rows = "\n".join(f"  - word: w{i}" for i in range(cases))
    return (
        textwrap.dedent(
            """\
        name: Echo
        messages:
          - role: user
            content: "Say {{word}}"
        testData:
        """
        )
        + rows
        + textwrap.dedent(
            """
        evaluators:
          - name: mentions sky
            string:
              contains: sky
        """
        )
    )


@pytest.fixture
def synced(make_window: Any, ctx: AppContext, fake_ollama: FakeOllama, run: Any) -> Any:
    point_ollama(ctx, fake_ollama.url)
    window = make_window([])
    run(window.refresh())
    assert window.tree_model.model_count() == len(DEFAULT_MODELS)
    return window


def open_evaluate(window: Any, tmp_path: Path, cases: int = 3) -> Any:
    window.evaluate_action.trigger()
    view = window.evaluate_view
    assert view is not None and view.isVisible() and not window.chat.isVisible()
    path = tmp_path / "echo.prompt.yml"
    path.write_text(suite_text(cases), encoding="utf-8")
    view.open_suite(path)
    assert view.session.check.ok and view.cases_model.rowCount() == cases
    return view


def click_box(window: Any, model_id: str, qtbot: Any) -> None:
    """Click the check box before a model's name in the tree (pick mode)."""
    index = window.proxy.mapFromSource(window.tree_model.index_of(model_id, Col.NAME))
    window.tree.scrollTo(index)
    rect = window.tree.visualRect(index)
    qtbot.mouseClick(
        window.tree.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.x() + 8, rect.center().y())
    )


def test_variant_from_the_tree_then_chat_with_it(
    synced: Any, fake_ollama: FakeOllama, qtbot: Any, run: Any
) -> None:
    window = synced
    assert window.select_model(LLAMA)
    assert window.detail.variant_button.isVisible()
    window.detail.variant_button.click()
    dialog = window.variant_dialog
    assert dialog is not None and dialog.isVisible()
    assert "llama3.2" in dialog.windowTitle()
    dialog.name_edit.setText("terse")
    dialog.system_edit.setPlainText("Answer in one sentence.")
    dialog.temperature.setValue(0.2)
    # Try it before saving: the unsaved variant's prompt and parameters go out, nothing is stored.
    dialog.try_input.setText("hello")
    run(dialog.try_it())
    assert dialog.try_output.toPlainText() == fake_ollama.reply_text
    body = fake_ollama.last_bodies["/api/chat"]
    assert body["messages"][0] == {"role": "system", "content": "Answer in one sentence."}
    assert body["options"]["temperature"] == 0.2
    assert window.ctx.registry.find("exp/terse") is None
    # The grid counts as values are typed.
    dialog.grid_toggle.setChecked(True)
    dialog.grid_edits["temperature"].setText("0.2, 0.7")
    dialog.grid_edits["seed"].setText("1,2,3")
    assert dialog.grid_count.text() == "Makes 6 variants."
    dialog.grid_toggle.setChecked(False)
    run(dialog.save())
    qtbot.waitUntil(lambda: window.current_model() is not None and window.current_model().id == "exp/terse")
    variant = window.current_model()
    assert variant.parent_id == LLAMA and variant.system_prompt == "Answer in one sentence."
    experimental = window.tree_model.category_index(Category.EXPERIMENTAL)
    assert window.tree_model.rowCount(experimental) == 1

    task = start_chat(window, "exp/terse", "hi there")
    run(task)
    assert window.chat.replies[-1].content == fake_ollama.reply_text
    body = fake_ollama.last_bodies["/api/chat"]
    assert body["model"] == "llama3.2:latest"
    assert body["messages"][0] == {"role": "system", "content": "Answer in one sentence."}
    assert body["options"]["temperature"] == 0.2


def test_run_from_the_evaluate_view_fills_the_matrix(
    synced: Any, fake_ollama: FakeOllama, qtbot: Any, run: Any, tmp_path: Path
) -> None:
    window = synced
    view = open_evaluate(window, tmp_path, cases=4)
    # Pick in the tree: a model's box, then a whole category's box.
    click_box(window, LLAMA, qtbot)
    assert view.session.picks.ids() == [LLAMA]
    assert view.progress_model.rowCount() == 1 and view.run_button.isEnabled()
    click_box(window, LLAMA, qtbot)
    assert view.session.picks.ids() == []
    window.tree.setFocus()
    window.tree.setCurrentIndex(window.proxy.mapFromSource(window.tree_model.index_of(QWEN)))
    qtbot.keyClick(window.tree, Qt.Key.Key_Space)
    assert view.session.picks.ids() == [QWEN]
    view.session.picks.set(LLAMA, True)

    fake_ollama.chunk_delay = 0.005
    task = view.start_run()
    assert task is not None and view.cancel_button.isEnabled() and not view.run_button.isEnabled()
    assert view.tabs.currentIndex() == 2
    # The matrix fills in while the run goes.
    qtbot.waitUntil(
        lambda: any(view.matrix_model.case_at(view.matrix_model.index(r, 0)) for r in range(1, 5))
    )
    run(task)
    assert view.session.run is not None and view.session.run.status is RunStatus.COMPLETE
    matrix = view.matrix_model
    assert (matrix.rowCount(), matrix.columnCount()) == (5, 2)
    assert matrix.index(0, 0).data() == "100% (4/4)"
    assert all(matrix.index(r, c).data().startswith("✓") for r in range(1, 5) for c in range(2))
    assert [view.progress_model.index(r, 1).data() for r in range(2)] == ["4/4", "4/4"]
    assert [s.model_id for s in view.chart.stats] == [QWEN, LLAMA]
    assert all(s.pass_rate == 100.0 for s in view.chart.stats)
    # A cell opens the whole output and every verdict.
    dialog = view.open_case(matrix.index(1, 0))
    assert dialog is not None
    assert dialog.output.toPlainText() == fake_ollama.reply_text
    assert "mentions sky" in dialog.verdicts.toPlainText() and "passed" in dialog.verdicts.toPlainText()
    dialog.close()
    assert view.runs_model.rowCount() == 1


def test_cancel_keeps_finished_cases_and_resume_after_reopening(
    synced: Any, fake_ollama: FakeOllama, qtbot: Any, run: Any, tmp_path: Path, make_window: Any
) -> None:
    window = synced
    view = open_evaluate(window, tmp_path, cases=20)
    view.session.picks.set(LLAMA, True)
    fake_ollama.chunk_delay = 0.02
    task = view.start_run()
    assert task is not None
    qtbot.waitUntil(lambda: view.session.progress[LLAMA].done >= 3, timeout=10000)
    view.cancel_button.click()
    run(task)
    run_ = view.session.run
    assert run_ is not None and run_.status is RunStatus.CANCELLED
    kept = run_.done
    assert 3 <= kept < 20
    view.refresh()
    assert sum(1 for r in range(1, 21) if view.matrix_model.index(r, 0).data()) == kept

    # The window closes; a new one offers to resume the run, and finishes only what is missing.
    window.close()
    fake_ollama.chunk_delay = 0.0
    fake_ollama.reset_counters()
    again = make_window([])
    again.evaluate_action.trigger()
    view2 = again.evaluate_view
    assert view2.banner.isVisible() and "stopped before its end" in view2.banner_text.text()
    assert view2.session.suite_path == tmp_path / "echo.prompt.yml"  # the last suite, opened again
    view2.banner_resume.click()
    task2 = view2._task
    assert task2 is not None
    run(task2)
    finished = view2.session.run
    assert finished.run_id == run_.run_id and finished.status is RunStatus.COMPLETE and finished.done == 20
    assert fake_ollama.requests["/api/chat"] == 20 - kept
    assert not view2.banner.isVisible()


def test_export_reopen_and_compare(
    synced: Any, fake_ollama: FakeOllama, run: Any, tmp_path: Path, ctx: AppContext
) -> None:
    window = synced
    view = open_evaluate(window, tmp_path, cases=2)
    view.session.picks.set(LLAMA, True)
    run(view.start_run())
    first = view.session.run
    fake_ollama.reply_text = "Nothing to see here."
    run(view.start_run())
    second = view.session.run
    assert second.run_id != first.run_id and view.matrix_model.index(0, 0).data() == "0% (0/2)"

    out = tmp_path / "out"
    for fmt in ("html", "json", "csv"):
        assert view.export_to(out / f"report.{fmt}") is not None
    assert json.loads((out / "report.json").read_text())["summary"]["passedTests"] == 0
    rows = list(csv.DictReader(io.StringIO((out / "report.csv").read_text())))
    assert len(rows) == 2 and rows[0]["passed"] == "False"
    assert "Nothing to see here." in (out / "report.html").read_text()

    # Reopen the first run from the Runs tab, then compare the second with it.
    view.reload_runs()
    row = view.runs_model.row_of(first.run_id)
    view.open_run_at(row)
    assert view.session.run.run_id == first.run_id
    assert view.matrix_model.index(0, 0).data() == "100% (2/2)"
    diff = view.compare_with(past_runs(ctx)[view.runs_model.row_of(second.run_id)])
    assert diff is not None and (diff.old_id, diff.new_id) == (first.run_id, second.run_id)
    assert len(diff.worse) == 2 and "2 worse" in view.compare_text.toPlainText()


def test_a_malformed_suite_shows_its_error_at_its_line(synced: Any, qtbot: Any, tmp_path: Path) -> None:
    window = synced
    view = open_evaluate(window, tmp_path, cases=2)
    assert view.editor.error_line is None and view.editor.problem.text().startswith("✓ 2 test cases")
    text = view.editor.text().replace('content: "Say {{word}}"', "content: [Say")
    line = text.splitlines().index("    content: [Say") + 1
    view.editor.edit.setPlainText(text)  # as if typed: parsed after the debounce
    qtbot.waitUntil(lambda: view.editor.error_line is not None, timeout=3000)
    assert view.editor.error_line in (line, line + 1)  # YAML reports where it noticed
    assert view.editor.problem.text().startswith(f"✗ Line {view.editor.error_line}:")
    assert len(view.editor.edit.extraSelections()) == 1
    assert view.editor.edit.extraSelections()[0].cursor.blockNumber() == view.editor.error_line - 1
    assert not view.run_button.isEnabled() and view.tabs.tabText(0) == "Suite ⚠"
    # An evaluator without a check: the line of its ``string:`` key.
    bad = suite_text(2).replace("contains: sky", "contans: sky")
    view.editor.edit.setPlainText(bad)
    qtbot.waitUntil(lambda: view.editor.error_line == bad.splitlines().index("    string:") + 1, timeout=3000)
    assert "equals, contains" in view.editor.problem.text()
    # A key gh ignores is a warning (the suite runs), with the close match suggested and its line.
    warned = suite_text(2).replace("name: Echo", "name: Echo\nmodelParamters:\n  temperature: 1")
    view.editor.edit.setPlainText(warned)
    qtbot.waitUntil(lambda: view.editor.error_line is None, timeout=3000)
    assert "line 2: modelParamters" in view.editor.problem.text()
    assert "did you mean 'modelParameters'" in view.editor.problem.text()
    assert view.tabs.tabText(0) == "Suite (2)"


def test_item_models_pass_qtmodeltester(qtmodeltester: Any, ctx: AppContext, tmp_path: Path) -> None:
    from desktop_app.core.evaluation import CaseResult, EvaluationRun
    from desktop_app.core.evaluators import EvaluatorResult
    from desktop_app.services.eval_session import ModelProgress, check_suite_text

    session = EvalSession(ctx)
    matrix = QtResultsMatrixModel(session)
    qtmodeltester.check(matrix)  # empty
    run_ = EvaluationRun(run_id="r1", model_ids=["a/x", "b/y"], case_count=3, evaluator_names=["e"])
    for i in range(3):
        case = CaseResult(model_id="a/x", case_index=i, test_case={"q": f"q{i}"}, output="o")
        case.evaluations = [EvaluatorResult(evaluator_name="e", score=i / 2, passed=i > 0)]
        run_.add(case)
    run_.add(CaseResult(model_id="b/y", case_index=1, error="host down"))
    session._show(run_, None)
    matrix.apply(session.take_changes())
    qtmodeltester.check(matrix)
    assert matrix.index(0, 0).data() == "67% (2/3)" and matrix.index(2, 1).data() == "! error"
    assert matrix.index(3, 1).data() == "" and matrix.headerData(1, Qt.Orientation.Vertical) == "#0 q0"

    cases = QtCasesModel()
    cases.set_suite(check_suite_text(suite_text(3)).suite)
    qtmodeltester.check(cases)
    progress = QtProgressModel()
    progress.set_rows([ModelProgress("a/x", 3, done=2, passed=1, failed=1)])
    qtmodeltester.check(progress)
    runs = QtRunsModel()
    runs.set_runs(past_runs(ctx))
    qtmodeltester.check(runs)


def test_a_bundled_suite_with_a_judge(synced: Any, fake_ollama: FakeOllama, run: Any) -> None:
    window = synced
    window.evaluate_action.trigger()
    view = window.evaluate_view
    view._fill_open_menu()
    examples = {a.text(): a for a in view.open_menu.actions() if a.text().endswith(".prompt.yml")}
    assert {"text-summarizer.prompt.yml", "capitals-extended.prompt.yml"} <= set(examples)
    examples["text-summarizer.prompt.yml"].trigger()
    assert view.session.check.ok and view.suite_label.text() == "Text Summarizer"
    assert view.judge_combo.isEnabled()  # `uses: github/similarity` needs a judge
    view.judge_combo.setCurrentIndex(view.judge_combo.findData(QWEN))
    assert view.judge_combo.currentText() == f"Judge: {QWEN}"
    view.session.picks.set(LLAMA, True)
    fake_ollama.reply_text = "Summary - a fox and a dog. Score: 4"
    done = run(view.start_run())
    assert done.judge == QWEN and done.done == 2
    assert fake_ollama.requests["/api/chat"] == 4  # two answers, two verdicts
    case = view.matrix_model.case_at(view.matrix_model.index(1, 0))
    assert case is not None and case.evaluations[1].details.endswith(f"(judge {QWEN})")
    # The suite is remembered among the recent files.
    view._fill_open_menu()
    assert [a.text() for a in view.open_menu.actions()].count("text-summarizer.prompt.yml") == 2


def test_done_when_two_variants_a_bundled_suite_a_remote_model_and_the_html_report(
    synced: Any,
    ctx: AppContext,
    fake_ollama: FakeOllama,
    fake_openai: Any,
    run: Any,
    tmp_path: Path,
    qtbot: Any,
) -> None:
    """The issue's "done when", in the window alone: two variants of a local model (a grid, made
    real in Ollama), a bundled suite on them and on a remote model, the results, the HTML report."""
    from desktop_app.core.models import SourceConfig, SourceKind

    window = synced
    ctx.settings.sources.append(
        SourceConfig(name="remote", kind=SourceKind.OPENAI_COMPAT, base_url=fake_openai.url)
    )
    ctx.save_settings()
    ctx.keys.set("remote", fake_openai.api_key)
    run(window.refresh())
    remote_id = "remote/gpt-4o-mini"
    assert window.tree_model.index_of(remote_id).isValid()

    # Two variants of llama3.2 from its context menu's editor: a grid of two temperatures, materialized.
    assert window.select_model(LLAMA)
    dialog = window.open_variant_dialog(window.current_model())
    dialog.system_edit.setPlainText("Begin with 'Summary -'.")
    dialog.grid_toggle.setChecked(True)
    dialog.grid_edits["temperature"].setText("0.2, 0.9")
    assert dialog.grid_count.text() == "Makes 2 variants."
    assert dialog.materialize_box.isEnabled()
    dialog.materialize_box.setChecked(True)
    run(dialog.save())
    assert dialog.materialized == ["llama3.2-temp0.2", "llama3.2-temp0.9"]
    for name in dialog.materialized:
        made = fake_ollama.find(f"{name}:latest")
        assert made is not None and made["system"] == "Begin with 'Summary -'."
        assert window.ctx.registry.get(f"exp/{name}").ollama_name == f"{name}:latest"
    qtbot.waitUntil(
        lambda: window.current_model() is not None and window.current_model().id == "exp/llama3.2-temp0.2"
    )

    # The bundled suite on both variants and the remote model, judged by qwen3.
    window.evaluate_action.trigger()
    view = window.evaluate_view
    view._fill_open_menu()
    next(a for a in view.open_menu.actions() if a.text() == "text-summarizer.prompt.yml").trigger()
    view.judge_combo.setCurrentIndex(view.judge_combo.findData(QWEN))
    for model_id in ("exp/llama3.2-temp0.2", "exp/llama3.2-temp0.9", remote_id):
        click_box(window, model_id, qtbot)
    assert view.session.picks.ids() == ["exp/llama3.2-temp0.2", "exp/llama3.2-temp0.9", remote_id]
    fake_ollama.reply_text = "Summary - a fox and a dog. 4"
    fake_openai.reply = "A fox jumped."
    done = run(view.start_run(), timeout=20)
    assert done.status is RunStatus.COMPLETE and done.done == 6
    summary = [view.matrix_model.index(0, c).data() for c in range(3)]
    assert summary == ["100% (2/2)", "100% (2/2)", "0% (0/2)"]
    assert [s.pass_rate for s in view.chart.stats] == [100.0, 100.0, 0.0]
    assert view.chart.winner in ("exp/llama3.2-temp0.2", "exp/llama3.2-temp0.9")  # a tie: the faster

    report = view.export_to(tmp_path / "report.html")
    assert report is not None
    page = report.read_text(encoding="utf-8")
    assert (
        "Text Summarizer" in page and remote_id in page and "exp/llama3.2-temp0.9" in page and "<svg" in page
    )


def test_closing_the_window_mid_run_keeps_finished_cases(
    synced: Any, fake_ollama: FakeOllama, qtbot: Any, run: Any, tmp_path: Path, ctx: AppContext
) -> None:
    window = synced
    view = open_evaluate(window, tmp_path, cases=30)
    view.session.picks.set(LLAMA, True)
    fake_ollama.chunk_delay = 0.02
    assert view.start_run() is not None
    qtbot.waitUntil(lambda: view.session.progress[LLAMA].done >= 2, timeout=10000)
    window.close()  # Ctrl+Q mid-run
    run(window.shutdown())
    info = past_runs(ctx)[0]
    assert info.status is RunStatus.CANCELLED and info.resumable
    # The layout saved on close is the chat's (detail pane and chat shown), not the Evaluate mode's.
    assert not window.evaluate_action.isChecked()
    assert not window.detail.isHidden() and not window.chat.isHidden() and view.isHidden()


def test_editing_a_variant_saves_a_new_version_of_it(synced: Any, run: Any, qtbot: Any) -> None:
    from desktop_app.core.variants import VariantSpec
    from desktop_app.services.variants import create_variant

    window = synced
    create_variant(window.ctx, LLAMA, VariantSpec(name="pirate", system_prompt="Arr."))
    run(window.reload_models(["ollama"]))
    model = window.ctx.registry.get("exp/pirate")
    dialog = window.open_variant_dialog(model, edit=True)
    assert dialog.windowTitle() == "Edit variant pirate" and dialog.name_edit.text() == "pirate"
    assert dialog.system_edit.toPlainText() == "Arr." and dialog.draft.base.id == LLAMA
    assert dialog.base_prompt.toPlainText() == "The base applies no system prompt of its own."
    dialog.temperature.setValue(1.1)
    run(dialog.save())
    edited = window.ctx.registry.get("exp/pirate")
    assert edited.parameters == {"temperature": 1.1} and edited.system_prompt == "Arr."
    assert edited.created_at == model.created_at  # the same variant, a new version of its settings
    # A variant built on it shows its parent's prompt for reference.
    child = window.open_variant_dialog(edited)
    assert child.draft.base.id == "exp/pirate" and child.base_prompt.toPlainText() == "Arr."
    child.reject()


def test_yaml_highlighting(qapp: Any) -> None:
    from PySide6.QtGui import QTextDocument

    from desktop_app.gui.qt_suite_editor import QtYamlHighlighter

    doc = QTextDocument()
    doc.setPlainText('name: Echo  # a comment\n  - content: "Say {{word}}"\n    temperature: 0.2\n')
    h = QtYamlHighlighter(doc)
    h.rehighlight()

    def colours(line: int) -> dict[str, str]:
        block = doc.findBlockByNumber(line)
        text = block.text()
        return {
            text[r.start : r.start + r.length]: r.format.foreground().color().name()
            for r in block.layout().formats()
        }

    first = colours(0)
    assert first["name"] == h.key.foreground().color().name()
    assert first["# a comment"] == h.comment.foreground().color().name()
    second = colours(1)
    assert second["content"] == h.key.foreground().color().name()
    assert second["{{word}}"] == h.variable.foreground().color().name()
    assert colours(2)["0.2"] == h.scalar.foreground().color().name()


def test_yaml_colours_follow_a_theme_switch(qapp: Any) -> None:
    """Keys coloured for dark (pale blue) stayed so after a switch to light: unreadable on white."""
    from PySide6.QtWidgets import QApplication

    from desktop_app.gui.qt_suite_editor import QtSuiteEditor, QtYamlHighlighter
    from desktop_app.gui.theme import apply_theme

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    light_key, dark_key = QtYamlHighlighter._COLORS["key"]
    try:
        apply_theme(app, "dark")
        editor = QtSuiteEditor()
        editor.edit.setPlainText("name: Echo\n")
        editor.highlighter.rehighlight()

        def key_colour() -> str:
            block = editor.edit.document().firstBlock()
            return {
                block.text()[r.start : r.start + r.length]: r.format.foreground().color().name()
                for r in block.layout().formats()
            }["name"]

        assert key_colour() == dark_key
        apply_theme(app, "light")
        QApplication.processEvents()
        assert key_colour() == light_key
        apply_theme(app, "dark")
        QApplication.processEvents()
        assert key_colour() == dark_key
    finally:
        apply_theme(app, "system")


def test_picking_in_the_tree_by_model_and_by_category(make_window: Any, qtbot: Any) -> None:
    from tests.gui.conftest import hand_made_models

    window = make_window(hand_made_models())
    window.evaluate_action.trigger()
    picks = window.evaluate_view.session.picks
    picker = window.picker
    reasoning = window.proxy.mapFromSource(window.tree_model.category_index(Category.REASONING))
    assert picker.state_of(reasoning) == (Qt.CheckState.Unchecked, True)
    rect = window.tree.visualRect(reasoning)
    qtbot.mouseClick(
        window.tree.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.x() + 8, rect.center().y())
    )
    # Every usable model of the category; the retired remote deepseek-r1 cannot be picked.
    assert sorted(picks.ids()) == ["ollama/deepseek-r1:7b", "ollama/qwen3:8b"]
    assert picker.state_of(reasoning)[0] is Qt.CheckState.Checked
    picks.set("ollama/qwen3:8b", False)
    assert picker.state_of(reasoning)[0] is Qt.CheckState.PartiallyChecked
    qtbot.mouseClick(
        window.tree.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.x() + 8, rect.center().y())
    )
    assert sorted(picks.ids()) == ["ollama/deepseek-r1:7b", "ollama/qwen3:8b"]
    qtbot.mouseClick(
        window.tree.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.x() + 8, rect.center().y())
    )
    assert picks.ids() == []
    # An offline model's box is greyed and does nothing; so is an embedding model's (it cannot answer).
    click_box(window, "ollama/phi3:mini", qtbot)
    click_box(window, "ollama/nomic-embed-text:latest", qtbot)
    assert picks.ids() == []
    # Leaving Evaluate mode hides the boxes (the tree's own delegate is back), the picks stay.
    picks.set("ollama/qwen3:8b", True)
    window.evaluate_action.trigger()
    assert not picker.active and window.tree.itemDelegate() is picker._normal
    assert picks.ids() == ["ollama/qwen3:8b"]


@pytest.mark.slow
def test_a_finished_run_is_logged_to_mlflow_by_a_child_process(
    synced: Any, fake_ollama: FakeOllama, qtbot: Any, run: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """The window logs a finished run as the CLI does, through `modeldesk mlflow _log` in a child
    process: the embedded store gets the suite's experiment and the run leaves the outbox."""
    import sqlite3

    monkeypatch.delenv("MODELDESK_NO_MLFLOW", raising=False)
    window = synced
    view = open_evaluate(window, tmp_path, cases=2)
    view.session.picks.set(LLAMA, True)
    task = view.start_run()
    assert task is not None
    run(task)
    child = window.mlflow_logger
    assert child is not None, "a finished run starts the logging child"
    assert child.wait(timeout=120) == 0, (window.ctx.home / "logs" / "mlflow.log").read_text()
    db = window.ctx.home / "mlflow.db"
    with sqlite3.connect(db) as con:
        names = {r[0] for r in con.execute("SELECT name FROM experiments")}
        runs = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert any("echo" in n.lower() for n in names), names
    assert runs >= 2, "a parent run and a child run for the model"
    from desktop_app.services import tracking

    assert tracking.outbox(window.ctx).run_ids() == []
