"""SIP2 codec: byte-exact messages both ways, the reference's checksum vectors, every
tolerance case real kiosks need, Vietnamese text in each character set, and framing fed
byte by byte with CR, CRLF and LF terminators."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from protocols.sip2.codec import (
    MESSAGES,
    Charset,
    LineFramer,
    Message,
    checksum,
    decode_message,
    encode_message,
    parse_date,
    sip_date,
)
from protocols.sip2.errors import Problem, SIP2Error

NOW = "20261202    101500"

#: (wire bytes without terminator, command, fixed fields, variable fields) both ways.
CASES: list[tuple[bytes, str, dict[str, str], list[tuple[str, str]]]] = [
    (b"9300CNkiosk|COsecret|CPdlk|", "93",
     {"uid_algorithm": "0", "pwd_algorithm": "0"},
     [("CN", "kiosk"), ("CO", "secret"), ("CP", "dlk")]),
    (b"990 402.00", "99", {"status_code": "0", "max_print_width": " 40",
                           "protocol_version": "2.00"}, []),
    (b"63000" + NOW.encode() + b"  Y       AOdlk|AABDDLK0001|AD1234|", "63",
     {"language": "000", "transaction_date": NOW, "summary": "  Y       "},
     [("AO", "dlk"), ("AA", "BDDLK0001"), ("AD", "1234")]),
    (b"11NN" + NOW.encode() + b" " * 18 + b"AOdlk|AABDDLK0001|ABDLK000300|AC|", "11",
     {"sc_renewal_policy": "N", "no_block": "N", "transaction_date": NOW,
      "nb_due_date": " " * 18},
     [("AO", "dlk"), ("AA", "BDDLK0001"), ("AB", "DLK000300"), ("AC", "")]),
    (b"121NNY" + NOW.encode() + "AOdlk|AABDDLK0001|ABDLK000300|AJTruyện Kiều|AH2026-12-16|"
     .encode(), "12", {"ok": "1", "renewal_ok": "N", "magnetic_media": "N", "desensitize": "Y",
                       "transaction_date": NOW},
     [("AO", "dlk"), ("AA", "BDDLK0001"), ("AB", "DLK000300"), ("AJ", "Truyện Kiều"),
      ("AH", "2026-12-16")]),
    (b"09N" + NOW.encode() + NOW.encode() + b"APkho|AOdlk|ABDLK000300|AC|", "09",
     {"no_block": "N", "transaction_date": NOW, "return_date": NOW},
     [("AP", "kho"), ("AO", "dlk"), ("AB", "DLK000300"), ("AC", "")]),
    (b"64              000" + NOW.encode() + b"000000010000000000000000"
     + "AOdlk|AABDDLK0001|AENguyễn Văn Đức|AFXin chào|AFHạn trả 16/12|".encode(), "64",
     {"patron_status": " " * 14, "language": "000", "transaction_date": NOW,
      "hold_items_count": "0000", "overdue_items_count": "0001", "charged_items_count": "0000",
      "fine_items_count": "0000", "recall_items_count": "0000",
      "unavailable_holds_count": "0000"},
     [("AO", "dlk"), ("AA", "BDDLK0001"), ("AE", "Nguyễn Văn Đức"), ("AF", "Xin chào"),
      ("AF", "Hạn trả 16/12")]),
    (b"97", "97", {}, []),
]  # fmt: skip


@pytest.mark.parametrize("wire, code, fixed, fields", CASES, ids=[c[1] for c in CASES])
def test_messages_decode_and_encode_byte_exact(
    wire: bytes, code: str, fixed: dict[str, str], fields: list[tuple[str, str]]
) -> None:
    """The table reads each message into its fields and writes the same bytes back."""
    message = decode_message(wire)
    assert (message.code, message.fixed, message.fields) == (code, fixed, fields)
    assert encode_message(message, error_detection=False, terminator=b"") == wire


@pytest.mark.parametrize("wire, code, fixed, fields", CASES, ids=[c[1] for c in CASES])
@pytest.mark.parametrize("terminator", [b"\r", b"\r\n", b"\n"])
def test_framing_byte_by_byte_with_every_terminator(
    wire: bytes, code: str, fixed: dict[str, str], fields: list[tuple[str, str]],
    terminator: bytes,
) -> None:  # fmt: skip
    """Each message fed one byte at a time, twice, with CR, CRLF or LF: two messages,
    and the kiosk's terminator remembered for the replies."""
    framer = LineFramer()
    lines = [line for byte in (wire + terminator) * 2 for line in framer.feed(bytes([byte]))]
    assert lines == [wire, wire] and framer.terminator == terminator
    assert decode_message(lines[0]).fields == fields


