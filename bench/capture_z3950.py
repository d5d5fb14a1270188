"""Golden Z39.50 vectors: the BER APDUs YAZ's own clients send and YAZ's servers answer.

    python3 bench/capture_z3950.py [--out tests/data/z3950] [--keep-temp]

Why this exists: a hand-written or asn1tools-based Z39.50 codec can agree with itself and
still disagree with every client in the field (wrong tags in an InitResponse are a known
failure of other gateways). The codec tests need bytes that came from the other side: what
``yaz-client`` and ``zoomsh`` really put on the wire, and what YAZ's generic frontend server
(``yaz-ztest``, and Zebra for a target that accepts UTF-8) really answers.

How: each scenario runs one YAZ client (a ``yaz-client -f`` command file or a ``zoomsh``
command line) against a recording TCP proxy in front of the server. The proxy forwards bytes
untouched and splits each direction into whole BER PDUs from their outer headers (definite
and indefinite lengths both framed), numbering them in wire order; for yaz-client scenarios
the capture is cross-checked against yaz-client's own ``-d`` raw dumps. Every scenario
states the APDUs it must produce; if any scenario deviates, nothing is written.

Output, all under ``--out``: ``<scenario>-<nn>-<client|server>-<apdu>.ber`` per PDU (PDUs
over 20 kB are skipped and listed), a few ``synthetic-*`` files (captured PDUs with their
lengths rewritten, all indefinite or all definite, so the framer and the indefinite-to-definite
normaliser have pairs of known equal values; YAZ itself writes indefinite lengths on every
constructed element of 128 octets or more), and ``README.md`` (what each file shows, the exact
commands, trace excerpts, decoded trees of the interesting PDUs, and the findings).

Needs Debian's ``yaz`` (yaz-client, zoomsh, yaz-ztest); Zebra (``idzebra-2.0``: zebraidx,
zebrasrv) is optional and only adds the ``*-zebra`` scenarios. Python stdlib only; writes
only under ``--out``; starts its servers on free loopback ports and stops them.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "data" / "z3950"
MAX_FILE = 20 * 1024
CLIENT_TIMEOUT = 30

#: Outer context tags of the Z39.50 APDU CHOICE.
APDU_NAMES = {
    20: "initRequest",
    21: "initResponse",
    22: "searchRequest",
    23: "searchResponse",
    24: "presentRequest",
    25: "presentResponse",
    26: "deleteResultSetRequest",
    27: "deleteResultSetResponse",
    28: "accessControlRequest",
    29: "accessControlResponse",
    30: "resourceControlRequest",
    31: "resourceControlResponse",
    32: "triggerResourceControlRequest",
    33: "resourceReportRequest",
    34: "resourceReportResponse",
    35: "scanRequest",
    36: "scanResponse",
    43: "sortRequest",
    44: "sortResponse",
    45: "segmentRequest",
    46: "extendedServicesRequest",
    47: "extendedServicesResponse",
    48: "close",
    49: "duplicateDetectionRequest",
    50: "duplicateDetectionResponse",
}

#: Shorthand for a request/response exchange in a scenario's ``expect``.
EXCHANGES = {
    "init": ("initRequest", "initResponse"),
    "search": ("searchRequest", "searchResponse"),
    "present": ("presentRequest", "presentResponse"),
    "delete": ("deleteResultSetRequest", "deleteResultSetResponse"),
    "scan": ("scanRequest", "scanResponse"),
    "sort": ("sortRequest", "sortResponse"),
    "close": ("close", "close"),
}

#: yaz-ztest's scan handler reads its term list from ``dummy-words`` in its working folder
#: (``WORD:occurrences``, sorted, upper case) and exits when the file is missing; Debian's
#: package ships none, so the script writes this one.
DUMMY_WORDS = """\
A:12
DU:7
KIEU:3
KIM:2
LUC:4
NGUYEN:5
TALE:6
TRUYEN:4
VAN:9
"""

ZEBRA_CFG = """\
profilePath: {folder}:/usr/share/idzebra-2.0/tab
attset: bib1.att
attset: explain.att
recordType: grs.marcxml.marc21
register: {folder}/reg:10M
shadow: {folder}/shadow:10M
encoding: utf-8
"""


# --------------------------------------------------------------------------------------
# BER: headers, framing, a walk of the TLV tree


class Header(NamedTuple):
    tag_class: int  # 0 universal, 1 application, 2 context, 3 private
    constructed: bool
    number: int
    header_length: int  # identifier plus length octets
    length: int | None  # None: indefinite
    length_octets: bytes


class BerError(ValueError):
    pass


def read_header(data: bytes | bytearray, pos: int) -> Header | None:
    """The TLV header at ``pos``, or None when ``data`` ends inside it."""
    start = pos
    if pos >= len(data):
        return None
    first = data[pos]
    pos += 1
    number = first & 0x1F
    if number == 0x1F:
        number = 0
        while True:
            if pos >= len(data):
                return None
            octet = data[pos]
            pos += 1
            number = (number << 7) | (octet & 0x7F)
            if not octet & 0x80:
                break
            if pos - start > 6:
                raise BerError("tag number too long")
    if pos >= len(data):
        return None
    octet = data[pos]
    length_start = pos
    pos += 1
    length: int | None
    if octet < 0x80:
        length = octet
    elif octet == 0x80:
        length = None
    else:
        count = octet & 0x7F
        if count > 4:
            raise BerError(f"{count} length octets")
        if pos + count > len(data):
            return None
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    return Header(
        first >> 6, bool(first & 0x20), number, pos - start, length, bytes(data[length_start:pos])
    )


def element_end(data: bytes | bytearray, pos: int, depth: int = 0) -> int | None:
    """Offset just past the element at ``pos`` (definite or indefinite), None if incomplete."""
    if depth > 200:
        raise BerError("nesting too deep")
    header = read_header(data, pos)
    if header is None:
        return None
    inner = pos + header.header_length
    if header.length is not None:
        end = inner + header.length
        return end if end <= len(data) else None
    if not header.constructed:
        raise BerError("indefinite length on a primitive element")
    while True:
        if inner + 2 > len(data):
            return None
        if data[inner] == 0 and data[inner + 1] == 0:
            return inner + 2
        child_end = element_end(data, inner, depth + 1)
        if child_end is None:
            return None
        inner = child_end


@dataclass
class Node:
    header: Header
    start: int
    contents: bytes  # primitive contents (empty for constructed)
    children: list[Node] = field(default_factory=list)


def parse(data: bytes, pos: int = 0, end: int | None = None) -> list[Node]:
    """The TLV tree of ``data[pos:end]`` (every constructed element is descended into)."""
    end = len(data) if end is None else end
    nodes: list[Node] = []
    while pos < end:
        if data[pos : pos + 2] == b"\x00\x00":  # end-of-contents of an enclosing element
            break
        header = read_header(data, pos)
        if header is None:
            raise BerError(f"truncated header at {pos}")
        inner = pos + header.header_length
        if header.constructed:
            if header.length is None:
                children = parse(data, inner, end)
                stop = element_end(data, pos)
                assert stop is not None
            else:
                stop = inner + header.length
                children = parse(data, inner, stop)
            nodes.append(Node(header, pos, b"", children))
        else:
            assert header.length is not None
            stop = inner + header.length
            nodes.append(Node(header, pos, data[inner:stop]))
        pos = stop
    return nodes


def walk(nodes: list[Node]):
    for node in nodes:
        yield node
        yield from walk(node.children)


def length_forms(data: bytes) -> dict[str, int]:
    """How the lengths of one PDU are written: counts per form, non-minimal ones flagged."""
    forms: dict[str, int] = {}
    for node in walk(parse(data)):
        octets = node.header.length_octets
        if node.header.length is None:
            form = "indefinite"
        elif len(octets) == 1:
            form = "short"
        else:
            form = f"long-{len(octets) - 1}"
            minimal = 1 if node.header.length < 0x80 else 0
            if minimal or octets[1] == 0:
                form += "-non-minimal"
        forms[form] = forms.get(form, 0) + 1
    return forms


def apdu_name(data: bytes) -> str:
    header = read_header(data, 0)
    if header is None or header.tag_class != 2:
        return "unknown"
    return APDU_NAMES.get(header.number, f"tag{header.number}")


def oid_text(contents: bytes) -> str:
    arcs: list[int] = []
    value = 0
    for octet in contents:
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        return ""
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first, *arcs[1:]])


CLASS_LETTER = {0: "U", 1: "A", 2: "", 3: "P"}
UNIVERSAL = {
    1: "BOOLEAN",
    2: "INTEGER",
    3: "BIT STRING",
    4: "OCTET STRING",
    5: "NULL",
    6: "OID",
    8: "EXTERNAL",
    16: "SEQUENCE",
    17: "SET",
    26: "VisibleString",
    27: "GeneralString",
}


def describe(node: Node) -> str:
    header = node.header
    if header.tag_class == 0:
        tag = UNIVERSAL.get(header.number, f"[UNIVERSAL {header.number}]")
    else:
        tag = f"[{CLASS_LETTER[header.tag_class]}{header.number}]".replace("[A", "[APPLICATION ")
    length = "indef" if header.length is None else str(header.length)
    text = f"{tag} len={length}"
    if header.constructed:
        return text + " {"
    contents = node.contents
    if header.tag_class == 0 and header.number == 6:
        return f"{text} {oid_text(contents)}"
    shown = contents[:40]
    printable = all(32 <= b < 127 for b in shown)
    value = repr(shown.decode("ascii")) if printable and shown else shown.hex(" ")
    if header.tag_class == 0 and header.number in (1, 2) or (len(contents) <= 4 and not printable):
        value += f" (={int.from_bytes(contents, 'big', signed=True)})" if contents else ""
    if len(contents) > 40:
        value += f" ... ({len(contents)} octets)"
    return f"{text} {value}"


def tree_text(data: bytes, limit: int = 0) -> str:
    """One line per TLV: its header octets, tag, length and (primitive) contents."""
    lines: list[str] = []

    def emit(nodes: list[Node], indent: int) -> None:
        for node in nodes:
            raw = data[node.start : node.start + node.header.header_length].hex(" ")
            lines.append(f"{'  ' * indent}{raw:<12} {describe(node)}")
            if node.header.constructed:
                emit(node.children, indent + 1)
                lines.append(f"{'  ' * indent}}}")

    emit(parse(data), 0)
    if limit and len(lines) > limit:
        lines[limit:] = [f"... ({len(lines) - limit} more lines)"]
    return "\n".join(lines)


def definite_octets(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def reencode(data: bytes, indefinite: bool) -> bytes:
    """The same BER value with every constructed element's length rewritten: indefinite,
    or definite in the shortest form. Identifiers and primitive elements are unchanged."""

    def encode(nodes: list[Node]) -> bytes:
        out = bytearray()
        for node in nodes:
            identifier_length = node.header.header_length - len(node.header.length_octets)
            identifier = data[node.start : node.start + identifier_length]
            if node.header.constructed:
                contents = encode(node.children)
                if indefinite:
                    out += identifier + b"\x80" + contents + b"\x00\x00"
                else:
                    out += identifier + definite_octets(len(contents)) + contents
            else:
                out += data[node.start : node.start + node.header.header_length] + node.contents
        return bytes(out)

    return encode(parse(data))


def length_census(pdus: list[bytes]) -> dict[tuple[str, str, str], int]:
    """Counts of (constructed|primitive, length form, contents under|from 128 octets)."""
    census: dict[tuple[str, str, str], int] = {}
    for data in pdus:
        for node in walk(parse(data)):
            header = node.header
            end = element_end(data, node.start)
            assert end is not None
            size = end - node.start - header.header_length - (2 if header.length is None else 0)
            if header.length is None:
                form = "indefinite"
            elif len(header.length_octets) == 1:
                form = "short definite"
            else:
                form = f"long definite ({len(header.length_octets)} octets)"
            key = (
                "constructed" if header.constructed else "primitive",
                form,
                "contents >= 128" if size >= 128 else "contents < 128",
            )
            census[key] = census.get(key, 0) + 1
    return census


# --------------------------------------------------------------------------------------
# The recording proxy


class Captured(NamedTuple):
    connection: int
    direction: str  # "client" or "server": who sent it
    data: bytes


class RecordingProxy:
    """A loopback TCP proxy that forwards bytes as they come and records whole BER PDUs."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.pdus: list[Captured] = []
        self.problems: list[str] = []
        self.pumps: list[threading.Thread] = []
        self.connections = 0
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
            except OSError as error:
                self.problems.append(f"upstream connect failed: {error}")
                client.close()
                continue
            server.settimeout(None)
            number = self.connections
            self.connections += 1
            for source, sink, direction in ((client, server, "client"), (server, client, "server")):
                pump = threading.Thread(
                    target=self._pump, args=(source, sink, direction, number), daemon=True
                )
                pump.start()
                self.pumps.append(pump)

    def _pump(self, source: socket.socket, sink: socket.socket, direction: str, number: int):
        buffer = bytearray()
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                # Record before forwarding, so that an answer is never recorded before the
                # request it answers.
                while buffer:
                    end = element_end(buffer, 0)
                    if end is None:
                        break
                    with self.lock:
                        self.pdus.append(Captured(number, direction, bytes(buffer[:end])))
                    del buffer[:end]
                sink.sendall(chunk)
        except (OSError, BerError) as error:
            self.problems.append(f"{direction} stream of connection {number}: {error}")
        finally:
            if buffer:
                self.problems.append(
                    f"{direction} stream of connection {number} ended inside a PDU "
                    f"({len(buffer)} octets left)"
                )
            try:
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def finish(self, timeout: float = 10.0) -> list[Captured]:
        """Wait for every session to end (the client has exited) and stop listening."""
        deadline = time.monotonic() + timeout
        for pump in list(self.pumps):
            pump.join(max(0.0, deadline - time.monotonic()))
            if pump.is_alive():
                self.problems.append("a session did not end in time")
        self.listener.close()
        return self.pdus


