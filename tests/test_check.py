"""Record checks (``lienthong check``): what a librarian sees before records go out."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pymarc import Field, Leader, Record, Subfield
from pymarc.field import Indicators

from crosswalks.check import Severity, check_record, structure_problems
from crosswalks.iso2709 import encode_iso2709
from gateway.checkfile import check_file
from gateway.cli import main
from tests.conftest import BROKEN, LOC_5000, VIE_121
from tests.records import make_marc


def _with(change: str) -> Record:
    """A clean record (no findings) with one defect applied."""
    record = make_marc("TV1", "Truyện Kiều", author="Nguyễn Du", year=2015,
                       isbn="978-0-306-40615-7", issn="0317-8471")  # fmt: skip
    if change == "leader":
        record.leader = Leader("00000xzm a2200000 i 4500")
    elif change == "no 245":
        record.remove_fields("245")
    elif change == "two 245":
        record.add_ordered_field(Field(tag="245", indicators=Indicators("0", "0"),
                                       subfields=[Subfield("a", "Khác")]))  # fmt: skip
    elif change == "two 1XX":
        record.add_ordered_field(Field(tag="110", indicators=Indicators("2", " "),
                                       subfields=[Subfield("a", "Viện")]))  # fmt: skip
    elif change == "short 008":
        record["008"].data = record["008"].data[:38]
    elif change == "indicator":
        record["245"].indicator1 = "#"
    elif change == "subfield code":
        record["245"].add_subfield("$", "x")
    elif change == "isbn":
        record["020"]["a"] = "978-0-306-40615-8"
    elif change == "issn":
        record["022"]["a"] = "0317-8472"
    elif change == "replacement":
        record["245"]["a"] = "Truy\ufffdn Kiều"
    elif change == "control":
        record["245"]["a"] = "Truyện\x1b Kiều"
    elif change == "mark order":
        record["245"]["a"] = "Che\u0301\u0302 Lan Viên"
    elif change == "tcvn3 mojibake":
        record["245"]["a"] = "Nh÷ng nguyªn t¾c c¬ b¶n"
    elif change == "empty subfield":
        record["245"].add_subfield("b", " ")
    elif change == "no 001":
        record.remove_fields("001")
    return record


CASES = [
    ("leader", Severity.ERROR, "LDR", "05 record status 'x'"),
    ("leader", Severity.ERROR, "LDR", "06 type of record 'z'"),
    ("no 245", Severity.ERROR, "245", "no title field"),
    ("two 245", Severity.ERROR, "245", "not repeatable but occurs 2 times"),
    ("two 1XX", Severity.ERROR, "1XX", "more than one main entry (100, 110)"),
    ("short 008", Severity.ERROR, "008", "38 characters; 40 expected"),
    ("indicator", Severity.ERROR, "245", "indicator 1 '#'"),
    ("subfield code", Severity.ERROR, "245", "subfield code '$'"),
    ("isbn", Severity.WARNING, "020 $a", "ISBN 978-0-306-40615-8 has a wrong check digit"),
    ("issn", Severity.WARNING, "022 $a", "ISSN 0317-8472 is invalid"),
    ("replacement", Severity.ERROR, "245 $a", "undecodable bytes"),
    ("control", Severity.ERROR, "245 $a", "U+001B"),
    ("mark order", Severity.WARNING, "245 $a", "marks out of order"),
    ("tcvn3 mojibake", Severity.WARNING, "245 $a", "TCVN3"),
    ("empty subfield", Severity.WARNING, "245 $b", "empty subfield"),
    ("no 001", Severity.WARNING, "001", "no control number"),
]


def test_a_clean_record_has_no_findings() -> None:
    """The base record of the table below is clean, so each row tests exactly one defect."""
    assert check_record(_with("nothing")) == []


@pytest.mark.parametrize(("change", "severity", "where", "message"), CASES,
                         ids=[f"{c[0]}:{c[3][:20]}" for c in CASES])  # fmt: skip
def test_each_defect_is_found(change: str, severity: Severity, where: str, message: str) -> None:
    """One defect, one finding naming the field and saying what is wrong."""
    found = check_record(_with(change))
    assert any(f.severity is severity and f.where == where and message in f.message
               for f in found), found  # fmt: skip


def test_structure_problems_in_the_bytes() -> None:
    """Record length, base address and directory entries are checked on the raw bytes."""
    good = encode_iso2709(_with("nothing"))
    assert structure_problems(good) == []
    wrong_length = b"00999" + good[5:]
    assert "record length says 999" in str(structure_problems(wrong_length)[0])
    wrong_base = good[:12] + b"%05d" % (int(good[12:17]) + 1) + good[17:]
    assert "base address" in str(structure_problems(wrong_base)[0])
    entry = good[24:36]
    bad_entry = good[:24] + entry[:3] + b"9999" + entry[7:] + good[36:]
    assert "no field terminator" in str(structure_problems(bad_entry)[0])


def test_real_files_give_the_expected_counts() -> None:
    """The LoC records have no errors; the broken files do, with a reason for each."""
    for path in (VIE_121, LOC_5000):
        checked = list(check_file(path))
        errors = [c for c in checked if c.errors]
        assert len(checked) == (121 if path == VIE_121 else 5000)
        assert errors == [], [(c.where, [str(f) for f in c.findings]) for c in errors[:3]]
    flagged = {
        (path.name, checked.where)
        for path in sorted(BROKEN.glob("*.mrc"))
        for checked in check_file(path)
        if checked.errors
    }
    assert flagged == {
        ("bad-characters-in-various-fields.mrc", "record 1 at byte 0"),  # control chars
        ("bad_hathi_records.mrc", "record 4 at byte 6343"),  # base address 99999
        ("bad_leaders_10_11.mrc", "record 1 at byte 0"),  # blank status, type, level
        ("bad_oversize_field_bad_directory.mrc", "record 2 at byte 1571"),  # directory
        ("bad_too_long_plus_2.mrc", "record 1 at byte 0"),  # length off by 100,000
        ("incomplete_esc_seq.mrc", "record 1 at byte 0"),  # ESC left in the text
    }


def test_vietnamese_records_with_misordered_marks_are_warned_about() -> None:
    """Read as the importer reads (before normalisation), the values whose marks NFC cannot
    compose are warned about (the data README counts 35 such subfields), plain NFD is not."""
    findings = [f for c in check_file(VIE_121) for f in c.findings
                if "marks out of order" in f.message]  # fmt: skip
    assert 35 <= len(findings) <= 45


def test_the_command_reports_records_and_exits_1_on_errors(tmp_path: Path) -> None:
    """``lienthong check``: one line per finding with file, record, position and 001."""
    runner = CliRunner()
    clean = runner.invoke(main, ["check", "--errors-only", str(VIE_121)])
    assert clean.exit_code == 0, clean.output
    assert clean.output.strip() == f"{VIE_121}: 121 record(s), 0 with errors"
    bad = tmp_path / "bad.mrc"
    bad.write_bytes(encode_iso2709(_with("nothing")) + encode_iso2709(_with("no 245")))
    result = runner.invoke(main, ["check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: record 2 at byte " in result.output
    assert "(001 TV1): error: 245: no title field" in result.output
    assert "1 with errors" in result.output
    summary = runner.invoke(main, ["check", "--summary", str(bad), str(tmp_path / "missing.mrc")])
    assert summary.exit_code == 1
    assert "missing.mrc" in summary.output and "245" not in summary.output


def test_record_data_cannot_drive_the_terminal(tmp_path: Path) -> None:
    """An ESC sequence in a control number or a value is printed as \\x1b, not sent raw."""
    record = _with("control")
    record["001"].data = "id\x1b]0;pwned\x07"
    path = tmp_path / "esc.mrc"
    path.write_bytes(encode_iso2709(record))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "(001 id\\x1b]0;pwned\\x07)" in result.output


def test_a_file_that_is_not_marc_is_named(tmp_path: Path) -> None:
    """With several files, the one that is not MARC is named in the message."""
    other = tmp_path / "notes.txt"
    other.write_text("just some text\n", "utf-8")
    result = CliRunner().invoke(main, ["check", str(VIE_121), str(other)])
    assert result.exit_code == 1
    assert f"{other}: not a MARC file" in result.output
