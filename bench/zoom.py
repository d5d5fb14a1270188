"""A Z39.50 client for benchmarks: YAZ's ZOOM C API (``libyaz.so.5``) through ctypes.

The client is Index Data's, not ours: searching and decoding happen in libyaz, so what this
measures is the server and the wire, not a Python BER codec. ctypes releases the GIL for the
length of every foreign call, so one :class:`ZoomConnection` per thread gives real concurrency.

    with ZoomConnection("127.0.0.1", 2100, "Default") as zoom:
        hits, records = zoom.search_present('@attr 1=4 "computer"')

Each connection negotiates UTF-8 (``charset``), asks for USMARC records with element set F,
and turns off piggy-backing so that every operation is one SearchRequest followed by one
PresentRequest for the first ``count`` records (fewer when there are fewer hits).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from types import TracebackType

LIBRARY = "libyaz.so.5"


class ZoomError(Exception):
    """A ZOOM connection or search error, or a record that failed its check.

    ``code`` is ZOOM's: a Bib-1 diagnostic below 10000, a connection-level error (connect,
    Init, decode, connection lost, timeout) from 10000; 0 for a record that failed a check.
    """

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


def _load() -> ctypes.CDLL:
    """libyaz with the prototypes this module calls (handles are opaque pointers)."""
    try:
        lib = ctypes.CDLL(LIBRARY)
    except OSError:
        found = ctypes.util.find_library("yaz")
        if found is None:
            raise ZoomError("libyaz is not installed (Debian: apt-get install yaz)") from None
        lib = ctypes.CDLL(found)
    handle, text, size = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
    prototypes = {
        "ZOOM_connection_create": (handle, [handle]),
        "ZOOM_connection_option_set": (None, [handle, text, text]),
        "ZOOM_connection_connect": (None, [handle, text, ctypes.c_int]),
        "ZOOM_connection_error": (
            ctypes.c_int,
            [handle, ctypes.POINTER(text), ctypes.POINTER(text)],
        ),
        "ZOOM_connection_destroy": (None, [handle]),
        "ZOOM_connection_search_pqf": (handle, [handle, text]),
        "ZOOM_resultset_size": (size, [handle]),
        "ZOOM_resultset_record_immediate": (handle, [handle, size]),
        "ZOOM_resultset_destroy": (None, [handle]),
        # The record's bytes may hold NULs (never for ISO 2709, but do not trust that):
        # take a raw pointer and the length, never a C string.
        "ZOOM_record_get": (ctypes.c_void_p, [handle, text, ctypes.POINTER(ctypes.c_int)]),
        "ZOOM_record_error": (
            ctypes.c_int,
            [handle, ctypes.POINTER(text), ctypes.POINTER(text), ctypes.POINTER(text)],
        ),
    }
    for name, (restype, argtypes) in prototypes.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return lib


_lib: ctypes.CDLL | None = None


def library() -> ctypes.CDLL:
    """libyaz, loaded once (first call from one thread, before the workers start)."""
    global _lib
    if _lib is None:
        _lib = _load()
    return _lib


def iso2709_problem(record: bytes) -> str | None:
    """Why ``record`` is not a well-framed UTF-8 ISO 2709 record, or None when it is.

    Checks the framing a MARC reader relies on: the leader's record length (5 digits) equals
    the byte length, the base address points just past the directory's field terminator, the
    record ends with the record terminator, LDR/09 says UTF-8 ('a') and the bytes are UTF-8.
    """
    if len(record) < 25:
        return f"{len(record)} bytes: shorter than a leader"
    head = record[:5]
    if not head.isdigit():
        return f"leader length {head!r} is not 5 digits"
    if int(head) != len(record):
        return f"leader says {int(head)} bytes, record has {len(record)}"
    if record[-1:] != b"\x1d":
        return "no record terminator (0x1D) at the end"
    base = record[12:17]
    if not base.isdigit() or not 24 < int(base) < len(record):
        return f"base address {base!r} is outside the record"
    if record[int(base) - 1 : int(base)] != b"\x1e":
        return "no field terminator (0x1E) before the base address"
    if record[9:10] != b"a":
        return f"LDR/09 is {record[9:10]!r}, not 'a' (UTF-8)"
    try:
        record.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"LDR/09 says UTF-8, but byte {exc.start} is not ({exc.reason})"
    return None


class ZoomConnection:
    """One persistent Z39.50 connection (ZOOM, synchronous mode) to ``host:port/database``."""

    def __init__(
        self,
        host: str,
        port: int,
        database: str,
        *,
        syntax: str = "usmarc",
        element_set: str = "F",
        count: int = 10,
        timeout: int = 30,
        options: dict[str, str] | None = None,
    ) -> None:
        """Connect and Init (with UTF-8 charset negotiation); raises :class:`ZoomError`.

        ``options`` adds or overrides ZOOM options (``{"apdulog": "1"}`` prints every APDU).
        """
        self.lib = library()
        self.count = count
        self.syntax = syntax
        self.handle = self.lib.ZOOM_connection_create(None)
        settings = {
            "preferredRecordSyntax": syntax,
            "elementSetName": element_set,
            "charset": "UTF-8",
            "databaseName": database,
            "count": str(count),
            "piggyback": "0",
            "timeout": str(timeout),
            "implementationName": "lienthong bench (ZOOM C)",
            **(options or {}),
        }
        for key, value in settings.items():
            self.lib.ZOOM_connection_option_set(self.handle, key.encode(), value.encode())
        self.lib.ZOOM_connection_connect(self.handle, f"tcp:{host}:{port}".encode(), 0)
        self._raise_error("connect")

    def _raise_error(self, what: str) -> None:
        message, addinfo = ctypes.c_char_p(), ctypes.c_char_p()
        code = self.lib.ZOOM_connection_error(
            self.handle, ctypes.byref(message), ctypes.byref(addinfo)
        )
        if code:
            text = (message.value or b"").decode("utf-8", "replace")
            extra = (addinfo.value or b"").decode("utf-8", "replace")
            detail = f" ({extra})" if extra else ""
            raise ZoomError(f"{what}: {code} {text}{detail}", code)

    def search_present(self, pqf: str) -> tuple[int, list[bytes]]:
        """Search with a PQF query and present the first ``count`` records: (hits, records).

        Every record is checked: no surrogate diagnostic, the requested syntax, well-framed
        UTF-8 ISO 2709 (for USMARC); the number of records is min(count, hits). Any failure
        raises :class:`ZoomError`.
        """
        lib = self.lib
        resultset = lib.ZOOM_connection_search_pqf(self.handle, pqf.encode("utf-8"))
        try:
            self._raise_error("search")
            hits = int(lib.ZOOM_resultset_size(resultset))
            records = [self._record(resultset, i) for i in range(min(self.count, hits))]
        finally:
            lib.ZOOM_resultset_destroy(resultset)
        return hits, records

    def _record(self, resultset: int, position: int) -> bytes:
        # _immediate: a record the Present did not bring is an error, not a second round trip.
        record = self.lib.ZOOM_resultset_record_immediate(resultset, position)
        if not record:
            raise ZoomError(f"record {position + 1} was not in the Present response")
        message, addinfo, diagset = ctypes.c_char_p(), ctypes.c_char_p(), ctypes.c_char_p()
        code = self.lib.ZOOM_record_error(
            record, ctypes.byref(message), ctypes.byref(addinfo), ctypes.byref(diagset)
        )
        if code:
            text = (message.value or b"").decode("utf-8", "replace")
            raise ZoomError(f"record {position + 1}: diagnostic {code} {text}")
        syntax = self._get(record, b"syntax").decode("ascii", "replace")
        if syntax.lower() != self.syntax.lower():
            raise ZoomError(f"record {position + 1}: syntax {syntax!r}, asked {self.syntax!r}")
        data = self._get(record, b"raw")
        if self.syntax.lower() in ("usmarc", "marc21"):
            problem = iso2709_problem(data)
            if problem:
                raise ZoomError(f"record {position + 1}: {problem}")
        elif not data:
            raise ZoomError(f"record {position + 1} is empty")
        return data

    def _get(self, record: int, kind: bytes) -> bytes:
        length = ctypes.c_int(0)
        pointer = self.lib.ZOOM_record_get(record, kind, ctypes.byref(length))
        return ctypes.string_at(pointer, length.value) if pointer else b""

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self.handle:
            self.lib.ZOOM_connection_destroy(self.handle)
            self.handle = None

    def __enter__(self) -> ZoomConnection:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
