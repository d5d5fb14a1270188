"""BER framing for a Z39.50 byte stream (sans-IO): whole APDUs out of arbitrary reads.

TCP hands the target bytes in pieces that have nothing to do with APDU boundaries: several
APDUs in one read, one APDU over many. An APDU's extent comes only from its outer BER
header, which may give a definite length or, as YAZ clients sometimes send, an indefinite
one (contents closed by an end-of-contents octet pair, found by walking the nested TLVs).
asn1tools decodes indefinite lengths except inside an ANY (the contents of an EXTERNAL's
single-ASN1-type), so :func:`definite_lengths` rewrites an APDU that fails to decode and
used them, and the codec tries again.

Everything here is bounded: the declared or accumulated size of one APDU
(``max_pdu_size``), the nesting depth and the header sizes, so that a lying length, a
100 MB declaration or a nesting bomb ends the session with a :class:`ProtocolViolation`
before memory is spent on it.
"""

from __future__ import annotations

from .errors import ProtocolViolation

__all__ = ["Framer", "definite_lengths", "length_octets", "split_header", "MAX_DEPTH"]

#: Deepest TLV nesting accepted inside one APDU (a Type-1 query of 50 nested operators
#: is about 200 levels deep; YAZ itself refuses far less).
MAX_DEPTH = 1000
_MAX_LENGTH_OCTETS = 4  # lengths over 4 GiB are lies, whatever max_pdu_size says
_MAX_TAG_OCTETS = 4  # tag numbers up to 2**28; Z39.50 uses at most two octets


def _header(data: bytes | bytearray, pos: int, end: int) -> tuple[int, int | None, bool] | None:
    """Parse the TLV header at ``pos``: (contents start, length or None, constructed).

    Returns None when the header is not complete within ``data[:end]``.
    """
    if pos >= end:
        return None
    first = data[pos]
    constructed = bool(first & 0x20)
    pos += 1
    if first & 0x1F == 0x1F:  # high tag number: base-128 octets, last without bit 8
        for count in range(_MAX_TAG_OCTETS + 1):
            if pos >= end:
                return None
            octet = data[pos]
            pos += 1
            if count == 0 and octet == 0x80:
                raise ProtocolViolation("BER tag number has a leading zero octet")
            if not octet & 0x80:
                break
        else:
            raise ProtocolViolation("BER tag number is too long")
    if pos >= end:
        return None
    octet = data[pos]
    pos += 1
    if octet < 0x80:
        return pos, octet, constructed
    if octet == 0x80:
        if not constructed:
            raise ProtocolViolation("indefinite length on a primitive BER element")
        return pos, None, constructed
    count = octet & 0x7F
    if count > _MAX_LENGTH_OCTETS:
        raise ProtocolViolation(f"BER length of {count} octets")
    if pos + count > end:
        return None
    length = int.from_bytes(data[pos : pos + count], "big")
    return pos + count, length, constructed


def _walk(
    data: bytes | bytearray, pos: int, depth: int, end: int, limit: int
) -> tuple[int | None, int, int]:
    """Walk the TLVs of the element starting at offset 0 of ``data``, from ``pos`` with
    ``depth`` indefinite elements open; return (its end or None, pos, depth).

    A definite length gives an element's end at once. An indefinite one means walking the
    contents: definite children are skipped by their length, indefinite ones opened, and
    each closed by its end-of-contents pair. When more bytes are needed the walk returns
    where it stopped, so the next read resumes there instead of starting over (a client
    trickling a large APDU costs each byte once). ``limit`` caps the element's size.
    """
    while True:
        if depth and data[pos : pos + 2] == b"\x00\x00":
            pos += 2
            depth -= 1
        else:
            if depth and pos + 1 >= end:
                return None, pos, depth  # cannot yet tell end-of-contents from a header
            header = _header(data, pos, end)
            if header is None:
                return None, pos, depth
            contents, length, _constructed = header
            if length is None:
                if depth >= MAX_DEPTH:
                    raise ProtocolViolation(f"BER nesting deeper than {MAX_DEPTH} levels")
                depth += 1
                pos = contents
            else:
                if contents + length > limit:
                    raise ProtocolViolation(
                        f"APDU of {contents + length} bytes exceeds the limit of {limit}"
                    )
                if contents + length > end:
                    return None, pos, depth
                pos = contents + length
        if pos > limit:
            raise ProtocolViolation(f"APDU exceeds the limit of {limit} bytes")
        if not depth:
            return pos, pos, 0


