"""``OLLAMA_HOST`` read as Ollama's ``envconfig.Host()`` + ``ConnectableHost()`` read it.

The first table is ollama/ollama ``envconfig/config_test.go`` (TestHost and TestConnectableHost), with
the expectation a client dials: ``:1234`` is this machine, ``0.0.0.0``/``::`` are loopback.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desktop_app.core.ollama_host import ollama_host_url

OLLAMA_TABLE = [
    ("", "http://127.0.0.1:11434"),
    ("1.2.3.4", "http://1.2.3.4:11434"),
    (":1234", "http://127.0.0.1:1234"),
    ("1.2.3.4:1234", "http://1.2.3.4:1234"),
    ("example.com", "http://example.com:11434"),
    ("example.com:1234", "http://example.com:1234"),
    (":66000", "http://127.0.0.1:11434"),
    (":-1", "http://127.0.0.1:11434"),
    ("[::1]", "http://[::1]:11434"),
    ("[::]", "http://[::1]:11434"),
    ("::1", "http://[::1]:11434"),
    ("[::1]:1337", "http://[::1]:1337"),
    (" 1.2.3.4 ", "http://1.2.3.4:11434"),
    ('"1.2.3.4"', "http://1.2.3.4:11434"),
    (' " 1.2.3.4 " ', "http://1.2.3.4:11434"),
    ("'1.2.3.4'", "http://1.2.3.4:11434"),
    ("http://1.2.3.4", "http://1.2.3.4:80"),
    ("http://1.2.3.4:4321", "http://1.2.3.4:4321"),
    ("https://1.2.3.4", "https://1.2.3.4:443"),
    ("https://1.2.3.4:4321", "https://1.2.3.4:4321"),
    ("https://example.com/ollama", "https://example.com:443/ollama"),
    ("ollama.com", "https://ollama.com:443"),
    # ConnectableHost
    ("127.0.0.1", "http://127.0.0.1:11434"),
    ("0.0.0.0", "http://127.0.0.1:11434"),
    ("0.0.0.0:1234", "http://127.0.0.1:1234"),
    ("[::]:1234", "http://[::1]:1234"),
    ("[::1]:1234", "http://[::1]:1234"),
    ("192.168.1.5:8080", "http://192.168.1.5:8080"),
    ("https://0.0.0.0:4321", "https://127.0.0.1:4321"),
]

MORE = [
    (":11434", "http://127.0.0.1:11434"),
    ("'\"gpu:11500\"'", "http://gpu:11500"),
    ("example.com/ollama", "http://example.com:11434/ollama"),
    ("example.com/ollama/", "http://example.com:11434/ollama"),
    ("gpu:11500/a/b", "http://gpu:11500/a/b"),
    ("http://10.0.0.5:11434/", "http://10.0.0.5:11434"),
    ("example.com:port", "http://example.com:11434"),
    ("::ffff:1.2.3.4", "http://1.2.3.4:11434"),
    ("11500", "http://127.0.0.1:11500"),  # ModelDesk: a bare number is a port (Ollama: a host name)
]


@pytest.mark.parametrize(("value", "url"), OLLAMA_TABLE + MORE)
def test_ollama_host_is_read_as_ollama_reads_it(value: str, url: str) -> None:
    assert ollama_host_url(value) == url


def test_unset_is_the_default() -> None:
    assert ollama_host_url(None) == "http://127.0.0.1:11434"


_LOOPBACK = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "[::]": "[::1]"}
_DEFAULT_PORT = {"": 11434, "http": 80, "https": 443}


@given(
    scheme=st.sampled_from(["", "http", "https"]),
    host=st.sampled_from(["", "1.2.3.4", "gpu-box", "example.com", "0.0.0.0", "[::1]", "[::]", "[fd00::5]"]),
    port=st.none() | st.integers(1, 65535),
    path=st.sampled_from(["", "ollama", "a/b"]),
    wrap=st.sampled_from(["{}", " {} ", '"{}"', "'{}'", ' " {} " ']),
)
def test_composed_values(scheme: str, host: str, port: int | None, path: str, wrap: str) -> None:
    """Any scheme × host × port × path, quoted or not, reads as its parts say."""
    value = (
        (f"{scheme}://" if scheme else "")
        + host
        + (f":{port}" if port else "")
        + (f"/{path}" if path else "")
    )
    expected = f"{scheme or 'http'}://{_LOOPBACK.get(host, host)}:{port or _DEFAULT_PORT[scheme]}"
    expected += f"/{path}" if path else ""
    url = ollama_host_url(wrap.format(value))
    assert url == expected
    parts = urlsplit(url)
    assert parts.hostname and parts.port
