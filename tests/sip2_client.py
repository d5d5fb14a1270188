"""Clients for SIP2 end-to-end tests: PyPI ``sip2`` (independent) and a raw socket.

The PyPI client (``Sip2.sip2.Sip2``, version 1.1) is used through its low-level class:
its wrapper refuses checkouts when the patron status says charging is *allowed* (it reads
``Y`` the wrong way round), so it cannot drive a normal loan. The raw socket sends what
no client would: garbage, NUL bytes, wrong checksums, 100 KB without a terminator.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from Sip2.sip2 import Sip2

from protocols.sip2.codec import LineFramer, Message, decode_message, encode_message

__all__ = ["pypi_client", "RawKiosk"]


@contextmanager
def pypi_client(port: int, log_folder: Path, **params: Any) -> Iterator[Sip2]:
    """A connected PyPI ``sip2`` client (TLS off; its own log file in ``log_folder``)."""
    client = Sip2()
    settings = {
        "hostName": "127.0.0.1",
        "hostPort": port,
        "tlsEnable": False,
        "hostEncoding": "utf-8",
        "institutionId": "dlk-tinh",
        "scLocation": "Quầy tự mượn",
        "logfile_path": str(log_folder),
        "loglevel": "WARNING",
        "socketTimeout": 10,
        **params,
    }
    for key, value in settings.items():
        setattr(client, key, value)
    client.connect()
    try:
        yield client
    finally:
        client.disconnect()


class RawKiosk:
    """A plain socket speaking SIP2 bytes, reading whole replies (any terminator)."""

    def __init__(self, port: int, timeout: float = 10) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.framer = LineFramer(limit=1 << 20)
        self.pending: list[bytes] = []

    def send(self, data: bytes) -> None:
        """Write ``data`` as it is."""
        self.sock.sendall(data)

    def reply(self) -> bytes:
        """The next reply line (without its terminator); raises on close or timeout."""
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed by the gateway")
            self.pending.extend(self.framer.feed(data))
        return self.pending.pop(0)

    def ask(self, data: bytes) -> bytes:
        """Send one request and read its reply."""
        self.send(data)
        return self.reply()

    def exchange(self, message: Message, sequence: str) -> Message:
        """Send ``message`` with sequence number ``sequence`` (UTF-8, checksummed) and
        read its reply as a message."""
        message.sequence = sequence
        return decode_message(self.ask(encode_message(message)))

    def closed(self, timeout: float = 10) -> bool:
        """True when the gateway closes the connection (nothing more arrives)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()
