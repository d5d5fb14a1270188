"""ISBD punctuation is stripped at the end of a subfield, never where it is data."""

from __future__ import annotations

import pytest

from crosswalks.punctuation import strip_isbd

CASES = [
    ("Truyện Kiều /", "Truyện Kiều"),
    ("Hà Nội :", "Hà Nội"),
    ("Kim Đồng,", "Kim Đồng"),
    ("Tủ sách tuổi thơ ;", "Tủ sách tuổi thơ"),
    ("Hà Nội =", "Hà Nội"),
    ("Includes index.", "Includes index"),
    ("In lần thứ 2.", "In lần thứ 2"),  # a digit is not an initial
    ("Nguyễn, V.", "Nguyễn, V."),  # an initial keeps its period
    ("Smith, J. R.", "Smith, J. R."),
    ("Nguyễn, V.A.", "Nguyễn, V.A."),  # several initials
    ("Washington, D.C.", "Washington, D.C."),
    ("In lần 2.3.", "In lần 2.3"),  # digits are not initials
    ("Macmillan Co.", "Macmillan Co."),  # abbreviations keep theirs
    ("300 tr.", "300 tr."),
    ("Omaha, Neb.", "Omaha, Neb."),
    ("[s.n.]", "[s.n.]"),
    ("Và còn nữa...", "Và còn nữa..."),  # an ellipsis is data
    ("A.B.C. : D", "A.B.C. : D"),  # inside the data nothing changes
    ("  spaced  ", "spaced"),
]


@pytest.mark.parametrize(("value", "expected"), CASES, ids=[c[0] for c in CASES])
def test_strip_isbd(value: str, expected: str) -> None:
    """Each row: what a cataloguer typed, what a display or Dublin Core shows."""
    assert strip_isbd(value) == expected