# --------------------------------------------------------------------------------------
# Servers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited at start (code {process.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} is not listening on port {port}")


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    command: list[str]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_ztest(folder: Path) -> Server:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dummy-words").write_text(DUMMY_WORDS)
    port = free_port()
    # -S: one process, no fork per connection (sessions here are one after another).
    command = ["yaz-ztest", "-S", "-w", str(folder), "-l", str(folder / "ztest.log")]
    command.append(f"tcp:127.0.0.1:{port}")
    process = subprocess.Popen(command, cwd=folder, stdin=subprocess.DEVNULL)
    wait_listening(port, process, "yaz-ztest")
    return Server("yaz-ztest", port, process, command)


def start_zebra(folder: Path) -> Server | None:
    if not (shutil.which("zebrasrv") and shutil.which("zebraidx")):
        return None
    for sub in ("reg", "shadow"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    config = folder / "zebra.cfg"
    config.write_text(ZEBRA_CFG.format(folder=folder))
    subprocess.run(
        ["zebraidx", "-c", str(config), "init"], cwd=folder, check=True, capture_output=True
    )
    port = free_port()
    command = ["zebrasrv", "-S", "-c", str(config), "-l", str(folder / "zebrasrv.log")]
    command.append(f"tcp:127.0.0.1:{port}")
    process = subprocess.Popen(command, cwd=folder, stdin=subprocess.DEVNULL)
    wait_listening(port, process, "zebrasrv")
    return Server("zebrasrv", port, process, command)


# --------------------------------------------------------------------------------------
# Scenarios


@dataclass
class Scenario:
    name: str
    what: str
    expect: str  # exchanges in order, e.g. "init search present close"
    commands: list[str] | None = None  # yaz-client command file; {target} is host:port/db
    zoomsh: list[str] | None = None  # zoomsh arguments; {target} likewise
    server: str = "ztest"
    database: str = "Default"
    excerpt: tuple[str, ...] = ()  # APDU blocks of the -a trace to quote, "name" or "name#2"
    trees: tuple[int, ...] = ()  # PDU numbers (1-based) whose decoded tree goes in the README


OPEN = "open tcp:{target}"

SCENARIOS = [
    # ---- Init
    Scenario(
        "init-plain",
        "InitRequest with no authentication and no charset negotiation; ztest's InitResponse.",
        "init",
        [OPEN, "quit"],
        excerpt=("initRequest",),
        trees=(1, 2),
    ),
    Scenario(
        "init-charset-utf8",
        "`charset UTF-8` before open: the charset negotiation proposal (otherInfo, "
        "1.2.840.10003.15.3) asks for ISO 10646 UTF-8; yaz-ztest answers ISO-8859-1.",
        "init",
        ["charset UTF-8", OPEN, "quit"],
        excerpt=("initRequest", "initResponse"),
        trees=(1, 2),
    ),
    Scenario(
        "init-charset-marc8",
        "`charset MARC-8`: YAZ proposes a private (zprivate) character set by name.",
        "init",
        ["charset MARC-8", OPEN, "quit"],
        trees=(1,),
    ),
    Scenario(
        "init-idpass",
        "`auth kiosk secret-demo` (two words): idAuthentication idPass (userId, password).",
        "init",
        ["auth kiosk secret-demo", OPEN, "quit"],
        trees=(1,),
    ),
    Scenario(
        "init-charset-idpass",
        "`charset UTF-8` and `auth kiosk secret-demo` together: the InitRequest passes 127 "
        "octets of contents, so YAZ writes it with indefinite lengths.",
        "init",
        ["charset UTF-8", "auth kiosk secret-demo", OPEN, "quit"],
        trees=(1,),
    ),
    Scenario(
        "init-idpass-group",
        "`auth kiosk lib1 secret-demo` (three words: user, group, password): idPass with groupId.",
        "init",
        ["auth kiosk lib1 secret-demo", OPEN, "quit"],
        trees=(1,),
    ),
    Scenario(
        "init-open-auth",
        "`auth kiosk/secret-demo` (one word): idAuthentication open, a VisibleString.",
        "init",
        ["auth kiosk/secret-demo", OPEN, "quit"],
        trees=(1,),
    ),
    Scenario(
        "init-v2",
        "`zversion 2`: a Z39.50 version 2 InitRequest (protocolVersion bits 11) and answer.",
        "init search",
        ["zversion 2", OPEN, "find @attr 1=4 kieu", "quit"],
        trees=(1, 2),
    ),
    Scenario(
        "init-zoomsh",
        "ZOOM-C InitRequest: charset UTF-8, user and password options (idPass).",
        "init",
        zoomsh=["set charset UTF-8", "set user kiosk", "set password secret-demo"]
        + ["connect {target}", "quit"],
        trees=(1,),
    ),
    Scenario(
        "init-zoomsh-open",
        "ZOOM-C with only the user option set (`kiosk/secret-demo`): idAuthentication open.",
        "init",
        zoomsh=["set user kiosk/secret-demo", "connect {target}", "quit"],
    ),
    Scenario(
        "init-charset-utf8-zebra",
        "`charset UTF-8` against Zebra (encoding utf-8): the InitResponse accepts ISO 10646 "
        "UTF-8 with recordsInSelectedCharSets TRUE, the answer our target should give.",
        "init",
        ["charset UTF-8", OPEN, "quit"],
        server="zebra",
        excerpt=("initResponse",),
        trees=(2,),
    ),
    # ---- Search
    Scenario(
        "search-keyword-title",
        "Bath level 0 keyword title search, all six Bib-1 attribute types.",
        "init search",
        [OPEN, "find @attr 1=4 @attr 2=3 @attr 3=3 @attr 4=2 @attr 5=100 @attr 6=1 kieu", "quit"],
        excerpt=("searchRequest",),
        trees=(3,),
    ),
    Scenario(
        "search-isbn-koha",
        "Koha's ISBN search (1=7, 5=1). yaz-ztest takes a numeric term as the hit count, "
        "hence 131103628 hits.",
        "init search",
        [OPEN, "find @attr 1=7 @attr 5=1 0131103628", "quit"],
    ),
    Scenario(
        "search-lc-callnumber-koha",
        "Koha's LC call number search (1=16 2=3 3=1 4=1 5=1 6=1), quoted term.",
        "init search",
        [OPEN, 'find @attr 1=16 @attr 2=3 @attr 3=1 @attr 4=1 @attr 5=1 @attr 6=1 "QA76"', "quit"],
    ),
    Scenario(
        "search-and-or-not",
        "Nested RPN: @and (@or title author) (@not subject date>=1990); `@not` is AND-NOT.",
        "init search",
        [
            OPEN,
            "find @and @or @attr 1=4 a @attr 1=1003 b @not @attr 1=21 c @attr 1=31 @attr 2=4 1990",
            "quit",
        ],
        trees=(3,),
    ),
    Scenario(
        "search-no-attributes",
        "A bare term: the attributes SEQUENCE is present and empty.",
        "init search",
        [OPEN, "find kieu", "quit"],
        trees=(3,),
    ),
    Scenario(
        "search-named-set",
        "yaz-client names result sets 1, 2, ...; the third search is `@and @set 1 @set 2` "
        "(resultSetId operands).",
        "init search search search",
        [OPEN, "find @attr 1=4 kieu", "find @attr 1=1003 du", "find @and @set 1 @set 2", "quit"],
        excerpt=("searchRequest#3",),
    ),
    Scenario(
        "search-setnames-off",
        "`setnames` switches yaz-client's set numbering off: resultSetName is 'default'.",
        "init search",
        [OPEN, "setnames", "find @attr 1=4 kieu", "quit"],
    ),
    Scenario(
        "search-named-set-zoomsh",
        "ZOOM-C with `set setname myset`: resultSetName 'myset', then a Present from it.",
        "init search present",
        zoomsh=["set setname myset", "set preferredRecordSyntax usmarc", "connect {target}"]
        + ["search @attr 1=4 kieu", "show 0 1", "quit"],
    ),
    Scenario(
        "search-vietnamese-utf8",
        "`charset UTF-8` then a Vietnamese term. yaz-ztest accepted only ISO-8859-1, so "
        "yaz-client converts the term to Latin-1 and silently drops 'ễ': 'Nguyn Du'.",
        "init search",
        ["charset UTF-8", OPEN, 'find @attr 1=1003 "Nguyễn Du"', "quit"],
        excerpt=("searchRequest",),
    ),
    Scenario(
        "search-vietnamese-raw",
        "No negotiation: yaz-client passes the command file's UTF-8 bytes through unchanged.",
        "init search",
        [OPEN, 'find @attr 1=1003 "Nguyễn Du"', "quit"],
    ),
    Scenario(
        "search-vietnamese-zoomsh",
        "ZOOM-C with charset UTF-8 sends the UTF-8 term as is even though the target "
        "answered ISO-8859-1.",
        "init search",
        zoomsh=["set charset UTF-8", "connect {target}", 'search @attr 1=1003 "Nguyễn Du"']
        + ["quit"],
    ),
    Scenario(
        "search-vietnamese-utf8-zebra",
        "UTF-8 negotiated with Zebra: the term stays UTF-8 (Nguy\\xe1\\xbb\\x85n); Zebra's "
        "empty 'Default' answers diagnostic 109 (a nonSurrogateDiagnostic SearchResponse).",
        "init search",
        ["charset UTF-8", OPEN, 'find @attr 1=1003 "Nguyễn Du"', "quit"],
        server="zebra",
        trees=(4,),
    ),
    Scenario(
        "search-piggyback",
        "Set bounds from yaz-client (ssub 5, lslb 20, mspn 2; SUTRS, element set B): 14 hits "
        "is a medium set (2 records piggy-backed), 3 hits a small set (all 3).",
        "init search search",
        [OPEN, "ssub 5", "lslb 20", "mspn 2", "format sutrs", "elements B"]
        + ["find @attr 1=4 kieu", "find @attr 1=4 3", "quit"],
        trees=(3, 4),
    ),
    Scenario(
        "search-piggyback-zoomsh",
        "ZOOM-C with count 2: smallSetUpperBound 1, largeSetLowerBound 2000000000, "
        "mediumSetPresentNumber 2; two USMARC records in the SearchResponse.",
        "init search",
        zoomsh=["set count 2", "set preferredRecordSyntax usmarc", "connect {target}"]
        + ["search @attr 1=4 kieu", "quit"],
    ),
    Scenario(
        "search-cql",
        "`querytype cql`: a type-104 query (EXTERNAL 1.2.840.10003.16.2 with the CQL string).",
        "init search",
        [OPEN, "querytype cql", "find title=kieu", "quit"],
        trees=(3,),
    ),
    Scenario(
        "search-database-unavailable",
        "Search in an unknown database: nonSurrogateDiagnostic 109 with addinfo 'Nope'.",
        "init search",
        [OPEN, "base Nope", "find @attr 1=4 kieu", "quit"],
        trees=(4,),
    ),
    Scenario(
        "search-two-databases",
        "Two databaseNames: yaz-ztest refuses with diagnostic 23.",
        "init search",
        [OPEN, "base Default Other", "find @attr 1=4 kieu", "quit"],
    ),
    # ---- Present
    Scenario(
        "present-marc21",
        "Present 1+3 as USMARC/MARC 21 (1.2.840.10003.5.10), element set F: three ISO 2709 "
        "records in octet-aligned EXTERNALs.",
        "init search present",
        [OPEN, "find @attr 1=4 kieu", "format marc21", "elements F", "show 1+3", "quit"],
        excerpt=("presentRequest",),
    ),
    Scenario(
        "present-xml",
        "Present 1+3 as XML (1.2.840.10003.5.109.10), no element set: MARCXML records "
        "(octet-aligned EXTERNALs).",
        "init search present",
        [OPEN, "find @attr 1=4 kieu", "format xml", "show 1+3", "quit"],
    ),
    Scenario(
        "present-xml-esn-f",
        "Present 1+3 as XML with element set F, which yaz-ztest's XML records lack: one "
        "surrogate diagnostic 14 (system error in presenting records) per record.",
        "init search present",
        [OPEN, "find @attr 1=4 kieu", "format xml", "elements F", "show 1+3", "quit"],
        trees=(6,),
    ),
    Scenario(
        "present-opac",
        "Present 1+3 as OPAC (1.2.840.10003.5.102): bibliographic record plus holdings and "
        "circulation, a single-ASN1-type EXTERNAL.",
        "init search present",
        [OPEN, "find @attr 1=4 kieu", "format opac", "elements F", "show 1+3", "quit"],
        trees=(6,),
    ),
    Scenario(
        "present-sutrs",
        "Present 1+3 as SUTRS (1.2.840.10003.5.101).",
        "init search present",
        [OPEN, "find @attr 1=4 kieu", "format sutrs", "elements F", "show 1+3", "quit"],
        trees=(6,),
    ),
    Scenario(
        "present-brief",
        "Present 1+3 as USMARC with element set B (yaz-ztest ignores the element set for MARC).",
        "init search present",
        [OPEN, "find @attr 1=4 kieu", "format marc21", "elements B", "show 1+3", "quit"],
        trees=(5,),
    ),
    Scenario(
        "present-no-composition",
        "`format sutrs` without `elements`: the PresentRequest has no recordComposition.",
        "init search present",
        [OPEN, "find @attr 1=4 kieu", "format sutrs", "show 1", "quit"],
    ),
    Scenario(
        "present-out-of-range",
        "Present record 5 of 3: a nonSurrogateDiagnostic 13 PresentResponse (presentStatus 5).",
        "init search present",
        [OPEN, "find @attr 1=4 3", "format marc21", "show 5", "quit"],
        trees=(6,),
    ),
    Scenario(
        "present-syntax-unsupported",
        "Present as HTML (1.2.840.10003.5.109.3), which yaz-ztest lacks: diagnostic 239.",
        "init search present",
        [OPEN, "find @attr 1=4 3", "format html", "show 1", "quit"],
    ),
    # ---- Scan
    Scenario(
        "scan-title",
        "Scan title from 'kieu', position 1, 5 terms; yaz-ztest lists its dummy-words.",
        "init scan",
        [OPEN, "scanpos 1", "scansize 5", "scan @attr 1=4 kieu", "quit"],
        excerpt=("scanRequest",),
        trees=(4,),
    ),
    Scenario(
        "scan-position-middle",
        "Scan title from 'kim' with preferredPositionInResponse 3 of 5.",
        "init scan",
        [OPEN, "scanpos 3", "scansize 5", "scan @attr 1=4 kim", "quit"],
    ),
    Scenario(
        "scan-step-unsupported",
        "`scanstep 1`: yaz-ztest answers scanStatus 6 (failure) with diagnostic 205 "
        "(only zero step size supported).",
        "init scan",
        [OPEN, "scanstep 1", "scansize 5", "scan @attr 1=21 kieu", "quit"],
        trees=(4,),
    ),
    Scenario(
        "scan-zoomsh",
        "ZOOM-C scan (its defaults: 20 terms, position 1).",
        "init scan",
        zoomsh=["connect {target}", "scan @attr 1=4 kieu", "quit"],
    ),
    # ---- Sort
    Scenario(
        "sort-title-ascending",
        "`sort 1=4 ia`: sortAttributes (Bib-1 use 4), sortRelation 0 (ascending), "
        "caseSensitivity 1 (insensitive), missingValueAction null.",
        "init search sort",
        [OPEN, "find @attr 1=4 kieu", "sort 1=4 ia", "quit"],
        excerpt=("sortRequest",),
        trees=(5,),
    ),
    Scenario(
        "sort-title-descending",
        "`sort 1=4 id`: sortRelation 1 (descending).",
        "init search sort",
        [OPEN, "find @attr 1=4 kieu", "sort 1=4 id", "quit"],
    ),
    Scenario(
        "sort-two-keys",
        "`sort 1=1003 ia 1=31 ds`: author ascending then date descending, case sensitive "
        "(caseSensitivity 0).",
        "init search sort",
        [OPEN, "find @attr 1=4 kieu", "sort 1=1003 ia 1=31 ds", "quit"],
    ),
    Scenario(
        "sort-field-name",
        "`sort title a`: no '=' in the key, so a sortField InternationalString 'title'.",
        "init search sort",
        [OPEN, "find @attr 1=4 kieu", "sort title a", "quit"],
        trees=(5,),
    ),
    Scenario(
        "sort-into-new-set",
        "`sort+ 1=4 ia`: sortedResultSetName is a new set ('2'), not the input set ('1').",
        "init search sort",
        [OPEN, "find @attr 1=4 kieu", "sort+ 1=4 ia", "quit"],
    ),
    Scenario(
        "sort-zoomsh",
        "ZOOM-C `sort 1=4 ia` on its result set 'default'.",
        "init search sort",
        zoomsh=["connect {target}", "search @attr 1=4 kieu", "sort 1=4 ia", "quit"],
    ),
    # ---- Delete, Close
    Scenario(
        "delete-set",
        "`delete 1`: deleteFunction 0 (list) with resultSetList ['1']; success per set.",
        "init search delete",
        [OPEN, "find @attr 1=4 kieu", "delete 1", "quit"],
        trees=(5, 6),
    ),
    Scenario(
        "delete-missing-set",
        "`delete nosuch`: yaz-ztest answers status 1 (resultSetDidNotExist) for the set.",
        "init search delete",
        [OPEN, "find @attr 1=4 kieu", "delete nosuch", "quit"],
    ),
    Scenario(
        "delete-all",
        "`delete` without a name: deleteFunction 1 (all), no resultSetList.",
        "init search delete",
        [OPEN, "find @attr 1=4 kieu", "delete", "quit"],
        trees=(5, 6),
    ),
    Scenario(
        "close",
        "`close`: the client's Close (reason 0 finished) and the server's Close in reply "
        "(reason 0, diagnosticInformation).",
        "init close",
        [OPEN, "close", "quit"],
        trees=(3, 4),
    ),
    # ---- A whole zoomsh session
    Scenario(
        "zoomsh-session",
        "One zoomsh session: UTF-8 negotiation, search, show, scan.",
        "init search present scan",
        zoomsh=["set charset UTF-8", "connect {target}", "search @attr 1=4 kieu", "show 0 1"]
        + ["scan @attr 1=4 kieu", "quit"],
    ),
]


@dataclass
class Result:
    scenario: Scenario
    pdus: list[Captured]
    trace: str
    output: str
    command_text: str
    skipped: list[str] = field(default_factory=list)


def expected_names(expect: str) -> list[tuple[str, str]]:
    names: list[tuple[str, str]] = []
    for word in expect.split():
        request, response = EXCHANGES[word]
        names += [("client", request), ("server", response)]
    return names


def run_scenario(scenario: Scenario, server: Server, work: Path) -> Result:
    folder = work / scenario.name
    folder.mkdir(parents=True)
    proxy = RecordingProxy(server.port)
    target = f"127.0.0.1:{proxy.port}/{scenario.database}"
    trace = folder / "apdu.txt"
    dumps = folder / "dump"
    if scenario.commands is not None:
        commands = [line.format(target=target) for line in scenario.commands]
        (folder / "cmds").write_text("\n".join(commands) + "\n")
        dumps.mkdir()
        argv = ["yaz-client", "-a", str(trace), "-d", str(dumps / "dump"), "-f", "cmds"]
        command_text = "\n".join(
            line.format(target="127.0.0.1:PORT/" + scenario.database) for line in scenario.commands
        )
    else:
        assert scenario.zoomsh is not None
        arguments = [arg.format(target=target) for arg in scenario.zoomsh]
        argv = ["zoomsh", "-a", str(trace), *arguments]
        shown = [
            arg.format(target="127.0.0.1:PORT/" + scenario.database) for arg in scenario.zoomsh
        ]
        command_text = "zoomsh " + " ".join(shell_quote(arg) for arg in shown)
    completed = subprocess.run(
        argv,
        cwd=folder,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=CLIENT_TIMEOUT,
    )
    pdus = proxy.finish()
    problems = list(proxy.problems)
    got = [(pdu.direction, apdu_name(pdu.data)) for pdu in pdus]
    if got != expected_names(scenario.expect):
        problems.append(f"expected {expected_names(scenario.expect)}, captured {got}")
    if scenario.commands is not None:
        dumped = [path.read_bytes() for path in sorted(dumps.glob("dump.*.raw"))]
        if dumped != [pdu.data for pdu in pdus]:
            problems.append(
                f"the proxy's capture differs from yaz-client's -d dumps "
                f"({len(pdus)} captured, {len(dumped)} dumped)"
            )
    if len({pdu.connection for pdu in pdus}) > 1:
        problems.append("more than one connection")
    output = completed.stdout.decode("utf-8", "replace")
    if problems:
        detail = "\n  ".join(problems)
        raise RuntimeError(
            f"scenario {scenario.name}:\n  {detail}\n--- client output ---\n{output}"
        )
    text = trace.read_text("utf-8", "replace") if trace.exists() else ""
    return Result(scenario, pdus, text, output, command_text)


def shell_quote(arg: str) -> str:
    if re.fullmatch(r"[\w@=./:+-]+", arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def excerpt_block(trace: str, spec: str) -> str:
    """The ``spec`` APDU block ("name" or "name#n") of an -a trace, long strings shortened."""
    name, _, nth = spec.partition("#")
    wanted = int(nth or 1)
    lines = trace.splitlines()
    seen = 0
    for index, line in enumerate(lines):
        if line == f"{name} {{":
            seen += 1
            if seen == wanted:
                block = []
                for inner in lines[index:]:
                    if len(inner) > 100:
                        inner = inner[:97] + "..."
                    block.append(inner)
                    if inner == "}":
                        break
                return "\n".join(block)
    return f"({spec} not in the trace)"


# --------------------------------------------------------------------------------------
# Output


def file_name(result: Result, number: int, pdu: Captured) -> str:
    return f"{result.scenario.name}-{number:02d}-{pdu.direction}-{apdu_name(pdu.data)}.ber"


def yaz_version() -> str:
    completed = subprocess.run(["yaz-client", "-V"], capture_output=True, text=True, timeout=10)
    return completed.stdout.strip().removeprefix("YAZ version:").strip()


def zebra_version() -> str | None:
    if not shutil.which("dpkg-query"):
        return "unknown version"
    completed = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "idzebra-2.0"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return completed.stdout.strip() or "unknown version"


#: Captured PDUs re-encoded: (scenario, PDU number, "indefinite" or "definite").
SYNTHETIC = [
    ("init-charset-utf8", 1, "indefinite"),
    ("search-keyword-title", 3, "indefinite"),
    ("init-zoomsh", 1, "definite"),
    ("search-and-or-not", 3, "definite"),
    ("present-opac", 6, "definite"),
]


def write_outputs(results: list[Result], out: Path, versions: dict[str, str]) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.ber"):
        old.unlink()
    written: list[str] = []
    indefinite_files: list[str] = []
    for result in results:
        for number, pdu in enumerate(result.pdus, 1):
            name = file_name(result, number, pdu)
            if "indefinite" in length_forms(pdu.data):
                indefinite_files.append(name)
            if len(pdu.data) > MAX_FILE:
                result.skipped.append(f"{name} ({len(pdu.data)} octets)")
                continue
            (out / name).write_bytes(pdu.data)
            written.append(name)
    synthetic: list[tuple[str, str]] = []
    for result in results:
        for scenario, number, form in SYNTHETIC:
            if result.scenario.name != scenario:
                continue
            source = file_name(result, number, result.pdus[number - 1])
            name = f"synthetic-{form}-{source}"
            data = reencode(result.pdus[number - 1].data, indefinite=form == "indefinite")
            if data == result.pdus[number - 1].data:
                raise RuntimeError(f"{name} would be identical to {source}")
            (out / name).write_bytes(data)
            written.append(name)
            synthetic.append((name, source))
    census = length_census([pdu.data for result in results for pdu in result.pdus])
    readme = render_readme(results, versions, census, indefinite_files, synthetic)
    (out / "README.md").write_text(readme)
    return written


def hex_lines(data: bytes, width: int = 16) -> str:
    return "\n".join(data[i : i + width].hex(" ") for i in range(0, len(data), width))


def charset_other_info(initial: bytes) -> bytes | None:
    """The otherInfo ([201]) element of an Init APDU, as sent."""
    tree = parse(initial)
    for node in tree[0].children:
        if node.header.tag_class == 2 and node.header.number == 201:
            end = element_end(initial, node.start)
            assert end is not None
            return initial[node.start : end]
    return None


def render_readme(
    results: list[Result],
    versions: dict[str, str],
    census: dict[tuple[str, str, str], int],
    indefinite_files: list[str],
    synthetic: list[tuple[str, str]],
) -> str:
    by_name = {result.scenario.name: result for result in results}
    lines = [
        "# Z39.50 golden vectors (captured from YAZ)",
        "",
        "Real BER APDUs from YAZ's clients (`yaz-client`, `zoomsh`) and YAZ's servers "
        "(`yaz-ztest`, and Zebra where noted), for the codec tests of `protocols/z3950/`. "
        "Every file is one whole APDU exactly as it crossed the wire: "
        "`<scenario>-<nn>-<client|server>-<apdu>.ber`, `nn` the PDU's place in the session.",
        "",
        "Regenerate everything (this README included) with `python3 bench/capture_z3950.py`: "
        "it starts yaz-ztest (and zebrasrv when installed) on free loopback ports, runs each "
        "scenario through a recording proxy, checks the APDU sequence each scenario must "
        "produce and, for yaz-client, that the proxy's bytes equal yaz-client's own `-d` raw "
        "dumps, then rewrites `*.ber` and this file. Do not edit by hand.",
        "",
        f"- YAZ: {versions['yaz']} (yaz-client, zoomsh, yaz-ztest: Debian package `yaz`)",
    ]
    if versions.get("zebra"):
        lines.append(f"- Zebra: {versions['zebra']} (Debian `idzebra-2.0`, empty database)")
    lines += [
        "- yaz-ztest runs as `yaz-ztest -S -w DIR -l LOG tcp:127.0.0.1:PORT`; DIR holds the "
        "`dummy-words` file its scan handler needs (Debian ships none; contents in the "
        "script): " + ", ".join(DUMMY_WORDS.split()) + ".",
        "- yaz-client runs as `yaz-client -a TRACE -d DUMP -f cmds`; zoomsh as "
        "`zoomsh -a TRACE ...`. PORT is the proxy's port.",
        "- yaz-ztest's hit counts are not random: a numeric term is taken as the hit count, "
        "other terms hash to 0-23. Its records are its built-in dummies.",
        "",
        "- Decoded trees below: one TLV a line, its identifier and length octets, then tag "
        "(`[n]` context, universal by name), length (`indef` for 0x80) and primitive contents "
        "(text, or hex; `(=n)` reads short contents as an integer whatever the type).",
        "",
        "## Findings",
        "",
    ]
    lines += findings(by_name, census, indefinite_files)
    lines += ["", "## Scenarios and files", ""]
    for result in results:
        scenario = result.scenario
        server = "Zebra" if scenario.server == "zebra" else "yaz-ztest"
        lines += [f"### {scenario.name}", "", f"{scenario.what} (server: {server})", ""]
        lines += ["```", result.command_text, "```", ""]
        for number, pdu in enumerate(result.pdus, 1):
            name = file_name(result, number, pdu)
            if len(pdu.data) > MAX_FILE:
                lines.append(f"- `{name}`: {len(pdu.data)} octets, over 20 kB, not kept")
            else:
                lines.append(f"- `{name}` ({len(pdu.data)} octets)")
        for spec in scenario.excerpt:
            lines += ["", f"Trace excerpt ({spec}):", "", "```", excerpt_block(result.trace, spec)]
            lines += ["```"]
        for number in scenario.trees:
            pdu = result.pdus[number - 1]
            lines += ["", f"Decoded `{file_name(result, number, pdu)}`:"]
            lines += ["", "```", tree_text(pdu.data, limit=70), "```"]
        lines.append("")
    lines += [
        "## Synthetic re-encodings",
        "",
        "Not captured: the script rewrites the lengths of these captured APDUs, every "
        "constructed element's length either indefinite (`synthetic-indefinite-*`, from "
        "all-definite captures) or definite in the shortest form (`synthetic-definite-*`, "
        "from captures in which YAZ used indefinite lengths); identifiers and primitive "
        "elements are untouched. Each pair is the same value: decoding both must give the "
        "same APDU, and normalising indefinite lengths to definite ones must turn an "
        "indefinite file into the definite one byte for byte (the capture itself for "
        "`synthetic-indefinite-*`, the synthetic file for `synthetic-definite-*`).",
        "",
    ]
    for name, source in synthetic:
        lines.append(f"- `{name}` from `{source}`")
    lines.append("")
    return "\n".join(lines)


def findings(
    by_name: dict[str, Result],
    census: dict[tuple[str, str, str], int],
    indefinite_files: list[str],
) -> list[str]:
    lines: list[str] = []
    count = sum(len(result.pdus) for result in by_name.values())
    table = "; ".join(f"{a}, {b}, {c}: {n}" for (a, b, c), n in sorted(census.items()))
    constructed_forms = {(b, c) for (a, b, c) in census if a == "constructed"}
    rule = constructed_forms <= {
        ("indefinite", "contents >= 128"),
        ("short definite", "contents < 128"),
    }
    if indefinite_files:
        clients = [name for name in indefinite_files if "-client-" in name]
        lines.append(
            f"- **Indefinite lengths: yes**, in {len(indefinite_files)} of the {count} "
            f"captured PDUs, from servers and clients alike ({len(clients)} client PDUs: "
            + ", ".join(f"`{name}`" for name in clients)
            + ")."
            + (
                " The rule (YAZ's ODR encoder): a constructed element whose contents are "
                "under 128 octets gets a one-octet definite length, one with 128 octets or "
                "more gets the indefinite form (0x80 ... 00 00); YAZ never writes a long-form "
                "definite length on a constructed element. Primitive elements are always "
                "definite (long form, e.g. 0x82 for a 366-octet MARC record). So any APDU "
                "over about 130 octets starts `<tag> 80`: every PresentResponse with a real "
                "record, an InitResponse with a negotiation answer, a SearchRequest with a "
                "nested query, an InitRequest with charset plus idPass."
                if rule
                else ""
            )
        )
    else:
        lines.append(f"- Indefinite lengths: none in the {count} captured PDUs.")
    lines.append(f"- Length census over every TLV of every captured PDU: {table}.")
    utf8 = by_name.get("init-charset-utf8")
    if utf8:
        request = utf8.pdus[0].data
        other = charset_other_info(request)
        zoom = by_name.get("init-zoomsh")
        zoom_other = charset_other_info(zoom.pdus[0].data) if zoom else None
        same = "zoomsh's is byte for byte the same" if zoom_other == other else "zoomsh's differs"
        if other:
            lines += [
                f"- Charset negotiation proposal (`charset UTF-8`, yaz-client; {same}): "
                "InitRequest otherInfo [201], one OtherInformation unit whose "
                "externallyDefinedInfo [4] is an EXTERNAL with direct-reference "
                "1.2.840.10003.15.3 and single-ASN1-type [0] holding the "
                "CharSetandLanguageNegotiation CHOICE proposal [1]: proposedCharSets [1] with "
                "one iso10646 [2] element whose encodingLevel [2] is the OID 1.0.10646.1.0.8 "
                "(UTF-8), and recordsInSelectedCharSets [3] TRUE. No proposedLanguages. "
                f"The otherInfo element as sent ({len(other)} octets):",
                "",
                "  ```",
                *("  " + line for line in hex_lines(other).splitlines()),
                "  ```",
            ]
    lines += STATIC_FINDINGS
    zebra = by_name.get("init-charset-utf8-zebra")
    answer = charset_other_info(zebra.pdus[1].data) if zebra else None
    if answer:
        lines += [
            f"- Zebra's UTF-8 acceptance, the otherInfo of its InitResponse ({len(answer)} "
            "octets; the same layout as the proposal, with response [2] for proposal [1]):",
            "",
            "  ```",
            *("  " + line for line in hex_lines(answer).splitlines()),
            "  ```",
        ]
    return lines


STATIC_FINDINGS = [
    "- The negotiation is only sent when asked for: without `charset`, yaz-client's "
    "InitRequest has no otherInfo and its options BIT STRING carries two octets of bits "
    "(`84 03 00 e9 a2`) without negotiationModel; with `charset X` it carries three and bit "
    "17 (negotiationModel) is set (`84 04 00 e9 a2 40`). zoomsh proposes fewer options "
    "(no delSet, scan, sort bits: 11000001-10100010-01) but the same proposal. `charset` is "
    "a client-side setting: it must precede `open`.",
    "- Other charsets: `charset MARC-8` is proposed as private [3] -> externallySpecified "
    "[2] (an IMPLICIT EXTERNAL) with YAZ's private OID 1.2.840.10003.15.1000.81.1 and the "
    "name as octet-aligned [1] 'MARC-8' (not as iso10646). Only UTF-8 (and the other ISO "
    "10646 forms) use the iso10646 [2] branch.",
    "- yaz-ztest always answers the negotiation with ISO-8859-1 (its backend sets "
    "query_charset ISO-8859-1, records_in_same_charset 0): response [2] -> selectedCharSets "
    "[1] -> private [3] -> externallySpecified [2] {1.2.840.10003.15.1000.81.1, [1] "
    "'ISO-8859-1'}, recordsInSelectedCharSets [3] FALSE. A target that accepts UTF-8 answers "
    "like Zebra (`init-charset-utf8-zebra`): response [2] -> selectedCharSets [1] -> "
    "iso10646 [2] -> encodingLevel [2] 1.0.10646.1.0.8, recordsInSelectedCharSets [3] TRUE, "
    "no selectedLanguage (bytes below). The negotiation response is only sent when the client "
    "set negotiationModel and sent a proposal.",
    "- Consequence (`search-vietnamese-utf8`): after a Latin-1 answer yaz-client converts "
    "query terms from UTF-8 to ISO-8859-1 and silently drops what Latin-1 lacks: "
    "'Nguyễn Du' goes out as the 8 octets 'Nguyn Du'. zoomsh does not convert (it sends the "
    "UTF-8 bytes whatever the answer), and yaz-client without negotiation sends the raw "
    "UTF-8 it read. So our target must answer UTF-8 in iso10646 form, or yaz-client users "
    "lose diacritics before the query leaves their machine.",
    "- Authentication: idAuthentication is [7], explicit around the untagged CHOICE. "
    "`auth user pass` (two words) and zoomsh user+password give idPass, a universal "
    "SEQUENCE (`a7 16 30 14 81 05 kiosk 82 0b secret-demo`) of userId [1] and password [2]; "
    "groupId [0] comes first, and only with three words (`auth user group pass`). "
    "`auth user/pass` (one word) and zoomsh with user alone give open, a bare VisibleString: "
    "`a7 13 1a 11 kiosk/secret-demo`. The credentials travel in clear.",
    "- Init defaults: yaz-client proposes preferredMessageSize and maximumRecordSize "
    "67108864 (64 MB, `-k` default), protocolVersion bits 111 (v1-v3; `zversion 2` sends "
    "11), implementationId '81', name 'YAZ' (zoomsh: 'ZOOM-C/YAZ'). In every capture "
    "yaz-ztest's InitResponse repeats the client's sizes and option bits.",
    "- Search: yaz-client sends smallSetUpperBound 0, largeSetLowerBound 1, "
    "mediumSetPresentNumber 0 (no piggy-backing) unless `ssub/lslb/mspn` are set; "
    "replaceIndicator TRUE; resultSetName '1', '2', ... (one per search; 'default' after "
    "`setnames`; zoomsh: 'default' or its setname option). The attribute set OID "
    "1.2.840.10003.3.1 is sent once, at the query level; attribute elements carry no "
    "attributeSet. yaz-client lists the attributes in reverse order of the PQF (6, 5, 4, 3, "
    "2, 1 for the title search). A bare term still has an attributes SEQUENCE, empty. "
    "When a record syntax is set, the SearchRequest carries preferredRecordSyntax [104] "
    "(both clients); in `search-piggyback` yaz-client's `elements B` also goes in, as "
    "small/mediumSetElementSetNames [100]/[101] generic 'B'.",
    "- RPN: the query is type-1 [1] {attributeSet OID, RPNStructure}; an operand is op [0] "
    "-> attrTerm [102] {attributes [44] SEQUENCE OF {attributeType [120], numeric [121]}, "
    "general [45] term}; `@and/@or/@not` give rpnRpnOp [1] {left, right, Operator [46] "
    "{and [0] | or [1] | and-not [2] NULL}}; `@set 1` gives a resultSetId [31] operand. "
    "BOOLEAN TRUE is written 0x01 (replaceIndicator `90 01 01`), not 0xFF. BIT STRINGs "
    "always say 0 unused bits and pad with zero bits (protocolVersion `83 02 00 e0`). "
    "`querytype cql` gives "
    "type-104 [104]: an EXTERNAL 1.2.840.10003.16.2 whose encoding is [0] EXPLICIT "
    "InternationalString (universal 27) 'title=kieu'.",
    "- Records: USMARC and XML come as EXTERNAL octet-aligned [1]; SUTRS as "
    "single-ASN1-type [0] EXPLICIT holding an InternationalString (GeneralString, universal "
    "27); OPAC as single-ASN1-type [0] holding the OPACRecord SEQUENCE (bibliographicRecord "
    "[1] an EXTERNAL USMARC record, holdingsData [2]). Each record is a NamePlusRecord with "
    "name [0] 'Default'. Diagnostics use the Bib-1 set 1.2.840.10003.4.1 with v2Addinfo "
    "(VisibleString), also in v3 sessions.",
    "- Scan: termListAndStartPoint is an AttributesPlusTerm; attributeSet 1.2.840.10003.3.1 "
    "sits at the request level; stepSize 0 is sent explicitly; numberOfTermsRequested from "
    "`scansize` (yaz-client and zoomsh default 20) and preferredPositionInResponse from "
    "`scanpos` (default 1). yaz-ztest's response has stepSize 0, scanStatus 5 (partial-5, "
    "end of its list) and termInfo entries with the term in general and globalOccurrences; "
    "with a non-zero stepSize it fails (scanStatus 6, diagnostic 205).",
    "- Sort: `sort 1=4 ia` is inputResultSetNames [3] {'1'}, sortedResultSetName [4] '1', "
    "sortSequence [5] of one SortKeySpec: sortElement generic [1] -> sortAttributes [2] "
    "{id 1.2.840.10003.3.1, list [44] of AttributeElement (type 1, numeric 4)}, "
    "sortRelation [1] 0 (ascending), caseSensitivity [2] 1 (case insensitive), "
    "missingValueAction [3] -> null [2]: all three are always sent ('a' is the default; "
    "'d' or '>' gives sortRelation 1, 's' caseSensitivity 0, '!' abort [1], '=x' "
    "missingValueData [3]). A key without '=' becomes sortField [0] 'title'. "
    "inputResultSetNames and sortedResultSetName are the same set "
    "('1') except with `sort+`. yaz-ztest answers only sortStatus 0 (success) and never "
    "sorts.",
    "- Delete: `delete NAME` is deleteFunction 0 (list) with resultSetList; `delete` alone "
    "deleteFunction 1 (all) and no list. yaz-ztest reports success only for a set named '1' "
    "and deleteOperationStatus 1 (resultSetDidNotExist) otherwise, with a listStatuses "
    "entry per named set.",
    "- Close: yaz-client's Close carries only closeReason 0 (finished); yaz-ztest's reply "
    "adds diagnosticInformation 'Association terminated by client'. `quit` without `close` "
    "just drops the TCP connection, no Close APDU.",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--keep-temp", action="store_true", help="keep traces and dumps")
    args = parser.parse_args(argv)
    for tool in ("yaz-client", "zoomsh", "yaz-ztest"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing (Debian: apt-get install yaz)")
    work = Path(tempfile.mkdtemp(prefix="capture-z3950-"))
    servers: dict[str, Server] = {}
    results: list[Result] = []
    try:
        servers["ztest"] = start_ztest(work / "ztest")
        zebra = start_zebra(work / "zebra")
        if zebra is not None:
            servers["zebra"] = zebra
        for scenario in SCENARIOS:
            server = servers.get(scenario.server)
            if server is None:
                print(f"skipped {scenario.name}: {scenario.server} is not installed")
                continue
            result = run_scenario(scenario, server, work / "runs")
            results.append(result)
            print(f"{scenario.name}: {len(result.pdus)} PDUs")
    except RuntimeError as error:
        print(error, file=sys.stderr)
        print("nothing written", file=sys.stderr)
        return 1
    finally:
        for server in servers.values():
            server.stop()
        if args.keep_temp:
            print(f"traces and dumps kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    versions = {"yaz": yaz_version()}
    zebra_text = zebra_version() if "zebra" in {r.scenario.server for r in results} else None
    if zebra_text:
        versions["zebra"] = zebra_text
    written = write_outputs(results, args.out, versions)
    skipped = [item for result in results for item in result.skipped]
    print(f"{len(written)} files and README.md written to {args.out}")
    for item in skipped:
        print(f"not kept (over 20 kB): {item}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
