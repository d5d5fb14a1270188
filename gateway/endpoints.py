"""The protocol endpoints the server host can run, and what each needs from the gateway.

Each protocol package provides one module with a ``build(context)`` function: HTTP
endpoints return a ``twisted.web.resource.Resource`` mounted at their path, TCP endpoints
a ``twisted.internet.protocol.Factory`` bound to their port. The host knows nothing else
about them, so adding a protocol is adding its package and one row here.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

if TYPE_CHECKING:
    from .config import Config
    from .store import RecordStore

__all__ = ["EndpointSpec", "GatewayContext", "ENDPOINT_SPECS", "available", "load_builder"]


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """Where an endpoint's code lives and how it is reached."""

    name: str
    title: str
    transport: str  #: "http" (mounted at ``path``) or "tcp" (own port)
    module: str
    path: bytes = b""
    port_key: str = ""


ENDPOINT_SPECS: dict[str, EndpointSpec] = {
    spec.name: spec
    for spec in (
        EndpointSpec("sru", "SRU", "http", "protocols.sru.resource", path=b"sru"),
        EndpointSpec("oaipmh", "OAI-PMH", "http", "protocols.oaipmh.resource", path=b"oai"),
        EndpointSpec("z3950", "Z39.50", "tcp", "protocols.z3950.protocol", port_key="z3950_port"),
        EndpointSpec("sip2", "SIP2", "tcp", "protocols.sip2.protocol", port_key="sip2_port"),
    )
}


def available(name: str) -> bool:
    """True when this installation contains the endpoint's package."""
    spec = ENDPOINT_SPECS[name]
    try:
        return importlib.util.find_spec(spec.module) is not None
    except ModuleNotFoundError:
        return False


def load_builder(name: str) -> Any:
    """The endpoint module's ``build`` function."""
    return importlib.import_module(ENDPOINT_SPECS[name].module).build


@dataclass
class GatewayContext:
    """What endpoints get: configuration, store, the thread pool for blocking calls."""

    config: Config
    store: RecordStore
    pool: ThreadPool
    reactor: Any
    started: float = field(default_factory=time.monotonic)
    #: Public addresses, filled in once ports are bound ({"http": "http://host:port", ...}).
    addresses: dict[str, str] = field(default_factory=dict)

    def in_thread(self, function: Any, *args: Any, **kwargs: Any) -> Deferred[Any]:
        """Run a blocking call (store, adapter) in the pool; never on the reactor thread."""
        return deferToThreadPool(self.reactor, self.pool, function, *args, **kwargs)
