"""Small MARC records written for tests, with exactly the fields a test is about."""

from __future__ import annotations

from pymarc import Field, Leader, Record, Subfield

from crosswalks.legacy import LegacyEncoding, encode
from gateway.importer import canonical_from_marc
from gateway.marcfile import read_marc_file
from gateway.record import CanonicalRecord, normalize_record

from .conftest import VIE_121

NAMESPACE = "test.lienthong.vn"


def make_marc(
    local_id: str,
    title: str,
    *,
    author: str | None = None,
    year: int | None = None,
    isbn: str | None = None,
    issn: str | None = None,
    subjects: tuple[str, ...] = (),
    publisher: str | None = None,
    language: str = "vie",
    serial: bool = False,
    nonfiling: int = 0,
    note: str | None = None,
) -> Record:
    """A MARC 21 record with the given values in their usual fields."""
    leader = "00000nas a2200000 i 4500" if serial else "00000nam a2200000 i 4500"
    record = Record(force_utf8=True, leader=Leader(leader))
    date1 = f"{year:04d}" if year else "uuuu"
    record.add_field(Field(tag="001", data=local_id))
    record.add_field(Field(tag="008", data=f"260101s{date1}    vm            000 0 {language} d"))
    if isbn:
        record.add_field(Field(tag="020", indicators=[" ", " "], subfields=[Subfield("a", isbn)]))
    if issn:
        record.add_field(Field(tag="022", indicators=[" ", " "], subfields=[Subfield("a", issn)]))
    if author:
        record.add_field(Field(tag="100", indicators=["0", " "], subfields=[Subfield("a", author)]))
    record.add_field(
        Field(tag="245", indicators=["1", str(nonfiling)], subfields=[Subfield("a", title)])
    )
    if publisher or year:
        subs = [Subfield("a", "Hà Nội :")]
        if publisher:
            subs.append(Subfield("b", publisher + ","))
        if year:
            subs.append(Subfield("c", f"{year}."))
        record.add_field(Field(tag="264", indicators=[" ", "1"], subfields=subs))
    if note:
        record.add_field(Field(tag="500", indicators=[" ", " "], subfields=[Subfield("a", note)]))
    for subject in subjects:
        record.add_field(
            Field(tag="650", indicators=[" ", "7"], subfields=[Subfield("a", subject)])
        )
    return record


def make_record(
    local_id: str, title: str, *, source: str = "lib-a", **fields: object
) -> CanonicalRecord:
    """A canonical record of ``source`` built with :func:`make_marc`."""
    marc = make_marc(local_id, title, **fields)  # type: ignore[arg-type]
    return canonical_from_marc(marc, source=source, namespace=NAMESPACE)


def vie_records(count: int = 25) -> list[Record]:
    """The first ``count`` of the 121 Vietnamese LoC records, normalised as stored."""
    return [normalize_record(r.record) for r in read_marc_file(VIE_121) if r.record][:count]


def legacy_copy(record: Record, encoding: LegacyEncoding, as_text: str) -> Record:
    """The record with every data value replaced by its legacy bytes, as Latin-1 or cp1252
    characters (for pymarc's writer, or as the mojibake a wrong import produced)."""
    copy = Record(data=record.as_marc(), to_unicode=True, force_utf8=True)
    for field in copy.fields:
        if not field.control_field:
            field.subfields = [
                s._replace(value=encode(s.value, encoding).decode(as_text, "replace"))
                for s in field.subfields
            ]
    return copy


def legacy_iso2709(records: list[Record], encoding: LegacyEncoding, declared: str) -> bytes:
    """ISO 2709 records whose field data are the legacy bytes (as an ABC/VNI-era system
    exported them), LDR/09 = ``declared``."""
    out = []
    for record in records:
        copy = legacy_copy(record, encoding, "latin-1")
        fields = [(f.tag, f.as_marc(encoding="latin-1")) for f in copy.fields]
        directory, offset = b"", 0
        for tag, data in fields:
            directory += b"%s%04d%05d" % (tag.encode(), len(data), offset)
            offset += len(data)
        base = 24 + len(directory) + 1
        leader = b"%05dcam %s22%05d a 4500" % (base + offset + 1, declared.encode(), base)
        out.append(leader + directory + b"\x1e" + b"".join(d for _, d in fields) + b"\x1d")
    return b"".join(out)
