"""``OLLAMA_HOST`` read the way Ollama reads it, so ModelDesk talks to the daemon ``ollama`` talks to.

A port of ollama/ollama ``envconfig.Host()`` and ``ConnectableHost()`` (the client side): quotes and
spaces around the value are dropped; no scheme means http on port 11434 (``ollama.com`` alone means
https on 443); with ``http://``/``https://`` the scheme's own port (80/443) applies; ``:1234`` means this
machine on that port; a bare IPv6 address gets brackets; a path after the host is kept as a prefix
(``example.com/ollama`` → ``http://example.com:11434/ollama``, for a daemon behind a reverse proxy); an
out-of-range port falls back to the default; and the listen-everywhere addresses ``0.0.0.0`` / ``::``
are dialled as ``127.0.0.1`` / ``::1``.

One deliberate difference: an all-digit value (``11434``) is taken as a port on this machine. Ollama
would take it as a host name, which can never be reached; the user meant the port.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["DEFAULT_PORT", "ollama_host_url"]

DEFAULT_PORT = 11434
_LOOPBACK_V4 = "127.0.0.1"
_PORT = re.compile(r"[+-]?[0-9]+")  # what Go's strconv.ParseInt accepts


def _split_host_port(hostport: str) -> tuple[str, str] | None:
    """Go's ``net.SplitHostPort``: ``host:port`` or ``[v6]:port``; None when there is no port part."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0 or not hostport[end + 1 :].startswith(":"):
            return None
        host, port = hostport[1:end], hostport[end + 2 :]
        return (host, port) if ":" not in port else None
    if hostport.count(":") != 1:
        return None  # no port, or an IPv6 address without brackets
    host, _, port = hostport.partition(":")
    return host, port


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def ollama_host_url(value: str | None) -> str:
    """The URL a client dials for this ``OLLAMA_HOST`` value (None or empty: the default)."""
    text = (value or "").strip().strip("\"'").strip()  # envconfig.Var, then Host()
    default_port = DEFAULT_PORT
    scheme, sep, hostport = text.partition("://")
    if not sep:
        scheme, hostport = "http", text
        if text == "ollama.com":
            scheme, hostport = "https", "ollama.com:443"
    elif scheme == "http":
        default_port = 80
    elif scheme == "https":
        default_port = 443

    hostport, _, path = hostport.partition("/")
    split = _split_host_port(hostport)
    if split is None:
        host, port_text = _LOOPBACK_V4, str(default_port)
        ip = _ip(hostport.strip("[]"))
        if ip is not None:
            mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
            host = str(mapped or ip)  # Go prints ::ffff:1.2.3.4 as 1.2.3.4
        elif hostport.isdigit():
            port_text = hostport  # ModelDesk's reading of a bare port (see the module docstring)
        elif hostport:
            host = hostport
    else:
        host, port_text = split

    port = int(port_text) if _PORT.fullmatch(port_text) else default_port
    if not 0 <= port <= 65535:
        port = default_port

    ip = _ip(host) if host else None
    if not host:
        host = _LOOPBACK_V4  # ":1234": Go dials this machine
    elif ip is not None and ip.is_unspecified:
        host = _LOOPBACK_V4 if ip.version == 4 else "::1"

    url = f"{scheme}://{_join(host, port)}"
    path = path.rstrip("/")  # Go's client joins paths cleanly; "/ollama/" and "/ollama" are one prefix
    return f"{url}/{path}" if path else url
