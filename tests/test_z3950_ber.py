"""BER framing and the APDU codec: whole APDUs from any split of the stream, bounded."""

from __future__ import annotations

import os
import random

import pytest

from protocols.z3950.ber import MAX_DEPTH, Framer, definite_lengths
from protocols.z3950.codec import (
    bit_string,
    bits_of,
    decode_apdu,
    encode_apdu,
    text_of,
    wire_text,
)
from protocols.z3950.errors import ProtocolViolation

CLOSE = encode_apdu("close", {"closeReason": 0, "diagnosticInformation": "bye"})
SEARCH = encode_apdu(
    "searchRequest",
    {
        "smallSetUpperBound": 0,
        "largeSetLowerBound": 1,
        "mediumSetPresentNumber": 0,
        "replaceIndicator": True,
        "resultSetName": "default",
        "databaseNames": ["Default"],
        "query": ("type-1", {
            "attributeSet": "1.2.840.10003.3.1",
            "rpn": ("op", ("attrTerm", {
                "attributes": [{"attributeType": 1, "attributeValue": ("numeric", 4)}],
                "term": ("general", "Truyện Kiều".encode()),
            })),
        }),
    },
)  # fmt: skip


def indefinite(data: bytes) -> bytes:
    """The same APDU with its outer length made indefinite (as some YAZ clients send)."""
    header = 2 if data[0] & 0x1F != 0x1F else 3
    length_octet = data[header - 1]
    skip = header + (length_octet & 0x7F if length_octet & 0x80 else 0)
    return data[: header - 1] + b"\x80" + data[skip:] + b"\x00\x00"


def test_apdus_split_any_way_are_framed_whole() -> None:
    """Several APDUs in one read, one across many reads, one byte at a time: same APDUs."""
    stream = CLOSE + SEARCH + CLOSE
    for chunk in (len(stream), 1, 2, 3, 7):
        framer = Framer(1 << 20)
        out: list[bytes] = []
        for i in range(0, len(stream), chunk):
            out += framer.feed(stream[i : i + chunk])
        assert out == [CLOSE, SEARCH, CLOSE]
        assert framer.pending == 0


def test_indefinite_lengths_are_framed_and_rewritten_definite() -> None:
    """An indefinite-length APDU frames whole and decodes like the definite one."""
    sent = indefinite(SEARCH)
    assert sent != SEARCH
    framer = Framer(1 << 20)
    out = [pdu for byte in sent + CLOSE for pdu in framer.feed(bytes([byte]))]
    assert out == [sent, CLOSE]
    assert definite_lengths(sent) == SEARCH
    assert decode_apdu(sent) == decode_apdu(SEARCH)


def test_nested_indefinite_lengths_decode() -> None:
    """Indefinite lengths inside the APDU too (every constructed element) still decode."""

    def all_indefinite(data: bytes) -> bytes:
        # Re-encode every constructed element of ``data`` with an indefinite length.
        out = bytearray()
        pos = 0
        while pos < len(data):
            start = pos
            pos += 1
            if data[start] & 0x1F == 0x1F:
                while data[pos] & 0x80:
                    pos += 1
                pos += 1
            tag = data[start:pos]
            first = data[pos]
            pos += 1
            if first & 0x80:
                count = first & 0x7F
                length = int.from_bytes(data[pos : pos + count], "big")
                pos += count
            else:
                length = first
            body = data[pos : pos + length]
            pos += length
            if data[start] & 0x20:
                out += tag + b"\x80" + all_indefinite(body) + b"\x00\x00"
            else:
                out += tag + bytes([length]) + body if length < 128 else tag + body
        return bytes(out)

    sent = all_indefinite(SEARCH)
    assert Framer(1 << 20).feed(sent) == [sent]
    assert decode_apdu(sent) == decode_apdu(SEARCH)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"GET / HTTP/1.1\r\n\r\n", "not a Z39.50 APDU"),
        (b"\x30\x03\x02\x01\x00", "not a Z39.50 APDU"),  # universal SEQUENCE
        (b"\xb6\x84\x06\x00\x00\x00", "exceeds the limit"),  # 100 MB declared
        (b"\xb6\x89" + b"\xff" * 9, "length of 9 octets"),
        (b"\xbf\x80\x80\x14\x00", "leading zero"),
        (b"\xbf\xff\xff\xff\xff\xff\x01\x00", "tag number is too long"),
    ],
)
def test_impossible_streams_are_protocol_violations(data: bytes, reason: str) -> None:
    """Bytes that cannot start an APDU, or declare too much, end the session at once."""
    with pytest.raises(ProtocolViolation, match=reason):
        Framer(1 << 20).feed(data)


