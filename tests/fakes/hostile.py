"""A server on 127.0.0.1 that misbehaves the ways a broken or hostile host does, for timeout and
size-limit tests: it accepts and never answers, sends headers and stalls, trickles a byte at a time,
or sends an endless body, on every path or on the ones given (the others answer 404). Plain sockets, one thread per connection.

    with HostileServer("trickle", interval=0.05) as server:
        server.url                          # http://127.0.0.1:<port>
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Literal, Self

__all__ = ["Behaviour", "HostileServer"]

Behaviour = Literal["silent", "stall_after_headers", "trickle", "endless"]

_JSON_HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"


class HostileServer:
    def __init__(
        self, behaviour: Behaviour, *, interval: float = 0.05, paths: set[str] | None = None
    ) -> None:
        self.behaviour = behaviour
        self.paths = paths  # misbehave on these paths only (others: 404); None: every path
        self.interval = interval  # seconds between trickled bytes
        self.requests = 0
        self.port = 0
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        sock = socket.create_server(("127.0.0.1", 0))
        sock.settimeout(0.05)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._spawn(self._accept_loop)
        return self

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conns.append(conn)
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:  # the request head; bodies are ignored
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            self.requests += 1
            path = data.split(b" ", 2)[1].decode("latin-1")
            if self.paths is not None and path not in self.paths:
                conn.sendall(
                    b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 9\r\n\r\nnot found"
                )
                conn.close()
                return
            if self.behaviour == "silent":
                self._stop.wait()
            elif self.behaviour == "stall_after_headers":
                conn.sendall(_JSON_HEADERS + b"Content-Length: 1000\r\n\r\n{")
                self._stop.wait()
            elif self.behaviour == "trickle":
                conn.sendall(_JSON_HEADERS + b"Transfer-Encoding: chunked\r\n\r\n")
                body = b'{"models": [' + b" " * 100_000
                for byte in body:  # one byte per chunk, every ``interval`` seconds
                    if self._stop.wait(self.interval):
                        return
                    conn.sendall(b"1\r\n%c\r\n" % byte)
            elif self.behaviour == "endless":
                conn.sendall(_JSON_HEADERS + b"Transfer-Encoding: chunked\r\n\r\n")
                entry = b'{"name": "x:latest", "model": "x:latest", "size": 1},' * 1000
                chunk = b"%x\r\n%s\r\n" % (len(entry), entry)
                conn.sendall(b'c\r\n{"models": [\r\n')
                while not self._stop.is_set():
                    conn.sendall(chunk)  # until the client hangs up (OSError ends it)

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            self._sock.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
