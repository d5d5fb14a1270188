"""The official XML Schemas in ../shared/xsd, loaded offline, for validating every output.

The schemas import each other by their published URLs (www.loc.gov, dublincore.org,
w3.org); nothing outside this machine is reachable, so a resolver maps every URL to the
copy beside the schema (by file name), as an XML catalog would.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

from tests.conftest import SHARED

XSD = SHARED / "xsd"


class _LocalSchemas(etree.Resolver):
    """Resolves a remote schema URL to the local file with the same name."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def resolve(self, url: str | None, pubid: str | None, context: object) -> object:
        if not url or not url.startswith(("http://", "https://")):
            return None
        name = url.rstrip("/").rsplit("/", 1)[-1]
        for folder in (self.folder, *XSD.iterdir()):
            candidate = folder / name
            if candidate.is_file():
                return self.resolve_filename(str(candidate), context)
        raise LookupError(f"no local copy of the schema {url}")


@cache
def schema(relative: str) -> etree.XMLSchema:
    """The schema at ``../shared/xsd/<relative>`` (e.g. ``oai/oai_dc.xsd``), compiled once.

    A schema the shared folder lacks (the SRU DC record schema) is looked up under tests/.
    """
    path = XSD / relative if (XSD / relative).is_file() else Path(__file__).parent / relative
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalSchemas(path.parent))
    return etree.XMLSchema(etree.parse(str(path), parser))


def assert_valid(relative: str, document: etree._Element | str | bytes) -> None:
    """Fail with the schema's own message unless ``document`` is valid against it."""
    if isinstance(document, str):
        document = document.encode("utf-8")
    if isinstance(document, bytes):
        document = etree.fromstring(document)
    checker = schema(relative)
    if not checker.validate(document):
        raise AssertionError(f"invalid against {relative}: {checker.error_log}")
