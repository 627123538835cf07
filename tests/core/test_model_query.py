"""The fast selection (C-level iterator chains over haystacks) answers exactly as the per-row predicate
the share app uses, parallel lists kept in step."""

from __future__ import annotations

import random

from desktop_app.core.model_query import ModelFacts, ModelQuery, Serving
from desktop_app.core.models import UnifiedModel
from tests.gui.conftest import hand_made_models, local, remote


def facts() -> list[ModelFacts]:
    rng = random.Random(5)
    models: list[UnifiedModel] = list(hand_made_models())
    for i in range(300):
        caps = rng.choice([["completion"], ["completion", "tools"], ["embedding"], ["completion", "vision"]])
        name = f"{rng.choice(['llama', 'qwen', 'gemma', 'Ünï'])}-{i}:{rng.choice(['7b', 'latest'])}"
        if i % 3:
            models.append(local(name, caps, provider=rng.choice(["ollama", "gpu-box"])))
        else:
            models.append(remote(f"{rng.choice(['openai', 'meta'])}/{name}", caps))
    return [ModelFacts(m) for m in models]


def test_select_lists_answers_as_the_predicate() -> None:
    rows = facts()
    assert all(r.haystack.endswith(" " + r.kind.text) for r in rows)
    hays = [r.haystack for r in rows]
    tags = list(range(len(rows)))
    queries = ["", "l", "llama", "ollama", "gpu", "gpu-b", "openr qwen", "ünï 7b", "zzz", "-1", "7B"]
    for text in queries:
        for caps in ((), ("tools",), ("vision", "completion")):
            for serving in Serving:
                q = ModelQuery.parse(text, caps, serving)
                accepts = q.predicate()
                expected = [r for r in rows if accepts(r)]
                for providers in (None, {"ollama", "gpu-box", "openrouter", "more"}):
                    got_rows, got_hays, got_tags = q.select_lists(rows, hays, tags, providers=providers)
                    assert got_rows == expected, (text, caps, serving)
                    assert got_hays == [r.haystack for r in expected]
                    assert [rows[t] for t in got_tags] == expected
                assert q.select(rows) == set(expected)
                # The kind's part of each haystack searched once per kind: the same answer.
                kinds = [id(r.kind) for r in rows]
                own = [r.haystack[: -len(r.kind.text) - 1] for r in rows]
                texts = {id(r.kind): r.kind.text for r in rows}
                got = q.select_lists(rows, own, kinds, shared=(0, texts))
                assert got[0] == expected and got[2] == [id(r.kind) for r in expected]
