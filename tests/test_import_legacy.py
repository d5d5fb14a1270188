"""Import of legacy Vietnamese text: TCVN3/VNI bytes in ISO 2709, and mojibake in MARCXML.

The files are made here from the real Vietnamese LoC records: every value encoded with our
own TCVN3 or VNI encoder (the way an old ABC/VNI-era ILS exported them), written either
with the leader claiming UTF-8 or claiming MARC-8, or as MARCXML holding the bytes read as
Windows-1252 (mojibake). The import must give back the original Unicode records.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crosswalks.iso2709 import encode_iso2709
from crosswalks.legacy import LegacyEncoding, LegacyMode
from crosswalks.marcjson import marc_to_json
from crosswalks.marcxml import marcxml_collection
from gateway.importer import import_files
from gateway.store import RecordStore
from tests.conftest import JAZZ_MARC8, LOC_5000, VIE_121
from tests.records import legacy_copy, legacy_iso2709, vie_records

NS = "test.lienthong.vn"


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
    originals = vie_records()
    path = tmp_path / f"{encoding}.mrc"
    path.write_bytes(legacy_iso2709(originals, encoding, declared))
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
    originals = vie_records()
    copies = [legacy_copy(r, encoding, "cp1252") for r in originals]
    path = tmp_path / "mojibake.xml"
    path.write_text(marcxml_collection(copies), "utf-8")
    report = import_files(sqlite_store, [path], source="lib", namespace=NS)
    assert report.legacy_converted > 0
    assert f"values converted from TCVN3/VNI {report.legacy_converted}" in report.summary()
    expected = {r["001"].data.strip(): r["245"]["a"] for r in originals}
    assert _titles(sqlite_store) == expected


def test_off_leaves_text_as_it_came(tmp_path: Path, sqlite_store: RecordStore) -> None:
    """--legacy-vietnamese off: raw bytes become U+FFFD (reported), mojibake stays."""
    originals = vie_records(5)
    path = tmp_path / "tcvn3.mrc"
    path.write_bytes(legacy_iso2709(originals, LegacyEncoding.TCVN3, "a"))
    report = import_files(sqlite_store, [path], source="lib", namespace=NS,
                          legacy=LegacyMode.OFF)  # fmt: skip
    assert report.legacy_converted == 0
    assert all("U+FFFD" in p.reason for p in report.problems)
    assert all("\ufffd" in title for title in _titles(sqlite_store).values())


def test_declared_encoding_is_used_when_given(tmp_path: Path, sqlite_store: RecordStore) -> None:
    """--legacy-vietnamese vni reads a VNI file even where auto would hesitate."""
    originals = vie_records(10)
    path = tmp_path / "vni.mrc"
    path.write_bytes(legacy_iso2709(originals, LegacyEncoding.VNI, " "))
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
    originals = vie_records(121)
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
