"""The checks made on every header of ListIdentifiers, as the pages come in.

Duplicates, deleted headers, datestamps and setSpecs are judged one header at a time
against what Identify and ListSets said, which is why they get a module of their own,
apart from the list walking that feeds them.
"""

from __future__ import annotations

from typing import Any

from .fetch import _Answer
from .report import CheckOptions, HarvestFigures, Level, _Add, _Problems
from .standard import _O, Datestamp, parse_datestamp


class _HeaderChecks:
    """The checks made on every ListIdentifiers header, and their findings."""

    def __init__(
        self,
        options: CheckOptions,
        figures: HarvestFigures,
        *,
        granularity: str | None,
        earliest: Datestamp | None,
        deleted_record: str | None,
        sets: set[str] | None,
    ) -> None:
        # What Identify and ListSets said, read before ListIdentifiers starts.
        self.options = options
        self.figures = figures
        self.granularity = granularity
        self.earliest = earliest
        self.deleted_record = deleted_record
        self.sets = sets  # None: ListSets could not be read
        self.sample: str | None = None  # the first identifier harvested, not deleted if any
        self.sample_deleted = True
        self.seen: dict[str, tuple[str, int]] = {}  # identifier -> (datestamp, page)
        self.duplicates = _Problems()
        self.bad_stamp = _Problems()
        self.wrong_granularity = _Problems()
        self.too_early = _Problems()
        self.future = _Problems()
        self.outside = _Problems()
        self.unlisted_sets = _Problems()
        self.not_in_set = _Problems()
        self.first: Datestamp | None = None
        self.last: Datestamp | None = None
        self.since = parse_datestamp(options.since) if options.since else None
        self.until = parse_datestamp(options.until) if options.until else None

    def take(self, page: int, headers: list[Any], answer: _Answer) -> None:
        """Check the headers of one ListIdentifiers page."""
        figures = self.figures
        granularity = self.granularity
        earliest = self.earliest
        known_sets = self.sets
        wanted = self.options.set_spec
        for header in headers:
            identifier = (header.findtext(f"{_O}identifier") or "").strip()
            text = (header.findtext(f"{_O}datestamp") or "").strip()
            deleted = header.get("status") == "deleted"
            figures.headers += 1
            figures.deleted += deleted
            where = f"{identifier} on page {page}"
            previous = self.seen.get(identifier)
            if previous is None:
                self.seen[identifier] = (text, page)
                figures.identifiers += 1
                if self.sample is None or (self.sample_deleted and not deleted):
                    self.sample, self.sample_deleted = identifier, deleted
            elif previous[0] == text:
                figures.duplicates += 1
                self.duplicates.add(f"{identifier} on pages {previous[1]} and {page}")
            else:
                figures.served_again_changed += 1
                self.seen[identifier] = (text, page)
            stamp = parse_datestamp(text)
            if stamp is None:
                self.bad_stamp.add(f"{text!r} for {where}")
            else:
                if granularity and stamp.granularity != granularity:
                    self.wrong_granularity.add(f"{text} for {where}")
                if earliest and stamp.end < earliest.start:
                    self.too_early.add(f"{text} for {where}")
                if answer.response_date and stamp.start > answer.response_date:
                    self.future.add(f"{text} for {where}")
                if (self.since and stamp.end < self.since.start) or (
                    self.until and stamp.start > self.until.end
                ):
                    self.outside.add(f"{text} for {where}")
                if self.first is None or stamp.start < self.first.start:
                    self.first = stamp
                if self.last is None or stamp.start > self.last.start:
                    self.last = stamp
            specs = [(s.text or "").strip() for s in header.findall(f"{_O}setSpec")]
            if known_sets is not None:
                for spec in specs:
                    if spec not in known_sets:
                        self.unlisted_sets.add(f"{spec} for {where}")
            if (
                wanted
                and not deleted
                and not any(s == wanted or s.startswith(wanted + ":") for s in specs)
            ):
                self.not_in_set.add(f"{where} has sets {', '.join(specs) or 'none'}")

    def findings(self, add: _Add) -> None:
        """The findings of the checks on every header, given to ``add``."""
        figures = self.figures
        if self.duplicates:
            add("duplicates", Level.FAIL, self.duplicates.describe(
                "identifiers served twice with the same datestamp"))  # fmt: skip
        else:
            again = ""
            if figures.served_again_changed:
                again = (f"; {figures.served_again_changed} served again after they changed "
                         "during the harvest, as they should be")  # fmt: skip
            add("duplicates", Level.PASS, f"none among {figures.headers} headers{again}")

        policy = self.deleted_record
        if figures.deleted and policy == "no":
            add("deleted", Level.FAIL, f"{figures.deleted} deleted headers, but Identify "
                "says deletedRecord no")  # fmt: skip
        else:
            add("deleted", Level.PASS, f"{figures.deleted} deleted headers (Identify: "
                f"deletedRecord {policy or 'unknown'})")  # fmt: skip

        granularity = self.granularity
        problems = [
            (self.bad_stamp, "datestamps that are not UTC datestamps"),
            (self.wrong_granularity, f"datestamps not at Identify's granularity {granularity}"),
            (self.too_early, "datestamps before Identify's earliestDatestamp"),
            (self.future, "datestamps after the responseDate of their page"),
            (self.outside, "datestamps outside the --from/--until asked for"),
        ]
        found = [problems.describe(what) for problems, what in problems if problems]
        if found:
            add("datestamps", Level.FAIL, "; ".join(found))
        elif not figures.headers:
            add("datestamps", Level.PASS, "no headers to check")
        else:
            span = f"from {self.first.text} to {self.last.text}" if self.first and self.last \
                else ""  # fmt: skip
            within = ", within --from/--until" if self.since or self.until else ""
            if granularity:
                add("datestamps", Level.PASS, f"all {figures.headers} at {granularity} as "
                    f"Identify says, {span}; none before earliestDatestamp or after "
                    f"responseDate{within}")  # fmt: skip
            else:
                add("datestamps", Level.WARN, f"all {figures.headers} well formed, {span}, "
                    "but Identify gave no granularity to compare with")  # fmt: skip

        if self.not_in_set:
            add("setSpecs", Level.FAIL, self.not_in_set.describe(
                f"records outside the set {self.options.set_spec} asked for"))  # fmt: skip
        elif self.unlisted_sets:
            add("setSpecs", Level.WARN, self.unlisted_sets.describe(
                "setSpecs that ListSets does not list"))  # fmt: skip
        elif self.sets is None:
            add("setSpecs", Level.WARN, "not compared: ListSets could not be read")
        else:
            asked = f"; every record is in {self.options.set_spec}" if self.options.set_spec \
                else ""  # fmt: skip
            add("setSpecs", Level.PASS, f"every setSpec in the headers is listed by "
                f"ListSets{asked}")  # fmt: skip
