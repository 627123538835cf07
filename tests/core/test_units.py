from __future__ import annotations

import pytest

from desktop_app.core.units import format_bytes


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (999, "999 B"), (1000, "1.0 KB"), (4_700_000_000, "4.7 GB"), (2.5e12, "2.5 TB")],
)
def test_decimal_units(n: float, text: str) -> None:
    assert format_bytes(n) == text


def test_missing_size_reads_as_the_callers_placeholder() -> None:
    assert format_bytes(None) == "—"
    assert format_bytes(None, missing="-") == "-"
