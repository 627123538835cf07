"""The .prompt.yml model: parsing gh's format and ModelDesk's extensions, templating, errors that
name file/line/key, warnings for typos, and dumping back."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from desktop_app.core.errors import SuiteError
from desktop_app.core.evaluators.embedding_similarity import EmbeddingCheck
from desktop_app.core.evaluators.invalid import InvalidCheck
from desktop_app.core.evaluators.json import JsonCheck
from desktop_app.core.evaluators.llm import LlmJudge
from desktop_app.core.evaluators.regex import RegexCheck
from desktop_app.core.evaluators.string import StringCheck
from desktop_app.core.evaluators.uses import UsesCheck
from desktop_app.core.suite_dump import dump_suite
from desktop_app.core.suite_parse import parse_suite

SUITES = Path(__file__).resolve().parents[2] / "resources" / "suites"


def parse(text: str, file: str = "t.prompt.yml"):  # type: ignore[no-untyped-def]
    return parse_suite(textwrap.dedent(text), file=file)


# ------------------------------------------------------------------------------------------ quickstart
def test_quickstart_text_summarizer_parses() -> None:
    path = SUITES / "text-summarizer.prompt.yml"
    suite = parse_suite(path.read_text(encoding="utf-8"), file=str(path))
    assert suite.name == "Text Summarizer"
    assert suite.description == "Summarizes input text concisely"
    assert suite.model == "openai/gpt-4o-mini"
    assert suite.model_ids() == ["openai/gpt-4o-mini"]
    assert suite.model_parameters.temperature == 0.5
    assert suite.model_parameters.to_options().temperature == 0.5
    assert [m.role for m in suite.messages] == ["system", "user"]
    assert len(suite.test_data) == 2
    assert suite.test_data[0]["expected"] == "Summary - A fox jumped over a lazy, unresponsive dog."
    assert [(e.name, e.kind) for e in suite.evaluators] == [
        ("Output should start with 'Summary -'", "string"),
        ("Similarity", "uses"),
    ]
    string, uses = (e.check for e in suite.evaluators)
    assert isinstance(string, StringCheck) and string.criterion == ("startsWith", "Summary -")
    assert isinstance(uses, UsesCheck) and uses.builtin == "similarity"
    assert suite.warnings == []
    rendered = suite.render_messages(suite.test_data[0])
    assert (
        rendered[0].content == "You are a text summarizer. Your only job is to summarize text given to you."
    )
    assert rendered[1].role == "user"
    assert rendered[1].content == (
        'Summarize the given text, beginning with "Summary -":\n<text>\n'
        "The quick brown fox jumped over the lazy dog.\nThe dog was too tired to react.\n\n</text>\n"
    )


def test_extended_example_parses_every_extension() -> None:
    path = SUITES / "capitals-extended.prompt.yml"
    suite = parse_suite(path.read_text(encoding="utf-8"), file=str(path))
    kinds = [e.kind for e in suite.evaluators]
    assert kinds == ["string", "json", "json", "regex", "embedding_similarity", "llm"]
    assert suite.models == ["ollama/llama3.2:latest", "ollama/qwen3:8b"]
    assert suite.model_ids() == suite.models
    assert suite.response_format == "json_object"
    assert suite.response_format_arg() == "json"
    schema_check = suite.evaluators[2].check
    assert isinstance(schema_check, JsonCheck) and schema_check.json_schema is not None
    assert schema_check.json_schema["required"] == ["country", "capital"]
    regex = suite.evaluators[3].check
    assert isinstance(regex, RegexCheck) and regex.negate and regex.flags == "i"
    emb = suite.evaluators[4].check
    assert isinstance(emb, EmbeddingCheck) and emb.threshold == 0.75 and emb.expected == "{{expected}}"
    assert suite.warnings == []


@pytest.mark.parametrize("name", ["text-summarizer.prompt.yml", "capitals-extended.prompt.yml"])
def test_dump_then_parse_gives_the_same_suite(name: str) -> None:
    suite = parse_suite((SUITES / name).read_text(encoding="utf-8"))
    again = parse_suite(dump_suite(suite))
    assert again.to_dict() == suite.to_dict()
    assert again.content_hash() == suite.content_hash()


def test_hash_ignores_formatting_but_not_content() -> None:
    a = parse("messages:\n  - role: user\n    content: hi {{x}}\n")
    b = parse("# comment\nmessages: [{role: user, content: 'hi {{x}}'}]\n")
    c = parse("messages:\n  - role: user\n    content: hello {{x}}\n")
    assert a.content_hash() == b.content_hash() != c.content_hash()


# ------------------------------------------------------------------------------------------ gh's scalar rules
def test_yes_no_stay_text_and_text_fields_keep_what_was_written() -> None:
    suite = parse(
        """
        messages:
          - role: User
            content: 42
        testData:
          - expected: yes
            flag: true
            n: 1.50
            day: 2026-11-27
        evaluators:
          - name: j
            llm:
              prompt: "{{completion}}"
              choices:
                - choice: 1.0
                  score: 1
                - choice: no
                  score: 0
          - name: e
            string:
              equals: 1.50
        """
    )
    assert suite.messages[0].role == "user"
    assert suite.messages[0].content == "42"
    assert suite.test_data[0] == {"expected": "yes", "flag": True, "n": 1.5, "day": "2026-11-27"}
    judge = suite.evaluators[0].check
    assert isinstance(judge, LlmJudge)
    assert [c.choice for c in judge.choices] == ["1.0", "no"]
    string = suite.evaluators[1].check
    assert isinstance(string, StringCheck) and string.equals == "1.50"


def test_only_the_first_string_criterion_is_used_with_a_warning() -> None:
    suite = parse(
        """
        messages: [{role: user, content: hi}]
        evaluators:
          - name: s
            string:
              contains: a
              endsWith: b
        """
    )
    check = suite.evaluators[0].check
    assert isinstance(check, StringCheck) and check.criterion == ("contains", "a")
    assert suite.warnings == [
        "line 7: evaluators[0].string.endsWith: only 'contains' is used (gh checks one criterion per string evaluator)"
    ]


def test_warnings_for_unknown_keys_and_undefined_variables() -> None:
    suite = parse(
        """
        name: x
        evalutors: []
        messages:
          - role: user
            content: "{{input}} and {{inptu}} and {{ input }}"
        testData:
          - input: a
          - input: b
        modelParameters:
          temprature: 1
        """
    )
    assert suite.warnings == [
        "line 3: evalutors: unknown key is ignored (did you mean 'evaluators'?)",
        "line 11: modelParameters.temprature: unknown key is ignored (did you mean 'temperature'?)",
        "line 6: messages[0].content: uses {{inptu}} but no test case defines it; it stays in the text as written",
        "line 6: messages[0].content: {{ input }} has spaces inside the braces; gh only replaces {{input}}",
    ]
    assert suite.extra == {"evalutors": []}
    assert "evalutors" in dump_suite(suite)


def test_response_format_json_schema() -> None:
    suite = parse(
        """
        responseFormat: json_schema
        jsonSchema: '{"name": "answer", "schema": {"type": "object"}}'
        messages: [{role: user, content: hi}]
        """
    )
    assert suite.response_format_arg() == {"name": "answer", "schema": {"type": "object"}}


# ------------------------------------------------------------------------------------------ malformed files
MALFORMED = [
    ("", "t.prompt.yml: the file is empty; a suite needs at least messages"),
    (
        "- a\n- b\n",
        "t.prompt.yml:1: the file must be a YAML mapping (name, model, messages, testData, evaluators), not a list",
    ),
    (
        "name: x\nmessages: [\n",
        "t.prompt.yml:3: not valid YAML: expected the node content, but found '<stream end>'",
    ),
    (
        "name: a\nname: b\nmessages: []\n",
        "t.prompt.yml:2: name: duplicate key 'name' (first given on line 1)",
    ),
    (
        "name: x\n",
        "t.prompt.yml: messages: is missing: a suite needs at least one message (e.g. a user message with {{input}})",
    ),
    ("messages: []\n", "t.prompt.yml:1: messages: is empty: a suite needs at least one message"),
    (
        "messages: hello\n",
        "t.prompt.yml:1: messages: must be a list of messages (role and content), not the text 'hello'",
    ),
    (
        "messages:\n  - role: user\n    content: hi\n  - role: bot\n    content: x\n",
        "t.prompt.yml:4: messages[1].role: unknown message role 'bot': use system, user or assistant",
    ),
    (
        "messages:\n  - content: hi\n",
        "t.prompt.yml:2: messages[0].role: is missing: use system, user or assistant",
    ),
    (
        "messages:\n  - role: user\n    content: [a, b]\n",
        "t.prompt.yml:3: messages[0].content: must be text, not a list",
    ),
    (
        "messages: [{role: user, content: hi}]\ntestData:\n  - input: a\n  - just text\n",
        "t.prompt.yml:4: testData[1]: each test case must be a mapping of variable names to values, not the text 'just text'",
    ),
    (
        "messages: [{role: user, content: hi}]\nmodelParameters:\n  maxTokens: 1.5\n",
        "t.prompt.yml:3: modelParameters.maxTokens: must be a whole number, not 1.5",
    ),
    (
        "messages: [{role: user, content: hi}]\nmodelParameters:\n  temperature: hot\n",
        "t.prompt.yml:3: modelParameters.temperature: must be a number, not the text 'hot'",
    ),
    (
        "messages: [{role: user, content: hi}]\nmodelParameters:\n  topP: 1.5\n",
        "t.prompt.yml:3: modelParameters.topP: must be between 0 and 1, not 1.5",
    ),
    (
        "messages: [{role: user, content: hi}]\nresponseFormat: xml\n",
        "t.prompt.yml:2: responseFormat: invalid responseFormat 'xml': must be 'text', 'json_object', or 'json_schema'",
    ),
    (
        "messages: [{role: user, content: hi}]\nresponseFormat: json_schema\n",
        "t.prompt.yml:2: responseFormat: jsonSchema is required when responseFormat is 'json_schema'",
    ),
    (
        "messages: [{role: user, content: hi}]\nresponseFormat: json_schema\njsonSchema:\n  name: x\n",
        "t.prompt.yml:3: jsonSchema: jsonSchema must be a JSON string (write the schema as JSON text, e.g. with |)",
    ),
    (
        "messages: [{role: user, content: hi}]\nresponseFormat: json_schema\njsonSchema: '{\"schema\": {}}'\n",
        "t.prompt.yml:3: jsonSchema: jsonSchema must contain a 'name' field",
    ),
    (
        "messages: [{role: user, content: hi}]\njsonSchema: '{oops'\n",
        "t.prompt.yml:2: jsonSchema: invalid JSON in jsonSchema: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)",
    ),
    (
        "messages: [{role: user, content: hi}]\nevaluators:\n  - name: a\n    strng: {contains: a}\n",
        "t.prompt.yml:3: evaluators[0]: evaluator 'a' has nothing to check: give one of string, llm, uses (GitHub) "
        "or regex, json, embedding_similarity, tool_call (ModelDesk)",
    ),
    (
        "messages: [{role: user, content: hi}]\nevaluators:\n  - name: a\n    string: {equals: ''}\n",
        "t.prompt.yml:4: evaluators[0].string: give one of equals, contains, startsWith, endsWith (with a non-empty value)",
    ),
    (
        "messages: [{role: user, content: hi}]\nevaluators:\n  - name: a\n    llm:\n      choices: [{choice: y, score: 1}]\n",
        "t.prompt.yml:4: evaluators[0].llm.prompt: the judge needs a prompt (it can use {{completion}} and the test variables)",
    ),
    (
        "messages: [{role: user, content: hi}]\nevaluators:\n  - name: a\n    llm:\n      prompt: '{{completion}}'\n",
        "t.prompt.yml:4: evaluators[0].llm.choices: the judge needs a non-empty list of choices, each with choice and score",
    ),
    (
        "messages: [{role: user, content: hi}]\nevaluators:\n  - name: a\n    llm:\n      prompt: '{{completion}}'\n"
        "      choices:\n        - choice: good\n          score: high\n",
        "t.prompt.yml:8: evaluators[0].llm.choices[0].score: must be a number, not the text 'high'",
    ),
    (
        "messages: [{role: user, content: hi}]\nevaluators:\n  - name: a\n    regex: '(unclosed'\n",
        "t.prompt.yml:4: evaluators[0].regex: invalid regular expression: missing ), unterminated subpattern at position 0",
    ),
    (
        "messages: [{role: user, content: hi}]\nevaluators:\n  - name: a\n    regex: {pattern: a, flags: iq}\n",
        "t.prompt.yml:4: evaluators[0].regex.flags: unknown regex flag(s) 'q': use i, m, s, x",
    ),
    (
        "messages: [{role: user, content: hi}]\nevaluators:\n  - name: a\n    json:\n      schema: {type: 12}\n",
        "t.prompt.yml:5: evaluators[0].json.schema: invalid JSON Schema: 12 is not valid under any of the given schemas",
    ),
    (
        "messages: [{role: user, content: hi}]\nevaluators:\n  - name: a\n    json: false\n",
        "t.prompt.yml:4: evaluators[0].json: use `json: true` (or a mapping with schema) to check for JSON; "
        "remove the evaluator to skip it",
    ),
    (
        "messages: [{role: user, content: hi}]\nevaluators:\n  - name: a\n    embedding_similarity:\n      threshold: 2\n",
        "t.prompt.yml:5: evaluators[0].embedding_similarity.threshold: a cosine threshold is between -1 and 1, not 2",
    ),
    (
        "messages: [{role: user, content: hi}]\nmodels: [a, '']\n",
        "t.prompt.yml:2: models[1]: a model id cannot be empty",
    ),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED, ids=[str(i) for i in range(len(MALFORMED))])
def test_malformed_suites_name_file_line_and_key(text: str, message: str) -> None:
    with pytest.raises(SuiteError) as info:
        parse_suite(text, file="t.prompt.yml")
    assert str(info.value) == message
    assert info.value.file == "t.prompt.yml"


def test_error_carries_line_and_key_separately() -> None:
    with pytest.raises(SuiteError) as info:
        parse_suite("messages:\n  - role: user\n    content: hi\n  - role: robot\n", file="f.prompt.yml")
    assert (info.value.line, info.value.key) == (4, "messages[1].role")


GH_RUNS = [
    (
        "evaluators:\n  - string: {contains: a}\n",
        "t.prompt.yml:3: evaluators[0].name: this evaluator has no name",
        ["evaluator 1"],
    ),
    (
        "evaluators:\n  - name: a\n    string: {contains: a}\n  - name: a\n    string: {contains: b}\n",
        "t.prompt.yml:5: evaluators[1].name: evaluator name 'a' is used twice (first at evaluators[0])",
        ["a", "a (2)"],
    ),
    (
        "evaluators:\n  - name: a\n    string: {contains: a}\n    llm: {prompt: '{{completion}}', choices: [{choice: y, score: 1}]}\n",
        "t.prompt.yml:5: evaluators[0].llm: evaluator 'a' has both 'string' and 'llm'",
        ["a"],
    ),
    (
        "evaluators:\n  - name: a\n    uses: github/vibes\n",
        "t.prompt.yml:4: evaluators[0].uses: unknown evaluator 'github/vibes' (the built-ins are "
        "github/similarity, github/coherence, github/fluency, github/relevance, github/groundedness)",
        ["a"],
    ),
]


@pytest.mark.parametrize(("evaluators", "message", "names"), GH_RUNS)
def test_files_gh_runs_are_run_with_a_warning_and_refused_when_strict(
    evaluators: str, message: str, names: list[str]
) -> None:
    text = "messages: [{role: user, content: hi}]\n" + evaluators
    suite = parse_suite(text, file="t.prompt.yml")
    assert [e.name for e in suite.evaluators] == names
    where = message.removeprefix("t.prompt.yml:").split(": ", 1)[0]
    assert any(w.startswith(f"line {where}: ") and message.split(": ", 2)[2] in w for w in suite.warnings)
    with pytest.raises(SuiteError) as info:
        parse_suite(text, file="t.prompt.yml", strict=True)
    assert str(info.value).startswith(message + " (gh runs this file anyway")
    again = parse_suite(dump_suite(suite), file="t.prompt.yml")  # a run file's copy resumes the same
    assert [e.name for e in again.evaluators] == names


def test_two_methods_use_the_first_in_ghs_order_and_unknown_uses_fails_that_evaluator() -> None:
    two = parse_suite(
        "messages: [{role: user, content: hi}]\nevaluators:\n  - name: a\n    string: {contains: a}\n"
        "    llm: {prompt: '{{completion}}', choices: [{choice: y, score: 1}]}\n"
    )
    assert two.evaluators[0].kind == "string"
    unknown = parse_suite(
        "messages: [{role: user, content: hi}]\nevaluators:\n  - name: a\n    uses: github/vibes\n"
    )
    spec = unknown.evaluators[0]
    assert spec.kind == "invalid" and isinstance(spec.check, InvalidCheck)
    assert spec.check.problem == "unknown built-in evaluator: github/vibes"
    assert spec.helper() is None
