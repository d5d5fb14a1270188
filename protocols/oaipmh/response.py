"""OAI-PMH response documents as UTF-8 bytes (sans-IO), valid against ``OAI-PMH.xsd``.

Written as text like the crosswalks, because a ListRecords page embeds hundreds of
records that are already text. Every value from a record or a request passes through
:class:`~crosswalks.xmlchars.XmlText`, so a control character in one record's MARC never
makes a page unparseable. Elements come in the schema's order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from crosswalks.xmlchars import XmlText, escape_xml

from .arguments import Verb
from .errors import OAIError

__all__ = [
    "OAI_NS",
    "Identity",
    "MetadataFormatInfo",
    "SetInfo",
    "datestamp",
    "document",
    "error_body",
    "header",
    "identify_body",
    "metadata_formats_body",
    "sets_body",
    "resumption_token",
]

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_OAI_LOCATION = f"{OAI_NS} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
_ID_NS = "http://www.openarchives.org/OAI/2.0/oai-identifier"
_ID_LOCATION = f"{_ID_NS} http://www.openarchives.org/OAI/2.0/oai-identifier.xsd"
_DC_NS = "http://purl.org/dc/elements/1.1/"
_OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
_OAI_DC_LOCATION = f"{_OAI_DC_NS} http://www.openarchives.org/OAI/2.0/oai_dc.xsd"


def datestamp(moment: datetime) -> str:
    """A UTC datestamp at seconds granularity, as OAI-PMH writes them."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def document(
    body: str,
    *,
    response_date: datetime,
    base_url: str,
    verb: Verb | None = None,
    arguments: Mapping[str, str] | None = None,
    stylesheet: str | None = None,
) -> bytes:
    """The whole response: envelope, request element and ``body`` (the verb's element or
    the error elements).

    ``verb`` and ``arguments`` go into the request element's attributes; leave them out
    for badVerb and badArgument, whose request element must carry none.
    """
    text = XmlText()
    attributes = "" if verb is None else f' verb="{verb}"'
    for name, value in (arguments or {}).items():
        attributes += f' {name}="{text.escape(value)}"'
    head = ['<?xml version="1.0" encoding="UTF-8"?>\n']
    if stylesheet:
        head.append(f'<?xml-stylesheet type="text/xsl" href="{escape_xml(stylesheet)}"?>\n')
    head.append(
        f'<OAI-PMH xmlns="{OAI_NS}" xmlns:xsi="{_XSI}" xsi:schemaLocation="{_OAI_LOCATION}">'
        f"<responseDate>{datestamp(response_date)}</responseDate>"
        f"<request{attributes}>{text.escape(base_url)}</request>"
    )
    return "".join((*head, body, "</OAI-PMH>")).encode("utf-8")


def error_body(error: OAIError) -> str:
    """One ``error`` element for each problem the exception carries."""
    return "".join(
        f'<error code="{code}">{escape_xml(XmlText()(message))}</error>'
        for code, message in error.errors
    )


def header(identifier: str, stamp: str, sets: Sequence[str], deleted: bool, text: XmlText) -> str:
    """A record header; a deleted record's says so in its status attribute."""
    status = ' status="deleted"' if deleted else ""
    specs = "".join(f"<setSpec>{text.escape(spec)}</setSpec>" for spec in sets)
    return (
        f"<header{status}><identifier>{text.escape(identifier)}</identifier>"
        f"<datestamp>{stamp}</datestamp>{specs}</header>"
    )


@dataclass(frozen=True, slots=True)
class Identity:
    """What Identify says about the repository."""

    repository_name: str
    base_url: str
    admin_emails: Sequence[str]
    earliest: datetime
    repository_identifier: str
    sample_identifier: str
    compression: Sequence[str] = ()


def identify_body(identity: Identity) -> str:
    """The Identify element, with the oai-identifier description."""
    text = XmlText()
    emails = "".join(f"<adminEmail>{text.escape(e)}</adminEmail>" for e in identity.admin_emails)
    compression = "".join(f"<compression>{c}</compression>" for c in identity.compression)
    return (
        f"<Identify><repositoryName>{text.escape(identity.repository_name)}</repositoryName>"
        f"<baseURL>{text.escape(identity.base_url)}</baseURL>"
        f"<protocolVersion>2.0</protocolVersion>{emails}"
        f"<earliestDatestamp>{datestamp(identity.earliest)}</earliestDatestamp>"
        "<deletedRecord>persistent</deletedRecord>"
        "<granularity>YYYY-MM-DDThh:mm:ssZ</granularity>"
        f"{compression}"
        f'<description><oai-identifier xmlns="{_ID_NS}" xsi:schemaLocation="{_ID_LOCATION}">'
        "<scheme>oai</scheme>"
        f"<repositoryIdentifier>{text.escape(identity.repository_identifier)}"
        "</repositoryIdentifier><delimiter>:</delimiter>"
        f"<sampleIdentifier>{text.escape(identity.sample_identifier)}</sampleIdentifier>"
        "</oai-identifier></description></Identify>"
    )


@dataclass(frozen=True, slots=True)
class MetadataFormatInfo:
    """One metadata format as ListMetadataFormats publishes it."""

    prefix: str
    schema: str
    namespace: str


def metadata_formats_body(formats: Sequence[MetadataFormatInfo]) -> str:
    """The ListMetadataFormats element."""
    items = "".join(
        f"<metadataFormat><metadataPrefix>{f.prefix}</metadataPrefix>"
        f"<schema>{escape_xml(f.schema)}</schema>"
        f"<metadataNamespace>{escape_xml(f.namespace)}</metadataNamespace></metadataFormat>"
        for f in formats
    )
    return f"<ListMetadataFormats>{items}</ListMetadataFormats>"


@dataclass(frozen=True, slots=True)
class SetInfo:
    """One set as ListSets publishes it; the description becomes Dublin Core."""

    spec: str
    name: str
    description: str = ""


def dublin_core(pairs: Sequence[tuple[str, str]], text: XmlText) -> str:
    """A small ``oai_dc:dc`` element (set descriptions, record provenance)."""
    elements = "".join(f"<dc:{name}>{text.escape(value)}</dc:{name}>" for name, value in pairs)
    return (
        f'<oai_dc:dc xmlns:oai_dc="{_OAI_DC_NS}" xmlns:dc="{_DC_NS}" '
        f'xsi:schemaLocation="{_OAI_DC_LOCATION}">{elements}</oai_dc:dc>'
    )


def sets_body(sets: Sequence[SetInfo]) -> str:
    """The ListSets element (every set at once: there are a few dozen at most)."""
    text = XmlText()
    items = []
    for info in sets:
        description = (
            f"<setDescription>{dublin_core([('description', info.description)], text)}"
            "</setDescription>"
            if info.description
            else ""
        )
        items.append(
            f"<set><setSpec>{text.escape(info.spec)}</setSpec>"
            f"<setName>{text.escape(info.name)}</setName>{description}</set>"
        )
    return f"<ListSets>{''.join(items)}</ListSets>"


def resumption_token(
    token: str | None, complete_list_size: int, cursor: int, expiration: datetime | None
) -> str:
    """The resumptionToken element; ``token`` None gives the empty one that ends a list."""
    size = f' completeListSize="{complete_list_size}"' if complete_list_size > 0 else ""
    if token is None:
        return f'<resumptionToken{size} cursor="{cursor}"/>'
    expires = f' expirationDate="{datestamp(expiration)}"' if expiration is not None else ""
    return f'<resumptionToken{expires}{size} cursor="{cursor}">{token}</resumptionToken>'
