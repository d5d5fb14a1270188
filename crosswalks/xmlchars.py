"""Characters that XML 1.0 forbids, removed before any record becomes XML.

MARC data carries C0 control characters (a stray ESC from a broken MARC-8 escape, a
field terminator pasted into a note), U+FFFE/U+FFFF, and lone surrogates from mis-decoded
UTF-16. One such character makes a whole XML response page unparseable, so every XML
rendering passes its text through :class:`XmlText`, which drops them and counts what it
dropped for the caller's log.
"""

from __future__ import annotations

import re

__all__ = ["XmlText", "INVALID_XML_CHARACTERS"]

#: Everything outside XML 1.0's Char production (#x9 | #xA | #xD | [#x20-#xD7FF] |
#: [#xE000-#xFFFD] | [#x10000-#x10FFFF]).
INVALID_XML_CHARACTERS = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class XmlText:
    """Makes strings safe for XML and counts the characters it had to remove.

    One instance serves one rendering (one record or one response page), so the count tells
    the caller how much of *that* output was lost.
    """

    __slots__ = ("removed",)

    def __init__(self) -> None:
        self.removed = 0

    def __call__(self, text: str) -> str:
        """``text`` without the characters XML 1.0 forbids."""
        if text.isascii():
            if text.isprintable():
                return text
        cleaned, count = INVALID_XML_CHARACTERS.subn("", text)
        self.removed += count
        return cleaned
