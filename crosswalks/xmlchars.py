"""Characters that XML 1.0 forbids, removed before any record becomes XML.

MARC data carries C0 control characters (a stray ESC from a broken MARC-8 escape, a
field terminator pasted into a note), U+FFFE/U+FFFF, and lone surrogates from mis-decoded
UTF-16. One such character makes a whole XML response page unparseable, so every XML
rendering passes its text through :class:`XmlText`, which drops them and counts what it
dropped for the caller's log.
"""

from __future__ import annotations

import re

__all__ = ["XmlText", "INVALID_XML_CHARACTERS", "escape_xml"]

#: Everything outside XML 1.0's Char production (#x9 | #xA | #xD | [#x20-#xD7FF] |
#: [#xE000-#xFFFD] | [#x10000-#x10FFFF]).
INVALID_XML_CHARACTERS = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Escapes valid in both text and double-quoted attribute values. Tab, newline and carriage
# return are written as references because parsers normalise them in attribute values (and
# CR everywhere), which would change the data on the way through.
_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\t": "&#9;", "\n": "&#10;",
     "\r": "&#13;"}
)  # fmt: skip


def escape_xml(text: str) -> str:
    """``text`` (already free of forbidden characters) escaped for XML text or a
    double-quoted attribute value."""
    return text.translate(_ESCAPES)


class XmlText:
    """Makes strings safe for XML and counts the characters it had to remove.

    One instance serves one rendering (one record or one response page), so the count tells
    the caller how much of *that* output was lost.
    """

    __slots__ = ("removed", "repaired")

    def __init__(self) -> None:
        #: Characters removed because XML 1.0 forbids them.
        self.removed = 0
        #: Values a schema forbids that were replaced or left out (an invalid indicator,
        #: a field with no subfields), so that the output stays valid.
        self.repaired = 0

    def __call__(self, text: str) -> str:
        """``text`` without the characters XML 1.0 forbids."""
        # Printable text has no control character, surrogate or non-character: the
        # common case costs one C-level scan.
        if text.isprintable():
            return text
        cleaned, count = INVALID_XML_CHARACTERS.subn("", text)
        self.removed += count
        return cleaned

    def escape(self, text: str) -> str:
        """``text`` cleaned and escaped for XML text or a double-quoted attribute value.

        For renderers that build XML as text, which is several times faster than building
        an lxml tree element by element.
        """
        if text.isprintable():
            return text.translate(_ESCAPES)
        return escape_xml(self(text))
