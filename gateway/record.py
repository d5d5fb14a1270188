"""The canonical record: one MARC 21 bibliographic record plus the gateway's metadata.

Every flow meets here. Adapters and the importer build :class:`CanonicalRecord` values; the
store keeps them and adds what only the store can know (datestamp at commit, the internal
number); protocols read :class:`StoredRecord` values and render them through crosswalks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from pymarc import Record, Subfield

from crosswalks.marcjson import marc_json_text
from crosswalks.vietnamese import normalize

__all__ = [
    "Item",
    "CanonicalRecord",
    "StoredRecord",
    "oai_identifier",
    "parse_oai_identifier",
    "normalize_record",
    "type_of_record",
    "default_sets",
    "content_digest",
]

#: Characters the OAI identifier syntax allows in the local part (RFC 2396 unreserved plus
#: reserved); anything else in a source's local id is percent-encoded.
_OAI_SAFE = "-_.!~*'();/?:@&=+$,"


@dataclass(frozen=True, slots=True)
class Item:
    """One physical copy held by a member library (what OPAC holdings and 852 describe)."""

    library: str
    barcode: str = ""
    location: str = ""
    call_number: str = ""
    status: str = "available"

    def as_dict(self) -> dict[str, str]:
        """Plain form for storage; empty values are kept so equality is exact."""
        return {
            "library": self.library,
            "barcode": self.barcode,
            "location": self.location,
            "call_number": self.call_number,
            "status": self.status,
        }


@dataclass(slots=True)
class CanonicalRecord:
    """A record as a source delivers it, before the store gives it a datestamp."""

    source: str
    local_id: str
    marc: Record
    oai_identifier: str
    sets: frozenset[str] = frozenset()
    items: tuple[Item, ...] = ()

    def content_hash(self) -> str:
        """Digest of everything a harvester or searcher can see; equal digest = no change.

        The store compares it on re-import so that loading the same file twice neither
        creates a second record nor moves the datestamp (which would make every harvester
        download the whole catalogue again).
        """
        return content_digest(marc_json_text(self.marc), self.sets, self.items)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as the store returns it: metadata always, MARC unless it is a tombstone."""

    number: int
    source: str
    local_id: str
    oai_identifier: str
    datestamp: datetime
    deleted: bool
    sets: frozenset[str]
    items: tuple[Item, ...]
    marc: Record | None
    #: The store's change sequence number of this version: it grows with every change, so
    #: (number, version) names one version exactly (datestamps are only seconds).
    version: int = 0

    @property
    def datestamp_text(self) -> str:
        """Datestamp in the UTC seconds form protocols print (``YYYY-MM-DDThh:mm:ssZ``)."""
        return self.datestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def content_digest(marc_json: str, sets: frozenset[str], items: tuple[Item, ...]) -> str:
    """Digest of a record's MARC-in-JSON text, sets and items (see ``content_hash``)."""
    digest = hashlib.blake2b(marc_json.encode("utf-8"), digest_size=16)
    digest.update(b"\x00" + "\x1f".join(sorted(sets)).encode("utf-8"))
    for item in items:
        digest.update(b"\x00" + "\x1f".join(item.as_dict().values()).encode("utf-8"))
    return digest.hexdigest()


def oai_identifier(namespace: str, source: str, local_id: str) -> str:
    """Build ``oai:<namespace>:<source>/<local id>``, escaping what the syntax forbids."""
    return f"oai:{namespace}:{quote(source, safe='-_.')}/{quote(local_id, safe=_OAI_SAFE)}"


def parse_oai_identifier(identifier: str) -> tuple[str, str] | None:
    """(source, local id) of an identifier made by :func:`oai_identifier`, else None.

    The namespace is not checked here: the store compares the whole stored identifier.
    """
    parts = identifier.split(":", 2)
    if len(parts) != 3 or parts[0] != "oai" or "/" not in parts[2]:
        return None
    source, local_id = parts[2].split("/", 1)
    if not source or not local_id:
        return None
    return unquote(source), unquote(local_id)


def normalize_record(record: Record) -> Record:
    """Normalise every subfield and control field of ``record`` in place (Vietnamese NFC).

    Returns the same record, so it can be used in expressions.
    """
    for fld in record.fields:
        if fld.is_control_field():
            if fld.data and not fld.data.isascii():
                fld.data = normalize(fld.data)
        else:
            fld.subfields = [
                sub if sub.value.isascii() else Subfield(sub.code, normalize(sub.value))
                for sub in fld.subfields
            ]
    return record


#: LDR/06 (and LDR/07 for the text case) to the type set names the OAI endpoint publishes.
_TYPE_BY_LEADER6 = {
    "a": "book",
    "t": "book",
    "c": "music",
    "d": "music",
    "e": "map",
    "f": "map",
    "g": "visual",
    "k": "visual",
    "o": "kit",
    "p": "mixed",
    "i": "audio",
    "j": "audio",
    "m": "electronic",
    "r": "object",
}


def type_of_record(record: Record) -> str:
    """Classify a record as book, serial, map, music, ... from its leader."""
    leader = str(record.leader)
    kind = leader[6:7]
    level = leader[7:8]
    if kind in ("a", "t") and level in ("b", "i", "s"):
        return "serial"
    return _TYPE_BY_LEADER6.get(kind, "other")


def default_sets(source: str, record: Record) -> frozenset[str]:
    """Set memberships every record gets: its member library and its type."""
    return frozenset({f"library:{source}", f"type:{type_of_record(record)}"})
