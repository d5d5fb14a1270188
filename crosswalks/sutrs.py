"""SUTRS: a record as labelled plain-text lines, for people reading a Z39.50 client screen.

Z39.50 clients without a MARC display (and librarians checking what the union catalogue
holds) ask for SUTRS. The layout is a catalogue card in label/value lines: one value per
line, the label repeated only on its first line, continuation lines indented under the
value. Labels are Vietnamese by default (the people reading are Vietnamese librarians) or
English. Text is UTF-8, lines end with LF, ISBD punctuation ends are tidied the same way
as in Dublin Core.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum

from pymarc import Record

from .holdings import Holding
from .marc_to_dc import display_text, marc_to_dc, subject_heading

__all__ = ["Labels", "sutrs_text"]


class Labels(StrEnum):
    """The language of the labels."""

    VI = "vi"
    EN = "en"


# (key, Vietnamese label, English label); the order is the order of the display.
_LABELS = (
    ("title", "Nhan đề", "Title"),
    ("statement", "Trách nhiệm", "Responsibility"),
    ("author", "Tác giả", "Author"),
    ("other_names", "Tác giả khác", "Other names"),
    ("edition", "Lần xuất bản", "Edition"),
    ("imprint", "Xuất bản", "Published"),
    ("date", "Năm", "Date"),
    ("extent", "Mô tả vật lý", "Description"),
    ("series", "Tùng thư", "Series"),
    ("notes", "Ghi chú", "Notes"),
    ("summary", "Tóm tắt", "Summary"),
    ("subjects", "Chủ đề", "Subjects"),
    ("isbn", "ISBN", "ISBN"),
    ("issn", "ISSN", "ISSN"),
    ("language", "Ngôn ngữ", "Language"),
    ("classification", "Phân loại", "Classification"),
    ("url", "URL", "URL"),
    ("control_number", "Số kiểm soát", "Control number"),
    ("holdings", "Bản sao", "Holdings"),
)
# Control characters (an ESC would reach the client's terminal) and lone surrogates (not
# encodable as UTF-8) never leave in a display; tab and line feed are layout.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_SUBJECT_TAGS = frozenset({"600", "610", "611", "630", "648", "650", "651", "653", "655"})
_BRIEF = ("title", "author", "date", "isbn", "issn", "control_number")


def _collect(record: Record, holdings: Sequence[Holding]) -> dict[str, list[str]]:
    """Display values by label key."""
    out: dict[str, list[str]] = {key: [] for key, _, _ in _LABELS}
    dc = marc_to_dc(record)
    for field in record.get_fields("245"):
        out["title"].append(display_text(field, "abfgknps"))
        out["statement"].append(display_text(field, "c"))
    for field in record.get_fields("100", "110", "111"):
        out["author"].append(display_text(field, "abcdqn"))
    for field in record.get_fields("700", "710", "711", "720"):
        out["other_names"].append(display_text(field, "abcdqn"))
    for field in record.get_fields("250"):
        out["edition"].append(display_text(field, "ab"))
    for field in record.get_fields("260", "264"):
        if field.tag == "260" or field.indicator2 == "1":
            out["imprint"].append(display_text(field, "abc"))
    for field in record.get_fields("300"):
        out["extent"].append(display_text(field, "abce"))
    for field in record.get_fields("490", "830"):
        out["series"].append(display_text(field, "anpv"))
    for field in record.get_fields("520"):
        out["summary"].append(display_text(field, "ab"))
    for field in record.fields:
        if field.tag[:1] == "5" and field.tag not in ("520", "546") and not field.control_field:
            out["notes"].append(display_text(field))
        elif field.tag in _SUBJECT_TAGS:
            out["subjects"].append(subject_heading(field))
    for name, value in dc:
        if name == "language":
            out["language"].append(value)
        elif name == "date":
            out["date"].append(value)
    for field in record.get_fields("020"):
        out["isbn"].extend(value.strip() for value in field.get_subfields("a"))
    for field in record.get_fields("022"):
        out["issn"].extend(value.strip() for value in field.get_subfields("a"))
    for field in record.get_fields("050", "082", "080"):
        out["classification"].append(display_text(field, "ab"))
    for field in record.get_fields("856"):
        out["url"].extend(value.strip() for value in field.get_subfields("u"))
    control = record.get("001")
    if control is not None and control.data:
        out["control_number"].append(control.data.strip())
    for item in holdings:
        parts = (item.library, item.location, item.call_number, item.barcode, item.status)
        out["holdings"].append(" | ".join(part for part in parts if part))
    return out


def sutrs_text(
    record: Record,
    holdings: Sequence[Holding] = (),
    *,
    brief: bool = False,
    labels: Labels = Labels.VI,
) -> str:
    """The record as labelled lines ending in LF; ``brief`` keeps title, author, date, ids."""
    values = _collect(record, holdings)
    imprint = " ".join(values["imprint"])
    if not brief and imprint and all(date in imprint for date in values["date"]):
        values["date"] = []  # the imprint line already says it
    column = 1 if labels is Labels.VI else 2
    rows = [
        (entry[column], values[entry[0]])
        for entry in _LABELS
        if values[entry[0]] and (not brief or entry[0] in _BRIEF)
    ]
    if not rows:
        return ""
    width = max(len(label) for label, _ in rows) + 2
    lines: list[str] = []
    for label, items in rows:
        seen: list[str] = []
        for value in items:
            if value and value not in seen:
                seen.append(value)
        for number, value in enumerate(seen):
            head = f"{label}:".ljust(width) if number == 0 else " " * width
            # A value with line breaks (a contents note) keeps them, indented.
            lines.append(head + value.replace("\n", "\n" + " " * width))
    return _UNSAFE.sub("", "\n".join(lines)) + "\n"
