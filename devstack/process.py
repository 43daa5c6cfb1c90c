"""Start a service process with its log in a known file, wait for real readiness, stop it cleanly."""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reelstream.errors import ReelstreamError


class ServiceStartError(ReelstreamError):
    """A service did not become ready before its deadline, or exited while starting."""

    code = "service_start_failed"


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


# Listening ports are drawn below the kernel's ephemeral range (Linux: 32768-60999), from which every outgoing
# connection takes its local port: a port the kernel handed out (bind to 0) could be taken by a client's
# connection between the handing out and the service's own bind, which a test run saw as a registry that could
# not start ("port in use").
LISTEN_PORTS = range(20000, 32768)


def free_port() -> int:
    """A loopback port nothing is bound to, outside the ephemeral range."""
    for _ in range(200):
        port = random.choice(LISTEN_PORTS)  # noqa: S311 (a port, not a secret)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # a crowded range: any free port
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _terminate_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when the process that started it dies, so a
    killed test run or dev command never leaves brokers behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1


@dataclass
class ManagedProcess:
    """One child process in its own session (so a terminal's Ctrl-C reaches us, not it, first)."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str]
    cwd: Path | None = None
    die_with_parent: bool = False
    pid: int | None = None
    _popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._popen = subprocess.Popen(
                list(self.argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(self.env),
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_terminate_with_parent if self.die_with_parent else None,
            )
        self.pid = self._popen.pid

    def run(self, timeout: float) -> int:
        """Start the process and wait for it to finish; its exit status."""
        self.start()
        assert self._popen is not None
        return self._popen.wait(timeout=timeout)

    @property
    def returncode(self) -> int | None:
        """The exit status once it exited (negative: the signal that ended it); None while it runs."""
        return self._popen.poll() if self._popen is not None else None

    def exited(self) -> bool:
        if self._popen is not None:
            return self._popen.poll() is not None
        return self.pid is None or not pid_alive(self.pid)

    def wait_ready(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `check` until it is true; fail early, with the log's tail, if the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.exited():
                raise ServiceStartError(
                    f"{self.name} exited while starting; log {self.log_path}:\n{log_tail(self.log_path)}"
                )
            if check():
                return
            time.sleep(0.25)
        raise ServiceStartError(
            f"{self.name} was not {what} within {timeout:.0f}s; "
            f"log {self.log_path}:\n{log_tail(self.log_path)}"
        )

    def kill(self) -> None:
        """SIGKILL the process group at once and reap it."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            if self._popen is not None:
                self._popen.wait(timeout=10)
            self.pid = None

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the process group, then SIGKILL it after `grace` seconds."""
        if self.pid is None:
            return
        pid = self.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and not self._reaped():
            time.sleep(0.1)
        if not self._reaped():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            if self._popen is not None:
                self._popen.wait(timeout=10)
        self.pid = None

    def _reaped(self) -> bool:
        if self._popen is not None:
            return self._popen.poll() is not None
        return self.pid is None or not pid_alive(self.pid)
