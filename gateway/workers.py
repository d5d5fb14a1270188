"""More processes serving one TCP endpoint on one port, for machines with several cores.

The gateway is Python: one process answers on one core at a time, however many sessions it
holds. A Z39.50 target's sessions are independent of each other (each lives and dies with
its connection, the store is shared), so ``processes: N`` in an endpoint's section starts
N-1 worker processes beside the server. The server binds the port as usual (exclusively:
a second server on the same port still fails to start) and hands the listening socket to
the workers, which accept connections from it too; the kernel gives each new connection to
one of them. Workers serve that endpoint only, log to the same output, are watched by the
server (an exit is logged), and stop with it, or on their own when it dies.
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
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

__all__ = ["WorkerProcesses", "run_worker"]

log = Logger(namespace="lienthong.workers")


class WorkerProcesses:
    """The worker processes of the endpoints: started with a listening socket, watched,
    stopped together."""

    def __init__(self) -> None:
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._watch: LoopingCall | None = None

    def start(self, config_file: str, endpoint: str, descriptor: int, count: int,
              reactor: Any) -> None:  # fmt: skip
        """Start ``count`` workers serving ``endpoint`` on the listening ``descriptor``."""
        for _ in range(count):
            command = [sys.executable, "-m", "gateway", "-c", config_file, "endpoint-worker",
                       endpoint, "--fd", str(descriptor), "--parent", str(os.getpid())]  # fmt: skip
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, pass_fds=(descriptor,))
            self.processes.append((endpoint, process))
        log.info("{endpoint}: {count} worker process(es) {pids}", endpoint=endpoint,
                 count=count, pids=[p.pid for e, p in self.processes if e == endpoint])  # fmt: skip
        if self._watch is None:
            self._watch = LoopingCall(self._check)
            self._watch.clock = reactor
            self._watch.start(2.0, now=False)

    def _check(self) -> None:
        """Log (once) a worker that exited while the server runs; the others go on."""
        for endpoint, process in list(self.processes):
            code = process.poll()
            if code is not None:
                log.error("{endpoint} worker {pid} exited with status {code}; the other "
                          "processes go on serving", endpoint=endpoint, pid=process.pid,
                          code=code)  # fmt: skip
                self.processes.remove((endpoint, process))

    def stop(self, timeout: float = 10) -> None:
        """Ask every worker to stop, and wait for them (killing those that do not)."""
        if self._watch is not None and self._watch.running:
            self._watch.stop()
        for _, process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process in self.processes:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


def run_worker(config: Any, endpoint: str, descriptor: int, parent: int) -> None:
    """Serve ``endpoint`` on the inherited listening socket until SIGTERM or until
    ``parent`` is gone."""
    from twisted.internet import reactor as global_reactor
    from twisted.python.threadpool import ThreadPool

    from .endpoints import GatewayContext, load_builder
    from .store import open_store

    reactor: Any = global_reactor
    listening = socket.socket(fileno=descriptor)
    family = listening.family
    host, port = listening.getsockname()[:2]
    address = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
    store = open_store(config.store_location)
    pool = ThreadPool(minthreads=1, maxthreads=config.values["server"]["threads"],
                      name=f"{endpoint}-worker")  # fmt: skip
    pool.start()
    context = GatewayContext(config=config, store=store, pool=pool, reactor=reactor)
    reactor.adoptStreamPort(descriptor, family, load_builder(endpoint)(context))
    listening.detach()  # the reactor has its own duplicate; ours must not close the socket

    def orphaned() -> None:
        if os.getppid() != parent:  # the server died without stopping us
            watch.stop()
            with contextlib.suppress(ReactorNotRunning):  # already stopping: fine
                reactor.stop()

    watch = LoopingCall(orphaned)
    watch.start(1.0, now=False)
    log.info("{endpoint} worker {pid} listening on {address}", endpoint=endpoint,
             pid=os.getpid(), address=address)  # fmt: skip
    reactor.run()
    pool.stop()
    store.close()
