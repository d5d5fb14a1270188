"""What a bibliographic source adapter gives the sync engine, and nothing more.

An adapter knows one kind of system (a folder of MARC exports, an OAI-PMH provider, an SQL
database, a spreadsheet) and turns what it finds there into a stream of :data:`Event`
values. It never writes to the store and never decides about deletions it was not told of:
the engine (``gateway.sync``) owns checkpoints, batching, tombstones, the safety threshold
and retries, so each adapter stays a translator and the rules are the same for every source.

The stream interleaves changes with :class:`Mark` values. A mark carries a checkpoint that
is safe to store once every change *before* it is committed; the engine commits and stores
it, so a long sync broken off half-way resumes from the last mark instead of the start.
Checkpoints are opaque text to the engine: an adapter puts whatever it needs in them (an
ISO datestamp, a JSON list of file fingerprints) and gets the same text back next time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pymarc import Record

from crosswalks.legacy import LegacyMode
from gateway.record import Item

__all__ = [
    "Upsert",
    "Encoded",
    "Deletion",
    "Mark",
    "Complete",
    "Event",
    "Problem",
    "Sample",
    "SourceError",
    "BibliographicSource",
    "SourceSettings",
]


@dataclass(frozen=True, slots=True)
class Upsert:
    """A record that exists at the source, as it is there now.

    ``local_id`` is the source's own id (what the record is stored under, within the
    member library); ``changed`` is the source's timestamp for it when it has one.
    ``items`` are the copies the source lists for it (None: take them from 852 fields).
    """

    local_id: str
    record: Record
    changed: datetime | None = None
    items: tuple[Item, ...] | None = None


@dataclass(frozen=True, slots=True)
class Encoded:
    """A record still in its serialisation: ISO 2709 bytes or one MARCXML ``record``.

    Parsing is most of a full sync's work; the engine parses encoded records (in worker
    processes when the sync runs from the command line), applies ``id_rule`` when
    ``local_id`` is None (:func:`adapters.ids.record_id`), repairs legacy Vietnamese text
    and reports a record it cannot read as a :class:`Problem` at ``where``.
    """

    data: bytes
    syntax: str  #: "iso2709" or "marcxml"
    where: str
    local_id: str | None = None
    id_rule: str = "001"
    changed: datetime | None = None
    items: tuple[Item, ...] | None = None


@dataclass(frozen=True, slots=True)
class Deletion:
    """The source reports that ``local_id`` was deleted (becomes a tombstone)."""

    local_id: str
    changed: datetime | None = None


@dataclass(frozen=True, slots=True)
class Mark:
    """Everything before this is read: ``checkpoint`` may be stored once it is committed."""

    checkpoint: str


@dataclass(frozen=True, slots=True)
class Complete:
    """The source's whole current set is ``ids``: every other record of the source is gone.

    A full MARC export, or a reconciliation listing. The engine applies it only when it is
    plausible (not empty, not less than half of what is stored) unless forced, so a broken
    export cannot wipe a library's catalogue.
    """

    #: None: exactly the records given since this sync began (a full export whose ids
    #: only the engine learns, as it parses :class:`Encoded` records).
    ids: frozenset[str] | None
    what: str = "full listing"  #: named in messages ("full export daily.mrc", ...)


@dataclass(frozen=True, slots=True)
class Problem:
    """A record the adapter could not turn into a change (or one it could only repair),
    and why, in plain words.

    The sync goes on without it; the engine counts and reports it. ``where`` names the
    place at the source (file and record number, page, row, primary key).
    """

    where: str
    reason: str
    #: The record was still given (read with repairs): nothing of it is missing.
    kept: bool = False


#: One entry of an adapter's stream.
Event = Upsert | Encoded | Deletion | Mark | Complete | Problem


class SourceError(Exception):
    """The source cannot be read at all right now (down, refused credentials, garbage
    where a page was expected, a mapping naming a missing column). The message is plain
    words for an administrator and never contains a password. ``retryable`` is False
    when trying again without a change of configuration cannot help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class Sample:
    """What ``lienthong sources test`` shows: what was found, and what looks wrong."""

    summary: str  #: e.g. "OAI-PMH provider 'Koha', 3 formats, 1,204 records"
    records: tuple[Upsert, ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceSettings:
    """A configured source as an adapter sees it: its own config entry and where it is.

    ``options`` is the source's entry from the configuration file (defaults filled in,
    paths resolved); ``directory`` the configuration file's folder, for relative files.
    """

    name: str
    library: str
    kind: str
    options: Mapping[str, Any]
    directory: str = "."
    legacy: str = "auto"  #: the library's legacy_vietnamese setting
    extra: Mapping[str, Any] = field(default_factory=dict)

    def legacy_mode(self) -> LegacyMode:
        """The library's legacy-Vietnamese setting; SourceError when it is not one."""
        try:
            return LegacyMode(self.legacy)
        except ValueError:
            raise SourceError(f"legacy_vietnamese {self.legacy!r} is not auto, tcvn3, vni or "
                              "off", retryable=False) from None  # fmt: skip

    def path(self, key: str, what: str) -> Path:
        """The file or folder option ``key`` (``what`` names it in the error when it is
        not set), relative ones against the configuration's folder."""
        value = self.options.get(key)
        if not value:
            raise SourceError(f"source {self.name}: {key} ({what}) is not set", retryable=False)
        path = Path(str(value)).expanduser()
        return path if path.is_absolute() else Path(self.directory) / path


@runtime_checkable
class BibliographicSource(Protocol):
    """A system that holds a member library's catalogue records.

    Methods are blocking; the engine runs them in a worker thread. They raise
    :class:`SourceError` when the source cannot be read; any record-level trouble is a
    :class:`Problem` in the stream instead.
    """

    def changes(self, checkpoint: str | None, *, overlap_seconds: int) -> Iterator[Event]:
        """Changes since ``checkpoint`` (None: everything), ending with a :class:`Mark`.

        Timestamp-based sources start ``overlap_seconds`` before the checkpoint so that
        clock skew and changes made in the checkpoint's own second are never missed (the
        store ignores unchanged re-reads).
        """
        ...

    def current_ids(self) -> Iterator[str] | None:
        """Every id the source has now, for reconciliation; None when it cannot list them
        more cheaply than a full read (the engine then reads everything)."""
        ...

    def sample(self, limit: int = 5) -> Sample:
        """Connect, read up to ``limit`` records, and describe what was found."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...
