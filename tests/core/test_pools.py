"""Which entries form a pool (same name and digest on two or more pooled hosts) and which host is
chosen (least busy for its weight, then already loaded, then least used)."""

from __future__ import annotations

from desktop_app.core.evaluation import CaseResult
from desktop_app.core.models import ModelStatus, ModelType, ServingType, UnifiedModel
from desktop_app.core.pools import (
    HostLoad,
    choose_host,
    find_pools,
    is_pool_id,
    per_host,
    rank_hosts,
    weight_of,
)


def entry(
    source: str, name: str = "llama3.2:latest", digest: str = "sha256:aaa", **kw: object
) -> UnifiedModel:
    return UnifiedModel(
        id=f"{source}/{name}", name=name, ollama_name=name, provider=source, digest=digest, **kw
    )


def everyone(_source: str) -> bool:
    return True


def test_same_name_and_digest_on_several_hosts_is_one_pool() -> None:
    pools = find_pools([entry("a"), entry("b"), entry("c"), entry("a", "qwen3:8b")], pooled_source=everyone)
    assert list(pools) == ["pool/llama3.2:latest"]
    pool = pools["pool/llama3.2:latest"]
    assert pool.sources == ["a", "b", "c"]
    assert [m.model_id for m in pool.members] == [
        "a/llama3.2:latest",
        "b/llama3.2:latest",
        "c/llama3.2:latest",
    ]
    assert pool.label == "llama3.2:latest · 3 hosts"
    assert is_pool_id(pool.id) and not is_pool_id("a/llama3.2:latest") and not is_pool_id("pool/")


def test_different_digests_are_never_pooled() -> None:
    assert (
        find_pools([entry("a", digest="sha256:1"), entry("b", digest="sha256:2")], pooled_source=everyone)
        == {}
    )
    pools = find_pools(
        [entry(s, digest="sha256:111111111111111") for s in "abc"]
        + [entry(s, digest="sha256:222222222222222") for s in "de"],
        pooled_source=everyone,
    )
    assert pools["pool/llama3.2:latest"].sources == ["a", "b", "c"]
    assert pools["pool/llama3.2:latest@222222222222"].sources == ["d", "e"]
    assert {p.digest for p in pools.values()} == {"sha256:111111111111111", "sha256:222222222222222"}


def test_unpooled_hosts_entries_and_weight_zero_are_left_out() -> None:
    models = [
        entry("a"),
        entry("down"),
        entry("b", status=ModelStatus.OFFLINE),
        entry("c", model_type=ModelType.VARIANT),
        entry("d", serving_type=ServingType.REMOTE),
        entry("e", digest=None),
        entry("drained"),
    ]
    weights = {"drained": 0.0}
    found = find_pools(models, pooled_source=lambda s: s != "down", weight=lambda s: weights.get(s, 1.0))
    assert found == {}  # only "a" is left: one host is no pool
    assert find_pools([entry("a"), entry("f")], pooled_source=everyone)["pool/llama3.2:latest"].sources == [
        "a",
        "f",
    ]


def test_least_busy_host_is_chosen() -> None:
    hosts = [HostLoad("a", in_flight=2), HostLoad("b", in_flight=0), HostLoad("c", in_flight=1)]
    assert choose_host(hosts) == "b"
    assert rank_hosts(hosts) == ["b", "c", "a"]
    assert choose_host(hosts, exclude={"b"}) == "c"
    assert choose_host(hosts, exclude={"a", "b", "c"}) is None


def test_weight_loaded_model_and_turns_break_ties() -> None:
    # A host of weight 2 with one request in flight counts as half as busy as a weight-1 host with one.
    assert choose_host([HostLoad("a", in_flight=1), HostLoad("b", in_flight=1, weight=2.0)]) == "b"
    # Equally busy: the host that has the model in memory (no load time) wins.
    assert choose_host([HostLoad("a", loaded=False), HostLoad("b", loaded=True), HostLoad("c")]) == "b"
    # Equally busy, nothing known of loading: the one sent fewest requests so far takes its turn.
    assert choose_host([HostLoad("a", served=3), HostLoad("b", served=1), HostLoad("c", served=2)]) == "b"


def test_weight_from_options() -> None:
    assert weight_of({}) == 1.0
    assert weight_of({"weight": 3}) == 3.0
    assert weight_of({"weight": 0}) == 0.0
    assert weight_of({"weight": -1}) == 1.0
    assert weight_of({"weight": "x"}) == 1.0
    assert weight_of({"weight": True}) == 1.0


def test_per_host_results_of_pooled_cases() -> None:
    cases = [
        CaseResult(model_id="pool/m", case_index=0, host="b/m", latency_s=1.0),
        CaseResult(model_id="pool/m", case_index=1, host="a/m", latency_s=2.0, error="down"),
        CaseResult(model_id="pool/m", case_index=2, host="b/m", latency_s=3.0),
        CaseResult(model_id="x/m", case_index=0),  # not pooled: left out
    ]
    rows = per_host(cases)
    assert [(r.host, r.cases, r.passed, r.errors, r.latency_s) for r in rows] == [
        ("a/m", 1, 0, 1, 2.0),
        ("b/m", 2, 2, 0, 4.0),
    ]
    assert rows[0].pass_rate == 0.0 and rows[1].pass_rate == 100.0
