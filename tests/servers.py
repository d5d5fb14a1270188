"""Starting the real gateway as a process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from .conftest import REPO


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_health(
    url: str, process: subprocess.Popen[str], timeout: float = 60
) -> dict[str, Any]:
    """Poll /health until it answers 200 (failing if the process exits first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early: {process.communicate()[0]}")
        try:
            response = requests.get(url, timeout=2)
            if response.status_code == 200:
                return dict(response.json())
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not answer /health in time")


class GatewayProcess(subprocess.Popen[str]):
    """The gateway as a child process, its stdout and stderr together in a file.

    A file, not a pipe: the server logs a line per request, and a pipe nobody reads until
    the end fills after a few hundred requests and then blocks the server's reactor.
    ``communicate()`` waits for the process and returns everything it wrote.
    """

    def __init__(self, args: list[str], cwd: Path, *, unbuffered: bool = False) -> None:
        self.log = tempfile.TemporaryFile("w+", encoding="utf-8")
        self.output = ""
        env = dict(os.environ, PYTHONPATH=str(REPO))
        if unbuffered:  # every line reaches the file as it is written, for output_so_far()
            env["PYTHONUNBUFFERED"] = "1"
        super().__init__([sys.executable, "-m", "gateway", *args], cwd=cwd, env=env,
                         stdout=self.log, stderr=subprocess.STDOUT, text=True)  # fmt: skip

    def communicate(self, input: Any = None, timeout: float | None = None) -> tuple[str, str]:
        self.wait(timeout)
        if not self.log.closed:  # a second call (after an early exit) gets the same output
            self.log.seek(0)
            self.output = self.log.read()
            self.log.close()
        return self.output, ""

    def output_so_far(self) -> str:
        """What the running process has written until now (complete for an unbuffered one).

        ``pread`` leaves the file offset alone: the child writes through the same open file.
        """
        descriptor = self.log.fileno()
        data = os.pread(descriptor, os.fstat(descriptor).st_size, 0)
        return data.decode("utf-8", "replace")


def start_gateway(args: list[str], cwd: Path, *, unbuffered: bool = False) -> GatewayProcess:
    """``python3 -m gateway ARGS`` as a child process (see :class:`GatewayProcess`)."""
    return GatewayProcess(args, cwd, unbuffered=unbuffered)


@contextlib.contextmanager
def running_gateway(args: list[str], folder: Path, endpoint: str) -> Iterator[str]:
    """``python3 -m gateway ARGS --http-port PORT`` on a free port, once /health lists
    ``endpoint``; yields ``http://127.0.0.1:PORT``. Stops it afterwards and fails if it
    printed a traceback."""
    with _running(args, folder, endpoint, unbuffered=False) as (base, _):
        yield base


@contextlib.contextmanager
def running_gateway_process(
    args: list[str], folder: Path, endpoint: str
) -> Iterator[tuple[str, GatewayProcess]]:
    """As :func:`running_gateway`, yielding the process too, unbuffered, so that a test can
    read its log while it runs (:meth:`GatewayProcess.output_so_far`)."""
    with _running(args, folder, endpoint, unbuffered=True) as running:
        yield running


@contextlib.contextmanager
def _running(
    args: list[str], folder: Path, endpoint: str, *, unbuffered: bool
) -> Iterator[tuple[str, GatewayProcess]]:
    port = free_port()
    # Every TCP endpoint on a free port too, unless the test chose one: module fixtures
    # keep servers running side by side, and the default ports would clash.
    for flag in ("--z3950-port", "--sip2-port"):
        if flag not in args:
            args = [*args, flag, str(free_port())]
    process = start_gateway([*args, "--http-port", str(port)], folder, unbuffered=unbuffered)
    try:
        health = wait_for_health(f"http://127.0.0.1:{port}/health", process)
        assert endpoint in health["endpoints"]
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
        assert "Traceback" not in output, output
