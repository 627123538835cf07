"""gh's ``{{var}}`` templating, shared by suite messages and every evaluator that templates text.

Values are printed as gh prints them (Go's ``%v``): numbers, booleans, null as empty text, lists and
maps as JSON. Pure.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

__all__ = ["format_value", "placeholders", "render_template"]


def _go_float(value: float) -> str:
    """A float as Go's ``fmt.Sprintf("%v", f)`` prints it (shortest digits; %e when the exponent is
    below -4 or at least 6), which is what gh puts into a template."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent  # position of the decimal point in the digit string
    x = point - 1
    neg = "-" if sign else ""
    if x < -4 or x >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{neg}{mantissa}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if point <= 0:
        return f"{neg}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{neg}{digits}{'0' * (point - len(digits))}"
    return f"{neg}{digits[:point]}.{digits[point:]}"


def format_value(value: Any) -> str:
    """A test-data value as text for a template. Strings as they are; numbers and booleans as gh
    prints them; null as empty text; lists and maps as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


@lru_cache(maxsize=256)
def _placeholder_pattern(keys: tuple[str, ...]) -> re.Pattern[str]:
    # Longest first so that a key that is a prefix of another never steals its match.
    ordered = sorted(keys, key=len, reverse=True)
    return re.compile("|".join(re.escape("{{" + k + "}}") for k in ordered))


def render_template(template: str, variables: Mapping[str, Any]) -> str:
    """gh's templating: each ``{{key}}`` (exactly, no spaces) becomes the value of ``key``.

    Unknown placeholders stay as they are. Unlike gh (which replaces key by key in map order) this is
    one pass, so a value that itself contains ``{{other}}`` is never expanded: the result does not
    depend on the order of the keys.
    """
    if not variables or "{{" not in template:
        return template
    keys = tuple(str(k) for k in variables)
    values = {"{{" + str(k) + "}}": v for k, v in variables.items()}
    return _placeholder_pattern(keys).sub(lambda m: format_value(values[m.group(0)]), template)


_PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")


def placeholders(template: str) -> list[str]:
    """Names of the ``{{...}}`` placeholders in a template, in order of first use."""
    return list(dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(template)))
