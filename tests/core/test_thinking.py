from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from desktop_app.core.thinking import ThinkSplitter


def run(chunks: list[str]) -> tuple[str, str]:
    s = ThinkSplitter()
    content, thinking = "", ""
    for c in chunks:
        a, b = s.feed(c)
        content += a
        thinking += b
    a, b = s.flush()
    return content + a, thinking + b


def test_tags_split_across_chunks() -> None:
    assert run(["<thi", "nk>plan it</th", "ink>Answer <b>bold</b>"]) == ("Answer <b>bold</b>", "plan it")


def test_no_tags_is_all_content() -> None:
    assert run(["hello ", "world <"]) == ("hello world <", "")


def test_unclosed_think_stays_thinking() -> None:
    assert run(["<think>still going"]) == ("", "still going")


@given(st.text(alphabet="ab<>/thinkx ", max_size=60), st.text(alphabet="ab<>/x ", max_size=60), st.data())
def test_any_chunking_gives_the_same_split(thought: str, answer: str, data: st.DataObject) -> None:
    thought = thought.replace("</think>", "")
    answer = answer.replace("<think>", "")
    full = f"<think>{thought}</think>{answer}"
    cuts = sorted(data.draw(st.lists(st.integers(0, len(full)), max_size=8)))
    pieces = [full[i:j] for i, j in zip([0, *cuts], [*cuts, len(full)], strict=True)]
    assert run(pieces) == (answer, thought)
