"""More processes serving one TCP endpoint on one port, for machines with several cores.

The gateway is Python: one process answers on one core at a time, however many sessions it
holds. A Z39.50 target's sessions are independent of each other (each lives and dies with
its connection, the store is shared), so ``processes: N`` in an endpoint's section starts
N-1 worker processes beside the server, each listening on the same port with
SO_REUSEPORT; the kernel spreads new connections over all of them. Workers serve that
endpoint only, log to the same output, and stop with the server (or when it dies).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from typing import Any

from twisted.internet.error import ReactorNotRunning
from twisted.internet.interfaces import IListeningPort
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

__all__ = ["listen_shared", "WorkerProcesses", "run_worker"]

log = Logger(namespace="lienthong.workers")


def listen_shared(reactor: Any, host: str, port: int, factory: Any) -> IListeningPort:
    """Listen on ``host:port`` with SO_REUSEPORT, so that other processes may too."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
        listening: IListeningPort = reactor.adoptStreamPort(sock.fileno(), family, factory)
    finally:
        sock.close()  # the reactor holds its own duplicate of the descriptor
    return listening


class WorkerProcesses:
    """The worker processes of one endpoint: started together, stopped together."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, config_file: str, endpoint: str, host: str, port: int, count: int) -> None:
        """Start ``count`` workers serving ``endpoint`` on ``host:port``."""
        for _ in range(count):
            command = [sys.executable, "-m", "gateway", "-c", config_file, "endpoint-worker",
                       endpoint, "--host", host, "--port", str(port),
                       "--parent", str(os.getpid())]  # fmt: skip
            self.processes.append(subprocess.Popen(command, stdin=subprocess.DEVNULL))
        log.info("{endpoint}: {count} worker process(es) {pids}", endpoint=endpoint,
                 count=count, pids=[p.pid for p in self.processes])  # fmt: skip

    def stop(self, timeout: float = 10) -> None:
        """Ask every worker to stop, and wait for them (killing those that do not)."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


def run_worker(config: Any, endpoint: str, host: str, port: int, parent: int) -> None:
    """Serve ``endpoint`` on a shared port until SIGTERM or until ``parent`` is gone."""
    from twisted.internet import reactor as global_reactor
    from twisted.python.threadpool import ThreadPool

    from .endpoints import GatewayContext, load_builder
    from .store import open_store

    reactor: Any = global_reactor
    store = open_store(config.store_location)
    pool = ThreadPool(minthreads=1, maxthreads=config.values["server"]["threads"],
                      name=f"{endpoint}-worker")  # fmt: skip
    pool.start()
    context = GatewayContext(config=config, store=store, pool=pool, reactor=reactor)
    listen_shared(reactor, host, port, load_builder(endpoint)(context))

    def orphaned() -> None:
        if os.getppid() != parent:  # the server died without stopping us
            watch.stop()
            with contextlib.suppress(ReactorNotRunning):  # already stopping: fine
                reactor.stop()

    watch = LoopingCall(orphaned)
    watch.start(1.0, now=False)
    log.info("{endpoint} worker {pid} listening on {host}:{port}", endpoint=endpoint,
             pid=os.getpid(), host=host, port=port)  # fmt: skip
    reactor.run()
    pool.stop()
    store.close()
