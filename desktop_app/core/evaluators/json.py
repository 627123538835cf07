"""ModelDesk's ``json`` evaluator: the output is valid JSON and, when a schema is given, matches it."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, ClassVar

from desktop_app.core.evaluators.base import (
    CaseOutput,
    Check,
    Evaluator,
    EvaluatorResult,
    HelperAnswer,
    bool_result,
)
from desktop_app.core.suite_reader import KeyPath, SuiteReader, describe

__all__ = ["JsonCheck", "JsonEvaluator", "check_json"]

_FENCE = re.compile(r"\A```[A-Za-z0-9_-]*[ \t]*\n(.*?)\n?```\Z", re.DOTALL)


class JsonCheck(Check):
    """The output is valid JSON and, when ``json_schema`` is given, matches it. A reply wrapped in one
    markdown code fence is accepted unless ``strict``."""

    kind: ClassVar[str] = "json"
    json_schema: dict[str, Any] | None = None
    strict: bool = False


@lru_cache(maxsize=64)
def _validator(schema_text: str) -> Any:
    import jsonschema

    schema = json.loads(schema_text)
    return jsonschema.validators.validator_for(schema)(schema)


def check_json(name: str, check: JsonCheck, output: str) -> EvaluatorResult:
    text = output.strip()
    fenced = False
    if not check.strict:
        m = _FENCE.match(text)
        if m:
            text, fenced = m.group(1).strip(), True
    try:
        value = json.loads(text)
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        return bool_result(name, False, f"Not valid JSON: {reason}{where}")
    note = " (inside a code fence)" if fenced else ""
    if check.json_schema is None:
        return bool_result(name, True, f"Valid JSON{note}")
    validator = _validator(json.dumps(check.json_schema, sort_keys=True))
    errors = sorted(
        validator.iter_errors(value), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path)))
    )
    if errors:
        first = errors[0]
        at = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.absolute_path)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return bool_result(name, False, f"Valid JSON{note} but not the schema: {first.message} at {at}{more}")
    return bool_result(name, True, f"Valid JSON{note} matching the schema")


class JsonEvaluator(Evaluator[JsonCheck]):
    kind = "json"

    def parse(self, r: SuiteReader, path: KeyPath, raw: Any) -> JsonCheck:
        if raw is True:
            return JsonCheck()
        if raw is False:
            r.fail(
                path,
                "use `json: true` (or a mapping with schema) to check for JSON; remove the evaluator to skip it",
            )
        data = r.mapping(path, raw, what="true, or a mapping with schema and strict")
        r.unknown_keys(path, data, ("schema", "strict"))
        schema = data.get("schema")
        spath: KeyPath = (*path, "schema")
        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except ValueError as exc:
                r.fail(spath, f"the schema is neither a mapping nor valid JSON text: {exc}")
        if schema is not None and not isinstance(schema, dict):
            r.fail(spath, f"the schema must be a JSON Schema object, not {describe(schema)}")
        if schema is not None:
            import jsonschema

            try:
                jsonschema.validators.validator_for(schema).check_schema(schema)
            except jsonschema.SchemaError as exc:
                r.fail(spath, f"invalid JSON Schema: {exc.message}")
        strict = r.flag((*path, "strict"), data["strict"]) if data.get("strict") is not None else False
        return JsonCheck(json_schema=schema, strict=strict)

    def dump(self, check: JsonCheck) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if check.json_schema is not None:
            out["schema"] = check.json_schema
        if check.strict:
            out["strict"] = True
        return {"json": out or True}

    def score(
        self, name: str, check: JsonCheck, case: CaseOutput, answer: HelperAnswer | None
    ) -> EvaluatorResult:
        return check_json(name, check, case.output)
