"""ISBD punctuation at the ends of MARC subfields.

AACR2 and RDA records carry the ISBD separators (" /", " :", " ;", " =", ",", ".") at the
end of the subfield *before* the element they introduce. They are display punctuation for a
catalogue card, not data: Dublin Core, MODS, sort keys and brief displays want them gone.
Only the end of a subfield is touched; punctuation inside the data stays.
"""

from __future__ import annotations

import re

__all__ = ["strip_isbd"]

# A final period belongs to the data after these words (lower-cased, without the period).
# English cataloguing abbreviations, US state abbreviations, and the Vietnamese ones common
# in imprints and notes.
_ABBREVIATIONS = frozenset(
    {
        "co", "corp", "inc", "ltd", "bros", "dept", "univ", "jr", "sr", "st", "dr", "mr", "mrs",
        "ed", "eds", "comp", "trans", "tr", "rev", "enl", "etc", "ca", "cm", "mm", "p", "pp",
        "v", "vol", "vols", "no", "ill", "illus", "col", "b", "d", "fl", "n.d", "s.l", "s.n",
        "nxb", "tp", "h", "q", "gs", "pgs", "ts", "ths", "bs", "ks", "cn",
        # US states as LoC imprints abbreviate them ("Omaha, Neb.")
        "ala", "ariz", "ark", "calif", "colo", "conn", "del", "fla", "ga", "kan", "ky", "md",
        "mass", "mich", "minn", "mont", "neb", "nev", "okla", "ore", "pa", "tenn", "tex",
        "va", "vt", "wis", "wyo",
    }
)  # fmt: skip


_INITIALS = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")


def strip_isbd(text: str) -> str:
    """Remove ISBD punctuation at the end of a subfield (" /", " :", ";", ",", "=", final ".").

    A final period is kept when it ends an initial ("Nguyễn, V."), an abbreviation ("Co.",
    "tr.", "[s.n.]"), or an ellipsis, because there it is part of the data.
    """
    text = text.strip().rstrip(" /:;,=").rstrip()
    if not text.endswith(".") or text.endswith("..."):
        return text
    last_word = text[text.rfind(" ") + 1 : -1].lstrip("([").casefold()
    initial = last_word.rstrip(".")
    if (len(initial) == 1 and initial.isalpha()) or last_word in _ABBREVIATIONS:
        return text
    if _INITIALS.fullmatch(initial):  # "V.A.", "D.C.", "N.Y."
        return text
    return text[:-1].rstrip()