def test_reference_checksum_vectors() -> None:
    """The worked examples of the reference: 941AY0AZ -> FDFD, 990 402.00AY1AZ -> FCB4."""
    assert checksum(b"941AY0AZ") == "FDFD"
    assert checksum(b"990 402.00AY1AZ") == "FCB4"
    assert encode_message(Message("94", {"ok": "1"}, sequence="0")) == b"941AY0AZFDFD\r"


def test_checksums_are_over_utf8_bytes_and_character_sums_are_accepted() -> None:
    """Replies sum bytes; a kiosk that summed characters of Vietnamese text is accepted,
    and a checksum matching neither is a bad checksum (answered with 96)."""
    body = "17" + NOW + "AOdlk|ABDLK000300|AJTruyện Kiều|AY3AZ"
    by_bytes = checksum(body.encode())
    by_chars = f"{(-sum(ord(c) for c in body)) & 0xFFFF:04X}"
    assert by_bytes != by_chars
    for given in (by_bytes, by_chars, by_bytes.lower()):
        message = decode_message((body + given).encode())
        assert message.sequence == "3" and message.get("AJ") == "Truyện Kiều"
    with pytest.raises(SIP2Error) as caught:
        decode_message((body + "0000").encode())
    assert caught.value.problem is Problem.BAD_CHECKSUM


@pytest.mark.parametrize(
    "wire, expected",
    [
        (b"9300|CNkiosk|COpw|", [("CN", "kiosk"), ("CO", "pw")]),  # stray | after fixed fields
        (b"9300CNkiosk||COpw|", [("CN", "kiosk"), ("CO", "pw")]),  # empty field
        (b"9300CNkiosk|COpw", [("CN", "kiosk"), ("CO", "pw")]),  # no final |
        (b"9300CNkiosk|COpw|ZZunknown|", [("CN", "kiosk"), ("CO", "pw"), ("ZZ", "unknown")]),
    ],
)
def test_tolerance_cases_are_read(wire: bytes, expected: list[tuple[str, str]]) -> None:
    """What real kiosks send: stray and missing separators, unknown fields kept aside."""
    assert decode_message(wire).fields == expected


def test_messages_without_error_detection_or_with_it_off() -> None:
    """No AY/AZ at all is fine; 96 and 97 carry AZ without AY."""
    assert decode_message(b"990 402.00").sequence is None
    assert decode_message(b"97AZFEF5").code == "97"
    assert encode_message(Message("96")) == b"96AZFEF6\r"


def test_missing_required_fields_are_reported_not_refused() -> None:
    """No AC or AD in a patron status: read, with the missing ids listed for the session."""
    message = decode_message(b"23000" + NOW.encode() + b"AOdlk|AABDDLK0001|")
    assert message.missing == ["AC", "AD"]


@pytest.mark.parametrize(
    "wire, problem",
    [
        (b"XX123", Problem.UNKNOWN_MESSAGE),
        (b"42whatever", Problem.UNKNOWN_MESSAGE),
        (b"93\x0000CNa|COb|", Problem.MALFORMED),
        (b"63000" + NOW[:10].encode(), Problem.MALFORMED),  # fixed fields cut short
        (b"11NN" + NOW.encode(), Problem.MALFORMED),
    ],
)
def test_unreadable_messages_say_why(wire: bytes, problem: Problem) -> None:
    """Unknown commands (ignored), NUL bytes and short fixed fields (96): the problem."""
    with pytest.raises(SIP2Error) as caught:
        decode_message(wire)
    assert caught.value.problem is problem


def test_a_message_without_terminator_is_cut_at_the_limit() -> None:
    """100 KB without a terminator ends the stream (bounded memory), not a hang."""
    framer = LineFramer(limit=16 * 1024)
    with pytest.raises(SIP2Error) as caught:
        for _ in range(100):
            framer.feed(b"x" * 1024)
    assert caught.value.problem is Problem.TOO_LONG


