"""A suite's ``tools:`` list (a ModelDesk extension of ``.prompt.yml``): the tools offered to the model.

```yaml
tools:
  - calculator                      # a tool from the registry (run in the loop; see `modeldesk tools list`)
  - type: function                  # or declared inline, as the OpenAI/Ollama APIs take it (never run)
    function: {name: get_weather, description: …, parameters: {type: object, properties: {…}}}
```

What a model did with them is checked by the ``tool_call`` evaluator (``core/evaluators/tool_call.py``).
Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from desktop_app.core.suite_reader import CheckError

__all__ = ["parse_suite_tools"]


def _function(raw: Mapping[str, Any], i: int) -> dict[str, Any]:
    fn = raw.get("function", raw) if raw.get("type", "function") == "function" else None
    if not isinstance(fn, Mapping):
        raise CheckError(
            (i,), "an inline tool is {type: function, function: {name, description, parameters}}"
        )
    name = fn.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        raise CheckError((i, "name"), "a tool's name is 1-64 letters, digits, '_' or '-'")
    params = fn.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(params, Mapping):
        raise CheckError((i, "parameters"), "parameters must be a JSON Schema object")
    import jsonschema

    try:
        jsonschema.validators.validator_for(params).check_schema(params)
    except jsonschema.SchemaError as exc:
        raise CheckError((i, "parameters"), f"invalid JSON Schema: {exc.message}") from None
    description = fn.get("description", "")
    return {
        "type": "function",
        "function": {"name": name, "description": str(description or ""), "parameters": dict(params)},
    }


def parse_suite_tools(value: Any) -> list[str | dict[str, Any]]:
    """A suite's ``tools:``: registry names/patterns (text) and inline functions (OpenAI shape)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise CheckError((), "must be a list of tool names (from the registry) or inline functions")
    out: list[str | dict[str, Any]] = []
    for i, item in enumerate(value):
        if isinstance(item, str) and item.strip():
            out.append(item.strip())
        elif isinstance(item, Mapping):
            out.append(_function(item, i))
        else:
            raise CheckError((i,), "each tool is a name from the registry or an inline {type: function, …}")
    return out
