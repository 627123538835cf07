"""A real headless Chromium (Debian's, through Playwright's ``executable_path``; nothing downloaded)
opens the shared app, picks a category, opens a model in the chat and sends a message, runs an
evaluation and downloads its report. Its screenshots go to ``$MODELDESK_SCREENSHOTS_DIR`` when set
(``make screenshots`` sets it to ``docs/screenshots``, which the README shows), so a test run leaves
the tree as it was."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.share.conftest import ROOT, ShareApp, ShareWorld

pytestmark = pytest.mark.slow

SHOTS = os.environ.get("MODELDESK_SCREENSHOTS_DIR")
TIMEOUT_MS = 30_000


def test_chromium_browses_by_category_and_chats(
    browser, local_app: ShareApp, share_world: ShareWorld, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(local_app.url)
    # The category picker shows counts once the page has loaded the registry.
    reasoning = page.get_by_text("Reasoning (2)", exact=True)
    reasoning.click()
    table = page.locator("#md-models")
    page.wait_for_function(
        "() => { const t = document.querySelector('#md-models'); "
        "return t && t.innerText.includes('deepseek-r1:7b') && !t.innerText.includes('llava:7b'); }"
    )
    assert "qwen3:8b" in table.inner_text()
    table.get_by_text("qwen3:8b", exact=True).first.click()
    page.wait_for_function(  # its details, once they have replaced the first model's
        "() => { const d = document.querySelector('#md-details'); "
        "return d && d.innerText.includes('Family: qwen3') && !d.querySelector('.pending'); }"
    )
    page.screenshot(path=str(tmp_path / "share.png"))

    page.get_by_role("button", name="Chat with this model").click()
    page.get_by_role("tab", name="Chat").wait_for()
    page.locator("#md-think input").click()
    page.get_by_role("option", name="On").click()
    box = page.locator("#md-message textarea")
    box.wait_for(state="visible")
    box.fill("Why is the sky blue?")
    box.press("Enter")
    page.wait_for_function(
        "() => { const m = document.querySelector('#md-metrics'); return m && m.innerText.includes('tokens/s'); }"
    )
    chat_text = page.locator("#md-chatbot").inner_text()
    assert "Why is the sky blue?" in chat_text and "blue" in chat_text.split("Why is the sky blue?", 1)[1]
    assert "Thinking" in chat_text  # the reasoning, in its own collapsed section
    page.screenshot(path=str(tmp_path / "share-chat.png"))
    # An evaluation of the bundled suite over its own models, and its HTML report downloaded.
    page.get_by_role("tab", name="Evaluate").click()
    page.locator("#md-run-eval").click()
    page.wait_for_function("() => document.querySelectorAll('#md-reports a').length >= 3", timeout=60_000)
    status = page.locator("#md-eval-status").inner_text()
    assert "8 of 8 cases" in status and "winner" in status
    page.screenshot(path=str(tmp_path / "share-evaluate.png"))
    link = page.locator('#md-reports a[download$=".html"]').first
    with page.expect_download() as download_info:
        link.click()
    report = tmp_path / "report.html"
    download_info.value.save_as(report)
    assert "<html" in report.read_text(encoding="utf-8").lower()
    # Nothing of the key in the page as the browser got it.
    assert share_world.key not in page.content()
    if SHOTS:
        folder = ROOT / SHOTS
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("share.png", "share-chat.png", "share-evaluate.png"):
            shutil.copyfile(tmp_path / name, folder / name)
    page.close()