@pytest.mark.parametrize(
    "charset, expected",
    [
        (Charset.UTF8, "Nguyễn Văn Đức".encode()),
        (Charset.ASCII, b"Nguyen Van Duc"),
        (Charset.CP850, "Nguy?n V?n ?ức".encode("cp850", "replace")),
        (Charset.LATIN1, "Nguy?n V?n ?ức".encode("latin-1", "replace")),
    ],
)
def test_vietnamese_names_in_each_charset(charset: Charset, expected: bytes) -> None:
    """Each account's character set: UTF-8 whole, ASCII folded (đ -> d), cp850 and Latin-1
    with what they cannot carry replaced, never an exception."""
    message = Message("24", {"patron_status": " " * 14, "language": "000",
                             "transaction_date": NOW},
                      [("AO", "dlk"), ("AA", "B1"), ("AE", "Nguyễn Văn Đức")])  # fmt: skip
    wire = encode_message(message, charset, error_detection=False, terminator=b"")
    assert wire.endswith(b"AE" + expected + b"|")
    assert decode_message(wire, charset).get("AE") is not None


def test_fields_are_capped_at_255_bytes_on_a_character_boundary() -> None:
    """A long Vietnamese title is cut to 255 bytes without splitting a letter, and a "|"
    in a value cannot end the field early."""
    title = "Đại Việt sử ký toàn thư | " * 20
    fixed = {"circulation_status": "03", "security_marker": "00", "fee_type": "01",
             "transaction_date": NOW}  # fmt: skip
    wire = encode_message(Message("18", fixed, [("AB", "DLK1"), ("AJ", title)]),
                          error_detection=False)  # fmt: skip
    value = decode_message(wire.rstrip(b"\r")).get("AJ")
    assert value is not None and len(value.encode()) <= 255 and "|" not in value
    assert title.replace("|", "/").startswith(value)


def test_dates() -> None:
    """SIP2 dates: local time with a blank zone; Z for UTC; blanks and zeros are none."""
    assert sip_date(datetime(2026, 12, 2, 10, 15)) == NOW
    assert parse_date(NOW) == datetime(2026, 12, 2, 10, 15)
    assert parse_date("20261202   Z101500") == datetime(2026, 12, 2, 10, 15, tzinfo=UTC)
    for nothing in (" " * 18, "0" * 18, "20261399    101500", "garbage"):
        assert parse_date(nothing) is None


def test_every_message_round_trips_with_error_detection() -> None:
    """Every message of the table, filled with its fields, reads back the same with AY/AZ."""
    for code, spec in MESSAGES.items():
        fixed = {f.name: "Y" * f.width for f in spec.fixed}
        ids = sorted(spec.required | spec.optional)
        message = Message(code, fixed, [(fid, f"giá trị {fid}") for fid in ids], sequence="7")
        back = decode_message(encode_message(message).rstrip(b"\r"))
        assert (back.code, back.fixed, back.fields, back.sequence) == (
            code, fixed, message.fields, "7")  # fmt: skip


def test_every_field_id_of_the_table_is_named() -> None:
    """The field-name table covers every id a message layout uses (so logs can name it)."""
    from protocols.sip2.codec import FIELD_NAMES, REPEATABLE, SECRET_FIELDS

    used = {fid for spec in MESSAGES.values() for fid in spec.required | spec.optional}
    assert used <= set(FIELD_NAMES) and REPEATABLE <= set(FIELD_NAMES)
    assert SECRET_FIELDS == {"AC", "AD", "CO"}


def test_field_data_ending_like_a_checksum_is_data() -> None:
    """A last field whose data ends in "AZ" and hex digits is data: without error
    detection always, with it unless the AZ starts a field (after "|")."""
    date = b"20261202    101500"
    plain = decode_message(b"17" + date + b"AOlib|ABNTMKAZ12", error_detection=False)
    assert plain.get("AB") == "NTMKAZ12" and plain.checksum is None
    checked = decode_message(b"17" + date + b"AOlib|ABSACH-AZ1F")
    assert checked.get("AB") == "SACH-AZ1F" and checked.checksum is None
    fixed, fields = {"transaction_date": date.decode()}, [("AO", "lib"), ("AB", "SACH-AZ1F")]
    signed = encode_message(Message("17", fixed, fields, sequence="3"))
    again = decode_message(signed[:-1])
    assert again.get("AB") == "SACH-AZ1F" and again.sequence == "3"


def test_long_complete_line_in_one_read_is_refused() -> None:
    """A line over the limit is refused even when its terminator arrives in the same
    read (it would otherwise be parsed at any length)."""
    framer = LineFramer(limit=100)
    assert framer.feed(b"99" + b"x" * 50 + b"\r") == [b"99" + b"x" * 50]
    with pytest.raises(SIP2Error) as caught:
        framer.feed(b"99" + b"x" * 200 + b"\r")
    assert caught.value.problem is Problem.TOO_LONG
