"""The stream parser of a listing's array (issue 17): same elements whatever the chunking; a reply
of another shape is handed back before anything came out; a broken one after says where."""

from __future__ import annotations

import json

import pytest

from desktop_app.adapters._json_stream import ArrayStream, Broken, Unexpected

DOC = {
    "before": {"nested": [1, 2, {"x": None}]},
    "models": [{"name": "a:latest", "n": [1.5, -2e3, True]}, {"name": "ü:7b"}, 3, 12345, "s", None, []],
    "after": 1.25,
}


def parse(raw: bytes, step: int) -> list[object]:
    stream = ArrayStream("models")
    out: list[object] = []
    for i in range(0, len(raw), step):
        out += stream.feed(raw[i : i + step])
    return out + stream.close()


@pytest.mark.parametrize("step", [1, 2, 3, 5, 8, 64, 10_000])
def test_every_chunking_gives_the_same_elements(step: int) -> None:
    raw = json.dumps(DOC, ensure_ascii=False, indent=1).encode()
    assert parse(raw, step) == DOC["models"]


@pytest.mark.parametrize("raw", [b'{"models": []}', b" {} ", b'{"other": [1]}'])
def test_empty_and_missing_arrays(raw: bytes) -> None:
    assert parse(raw, 3) == []


@pytest.mark.parametrize("raw", [b"<html>", b"[1, 2]", b'{"models": 5}', b'{"models": null}', b""])
def test_another_shape_is_unexpected(raw: bytes) -> None:
    with pytest.raises(Unexpected):
        parse(raw, 4)


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b'{"models": [1, 2', 2),
        (b'{"models": [1,]}', 1),
        (b'{"models": [{"a": }]}', 0),
        (b'{"models": []} x', 0),
    ],
)
def test_a_broken_array_says_after_how_many(raw: bytes, where: int) -> None:
    with pytest.raises(Broken) as caught:
        parse(raw, 2)
    assert caught.value.where == where


TRICKY = {
    "models": [
        {"name": "a", "s": "},{", "t": "}, {"},
        {"name": "b", "nested": [{"x": 1}, {"y": {"z": [{"w": 2}]}}], "u": "]"},
        {"name": "c", "details": {"family": "llama"}, "caps": ["x"]},
        {"name": "d"},
    ]
    * 20,
}


@pytest.mark.parametrize("compact", [True, False])
@pytest.mark.parametrize("step", [1, 7, 64, 333, 100_000])
def test_elements_cut_apart_in_bulk_are_the_same_elements(compact: bool, step: int) -> None:
    """Elements are decoded many at a time up to the last ``},{`` in the buffer; a ``},{`` inside a
    string or between nested objects must not change what comes out."""
    raw = json.dumps(TRICKY, separators=(",", ":") if compact else None).encode()
    assert parse(raw, step) == TRICKY["models"]


def test_a_broken_element_after_bulk_ones_says_where() -> None:
    raw = b'{"models": [{"a": 1}, {"b": 2}, {"c": 3}, {"d": }]}'
    with pytest.raises(Broken) as caught:
        parse(raw, 10_000)
    assert caught.value.where == 3
