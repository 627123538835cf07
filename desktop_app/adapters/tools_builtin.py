"""Built-in tools: safe, offline, instant. A calculator (an AST walk over a whitelist of nodes, never
``eval``), the current date and time in a time zone, and unit conversion.

They read the clock and the time-zone database, which is why they are an adapter and not core.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from desktop_app.core.tools import BUILTIN_PROVIDER, ToolResult, ToolSpec

__all__ = ["BUILTIN_TOOLS", "CalcError", "builtin_specs", "calculate", "run_builtin"]


class CalcError(ValueError):
    """An expression the calculator refuses, with a message for the model."""


# ------------------------------------------------------------------------------------------- calculator
_MAX_EXPONENT = 10_000  # 2**10000 has ~3,000 digits: cheap; larger powers are refused, not computed
_MAX_INT_BITS = 40_000  # no intermediate integer may grow past this
_MAX_LEN = 2_000  # characters of expression
_MAX_FACTORIAL = 1_000

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
    "floor": math.floor,
    "ceil": math.ceil,
    "log": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "exp": math.exp,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "min": min,
    "max": max,
}
_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _check_size(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        raise CalcError("the result is too large (more than ~12,000 digits)")
    if isinstance(value, complex):
        raise CalcError("the result is a complex number")
    if isinstance(value, float) and math.isnan(value):
        raise CalcError("the result is not a number")
    if isinstance(value, float) and math.isinf(value):
        raise CalcError("the result is too large for a floating-point number")
    return value


def _power(base: Any, exponent: Any) -> Any:
    if isinstance(exponent, int | float) and abs(exponent) > _MAX_EXPONENT:
        raise CalcError(f"exponents are limited to ±{_MAX_EXPONENT:,}")
    # bit_length(base**e) ≈ e * bit_length(base): refuse before computing it.
    if isinstance(base, int) and isinstance(exponent, int) and base.bit_length() * exponent > _MAX_INT_BITS:
        raise CalcError("the result is too large (more than ~12,000 digits)")
    return operator.pow(base, exponent)


def _factorial(n: Any) -> int:
    if not isinstance(n, int) or n < 0 or n > _MAX_FACTORIAL:
        raise CalcError(f"factorial takes a whole number from 0 to {_MAX_FACTORIAL}")
    return math.factorial(n)


def _eval(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            return _check_size(_power(left, right))
        op = _BINARY.get(type(node.op))
        if op is None:
            raise CalcError(f"the operator {type(node.op).__name__} is not supported")
        both_int = isinstance(left, int) and isinstance(right, int)
        if (
            isinstance(node.op, ast.Mult)
            and both_int
            and left.bit_length() + right.bit_length() > _MAX_INT_BITS
        ):
            raise CalcError("the result is too large (more than ~12,000 digits)")
        return _check_size(op(left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        name = node.func.id
        fn = _FUNCTIONS.get(name)
        if fn is None and name != "factorial":
            known = ", ".join(sorted([*_FUNCTIONS, "factorial"]))
            raise CalcError(f"unknown function {name!r} (known: {known})")
        args = [_eval(a) for a in node.args]
        if fn is None:
            return _factorial(*args) if len(args) == 1 else _factorial(None)
        return _check_size(fn(*args))
    raise CalcError(
        f"{type(node).__name__} is not allowed: use numbers, + - * / // % ** ^, ( ) and functions"
    )


def calculate(expression: str) -> int | float:
    """The value of an arithmetic expression. Raises CalcError with a plain reason."""
    text = expression.strip()
    if not text:
        raise CalcError("the expression is empty")
    if len(text) > _MAX_LEN:
        raise CalcError(f"the expression is longer than {_MAX_LEN} characters")
    # '^' means power to people ("2^31 * 3"); as text, so that it binds like ** and not like xor.
    text = text.replace("^", "**").replace("×", "*").replace("÷", "/").replace("−", "-")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise CalcError(f"not an arithmetic expression ({exc.msg})") from None
    try:
        return _eval(tree)
    except ZeroDivisionError:
        raise CalcError("division by zero") from None
    except OverflowError:
        raise CalcError("the result is too large for a floating-point number") from None
    except (TypeError, ValueError) as exc:
        if isinstance(exc, CalcError):
            raise
        raise CalcError(str(exc)) from None


def _format_number(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


def _calculator(args: Mapping[str, Any]) -> str:
    expression = args.get("expression")
    if not isinstance(expression, str):
        raise CalcError('give the expression as text, e.g. {"expression": "2**31 * 3"}')
    return _format_number(calculate(expression))


# ------------------------------------------------------------------------------------------- time
def _current_time(args: Mapping[str, Any]) -> str:
    zone_name = str(args.get("timezone") or "UTC").strip()
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        lowered = zone_name.lower().replace(" ", "_")
        match = next((z for z in sorted(available_timezones()) if z.lower().endswith("/" + lowered)), None)
        if match is None:
            raise CalcError(f"unknown time zone {zone_name!r}; use an IANA name such as Asia/Tokyo") from None
        zone, zone_name = ZoneInfo(match), match
    now = datetime.now(UTC).astimezone(zone)
    return f"{now:%Y-%m-%d %H:%M:%S} {now.tzname()} (UTC{now:%z}, {zone_name}, {now:%A})"


# ------------------------------------------------------------------------------------------- units
_UNITS: dict[str, tuple[str, float]] = {
    # length → metres
    "mm": ("length", 0.001),
    "cm": ("length", 0.01),
    "m": ("length", 1.0),
    "km": ("length", 1000.0),
    "in": ("length", 0.0254),
    "ft": ("length", 0.3048),
    "yd": ("length", 0.9144),
    "mi": ("length", 1609.344),
    # mass → kilograms
    "g": ("mass", 0.001),
    "kg": ("mass", 1.0),
    "t": ("mass", 1000.0),
    "oz": ("mass", 0.028349523125),
    "lb": ("mass", 0.45359237),
    # volume → litres
    "ml": ("volume", 0.001),
    "l": ("volume", 1.0),
    "gal": ("volume", 3.785411784),
    "cup": ("volume", 0.2365882365),
    # speed → m/s
    "m/s": ("speed", 1.0),
    "km/h": ("speed", 1 / 3.6),
    "mph": ("speed", 0.44704),
    "kn": ("speed", 0.514444),
    # data → bytes
    "b": ("data", 1.0),
    "kb": ("data", 1e3),
    "mb": ("data", 1e6),
    "gb": ("data", 1e9),
    "kib": ("data", 1024.0),
    "mib": ("data", 1024.0**2),
    "gib": ("data", 1024.0**3),
}
_TEMPERATURES = {"c", "f", "k"}


def _to_kelvin(value: float, unit: str) -> float:
    return {"c": value + 273.15, "f": (value - 32) * 5 / 9 + 273.15, "k": value}[unit]


def _from_kelvin(value: float, unit: str) -> float:
    return {"c": value - 273.15, "f": (value - 273.15) * 9 / 5 + 32, "k": value}[unit]


def _convert_units(args: Mapping[str, Any]) -> str:
    value = args.get("value")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise CalcError(f"value must be a number, not {value!r}") from None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise CalcError("value must be a number")
    src = str(args.get("from_unit", "")).strip().lower().removeprefix("°")
    dst = str(args.get("to_unit", "")).strip().lower().removeprefix("°")
    if src in _TEMPERATURES and dst in _TEMPERATURES:
        out = _from_kelvin(_to_kelvin(float(value), src), dst)
    else:
        a, b = _UNITS.get(src), _UNITS.get(dst)
        if a is None or b is None:
            known = ", ".join([*_UNITS, "C", "F", "K"])
            raise CalcError(f"unknown unit {(src if a is None else dst)!r} (known: {known})")
        if a[0] != b[0]:
            raise CalcError(f"cannot convert {a[0]} ({src}) to {b[0]} ({dst})")
        out = float(value) * a[1] / b[1]
    return f"{value} {args.get('from_unit')} = {round(out, 6):g} {args.get('to_unit')}"


# ------------------------------------------------------------------------------------------- registry
def _spec(name: str, description: str, properties: dict[str, Any], required: list[str]) -> ToolSpec:
    return ToolSpec(
        name=name,
        description=description,
        parameters={"type": "object", "properties": properties, "required": required},
        provider=BUILTIN_PROVIDER,
    )


BUILTIN_TOOLS: dict[str, tuple[ToolSpec, Callable[[Mapping[str, Any]], str]]] = {
    "calculator": (
        _spec(
            "calculator",
            "Evaluate an arithmetic expression exactly (integers of any size). Supports + - * / // % "
            "and ** or ^ for powers, parentheses, sqrt, log, exp, sin, cos, tan, abs, round, floor, ceil, "
            "min, max, factorial, pi, e.",
            {"expression": {"type": "string", "description": "e.g. 2^31 * 3"}},
            ["expression"],
        ),
        _calculator,
    ),
    "current_time": (
        _spec(
            "current_time",
            "The current date and time in a time zone.",
            {"timezone": {"type": "string", "description": "IANA name such as Asia/Tokyo; default UTC"}},
            ["timezone"],
        ),
        _current_time,
    ),
    "convert_units": (
        _spec(
            "convert_units",
            "Convert a value between units of length, mass, volume, speed, data size or temperature.",
            {
                "value": {"type": "number"},
                "from_unit": {"type": "string", "description": "e.g. km, mi, kg, lb, C, F, GiB"},
                "to_unit": {"type": "string"},
            },
            ["value", "from_unit", "to_unit"],
        ),
        _convert_units,
    ),
}


def builtin_specs() -> list[ToolSpec]:
    return [spec.model_copy() for spec, _ in BUILTIN_TOOLS.values()]


def run_builtin(name: str, arguments: Mapping[str, Any]) -> ToolResult:
    """Run a built-in tool; its own errors come back as an error result for the model, not raised."""
    entry = BUILTIN_TOOLS.get(name)
    if entry is None:
        return ToolResult(text=f"unknown built-in tool {name!r}", is_error=True)
    try:
        return ToolResult(text=entry[1](arguments))
    except CalcError as exc:
        return ToolResult(text=f"error: {exc}", is_error=True)
