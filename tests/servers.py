"""Starting the real gateway as a process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
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


def start_gateway(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    """``python3 -m gateway ARGS`` as a child process (stdout and stderr together)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", *args], cwd=cwd, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