def test_a_lying_length_waits_within_the_limit_then_stops() -> None:
    """A header promising more than is sent buffers (bounded), never yields a short APDU."""
    framer = Framer(4096)
    assert framer.feed(b"\xb6\x82\x0f\xa0" + b"\x00" * 100) == []
    assert framer.pending == 104
    with pytest.raises(ProtocolViolation, match="exceeds the limit"):
        Framer(1000).feed(b"\xb6\x82\x0f\xa0")


def test_an_endless_indefinite_apdu_is_cut_at_the_limit() -> None:
    """Indefinite contents that never close stop at max_pdu_size, not at memory's end."""
    framer = Framer(10_000)
    with pytest.raises(ProtocolViolation):
        for _ in range(200):
            framer.feed(b"\xb6\x80" if framer.pending == 0 else b"\x04\x40" + b"x" * 64)


def test_nesting_bombs_are_refused_without_recursion() -> None:
    """Deeply nested indefinite elements end with a violation, not a RecursionError."""
    bomb = b"\xb6\x80" + b"\xa1\x80" * (MAX_DEPTH + 10)
    with pytest.raises(ProtocolViolation, match="nesting"):
        Framer(1 << 20).feed(bomb)
    deep = b"\xb6\x80" + b"\xa1\x80" * 50_000 + b"\x00\x00" * 50_001
    with pytest.raises(ProtocolViolation):
        Framer(1 << 20).feed(deep)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"\xbf\x2e\x00", "extendedServicesRequest is not supported"),
        (b"\xbf\x3c\x00", "unknown APDU"),
        (b"\xb6\x03\x02\x01\x00", "malformed searchRequest"),
        (SEARCH[:-3], "malformed searchRequest"),
    ],
)
def test_undecodable_apdus_raise_our_error(data: bytes, reason: str) -> None:
    """Unsupported services, unknown tags and broken contents name what was wrong."""
    with pytest.raises(ProtocolViolation, match=reason):
        decode_apdu(data)


def test_fuzzed_bytes_decode_or_raise_our_error() -> None:
    """Random and mutated APDUs: the framer and decoder give APDUs or ProtocolViolation."""
    rng = random.Random(1913)
    samples = [os.urandom(rng.randrange(1, 80)) for _ in range(1500)]
    for base in (SEARCH, CLOSE, indefinite(SEARCH)):
        for _ in range(1500):
            mutated = bytearray(base)
            for _ in range(rng.randrange(1, 4)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            samples.append(bytes(mutated[: rng.randrange(1, len(mutated) + 1)]))
    decoded = 0
    for sample in samples:
        try:
            for pdu in Framer(1 << 16).feed(sample):
                decode_apdu(pdu)
                decoded += 1
        except ProtocolViolation:
            pass
    assert decoded > 0  # some mutations stay valid: the decoder was really reached


def test_helpers_convert_strings_and_bits() -> None:
    """InternationalStrings carry UTF-8 bytes; BIT STRINGs list their set bits."""
    assert text_of(wire_text("Nguyễn Đình Chiểu")) == "Nguyễn Đình Chiểu"
    assert bits_of(bit_string({0, 2, 17}, 18)) == {0, 2, 17}
    assert bit_string({0, 1, 2}, 3) == (b"\xe0", 3)


@pytest.mark.parametrize("apdu", ["presentResponse", "searchResponse"])
@pytest.mark.parametrize("count", [0, 1, 3, 40])
def test_spliced_records_encode_exactly_as_asn1tools_would(apdu: str, count: int) -> None:
    """Pre-encoded NamePlusRecords spliced into a response give the very bytes of encoding
    the whole response at once (short and long lengths alike)."""
    from protocols.z3950.codec import EncodedRecords, encode_value, external

    named = [{"name": "dlk-tinh", "record": ("retrievalRecord", external(
        "1.2.840.10003.5.10", octets=b"x" * (i * 37)))} for i in range(count)]  # fmt: skip
    fields: dict[str, object] = {"referenceId": b"r", "numberOfRecordsReturned": count,
                                 "nextResultSetPosition": 1, "presentStatus": 0}  # fmt: skip
    if apdu == "searchResponse":
        fields |= {"resultCount": 99, "searchStatus": True}
    whole = encode_apdu(apdu, {**fields, "records": ("responseRecords", named)})
    items = [encode_value("NamePlusRecord", record) for record in named]
    spliced = encode_apdu(apdu, {**fields, "records": ("responseRecords", EncodedRecords(items))})
    assert spliced == whole
    assert decode_apdu(spliced)[1]["records"][1] == decode_apdu(whole)[1]["records"][1]