def length_octets(length: int) -> bytes:
    """The definite length octets for ``length`` (short form under 128)."""
    if length < 0x80:
        return bytes((length,))
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def split_header(data: bytes | bytearray) -> tuple[bytes, int]:
    """The identifier octets of the complete TLV at the start of ``data``, and the offset
    where its contents start."""
    header = _header(data, 0, len(data))
    if header is None:
        raise ProtocolViolation("truncated BER element")
    return bytes(data[: _identifier_end(data, 0)]), header[0]


def _identifier_end(data: bytes | bytearray, pos: int) -> int:
    """Offset just past the identifier octets of the (complete) TLV at ``pos``."""
    end = pos + 1
    if data[pos] & 0x1F == 0x1F:  # high tag number: octets until one without bit 8
        while data[end] & 0x80:
            end += 1
        end += 1
    return end


def definite_lengths(data: bytes | bytearray) -> bytes:
    """The same BER value with every indefinite length replaced by its definite length.

    Walks with an explicit stack of open constructed elements, rebuilding each one's
    contents; depth is bounded by :data:`MAX_DEPTH`.
    """
    out_stack: list[tuple[bytes, bytearray, int | None]] = []  # (identifier, contents, end)
    result = bytearray()
    pos = 0
    end = len(data)
    while True:
        current = out_stack[-1] if out_stack else None
        if current is not None:
            identifier, contents, element_end = current
            closes = (element_end is None and data[pos : pos + 2] == b"\x00\x00") or (
                element_end is not None and pos == element_end
            )
            if closes:
                if element_end is None:
                    pos += 2
                out_stack.pop()
                finished = identifier + length_octets(len(contents)) + contents
                (out_stack[-1][1] if out_stack else result).extend(finished)
                if not out_stack:
                    return bytes(result)
                continue
        header = _header(data, pos, end)
        if header is None:
            raise ProtocolViolation("truncated BER element")
        contents_start, length, constructed = header
        identifier = bytes(data[pos : _identifier_end(data, pos)])
        if constructed:
            if len(out_stack) >= MAX_DEPTH:
                raise ProtocolViolation(f"BER nesting deeper than {MAX_DEPTH} levels")
            element_end = None if length is None else contents_start + length
            out_stack.append((identifier, bytearray(), element_end))
            pos = contents_start
            continue
        assert length is not None
        piece = data[pos : contents_start + length]
        if contents_start + length > end:
            raise ProtocolViolation("truncated BER element")
        pos = contents_start + length
        if current is None:
            return bytes(piece)
        current[1].extend(piece)


class Framer:
    """Accumulates stream bytes and yields whole APDUs, as sent (the codec normalises).

    ``feed`` raises :class:`ProtocolViolation` for bytes that cannot be an APDU (a
    universal-class or primitive outer tag, a length over the limit, bad nesting); the
    session must then end, since the stream can no longer be resynchronised.
    """

    def __init__(self, max_pdu_size: int) -> None:
        self.max_pdu_size = max_pdu_size
        self._buffer = bytearray()
        self._position = 0  # where the walk of the APDU being received resumes
        self._depth = 0

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a whole APDU."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the APDUs it completed, in order."""
        self._buffer.extend(data)
        pdus: list[bytes] = []
        while self._buffer:
            first = self._buffer[0]
            if first & 0xE0 != 0xA0:  # every APDU is a context-specific constructed tag
                raise ProtocolViolation(f"bytes that are not a Z39.50 APDU (0x{first:02x})")
            found, self._position, self._depth = _walk(
                self._buffer, self._position, self._depth, len(self._buffer), self.max_pdu_size
            )
            if found is None:
                if len(self._buffer) > self.max_pdu_size:
                    raise ProtocolViolation(f"APDU exceeds the limit of {self.max_pdu_size} bytes")
                break
            pdus.append(bytes(self._buffer[:found]))
            del self._buffer[:found]
            self._position = self._depth = 0
        return pdus
