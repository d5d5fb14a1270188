"""The server host: real processes on free loopback ports, and the binding logic in memory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from twisted.internet import defer
from twisted.internet.protocol import Factory
from twisted.internet.testing import MemoryReactorClock
from twisted.web.test.requesthelper import DummyRequest

from gateway import endpoints
from gateway.config import Config, load_config, render_config
from gateway.endpoints import EndpointSpec, GatewayContext
from gateway.server import GatewayServer, HealthResource, ServerAddresses

from .conftest import REPO
from .servers import free_port, start_gateway, wait_for_health


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_demo_serves_health_and_stops_cleanly(tmp_path: Path, stop_signal: int) -> None:
    """'lienthong demo' creates its folder, loads the catalogue, answers /health, and exits
    0 on SIGTERM or SIGINT; a second start reuses the folder."""
    port = free_port()
    process = start_gateway(
        ["demo", "--dir", str(tmp_path / "demo"), "--http-port", str(port)], tmp_path
    )
    try:
        health = wait_for_health(f"http://127.0.0.1:{port}/health", process)
        assert health["status"] == "ok"
        assert health["store"] == {"reachable": True, "records": 330}
        assert health["uptime_seconds"] >= 0
        assert isinstance(health["endpoints"], list)
        home = requests.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert "Đắk Lắk" in home.text
        assert requests.get(f"http://127.0.0.1:{port}/nope", timeout=5).status_code == 404
    finally:
        process.send_signal(stop_signal)
        output = process.communicate(timeout=30)[0]
    assert process.returncode == 0, output
    assert "loaded 330 demo records" in output and "lienthong stopped" in output
    assert "Traceback" not in output
    for name in ("patrons.csv", "items.csv", "loans.csv", "lienthong.yaml"):
        assert (tmp_path / "demo" / name).exists()


def test_serve_refuses_a_bad_config_and_a_taken_port(tmp_path: Path) -> None:
    """A bad config stops 'serve' before anything listens; a taken port is a clear error."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(render_config().replace("threads: 8", "threads: 0"), encoding="utf-8")
    process = start_gateway(["-c", str(bad), "serve"], tmp_path)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 2 and "server.threads: 0 is below the minimum 1" in output

    good = tmp_path / "lienthong.yaml"
    good.write_text(render_config(), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "gateway", "-c", str(good), "import",
                    str(REPO.parent / "shared/data/loc-vie-121.mrc")], check=True,
                   env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True)  # fmt: skip
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start_gateway(["-c", str(good), "serve", "--http-port", str(port)], tmp_path)
        output = process.communicate(timeout=60)[0]
    assert process.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in output
    assert "Traceback" not in output


def test_serve_needs_an_existing_store(tmp_path: Path) -> None:
    """'serve' does not invent an empty store where the config points to none."""
    config_file = tmp_path / "lienthong.yaml"
    config_file.write_text(render_config(), encoding="utf-8")
    process = start_gateway(
        ["-c", str(config_file), "serve", "--http-port", str(free_port())], tmp_path
    )
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 1 and "does not exist" in output


# -- in memory ---------------------------------------------------------------------------


class EchoFactory(Factory):
    """Stands in for a TCP protocol endpoint when checking where the host binds it."""


def build_echo(context: GatewayContext) -> Factory:
    """``build`` function of the stand-in endpoint."""
    return EchoFactory()


def _config(tmp_path: Path, **endpoints_on: bool) -> Config:
    path = tmp_path / "lienthong.yaml"
    path.write_text(render_config(), encoding="utf-8")
    config = load_config(path)
    config.values["endpoints"].update(endpoints_on)
    return config


