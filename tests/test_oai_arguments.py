"""OAI-PMH argument checking: every verb's table, dates, and what a harvester gets wrong."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from protocols.oaipmh.arguments import (
    MAX_ARGUMENT_LENGTH,
    Granularity,
    Verb,
    echoable_identifier,
    parse_datestamp,
    parse_request,
)
from protocols.oaipmh.errors import ErrorCode, OAIError


def _args(*pairs: tuple[str, str | bytes]) -> dict[bytes, list[bytes]]:
    """Arguments as twisted.web gives them (repeats kept as several values)."""
    arguments: dict[bytes, list[bytes]] = {}
    for name, value in pairs:
        raw = value if isinstance(value, bytes) else value.encode("utf-8")
        arguments.setdefault(name.encode("utf-8"), []).append(raw)
    return arguments


def _codes(*pairs: tuple[str, str | bytes]) -> list[ErrorCode]:
    with pytest.raises(OAIError) as caught:
        parse_request(_args(*pairs))
    return [code for code, _ in caught.value.errors]


VALID = [
    ([("verb", "Identify")], Verb.IDENTIFY, {}),
    ([("verb", "ListMetadataFormats")], Verb.LIST_METADATA_FORMATS, {}),
    ([("verb", "ListMetadataFormats"), ("identifier", "oai:a.vn:x/1")],
     Verb.LIST_METADATA_FORMATS, {"identifier": "oai:a.vn:x/1"}),
    ([("verb", "ListSets")], Verb.LIST_SETS, {}),
    ([("verb", "ListSets"), ("resumptionToken", "abc")], Verb.LIST_SETS,
     {"resumption_token": "abc"}),
    ([("verb", "GetRecord"), ("identifier", "oai:a.vn:x/1"), ("metadataPrefix", "marc21")],
     Verb.GET_RECORD, {"identifier": "oai:a.vn:x/1", "metadata_prefix": "marc21"}),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("set", "library:dlk-tinh"),
      ("from", "2026-01-01"), ("until", "2026-01-31")], Verb.LIST_RECORDS,
     {"metadata_prefix": "oai_dc", "set_spec": "library:dlk-tinh",
      "since": datetime(2026, 1, 1, tzinfo=UTC),
      "until": datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC)}),
    ([("verb", "ListIdentifiers"), ("metadataPrefix", "mods"),
      ("from", "2026-01-01T10:00:00Z"), ("until", "2026-01-01T10:00:00Z")],
     Verb.LIST_IDENTIFIERS, {"since": datetime(2026, 1, 1, 10, tzinfo=UTC),
                             "until": datetime(2026, 1, 1, 10, tzinfo=UTC)}),
    ([("verb", "ListRecords"), ("resumptionToken", "t.k")], Verb.LIST_RECORDS,
     {"resumption_token": "t.k", "metadata_prefix": None}),
]  # fmt: skip


@pytest.mark.parametrize(("pairs", "verb", "fields"), VALID)
def test_valid_requests_are_read_into_typed_fields(
    pairs: list[tuple[str, str]], verb: Verb, fields: dict[str, object]
) -> None:
    """Each verb with the arguments the standard allows is read without error, and the
    typed fields carry the values (a day ``until`` is its last second)."""
    request = parse_request(_args(*pairs))
    assert request.verb is verb
    for name, value in fields.items():
        assert getattr(request, name) == value
    assert request.arguments == {name: value for name, value in pairs if name != "verb"}


INVALID = [
    ([], [ErrorCode.BAD_VERB]),
    ([("verb", "")], [ErrorCode.BAD_VERB]),
    ([("verb", "listrecords"), ("metadataPrefix", "oai_dc")], [ErrorCode.BAD_VERB]),
    ([("verb", "Identify"), ("verb", "Identify")], [ErrorCode.BAD_VERB]),
    ([("verb", b"Identif\xff")], [ErrorCode.BAD_VERB]),
    ([("verb", "Identify"), ("metadataPrefix", "oai_dc")], [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords")], [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "GetRecord")], [ErrorCode.BAD_ARGUMENT, ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("metadataPrefix", "marc21")],
     [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords"), ("metadataPrefix", "")], [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("foo", "bar")],
     [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai dc")], [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("set", "library: x")],
     [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2026-13-45")],
     [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2026-01-01T25:00:00Z")],
     [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2026-02-30")],
     [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2026-01-01T00:00:00")],
     [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
      ("from", "2026-01-01T00:00:00.5Z")], [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
      ("from", "2026-01-01T00:00:00+07:00")], [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "0000-01-01")],
     [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2026-01-01"),
      ("until", "2026-01-02T00:00:00Z")], [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2026-02-01"),
      ("until", "2026-01-01")], [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords"), ("resumptionToken", "t"), ("metadataPrefix", "oai_dc")],
     [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords"), ("metadataPrefix", b"oai_\xc3")], [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords"), (b"\xff".decode("latin-1"), "x"), ("metadataPrefix", "oai_dc")],
     [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords"), ("metadataPrefix", "x" * (MAX_ARGUMENT_LENGTH + 1))],
     [ErrorCode.BAD_ARGUMENT]),
    ([("verb", "ListRecords"), ("resumptionToken", "x" * (MAX_ARGUMENT_LENGTH + 1))],
     [ErrorCode.BAD_RESUMPTION_TOKEN]),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2026-13-45"),
      ("until", "yesterday"), ("bogus", "1")],
     [ErrorCode.BAD_ARGUMENT, ErrorCode.BAD_ARGUMENT, ErrorCode.BAD_ARGUMENT]),
]  # fmt: skip


@pytest.mark.parametrize(("pairs", "codes"), INVALID)
def test_bad_requests_get_the_standard_error_codes(
    pairs: list[tuple[str, str | bytes]], codes: list[ErrorCode]
) -> None:
    """Missing, unknown, repeated, empty, overlong or non-UTF-8 arguments, illegal dates,
    mixed granularity and ``until`` before ``from`` are badArgument; a missing, unknown,
    repeated or undecodable verb is badVerb; every problem of one request is listed."""
    assert sorted(_codes(*pairs)) == sorted(codes)


def test_error_messages_name_the_argument_but_only_an_excerpt_of_the_value() -> None:
    """A harvester's operator learns which argument is wrong; a huge or binary value is
    not echoed back whole."""
    with pytest.raises(OAIError) as caught:
        parse_request(_args(("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
                            ("from", "\x00" + "9" * 500)))  # fmt: skip
    message = caught.value.message
    assert "from=" in message and len(message) < 200 and "\x00" not in message


@pytest.mark.parametrize(
    ("text", "end", "expected", "granularity"),
    [
        ("2026-03-04", False, datetime(2026, 3, 4, tzinfo=UTC), Granularity.DAY),
        ("2026-03-04", True, datetime(2026, 3, 4, 23, 59, 59, tzinfo=UTC), Granularity.DAY),
        ("9999-12-31", True, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), Granularity.DAY),
        ("2026-03-04T05:06:07Z", True, datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),
         Granularity.SECONDS),
    ],
)  # fmt: skip
def test_datestamps_at_both_granularities(
    text: str, end: bool, expected: datetime, granularity: Granularity
) -> None:
    """Days stand for their first second, or as ``until`` for their last one (the last
    day of year 9999 too); seconds stand for themselves."""
    assert parse_datestamp(text, end_of_day=end) == (expected, granularity)


@pytest.mark.parametrize(
    ("value", "echoable"),
    [("oai:lienthong.vn:dlk-tinh/DLK%20001", True), ("oai:a.vn:x/1;2", True),
     ("no scheme", False), ("oai:a.vn:x/%zz", False), ("oai:a.vn:x/[1]", False),
     ("oai:a.vn:x/a b", False)],
)  # fmt: skip
def test_only_well_formed_uris_are_echoed_as_the_identifier_attribute(
    value: str, echoable: bool
) -> None:
    """The request element's identifier attribute is an xs:anyURI: values a validator
    would reject are left out of the echo instead of making the response invalid."""
    assert echoable_identifier(value) is echoable
