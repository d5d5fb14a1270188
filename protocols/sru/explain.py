"""The explain record (ZeeRex 2.0): what a client reads to configure itself (sans-IO).

It lists the database, every index by the names clients may use (grouped per store index,
titled in Vietnamese and English), the context sets, the record schemas, the sort keys and
the defaults and limits the request parser applies, all from the same tables the server
uses, so what explain promises is what the server does.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from crosswalks.formats import FORMATS
from crosswalks.xmlchars import escape_xml
from gateway.query import Index

from .mapping import CONTEXT_SETS, INDEXES
from .request import RECORD_SCHEMAS, SCHEMA_URIS, Limits

__all__ = ["ExplainInfo", "explain_record", "ZEEREX_NS", "INDEX_TITLES"]

ZEEREX_NS = "http://explain.z3950.org/dtd/2.0/"

#: What each store index is called for people: (Vietnamese, English).
INDEX_TITLES: dict[Index, tuple[str, str]] = {
    Index.ANY: ("Mọi trường", "Any field"),
    Index.TITLE: ("Nhan đề", "Title"),
    Index.AUTHOR: ("Tác giả", "Author"),
    Index.SUBJECT: ("Chủ đề", "Subject"),
    Index.PUBLISHER: ("Nhà xuất bản", "Publisher"),
    Index.ISBN: ("ISBN", "ISBN"),
    Index.ISSN: ("ISSN", "ISSN"),
    Index.DATE: ("Năm xuất bản", "Year of publication"),
    Index.CONTROL_NUMBER: ("Số kiểm soát", "Control number"),
    Index.LANGUAGE: ("Ngôn ngữ", "Language"),
    Index.SOURCE: ("Thư viện", "Library"),
}
_SORTABLE = frozenset({Index.TITLE, Index.AUTHOR, Index.DATE})
_SCHEMA_TITLES = {"marcxml": "MARCXML (MARC 21 slim)", "dc": "Dublin Core",
                  "mods": "MODS 3.7"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ExplainInfo:
    """What the explain record says about one database."""

    host: str
    port: int
    database: str  #: the path: "sru", or "sru/<library id>"
    title_vi: str
    title_en: str
    records: int
    last_update: str | None  #: ISO date-time of the newest change, if any
    limits: Limits


def _titles(vi: str, en: str) -> str:
    return (f'<title lang="vi" primary="true">{escape_xml(vi)}</title>'
            f'<title lang="en">{escape_xml(en)}</title>')  # fmt: skip


def explain_record(info: ExplainInfo) -> str:
    """The ZeeRex ``explain`` element (XML text), valid against explain.xsd."""
    last = f' lastUpdate="{escape_xml(info.last_update)}"' if info.last_update else ""
    parts = [
        f'<explain xmlns="{ZEEREX_NS}" authoritative="true">',
        f'<serverInfo protocol="SRU" version="1.2 2.0" transport="http">'
        f"<host>{escape_xml(info.host)}</host><port>{info.port}</port>"
        f'<database numRecs="{info.records}"{last}>{escape_xml(info.database)}</database>'
        f"</serverInfo>",
        f"<databaseInfo>{_titles(info.title_vi, info.title_en)}"
        '<description lang="vi" primary="true">Mục lục liên thông: tìm bằng CQL, có hoặc '
        "không có dấu tiếng Việt.</description>"
        '<description lang="en">Union catalogue: search with CQL, with or without '
        "Vietnamese diacritics.</description></databaseInfo>",
    ]
    if info.last_update:
        parts.append(f"<metaInfo><dateModified>{escape_xml(info.last_update)}</dateModified>"
                     "</metaInfo>")  # fmt: skip
    parts.append("<indexInfo>")
    for prefix, uri in CONTEXT_SETS.items():
        parts.append(f'<set name="{prefix}" identifier="{escape_xml(uri)}"/>')
    names: dict[Index, list[str]] = defaultdict(list)
    for qualified, index in INDEXES.items():
        names[index].append(qualified)
    for index, qualified_names in names.items():
        vi, en = INDEX_TITLES[index]
        sortable = "true" if index in _SORTABLE else "false"
        parts.append(f'<index id="{index.value}" search="true" scan="true" sort="{sortable}">')
        parts.append(_titles(vi, en))
        for position, qualified in enumerate(qualified_names):
            prefix, _, name = qualified.partition(".")
            primary = ' primary="true"' if position == 0 else ""
            parts.append(f'<map{primary}><name set="{prefix}">{escape_xml(name)}</name></map>')
        parts.append("</index>")
    parts.append("</indexInfo>")
    parts.append(
        "<searchInfo><queryType><queryTypeName>cql</queryTypeName>"
        "<URI>info:srw/cql-context-set/1/cql-v1.2</URI></queryType></searchInfo>"
    )
    parts.append("<schemaInfo>")
    for fmt, uri in SCHEMA_URIS.items():
        short = next(name for name, f in RECORD_SCHEMAS.items() if f is fmt)
        location = FORMATS[fmt].schema_location or ""
        parts.append(
            f'<schema identifier="{uri}" name="{short}" location="{escape_xml(location)}" '
            f'sort="false" retrieve="true"><title lang="en">{_SCHEMA_TITLES[short]}</title>'
            "</schema>"
        )
    parts.append("</schemaInfo>")
    limits = info.limits
    parts.append(
        "<configInfo>"
        f'<default type="numberOfRecords">{limits.default_records}</default>'
        f'<setting type="maximumRecords">{limits.max_records}</setting>'
        f'<default type="numberOfTerms">{limits.default_terms}</default>'
        f'<setting type="maximumTerms">{limits.max_terms}</setting>'
        '<default type="retrieveSchema">marcxml</default>'
        '<default type="index">cql.serverChoice</default>'
        '<default type="relation">=</default>'
        '<default type="contextSet">lt</default>'
        f'<default type="version">{limits.default_version}</default>'
        '<supports type="sort"/>'
        '<supports type="resultSets"/>'
        '<supports type="relation">=</supports><supports type="relation">==</supports>'
        '<supports type="relation">all</supports><supports type="relation">any</supports>'
        '<supports type="relation">adj</supports><supports type="relation">&lt;&gt;</supports>'
        '<supports type="relation">within</supports>'
        '<supports type="maskingCharacter">*</supports>'
        '<supports type="anchoring">^</supports>'
        "</configInfo>"
    )
    parts.append("</explain>")
    return "".join(parts)