def test_host_binds_http_and_tcp_endpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           sqlite_store: Any) -> None:  # fmt: skip
    """Ports and address come from config, overridden by flags; TCP endpoints get their own
    port; stop() unbinds everything."""
    spec = EndpointSpec("sip2", "SIP2", "tcp", __name__, port_key="sip2_port")
    monkeypatch.setitem(endpoints.ENDPOINT_SPECS, "sip2", spec)
    monkeypatch.setattr(endpoints, "load_builder", lambda name: build_echo)
    monkeypatch.setattr("gateway.server.load_builder", lambda name: build_echo)
    reactor = MemoryReactorClock()
    host = GatewayServer(_config(tmp_path, sip2=True), sqlite_store, reactor,
                         ServerAddresses(host="127.0.0.2", sip2_port=7001))  # fmt: skip
    host.start()
    try:
        bound = [(port, type(factory).__name__, interface)
                 for port, factory, _, interface in reactor.tcpServers]  # fmt: skip
        assert bound == [(8080, "Site", "127.0.0.2"), (7001, "EchoFactory", "127.0.0.2")]
    finally:
        host.stop()
    assert host.listening == {} and not host.pool.started


class _Synchronous(GatewayContext):
    def in_thread(self, function: Any, *args: Any, **kwargs: Any) -> defer.Deferred[Any]:
        return defer.maybeDeferred(function, *args, **kwargs)


class _BrokenStore:
    def count(self) -> int:
        raise OSError("disk I/O error")


def test_health_reports_an_unreachable_store(tmp_path: Path) -> None:
    """When the store fails, /health answers 503 with reachable false and the reason."""
    context = _Synchronous(config=_config(tmp_path), store=_BrokenStore(), pool=None,  # type: ignore[arg-type]
                           reactor=None)  # fmt: skip
    request = DummyRequest([b""])
    HealthResource(context).render_GET(request)  # type: ignore[arg-type]
    assert request.responseCode == 503
    body = json.loads(b"".join(request.written))
    assert body["store"]["reachable"] is False and "disk I/O error" in body["store"]["error"]


class _CallFromThreadReactor:
    """Just enough reactor for deferToThreadPool: results delivered immediately."""

    def callFromThread(self, function: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N802
        function(*args, **kwargs)


def test_store_calls_run_in_the_pool_not_the_calling_thread(tmp_path: Path) -> None:
    """GatewayContext.in_thread runs blocking work on a pool thread."""
    import threading

    from twisted.python.threadpool import ThreadPool

    pool = ThreadPool(minthreads=1, maxthreads=1)
    pool.start()
    try:
        context = GatewayContext(config=_config(tmp_path), store=None, pool=pool,  # type: ignore[arg-type]
                                 reactor=_CallFromThreadReactor())  # fmt: skip
        done = threading.Event()
        seen: list[threading.Thread] = []
        deferred = context.in_thread(lambda: threading.current_thread())
        deferred.addCallback(lambda thread: (seen.append(thread), done.set()))
        assert done.wait(10)
        assert seen[0] is not threading.current_thread()
    finally:
        pool.stop()


def test_oversized_request_bodies_are_refused_and_the_server_goes_on(tmp_path: Path) -> None:
    """A POST over the 1 MiB cap, declared or chunked, is answered 413 without keeping
    the body; a normal POST right after works, and so does everything else."""
    port = free_port()
    process = start_gateway(
        ["demo", "--dir", str(tmp_path / "demo"), "--http-port", str(port)], tmp_path
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(f"{base}/health", process)
        form = {"content-type": "application/x-www-form-urlencoded"}
        huge = b"verb=Identify&x=" + b"A" * (3 << 20)
        assert requests.post(f"{base}/oai", data=huge, headers=form, timeout=30).status_code == 413

        def chunks() -> Iterator[bytes]:
            yield b"verb=Identify&x="
            for _ in range(40):
                yield b"B" * 65536

        chunked = requests.post(f"{base}/sru", data=chunks(), headers=form, timeout=30)
        assert chunked.status_code == 413
        normal = requests.post(f"{base}/oai", data={"verb": "Identify"}, timeout=30)
        assert normal.status_code == 200 and b"<Identify>" in normal.content
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert "Traceback" not in output, output
