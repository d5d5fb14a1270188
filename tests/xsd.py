"""The official XML Schemas in ../shared/xsd, loaded offline, for validating every output.

The schemas import each other by their published URLs (www.loc.gov, dublincore.org,
w3.org); nothing outside this machine is reachable, so :mod:`gateway.xmlschemas` maps every
URL to the copy beside the schema (by file name), then in the other shared folders.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

from gateway.xmlschemas import load_schema
from tests.conftest import SHARED

XSD = SHARED / "xsd"
#: Where a schema's remote imports are looked for after its own folder.
_FOLDERS = sorted(folder for folder in XSD.iterdir() if folder.is_dir())


@cache
def schema(relative: str) -> etree.XMLSchema:
    """The schema at ``../shared/xsd/<relative>`` (e.g. ``oai/oai_dc.xsd``), compiled once.

    A schema the shared folder lacks (the SRU DC record schema) is looked up under tests/.
    """
    path = XSD / relative if (XSD / relative).is_file() else Path(__file__).parent / relative
    return load_schema(path, _FOLDERS)


def assert_valid(relative: str, document: etree._Element | str | bytes) -> None:
    """Fail with the schema's own message unless ``document`` is valid against it."""
    if isinstance(document, str):
        document = document.encode("utf-8")
    if isinstance(document, bytes):
        document = etree.fromstring(document)
    checker = schema(relative)
    if not checker.validate(document):
        raise AssertionError(f"invalid against {relative}: {checker.error_log}")
