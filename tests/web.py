"""Driving twisted.web resources in memory: a thread pool the test runs by hand, requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.internet import defer
from twisted.internet.testing import MemoryReactor
from twisted.web.test.requesthelper import DummyRequest

from gateway.config import load_config, render_config
from gateway.endpoints import GatewayContext
from gateway.store import RecordStore


class DeferredPool(GatewayContext):
    """Runs "pool" calls when the test says so, to see what happens meanwhile."""

    pending: list[tuple[Any, tuple[Any, ...], dict[str, Any], defer.Deferred[Any]]]

    def in_thread(self, function: Any, *args: Any, **kwargs: Any) -> defer.Deferred[Any]:
        deferred: defer.Deferred[Any] = defer.Deferred()
        self.pending.append((function, args, kwargs, deferred))
        return deferred

    def run(self) -> None:
        """Run every pending call; a call that raises fails its deferred, as the pool does."""
        while self.pending:
            function, args, kwargs, deferred = self.pending.pop(0)
            try:
                result = function(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - handed to the deferred
                deferred.errback(error)
            else:
                deferred.callback(result)


def memory_context(tmp_path: Path, store: RecordStore, **overrides: Any) -> DeferredPool:
    """A gateway context on a MemoryReactor, with a configuration of one library ("loc")
    and ``overrides`` (dotted config keys, as for render_config)."""
    path = tmp_path / "lienthong.yaml"
    libs = [{"id": "loc", "name": "Library of Congress", "kind": "national"}]
    path.write_text(render_config({"libraries": libs, **overrides}), "utf-8")
    context = DeferredPool(load_config(path), store, pool=None, reactor=MemoryReactor())  # type: ignore[arg-type]
    context.pending = []
    return context


def make_request(path: list[bytes], method: bytes = b"GET", **args: str) -> DummyRequest:
    """A request for ``path`` below the resource with ``args`` as its arguments."""
    request = DummyRequest(path)
    request.args = {k.encode(): [v.encode()] for k, v in args.items()}
    request.method = method
    request.getRequestHostname = lambda: b"127.0.0.1"  # type: ignore[method-assign]
    request.isSecure = lambda: False  # type: ignore[attr-defined]
    return request


def render(root: Any, request: DummyRequest) -> Any:
    """Walk ``request.postpath`` from ``root`` as twisted.web does, and render."""
    resource = root
    while request.postpath and not getattr(resource, "isLeaf", False):
        resource = resource.getChildWithDefault(request.postpath.pop(0), request)
    return resource.render(request)
