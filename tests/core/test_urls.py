"""core.urls: one check of a source URL, with a message naming what is wrong; credentials split off."""

from __future__ import annotations

import pytest

from desktop_app.core.errors import InvalidInput
from desktop_app.core.urls import Credentials, check_base_url, mask_url, split_credentials


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:11434",
        "https://api.openai.com/v1/",
        "http://[::1]:11434",
        "http://[fe80::1%25eth0]:11434",
        "http://gpu-box.local",
        "http://my_docker_host:8000/v1",
        "https://bücher.example/v1",
        "http://" + "a" * 63 + ".example",
    ],
)
def test_good_urls_pass(url: str) -> None:
    assert check_base_url(url) == url.strip().rstrip("/")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[::1", "never closed with ']'"),
        ("http://[::1:11434", "never closed with ']'"),
        ("http://[nothost]:1", "not an IPv6 address"),
        ("http://::1:11434", "must be written in brackets"),
        ("http://" + "a" * 70_000, "at most 2048"),
        ("http://" + "a.b" * 100, "at most 253"),
        ("http://" + "a" * 64 + ".example", "longer than 63"),
        ("http://a..b", "empty part"),
        ("http://host:0", "port 0"),
        ("http://host:65536", "from 1 to 65535"),
        ("http://host:port", "from 1 to 65535"),
        ("http://ho st", "spaces"),
        ("file:///etc/passwd", "http:// or https://"),
        ("http://host/?x=1", "'?…' or '#…'"),
        ("", "empty"),
    ],
)
def test_bad_urls_name_the_problem(url: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_base_url(url)
    assert reason in str(info.value)
    assert len(info.value.message) < 300


def test_credentials_are_split_off_and_never_shown() -> None:
    clean, creds = split_credentials("http://alice:p%40ss%20word@gpu-box:11434/")
    assert clean == "http://gpu-box:11434/"
    assert creds == Credentials("alice", "p@ss word")
    assert "p@ss" not in repr(creds)
    assert split_credentials("http://gpu-box:11434") == ("http://gpu-box:11434", None)
    with pytest.raises(InvalidInput) as info:
        check_base_url("http://alice:hunter2@gpu-box:11434")
    assert "hunter2" not in str(info.value)
    assert mask_url("https://alice:hunter2@host/v1") == "https://***@host/v1"
