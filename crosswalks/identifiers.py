"""Standard numbers as catalogues write them, reduced to the form indexes compare.

Catalogue data writes ISBNs as "978-604-1-00000-0 (pbk.)", "0-19-852663-6 :", "9786041 ..."
and as both ISBN-10 and ISBN-13. Matching must not care: every ISBN is indexed and queried
in its ISBN-13 form, so an ISBN-10 query finds the ISBN-13 record and back.
"""

from __future__ import annotations

import re

__all__ = [
    "isbn_key",
    "isbn10_to_13",
    "issn_key",
    "isbn_is_valid",
    "issn_is_valid",
    "isbn_as_written",
]

_ISBN_CANDIDATE = re.compile(r"(?<![0-9Xx])(?:97[89][\s-]?)?(?:[0-9][\s-]?){8,9}[0-9Xx](?![0-9])")
_ISSN = re.compile(r"(?<![0-9])([0-9]{4})[\s-]?([0-9]{3}[0-9Xx])(?![0-9])")


def isbn10_to_13(isbn10: str) -> str:
    """Return the ISBN-13 (978 prefix) for a 10-character ISBN, with its check digit."""
    body = "978" + isbn10[:9]
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def isbn_key(text: str) -> str | None:
    """Return the ISBN-13 that ``text`` contains, or None when it holds no ISBN-like number.

    Hyphens, spaces and qualifiers ("(pbk.)", ": 45000đ") are ignored. The check digit is
    not enforced: printed books carry wrong ISBNs and the catalogue must still find them by
    what is printed. A 10-character ISBN is converted to ISBN-13 so both forms meet.
    """
    match = _ISBN_CANDIDATE.search(text)
    if not match:
        return None
    digits = re.sub(r"[\s-]", "", match.group(0)).upper()
    if len(digits) == 13 and digits.isdigit():
        return digits
    if len(digits) == 10 and digits[:9].isdigit():
        return isbn10_to_13(digits)
    return None


def issn_key(text: str) -> str | None:
    """Return the ISSN in ``text`` as eight characters without hyphen (check digit upper-case)."""
    match = _ISSN.search(text)
    if not match:
        return None
    return (match.group(1) + match.group(2)).upper()


def isbn_as_written(value: str) -> str:
    """The ISBN in a 020 subfield as catalogued, without qualifier or ISBD punctuation.

    "978-604-1-00000-0 (bìa mềm) :" -> "978-604-1-00000-0". What Dublin Core publishes and
    what the record check validates, so both see the same number.
    """
    return value.strip().split(" ", 1)[0].rstrip(":;.,/")


def isbn_is_valid(isbn: str) -> bool:
    """True when ``isbn`` (hyphens and spaces allowed, no qualifier) has a correct check digit.

    For record checks and for deciding that a Dublin Core identifier is an ISBN; matching
    (:func:`isbn_key`) deliberately does not care.
    """
    digits = re.sub(r"[\s-]", "", isbn).upper()
    if len(digits) == 10 and digits[:9].isdigit() and (digits[9].isdigit() or digits[9] == "X"):
        total = sum((10 - i) * (10 if d == "X" else int(d)) for i, d in enumerate(digits))
        return total % 11 == 0
    if len(digits) == 13 and digits.isdigit() and digits.startswith(("978", "979")):
        total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits))
        return total % 10 == 0
    return False


def issn_is_valid(issn: str) -> bool:
    """True when ``issn`` ("1234-5679") has a correct check digit."""
    compact = issn.replace("-", "").replace(" ", "").upper()
    if (
        len(compact) != 8
        or not compact[:7].isdigit()
        or not (compact[7].isdigit() or compact[7] == "X")
    ):
        return False
    total = sum((8 - i) * int(d) for i, d in enumerate(compact[:7]))
    check = (11 - total % 11) % 11
    return compact[7] == ("X" if check == 10 else str(check))
