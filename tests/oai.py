"""Helpers for the OAI-PMH tests: schema validation of responses, and reading them."""

from __future__ import annotations

from lxml import etree

from tests.xsd import assert_valid

OAI = "{http://www.openarchives.org/OAI/2.0/}"
MODS_NS = b"http://www.loc.gov/mods/v3"


def assert_oai_valid(body: bytes) -> etree._Element:
    """Fail unless ``body`` is valid against ``oai-all.xsd`` (plus MODS 3.7 for pages of
    mods records, whose schema oai-all does not import); return the parsed root."""
    root = etree.fromstring(body)
    assert_valid("data/oai-with-mods.xsd" if MODS_NS in body else "oai/oai-all.xsd", root)
    return root


def error_codes(root: etree._Element) -> list[str]:
    """The codes of the response's error elements (empty for a successful response)."""
    return [str(e.get("code")) for e in root.iter(f"{OAI}error")]


def identifiers(root: etree._Element) -> list[str]:
    """The header identifiers of a list or GetRecord response, in document order."""
    return [str(h.findtext(f"{OAI}identifier")) for h in root.iter(f"{OAI}header")]


def token_of(root: etree._Element) -> etree._Element | None:
    """The resumptionToken element, if the response has one."""
    return next(root.iter(f"{OAI}resumptionToken"), None)
