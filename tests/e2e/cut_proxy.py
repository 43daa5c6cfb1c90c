"""A loopback TCP forwarder whose open connections a test can cut, to break a stream mid-way."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator


class CuttableProxy:
    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self.requests: list[bytes] = []  # the first bytes the client sent on each connection

    def _pump(self, source: socket.socket, sink: socket.socket, first: bool) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                if first:
                    self.requests.append(chunk)
                    first = False
                sink.sendall(chunk)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(self._target)
                with self._lock:
                    self._open += [client, upstream]
                threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
                threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def cut(self) -> None:
        """Reset every connection open now (new ones are still accepted)."""
        with self._lock:
            cut, self._open = self._open, []
        for sock in cut:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)  # at once, even while a pump thread is blocked reading it
            sock.close()


@contextlib.contextmanager
def cuttable_proxy(target_port: int) -> Iterator[CuttableProxy]:
    proxy = CuttableProxy(target_port)
    thread = threading.Thread(target=proxy._accept, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        with contextlib.suppress(OSError):
            proxy._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        proxy._listener.close()
        proxy.cut()
        thread.join(timeout=5)
