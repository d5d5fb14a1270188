"""Small MARC records written for tests, with exactly the fields a test is about."""

from __future__ import annotations

from pymarc import Field, Leader, Record, Subfield

from gateway.importer import canonical_from_marc
from gateway.record import CanonicalRecord

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
