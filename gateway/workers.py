"""More processes serving one TCP endpoint on one port, for machines with several cores.

The gateway is Python: one process answers on one core at a time, however many sessions it
holds. A Z39.50 target's sessions are independent of each other (each lives and dies with
its connection, the store is shared), so ``processes: N`` in an endpoint's section starts
N-1 worker processes beside the server, each listening on the same port with SO_REUSEPORT,
so that the kernel spreads new connections evenly over all of them (one listening socket
shared by the processes would not: whichever wakes first accepts a whole burst). Before
that the server checks that nothing else listens on the port, so a second server still
fails to start. Workers serve that endpoint only, log to the same output, are watched by
the server (an exit is logged), and stop with it, or on their own when it dies.
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

__all__ = ["WorkerProcesses", "listen_shared", "run_worker"]

log = Logger(namespace="lienthong.workers")


def _address(host: str, port: int) -> tuple[socket.AddressFamily, tuple[Any, ...]]:
    """The socket family and address for ``host`` as Twisted's listenTCP reads it: an IPv6
    literal is IPv6, anything else IPv4 ("" is every IPv4 interface)."""
    if ":" in host:
        return socket.AF_INET6, (host, port, 0, 0)
    return socket.AF_INET, (host or "0.0.0.0", port)


def listen_shared(reactor: Any, host: str, port: int, factory: Any, *, first: bool) -> Any:
    """Listen on ``host:port`` with SO_REUSEPORT (other processes of the server may too).

    ``first`` (the server itself) makes sure first that nothing else is listening there:
    SO_REUSEPORT would otherwise let a second server join the port silently. Raises
    CannotListenError like listenTCP.
    """
    from twisted.internet.error import CannotListenError

    family, address = _address(host, port)
    try:
        if first:
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT ok
                probe.bind(address)  # fails while any socket listens there
                address = probe.getsockname()  # the port chosen when 0 was asked
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as error:
        raise CannotListenError(host, port, error) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
        return reactor.adoptStreamPort(sock.fileno(), family, factory)
    except OSError as error:
        raise CannotListenError(host, port, error) from None
    finally:
        sock.close()  # the reactor holds its own duplicate of the descriptor


class WorkerProcesses:
    """The worker processes of the endpoints: started with a listening socket, watched,
    stopped together."""

    def __init__(self) -> None:
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._watch: LoopingCall | None = None

    def start(self, config_file: str, endpoint: str, host: str, port: int, count: int,
              reactor: Any) -> None:  # fmt: skip
        """Start ``count`` workers serving ``endpoint`` on ``host:port``."""
        for _ in range(count):
            command = [sys.executable, "-m", "gateway", "-c", config_file, "endpoint-worker",
                       endpoint, "--host", host, "--port", str(port),
                       "--parent", str(os.getpid())]  # fmt: skip
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
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


def run_worker(config: Any, endpoint: str, host: str, port: int, parent: int) -> None:
    """Serve ``endpoint`` on a shared ``host:port`` until SIGTERM or until ``parent`` is
    gone."""
    from twisted.internet import reactor as global_reactor
    from twisted.python.threadpool import ThreadPool

    from .endpoints import GatewayContext, load_builder
    from .store import open_store

    reactor: Any = global_reactor
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    store = open_store(config.store_location)
    pool = ThreadPool(minthreads=1, maxthreads=config.values["server"]["threads"],
                      name=f"{endpoint}-worker")  # fmt: skip
    pool.start()
    context = GatewayContext(config=config, store=store, pool=pool, reactor=reactor)
    listen_shared(reactor, host, port, load_builder(endpoint)(context), first=False)

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
