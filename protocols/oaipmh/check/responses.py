"""The checks made on every response, whatever was asked: HTTP, responseDate, compression
and the XML Schemas.

Each response is tallied as it arrives and the tallies become one finding per check at the
end, so these checks stay out of the way of the verbs and lists being harvested.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import requests
from lxml import etree

from gateway.xmlschemas import CombinedSchema, combined_schema

from .fetch import _Answer
from .report import HarvestFigures, Level, _Add, _plural, _Problems
from .standard import _O, SECONDS, parse_datestamp

#: Elements whose single child the schema validates strictly, whatever its namespace.
_OPEN_CONTAINERS = frozenset(
    f"{_O}{name}" for name in ("metadata", "about", "description", "setDescription")
)
#: Stands in for content in a namespace no given schema covers (reported, not failed).
_UNCHECKED_NS = "urn:x-lienthong:oai-check:unchecked"
_UNCHECKED = f"{{{_UNCHECKED_NS}}}unchecked"
#: The schema files a --schemas folder must provide between them.
REQUIRED_SCHEMAS = ("OAI-PMH.xsd",)

#: responseDate further than this from our clock means one of the two clocks is wrong.
CLOCK_SKEW_SECONDS = 120
#: ... and this far is no drifting clock: local time written as UTC, or a clock set wrong.
LOCAL_TIME_SECONDS = 15 * 60


def load_schemas(folders: Sequence[Path]) -> CombinedSchema:
    """One schema from every XSD in ``folders``, for validating whole responses.

    Raises :class:`SchemaFolderError` when they lack ``OAI-PMH.xsd`` or do not compile.
    """
    return combined_schema(
        folders,
        required=REQUIRED_SCHEMAS,
        target_namespace=_UNCHECKED_NS,
        declarations='<xs:element name="unchecked"/>',
    )


class _ResponseChecks:
    """The checks made on every response, and their findings."""

    def __init__(self, figures: HarvestFigures, schemas: CombinedSchema | None) -> None:
        self.figures = figures
        self.schemas = schemas
        # Tallies over every response, turned into findings at the end.
        self.http_fail = _Problems()
        self.http_warn = _Problems()
        self.content_types: Counter[str] = Counter()
        self.date_fail = _Problems()
        self.max_skew = 0.0
        self.skew_example = ""
        self.invalid = _Problems()
        self.unchecked: Counter[str] = Counter()

    def take(self, answer: _Answer, response: requests.Response, received: datetime) -> None:
        """Tally one response, and give ``answer`` its responseDate if it has a good one."""
        self._tally_http(answer, response)
        if answer.root is not None:
            answer.response_date = self._tally_response_date(answer, received)
            self._validate(answer)

    def _tally_http(self, answer: _Answer, response: requests.Response) -> None:
        if answer.status != 200:
            self.http_fail.add(f"{answer.label}: HTTP {answer.status} {response.reason or ''}"
                               .rstrip())  # fmt: skip
        media_type = answer.content_type.split(";", 1)[0].strip().lower()
        self.content_types[media_type or "no content type"] += 1
        if "xml" not in media_type:
            self.http_warn.add(f"{answer.label}: {media_type or 'no content type'}")
        coding = response.headers.get("Content-Encoding", "").strip().lower()
        if coding and coding != "identity":
            self.figures.compressed[coding] = self.figures.compressed.get(coding, 0) + 1

    def _tally_response_date(self, answer: _Answer, received: datetime) -> datetime | None:
        text = (answer.root.findtext(f"{_O}responseDate") or "").strip()
        stamp = parse_datestamp(text)
        if stamp is None or stamp.granularity != SECONDS:
            self.date_fail.add(f"{answer.label}: {text!r}")
            return None
        skew = (stamp.start - received).total_seconds()
        # The server writes whole seconds, when it started answering: up to a second
        # plus the time the answer took behind our clock is not skew.
        if -answer.seconds - 1 <= skew <= 0:
            skew = 0.0
        if abs(skew) > abs(self.max_skew):
            self.max_skew = skew
            self.skew_example = answer.label
        return stamp.start

    def _validate(self, answer: _Answer) -> None:
        if self.schemas is None:
            return
        document = answer.root
        covered = self.schemas.namespaces
        strays = [
            child
            for container in document.iter(*_OPEN_CONTAINERS)
            for child in container
            if isinstance(child.tag, str)
            and (namespace := etree.QName(child).namespace)
            and namespace not in covered
        ]
        if strays:
            # A format nobody gave a schema for: check the rest, and say what was not.
            for child in strays:
                self.unchecked[etree.QName(child).namespace or ""] += 1
            document = copy.deepcopy(document)
            for container in list(document.iter(*_OPEN_CONTAINERS)):
                for child in list(container):
                    namespace = etree.QName(child).namespace if isinstance(child.tag, str) else ""
                    if namespace and namespace not in covered:
                        stand_in = etree.Element(_UNCHECKED)
                        stand_in.tail = child.tail
                        container.replace(child, stand_in)
        if not self.schemas.schema.validate(document):
            self.figures.invalid_responses += 1
            entry = self.schemas.schema.error_log[0]
            self.invalid.add(f"{answer.label}, line {entry.line}: {entry.message}")

    def findings(self, add: _Add, offered: list[str]) -> None:
        """The findings of every check here; ``offered``: the compressions Identify lists."""
        figures = self.figures
        count = _plural(figures.responses, "response")
        retries = (f"; the server asked to retry later {figures.retries} times (503)"
                   if figures.retries else "")  # fmt: skip
        types = ", ".join(self.content_types)
        if self.http_fail:
            add("HTTP", Level.FAIL, self.http_fail.describe(f"of {count} not HTTP 200 "
                "(OAI-PMH answers even its errors with 200)") + retries)  # fmt: skip
        elif self.http_warn:
            add("HTTP", Level.WARN, self.http_warn.describe(f"of {count} without an XML "
                "content type (OAI-PMH uses text/xml)") + retries)  # fmt: skip
        elif retries:
            add("HTTP", Level.WARN, f"{count}, all HTTP 200 {types}{retries}")
        else:
            add("HTTP", Level.PASS, f"{count}, all HTTP 200 {types}")

        if self.date_fail:
            add("responseDate", Level.FAIL, self.date_fail.describe(
                "not a UTC time like 2026-01-31T08:00:00Z"))  # fmt: skip
        elif abs(self.max_skew) > CLOCK_SKEW_SECONDS:
            side = "ahead of" if self.max_skew > 0 else "behind"
            hours = abs(self.max_skew) / 3600
            local_time = (" (whole hours: local time written as UTC?)"
                          if hours >= 0.5 and abs(hours - round(hours)) < 0.02 else "")  # fmt: skip
            level = Level.FAIL if abs(self.max_skew) >= LOCAL_TIME_SECONDS else Level.WARN
            add("responseDate", level, f"{abs(self.max_skew):.0f} s {side} this "
                f"machine's clock ({self.skew_example}){local_time}: incremental "
                "harvests by date will miss or repeat records")  # fmt: skip
        else:
            add("responseDate", Level.PASS, f"UTC at seconds granularity in all {count}, "
                f"within {abs(self.max_skew):.0f} s of this machine's clock")  # fmt: skip

        used = figures.compressed
        used_text = ", ".join(f"{c} on {n} of {figures.responses}" for c, n in used.items())
        if "gzip" in offered and used.get("gzip") == figures.responses:
            add("compression", Level.PASS, f"gzip offered in Identify and used on all "
                f"{count}")  # fmt: skip
        elif used and not set(used) <= set(offered):
            add("compression", Level.WARN, f"responses are compressed ({used_text}) but "
                f"Identify lists {', '.join(offered) or 'no compression'}")  # fmt: skip
        elif "gzip" in offered:
            add("compression", Level.WARN, f"gzip offered in Identify but used on "
                f"{used.get('gzip', 0)} of {count} although we asked for it")  # fmt: skip
        elif used:
            add("compression", Level.WARN, f"{used_text}, but not gzip, the coding "
                "every harvester understands")  # fmt: skip
        else:
            add("compression", Level.WARN, "no compression offered or used: a harvest "
                "moves about ten times the bytes it needs")  # fmt: skip

        if self.schemas is None:
            add("schema", Level.WARN, "not validated: give --schemas DIR, a folder with "
                "the official OAI-PMH.xsd, oai_dc.xsd, MARC21slim.xsd, ... (repeat "
                "--schemas for more folders)")  # fmt: skip
            return
        names = ", ".join(self.schemas.file_names())
        unchecked = ""
        if self.unchecked:
            unchecked = ("; not validated, no schema given for " + ", ".join(
                f"{namespace} ({n}x)" for namespace, n in self.unchecked.items()))  # fmt: skip
        valid = figures.responses - figures.invalid_responses
        if self.invalid:
            add("schema", Level.FAIL, self.invalid.describe(f"of {count} invalid") +
                unchecked)  # fmt: skip
        elif unchecked:
            add("schema", Level.WARN, f"{valid} of {count} valid against {names}{unchecked}")
        else:
            add("schema", Level.PASS, f"all {count} valid against {names}")
