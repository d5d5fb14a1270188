"""A folder of MARC export files as a source: what iLib, Libol or any ILS that can export gives.

The library's system (or a person) drops ISO 2709, MARCXML or MARC-in-JSON files into one
folder, under any names. Each sync reads only the files that are new or changed since the
last one, oldest first, and marks its progress after each file, so a big folder that is
broken off half-way resumes where it stopped.

Two kinds of export, set per source with ``export``:

* ``delta``: every file adds or updates records. A record whose leader/05 (record status)
  is ``d`` is a deletion: that is how MARC itself marks a record as deleted. Order
  matters, so a file that cannot be read now holds back the newer ones until it can, and
  a file arriving with an older time than one already applied is reported, not applied
  (touch it to apply it anyway).
* ``full``: every file is the whole catalogue. Only the newest file counts (older ones
  still waiting are superseded and not read); after its records comes a
  :class:`~adapters.interface.Complete` listing its ids, which the engine turns into
  tombstones for the rest (when plausible). A file that ends in a broken record looks cut
  short, so it gives no listing: records missing from it may only be missing from the file.
  Nor does one with a record that could not be read or has no id (MARCXML, JSON; for ISO
  2709 the engine, which parses those records, withholds the listing itself).

Files still being written are left for the next sync: those modified less than
``settle_seconds`` ago and the names copy and download tools use while they work
(``.part``, ``.tmp``, ``~``, dotfiles). Text is read as the records declare it (UTF-8 or
MARC-8, the reader tells them apart) with legacy TCVN3/VNI Vietnamese converted as the
library's ``legacy_vietnamese`` setting says; Vietnamese NFC normalisation is the
engine's, on the way into the store.

The record id comes from ``id_rule``: ``001``; ``001+003``, stored as ``"<003>:<001>"``
(just the 001 when a record has no 003), so two agencies' numbers never collide; or one
field's subfield such as ``035$a`` or ``999$c`` (its first non-empty value). A record
without its id is a problem, not a record: an id made up from its content would turn
every edit into a new record.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from crosswalks.legacy import LegacyMode, repair_record
from gateway.marcfile import (
    MarcFileError,
    MarcFormat,
    file_format,
    frame_iso2709,
    read_marc_file,
)
from gateway.record import normalize_record

from .interface import (
    Complete,
    Deletion,
    Encoded,
    Event,
    Mark,
    Problem,
    Sample,
    SourceError,
    SourceSettings,
    Upsert,
)
from .records import IdRule, damage

__all__ = ["IdRule", "MarcFolderSource", "open_source", "SETTLE_SECONDS"]

#: A file modified more recently than this is taken to be still being written.
SETTLE_SECONDS = 10.0
#: Names that copy, download and editing tools give files while they are unfinished.
_UNFINISHED_SUFFIXES = (
    "~", ".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", ".filepart",
    ".swp", ".lock",
)  # fmt: skip
_CHECKPOINT_VERSION = 1
_FORMAT_NAMES = {
    MarcFormat.ISO2709: "ISO 2709",
    MarcFormat.MARCXML: "MARCXML",
    MarcFormat.JSON: "MARC-in-JSON",
}
_SUPERSEDED_NAMED = 5  #: superseded files named in the problem (the rest are counted)


# -- record ids ---------------------------------------------------------------------------


# -- files and the checkpoint ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _File:
    """A file in the folder as listed now."""

    name: str
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class _Print:
    """What the checkpoint remembers of a file that was dealt with."""

    size: int
    mtime_ns: int
    digest: str


@dataclass(frozen=True, slots=True)
class _Unusable:
    """Why a file is not read: not MARC (``retry`` False), or not readable now (True)."""

    reason: str
    retry: bool


@dataclass(slots=True)
class _Outcome:
    """What reading one file came to."""

    #: Live ids (deleted ones left out); None when the engine parses the records.
    ids: set[str] | None = field(default_factory=set)
    records: int = 0  #: read or not
    unreadable: int = 0
    no_id: int = 0
    duplicates: int = 0
    repaired: int = 0
    deleted: int = 0
    first_unreadable: str | None = None  #: "where: why" of the first unreadable record
    cut_short: bool = False  #: the file ends in a broken record
    retry: bool = False  #: the file could not be read now; do not record it as done


def _is_unfinished(name: str) -> bool:
    """Hidden files and the names tools use while a file is incomplete."""
    lowered = name.lower()
    return name.startswith((".", "~", "#")) or lowered.endswith(_UNFINISHED_SUFFIXES)


def _digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, lambda: hashlib.blake2b(digest_size=16)).hexdigest()


def _load_checkpoint(text: str | None) -> tuple[dict[str, _Print], int | None, str | None]:
    """The files a checkpoint remembers, the modification time (ns) of the newest delta
    file applied, and a note when it could not be understood (then every file is read
    again, which is harmless: the store ignores unchanged records).

    A checkpoint written before the newest time was kept takes it from the files it
    remembers as read (those with a digest)."""
    if not text:
        return {}, None, None
    try:
        data = json.loads(text)
        if data.get("version") != _CHECKPOINT_VERSION:
            raise ValueError("version")
        files = {
            str(name): _Print(int(entry["size"]), int(entry["mtime_ns"]), str(entry["digest"]))
            for name, entry in data["files"].items()
        }
        newest = data.get("newest")
        if newest is None:
            newest = max((p.mtime_ns for p in files.values() if p.digest), default=None)
        return files, None if newest is None else int(newest), None
    except (ValueError, TypeError, KeyError, AttributeError):
        note = "the stored checkpoint is not this source's; every file is read again"
        return {}, None, note


def _dump_checkpoint(state: dict[str, _Print], newest: int | None = None) -> str:
    files = {
        name: {"size": p.size, "mtime_ns": p.mtime_ns, "digest": p.digest}
        for name, p in sorted(state.items())
    }
    data: dict[str, object] = {"version": _CHECKPOINT_VERSION, "files": files}
    if newest is not None:
        data["newest"] = newest
    return json.dumps(data, ensure_ascii=False)


def _when(mtime_ns: int) -> str:
    """A file time for messages, in the machine's local time (as file managers show it)."""
    return datetime.fromtimestamp(mtime_ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


# -- the source -----------------------------------------------------------------------------


class MarcFolderSource:
    """A folder of MARC export files (see the module docstring for the rules)."""

    def __init__(
        self,
        folder: str | Path,
        *,
        export: str = "delta",
        id_rule: str = "001",
        legacy: LegacyMode = LegacyMode.AUTO,
        settle_seconds: float = SETTLE_SECONDS,
    ) -> None:
        if export not in ("full", "delta"):
            raise ValueError(f"export must be 'full' or 'delta', not {export!r}")
        self.folder = Path(folder)
        self.full = export == "full"
        self.id_rule = IdRule(id_rule)
        self.legacy = legacy
        self.settle_seconds = settle_seconds
        #: (name, size, mtime_ns, live ids or None when cut short) of the last full file read
        self._listing: tuple[str, int, int, frozenset[str] | None] | None = None

    # -- the folder ---------------------------------------------------------------------

    def _list(self) -> tuple[list[_File], set[str]]:
        """Settled files oldest first, and the names of every visible file (settled or
        not). Raises SourceError when the folder itself cannot be read."""
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            raise SourceError(f"folder {self.folder} does not exist", retryable=True) from None
        except NotADirectoryError:
            raise SourceError(f"{self.folder} is not a folder", retryable=False) from None
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise SourceError(f"cannot read folder {self.folder}: {reason}") from None
        now_ns = time.time_ns()
        settle_ns = int(self.settle_seconds * 1e9)
        settled: list[_File] = []
        visible: set[str] = set()
        for entry in entries:
            if _is_unfinished(entry.name):
                continue
            try:
                if not entry.is_file():
                    continue
                info = entry.stat()
            except OSError:  # gone since the listing, or a broken link
                continue
            visible.add(entry.name)
            if now_ns - info.st_mtime_ns >= settle_ns:
                settled.append(_File(entry.name, Path(entry.path), info.st_size,
                                     info.st_mtime_ns))  # fmt: skip
        settled.sort(key=lambda f: (f.mtime_ns, f.name))
        return settled, visible

    @staticmethod
    def _format(file: _File) -> MarcFormat | None | _Unusable:
        """The file's format (None: empty), or why it is not read."""
        try:
            return file_format(file.path)
        except MarcFileError as exc:
            text = str(exc).replace(f"{file.path}: ", "")
            if file.path.is_file() and os.access(file.path, os.R_OK):
                return _Unusable(text, retry=False)  # readable, but not MARC
            return _Unusable(text, retry=True)  # gone or unreadable now: try next time

    # -- the stream ---------------------------------------------------------------------

    def changes(self, checkpoint: str | None, *, overlap_seconds: int = 0) -> Iterator[Event]:
        """The records of every file new or changed since ``checkpoint``, oldest first, a
        :class:`Mark` after each (``overlap_seconds`` is not needed: files are compared by
        size, time and content digest, not by a clock)."""
        del overlap_seconds
        known, newest, note = _load_checkpoint(checkpoint)
        if note:
            yield Problem("checkpoint", note)
        settled, visible = self._list()
        # Files that went away are forgotten; files still being written keep their entry.
        state = {name: known[name] for name in visible if name in known}
        digests: dict[str, str] = {}
        pending: list[_File] = []
        for file in settled:
            before = known.get(file.name)
            if before and (before.size, before.mtime_ns) == (file.size, file.mtime_ns):
                continue
            if before and before.size == file.size and before.digest:
                # Same size, new time: copied again or touched? Only the content can tell.
                try:
                    digest = digests[file.name] = _digest(file.path)
                except OSError:  # reading it below fails again and says why
                    pending.append(file)
                    continue
                if digest == before.digest:
                    state[file.name] = _Print(file.size, file.mtime_ns, digest)
                    continue
            pending.append(file)
        if self.full:
            yield from self._full(settled, pending, state, digests)
        else:
            yield from self._delta(pending, state, digests, newest)

    @staticmethod
    def _fingerprint(file: _File, digests: dict[str, str]) -> _Print:
        """What the checkpoint will remember of a file about to be read (OSError if it
        cannot be read). The digest is taken before the records are: if the file changes
        while it is read, its new time makes the next sync read it again."""
        digest = digests.get(file.name)
        if digest is None:
            digest = _digest(file.path)
        return _Print(file.size, file.mtime_ns, digest)

    def _delta(
        self,
        pending: list[_File],
        state: dict[str, _Print],
        digests: dict[str, str],
        newest: int | None,
    ) -> Iterator[Event]:
        """Apply the pending delta files oldest first, a Mark after each.

        The order is what makes deltas right, so it is kept two ways. A file that cannot
        be read now stops the pass: the files after it wait with it, or next time its
        older versions of records would overwrite their newer ones. And a file that
        arrives with an older modification time than one already applied (copied back
        from a backup, or with its time kept by ``cp -p``/``rsync -a``) is reported and
        skipped, not applied: it could only bring back old versions. Skipping is the
        safe choice, not the only one: when that file holds records no other file has,
        giving it a new modification time (``touch``) makes it the newest, and it is
        applied at the next sync.
        """
        marked = False
        for index, file in enumerate(pending):
            marked = False
            fmt = self._format(file)
            if isinstance(fmt, _Unusable):
                yield Problem(file.name, f"{fmt.reason}; file not read")
                if fmt.retry:
                    yield from self._waiting(file, pending[index + 1 :])
                    break
                now = _Print(file.size, file.mtime_ns, "")
            elif newest is not None and file.mtime_ns < newest:
                yield Problem(
                    file.name,
                    f"modified {_when(file.mtime_ns)}, before a file already applied (of "
                    f"{_when(newest)}), so it is not read: its records could only bring back "
                    "older versions. To apply it anyway, give it a new modification time "
                    "(touch it)",
                )
                now = _Print(file.size, file.mtime_ns, "")  # no digest: a touch reads it
            else:
                try:
                    now = self._fingerprint(file, digests)
                except OSError as exc:
                    yield Problem(file.name, f"cannot read the file: {exc.strerror or exc}")
                    yield from self._waiting(file, pending[index + 1 :])
                    break
                outcome = yield from self._read(file, encode=True)
                if outcome.retry:
                    yield from self._waiting(file, pending[index + 1 :])
                    break
                newest = file.mtime_ns if newest is None else max(newest, file.mtime_ns)
            state[file.name] = now
            yield Mark(_dump_checkpoint(state, newest))
            marked = True
        if not marked:  # the stream always ends with a Mark
            yield Mark(_dump_checkpoint(state, newest))

    @staticmethod
    def _waiting(file: _File, later: list[_File]) -> Iterator[Event]:
        """Say which newer files wait for ``file``, which could not be read now."""
        if not later:
            return
        named = ", ".join(f.name for f in later[:_SUPERSEDED_NAMED])
        if len(later) > _SUPERSEDED_NAMED:
            named += f" and {len(later) - _SUPERSEDED_NAMED} more"
        yield Problem(
            "folder",
            f"{len(later)} newer file(s) not read until {file.name} can be read, so that its "
            f"records are never applied after theirs: {named}",
        )

    def _full(
        self,
        settled: list[_File],
        pending: list[_File],
        state: dict[str, _Print],
        digests: dict[str, str],
    ) -> Iterator[Event]:
        formats: dict[str, MarcFormat | None | _Unusable] = {}
        for file in pending:
            fmt = formats[file.name] = self._format(file)
            if isinstance(fmt, _Unusable):
                yield Problem(file.name, f"{fmt.reason}; file not read")
                if not fmt.retry:
                    state[file.name] = _Print(file.size, file.mtime_ns, "")
        snapshot = self._snapshot(settled, formats)
        # Older exports waiting are never read, so their content is not digested either.
        superseded = [
            file for file in pending
            if snapshot is not None and file.name != snapshot.name
            if not isinstance(formats[file.name], _Unusable)
        ]  # fmt: skip
        for file in superseded:
            state[file.name] = _Print(file.size, file.mtime_ns, "")
        if superseded and snapshot is not None:
            named = ", ".join(file.name for file in superseded[:_SUPERSEDED_NAMED])
            more = len(superseded) - _SUPERSEDED_NAMED
            if more > 0:
                named += f" and {more} more"
            yield Problem(
                "folder",
                f"{len(superseded)} older full export(s) not read, superseded by "
                f"{snapshot.name}: {named}",
            )
        if snapshot is not None and snapshot in pending:
            yield from self._read_snapshot(snapshot, state, digests)
        yield Mark(_dump_checkpoint(state))

    def _read_snapshot(
        self, snapshot: _File, state: dict[str, _Print], digests: dict[str, str]
    ) -> Iterator[Event]:
        """The newest full export's records, then its listing (unless it looks cut short)."""
        try:
            now = self._fingerprint(snapshot, digests)
        except OSError as exc:
            yield Problem(snapshot.name, f"cannot read the file: {exc.strerror or exc}")
            return
        outcome = yield from self._read(snapshot, encode=True)
        if outcome.retry:
            return
        if outcome.cut_short:
            self._listing = (snapshot.name, snapshot.size, snapshot.mtime_ns, None)
            yield Problem(
                snapshot.name,
                "the full export ends in a broken record (cut short?), so records missing "
                "from it are not deleted",
            )
        elif outcome.ids is not None and (outcome.unreadable or outcome.no_id):
            # A record that could not be read, or has no id, may be one the store holds:
            # listing the rest would tombstone it.
            self._listing = (snapshot.name, snapshot.size, snapshot.mtime_ns, None)
            yield Problem(snapshot.name, self._not_deleted(outcome))
        elif outcome.ids is None:  # encoded: the engine knows which records it gave
            yield Complete(None, f"full export {snapshot.name}")
        else:
            ids = frozenset(outcome.ids)
            self._listing = (snapshot.name, snapshot.size, snapshot.mtime_ns, ids)
            yield Complete(ids, f"full export {snapshot.name}")
        state[snapshot.name] = now

    def _not_deleted(self, outcome: _Outcome) -> str:
        """Why a full export gives no listing: records it has but could not name."""
        parts = []
        if outcome.unreadable:
            parts.append(f"{_records(outcome.unreadable)} of it could not be read")
        if outcome.no_id:
            parts.append(f"{_records(outcome.no_id)} {_HAS[outcome.no_id == 1]} no "
                         f"{self.id_rule.missing}")  # fmt: skip
        return (f"records missing from this export were not deleted, because "
                f"{' and '.join(parts)} (the missing ones may be among them)")  # fmt: skip

    def _snapshot(
        self, settled: list[_File], formats: dict[str, MarcFormat | None | _Unusable]
    ) -> _File | None:
        """The newest settled file that is a MARC file (an empty one counts: it is an
        empty export, which the engine refuses to apply without force)."""
        for file in reversed(settled):
            if file.name not in formats:
                formats[file.name] = self._format(file)
            if not isinstance(formats[file.name], _Unusable):
                return file
        return None

    def _read(self, file: _File, *, encode: bool = False) -> Generator[Event, None, _Outcome]:
        """Every record of one file as events; returns what the file came to.

        With ``encode``, ISO 2709 records are given as :class:`Encoded` frames for the
        engine to parse (in parallel); their ids are then only known to the engine.
        """
        if encode and file_format(file.path) is MarcFormat.ISO2709:
            return (yield from self._frames(file))
        outcome = _Outcome()
        name = file.name
        changed = datetime.fromtimestamp(file.mtime_ns / 1e9, UTC)
        id_of, missing, legacy = self.id_rule.id_of, self.id_rule.missing, self.legacy
        seen: dict[str, int] = {}
        deleted: set[str] = set()
        broken_last = False
        try:
            for result in read_marc_file(file.path, legacy):
                outcome.records += 1
                record = result.record
                if record is None:
                    broken_last = True
                    outcome.unreadable += 1
                    reason = f"{result.error or 'unreadable'}; record not read"
                    problem = Problem(f"{name}, {result.where()}", reason)
                    if outcome.first_unreadable is None:
                        outcome.first_unreadable = f"{problem.where}: {problem.reason}"
                    yield problem
                    continue
                broken_last = False
                local_id = id_of(record)
                if local_id is None:
                    outcome.no_id += 1
                    yield Problem(f"{name}, {result.where()}",
                                  f"record has no {missing}; not stored")  # fmt: skip
                    continue
                first = seen.get(local_id)
                if first is not None:
                    outcome.duplicates += 1
                    yield Problem(f"{name}, {result.where()}",
                                  f"id {local_id} is also record {first} of this file; the "
                                  "later one is kept")  # fmt: skip
                seen[local_id] = result.number
                repairs = damage(result.warning)
                if repairs:
                    outcome.repaired += 1
                    yield Problem(f"{name}, {result.where()}", f"kept with repairs: {repairs}")
                if str(record.leader)[5:6] == "d":
                    outcome.deleted += 1
                    deleted.add(local_id)
                    yield Deletion(local_id, changed)
                    continue
                deleted.discard(local_id)
                repair_record(record, legacy)
                yield Upsert(local_id, record, changed)
        except (MarcFileError, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            yield Problem(name, f"cannot read the file: {reason}")
            outcome.retry = True
            return outcome
        outcome.ids = set(seen) - deleted
        outcome.cut_short = broken_last
        return outcome

    def _frames(self, file: _File) -> Generator[Event, None, _Outcome]:
        """An ISO 2709 file's records, cut but not parsed (the engine parses them)."""
        outcome = _Outcome(ids=None)
        changed = datetime.fromtimestamp(file.mtime_ns / 1e9, UTC)
        last_note: str | None = None
        try:
            for frame in frame_iso2709(file.path):
                outcome.records += 1
                last_note = frame.note
                where = f"{file.name}, record {frame.number} at byte {frame.start}"
                yield Encoded(frame.data, "iso2709", where, id_rule=self.id_rule.rule,
                              changed=changed)  # fmt: skip
        except OSError as exc:
            yield Problem(file.name, f"cannot read the file: {exc.strerror or exc}")
            outcome.retry = True
            return outcome
        outcome.cut_short = last_note is not None and "terminator" in last_note
        return outcome

    def close(self) -> None:
        """Nothing stays open between calls: every file is opened and closed as it is read."""
        self._listing = None

    # -- listing and sampling -------------------------------------------------------------

    def current_ids(self) -> Iterator[str] | None:
        """Full exports: the live ids of the newest file (None when a record of it could
        not be read or has no id: the listing would not be whole); delta exports cannot
        list the catalogue, so None."""
        if not self.full:
            return None
        settled, _ = self._list()
        snapshot = self._snapshot(settled, {})
        if snapshot is None:
            return iter(())
        cached = self._listing
        if cached is not None and cached[:3] == (snapshot.name, snapshot.size, snapshot.mtime_ns):
            return None if cached[3] is None else iter(cached[3])
        ids: dict[str, bool] = {}
        incomplete = False  # a record unreadable or without its id: the listing is not whole
        try:
            for result in read_marc_file(snapshot.path, self.legacy):
                record = result.record
                local_id = None if record is None else self.id_rule.id_of(record)
                if record is None or local_id is None:
                    incomplete = True
                    continue
                ids[local_id] = str(record.leader)[5:6] != "d"
        except (MarcFileError, OSError) as exc:
            raise SourceError(f"cannot read {snapshot.path}: {exc}") from None
        live = None if incomplete else frozenset(i for i, alive in ids.items() if alive)
        self._listing = (snapshot.name, snapshot.size, snapshot.mtime_ns, live)
        return None if live is None else iter(live)

    def sample(self, limit: int = 5) -> Sample:
        """The folder's files by format, and the newest one read through: its first
        ``limit`` records and what is wrong with the rest, counted."""
        settled, visible = self._list()
        waiting = len(visible) - len(settled)
        counts: dict[str, int] = {}
        problems: list[str] = []
        marc_files: list[_File] = []
        for file in settled:
            fmt = self._format(file)
            if isinstance(fmt, _Unusable):
                problems.append(f"{file.name}: {fmt.reason}")
                continue
            label = "empty" if fmt is None else _FORMAT_NAMES[fmt]
            counts[label] = counts.get(label, 0) + 1
            marc_files.append(file)
        kinds = ", ".join(f"{n} {label}" for label, n in sorted(counts.items()))
        many = "" if len(marc_files) == 1 else "s"
        summary = f"folder {self.folder}: {len(marc_files)} MARC file{many}"
        if kinds:
            summary += f" ({kinds})"
        if waiting:
            summary += f", {waiting} still being written"
        records: list[Upsert] = []
        if marc_files:
            newest = marc_files[-1]
            read = self._sample_file(newest, limit, records, problems)
            summary += f", {_records(read)} in the newest ({newest.name})"
        summary += f"; {'full' if self.full else 'delta'} exports, ids from {self.id_rule.rule}"
        return Sample(summary, tuple(records), tuple(problems))

    def _sample_file(
        self, file: _File, limit: int, records: list[Upsert], problems: list[str]
    ) -> int:
        """Read ``file`` through for :meth:`sample`; return how many records it holds."""
        events = self._read(file)
        last: Problem | None = None
        while True:
            try:
                event = next(events)
            except StopIteration as stop:
                outcome: _Outcome = stop.value
                break
            if isinstance(event, Upsert) and len(records) < limit:
                normalize_record(event.record)
                records.append(event)
            elif isinstance(event, Problem):
                last = event
        if outcome.retry and last is not None:
            problems.append(f"{last.where}: {last.reason}")
            return 0
        counted = (
            (outcome.unreadable, "could not be read"),
            (outcome.no_id, f"{_HAS[outcome.no_id == 1]} no {self.id_rule.missing}"),
            (outcome.duplicates, f"{_REPEATS[outcome.duplicates == 1]} an id used earlier in "
             "the file (the later one counts)"),
            (outcome.repaired, f"{_WAS[outcome.repaired == 1]} kept with repairs"),
            (outcome.deleted, f"{_IS[outcome.deleted == 1]} marked deleted (leader/05 d)"),
        )  # fmt: skip
        for number, what in counted:
            if number:
                problems.append(f"{_records(number)} {what}")
        if outcome.first_unreadable is not None:
            problems.append(f"first unreadable record: {outcome.first_unreadable}")
        if outcome.cut_short:
            problems.append(f"{file.name} ends in a broken record (cut short?)")
        return outcome.records - outcome.unreadable - outcome.no_id


#: Verbs for one record (True) or several (False).
_HAS, _REPEATS, _WAS, _IS = ("have", "has"), ("repeat", "repeats"), ("were", "was"), ("are", "is")


def _records(number: int) -> str:
    return f"{number:,} record" + ("" if number == 1 else "s")


def open_source(settings: SourceSettings) -> MarcFolderSource:
    """The source for a ``kind: marc-folder`` entry (``path``, ``export``, ``id_rule``)."""
    options = settings.options
    folder = settings.path("path", "the export folder")
    legacy = settings.legacy_mode()
    try:
        return MarcFolderSource(
            folder,
            export=str(options.get("export") or "delta"),
            id_rule=str(options.get("id_rule") or "001"),
            legacy=legacy,
        )
    except ValueError as exc:
        raise SourceError(f"source {settings.name}: {exc}", retryable=False) from None
