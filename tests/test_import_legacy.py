"""Import of legacy Vietnamese text: TCVN3/VNI bytes in ISO 2709, and mojibake in MARCXML.

The files are made here from the real Vietnamese LoC records: every value encoded with our
own TCVN3 or VNI encoder (the way an old ABC/VNI-era ILS exported them), written either
with the leader claiming UTF-8 or claiming MARC-8, or as MARCXML holding the bytes read as
Windows-1252 (mojibake). The import must give back the original Unicode records.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pymarc import Record

from crosswalks.iso2709 import encode_iso2709
from crosswalks.legacy import LegacyEncoding, LegacyMode, encode
from crosswalks.marcjson import marc_to_json
from crosswalks.marcxml import marcxml_collection
from gateway.importer import import_files
from gateway.marcfile import read_marc_file
from gateway.record import normalize_record
from gateway.store import RecordStore
from tests.conftest import JAZZ_MARC8, LOC_5000, VIE_121

NS = "test.lienthong.vn"


def _originals(count: int = 25) -> list[Record]:
    return [normalize_record(r.record) for r in read_marc_file(VIE_121) if r.record][:count]


def _legacy_copy(record: Record, encoding: LegacyEncoding, as_text: str) -> Record:
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


def _iso2709(records: list[Record], encoding: LegacyEncoding, declared: str) -> bytes:
    """ISO 2709 records whose field data are the legacy bytes, LDR/09 = ``declared``."""
    out = []
    for record in records:
        copy = _legacy_copy(record, encoding, "latin-1")
        fields = [(f.tag, f.as_marc(encoding="latin-1")) for f in copy.fields]
        directory, offset = b"", 0
        for tag, data in fields:
            directory += b"%s%04d%05d" % (tag.encode(), len(data), offset)
            offset += len(data)
        base = 24 + len(directory) + 1
        leader = b"%05dcam %s22%05d a 4500" % (base + offset + 1, declared.encode(), base)
        out.append(leader + directory + b"\x1e" + b"".join(d for _, d in fields) + b"\x1d")
    return b"".join(out)


def _titles(store: RecordStore) -> dict[str, str]:
    return {r.local_id: r.marc["245"]["a"] for r in store.fetch(range(1, store.count() + 1))
            if r.marc is not None}  # fmt: skip


@pytest.mark.parametrize("encoding", list(LegacyEncoding))
@pytest.mark.parametrize("declared", ["a", " "], ids=["claims-utf8", "claims-marc8"])
def test_raw_legacy_bytes_in_iso2709_come_back_as_the_original_unicode(
    tmp_path: Path, sqlite_store: RecordStore, encoding: LegacyEncoding, declared: str
) -> None:
    """Whatever the leader claims, TCVN3/VNI bytes are recognised and converted; the
    records equal the originals field for field, and the report counts the values."""
    originals = _originals()
    path = tmp_path / f"{encoding}.mrc"
    path.write_bytes(_iso2709(originals, encoding, declared))
    report = import_files(sqlite_store, [path], source="lib", namespace=NS)
    assert report.skipped == 0 and report.read == len(originals)
    assert report.legacy_converted > len(originals)
    stored = {r.local_id: r.marc for r in sqlite_store.fetch(range(1, len(originals) + 1))}
    for original in originals:
        local_id = original["001"].data.strip()
        got = stored[local_id]
        assert got is not None
        assert marc_to_json(got)["fields"] == marc_to_json(original)["fields"], local_id


@pytest.mark.parametrize("encoding", list(LegacyEncoding))
def test_mojibake_in_marcxml_is_repaired(
    tmp_path: Path, sqlite_store: RecordStore, encoding: LegacyEncoding
) -> None:
    """Legacy bytes once read as Windows-1252 and stored as UTF-8 ("Nh÷ng nguyªn t¾c") are
    converted back; titles equal the originals."""
    originals = _originals()
    copies = [_legacy_copy(r, encoding, "cp1252") for r in originals]
    path = tmp_path / "mojibake.xml"
    path.write_text(marcxml_collection(copies), "utf-8")
    report = import_files(sqlite_store, [path], source="lib", namespace=NS)
    assert report.legacy_converted > 0
    assert f"values converted from TCVN3/VNI {report.legacy_converted}" in report.summary()
    expected = {r["001"].data.strip(): r["245"]["a"] for r in originals}
    assert _titles(sqlite_store) == expected


def test_off_leaves_text_as_it_came(tmp_path: Path, sqlite_store: RecordStore) -> None:
    """--legacy-vietnamese off: raw bytes become U+FFFD (reported), mojibake stays."""
    originals = _originals(5)
    path = tmp_path / "tcvn3.mrc"
    path.write_bytes(_iso2709(originals, LegacyEncoding.TCVN3, "a"))
    report = import_files(sqlite_store, [path], source="lib", namespace=NS,
                          legacy=LegacyMode.OFF)  # fmt: skip
    assert report.legacy_converted == 0
    assert all("U+FFFD" in p.reason for p in report.problems)
    assert all("\ufffd" in title for title in _titles(sqlite_store).values())


def test_declared_encoding_is_used_when_given(tmp_path: Path, sqlite_store: RecordStore) -> None:
    """--legacy-vietnamese vni reads a VNI file even where auto would hesitate."""
    originals = _originals(10)
    path = tmp_path / "vni.mrc"
    path.write_bytes(_iso2709(originals, LegacyEncoding.VNI, " "))
    report = import_files(sqlite_store, [path], source="lib", namespace=NS,
                          legacy=LegacyMode.VNI)  # fmt: skip
    assert report.legacy_converted > 0
    expected = {r["001"].data.strip(): r["245"]["a"] for r in originals}
    assert _titles(sqlite_store) == expected


def test_clean_files_convert_nothing(sqlite_store: RecordStore) -> None:
    """Precision: real UTF-8 (English, Vietnamese) and real MARC-8 (ANSEL) are untouched."""
    report = import_files(sqlite_store, [VIE_121, LOC_5000, JAZZ_MARC8], source="lib",
                          namespace=NS)  # fmt: skip
    assert report.legacy_converted == 0
    assert "TCVN3" not in " ".join(p.reason for p in report.problems)


@pytest.mark.parametrize("mode", list(LegacyMode))
def test_real_marc8_is_never_taken_for_legacy_text(
    tmp_path: Path, sqlite_store: RecordStore, mode: LegacyMode
) -> None:
    """Vietnamese written as real MARC-8 (ANSEL marks, ơ/ư as base letters) and the jazz
    MARC-8 file import exactly as pymarc reads them, in every mode, declared ones too: an
    ANSEL "Nhơn" also reads as TCVN3 "Nhẳn", and one such value must not convert a record."""
    originals = _originals(121)
    path = tmp_path / "vie-marc8.mrc"
    path.write_bytes(b"".join(encode_iso2709(r, marc8=True) for r in originals))
    report = import_files(sqlite_store, [path, JAZZ_MARC8], source="lib", namespace=NS,
                          legacy=mode)  # fmt: skip
    assert report.legacy_converted == 0
    stored = {r.local_id: r.marc for r in sqlite_store.fetch(range(1, 122))}
    for original in originals:
        got = stored[original["001"].data.strip()]
        assert got is not None
        assert got["245"].value() == original["245"].value()
