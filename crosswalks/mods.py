"""MARC 21 bibliographic records as MODS 3.7, following the Library of Congress mapping.

SRU and OAI-PMH clients that want more structure than Dublin Core ask for MODS: names with
their dates and roles, titles with their non-filing article, subjects split into topic, place
and period, series and other related items. This module is the Library of Congress "MARC 21
to MODS 3" mapping written directly in Python over pymarc fields and lxml elements. It is not
the LoC stylesheet (no XSLT runs here): rendering is on the search and harvest path, so it
reads the record in memory instead of serialising it to MARCXML and transforming that.

Where the mapping and the stylesheet disagree or the stylesheet has a known defect, this
module follows the mapping and says so in a comment. Three things are our own choices:

* Every record-derived string goes through :class:`~crosswalks.xmlchars.XmlText`, so one stray
  control character in a note drops that character, not the whole response page.
* The encoded 008 date always carries ``keyDate="yes"`` (the stylesheet drops it when it
  equals 260 $c): harvesters sort and facet on it.
* Holdings passed by the caller replace the record's own 852 fields, because the gateway
  derives its items from those 852 fields and each copy would otherwise appear twice.

Not mapped, on purpose or for now: alternate graphic representations (880), the coded
dates and coordinates of 033/034/045/046, the general material designation (245 $h, 256),
archival arrangement (351), authority links ($0 as xlink:href; only names keep $0, as
nameIdentifier), and local 59X notes, which the mapping leaves out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Final
from urllib.parse import quote

from lxml import etree
from pymarc import Field, Record

from .holdings import Holding
from .punctuation import strip_isbd
from .xmlchars import XmlText

__all__ = [
    "MODS_NAMESPACE",
    "MODS_SCHEMA_LOCATION",
    "MODS_VERSION",
    "RECORD_ORIGIN",
    "marc_to_mods",
    "mods_text",
]

#: The MODS version 3 namespace (shared by every 3.x version).
MODS_NAMESPACE: Final = "http://www.loc.gov/mods/v3"
#: The version written on ``<mods version="...">``; the schema below validates it.
MODS_VERSION: Final = "3.7"
#: Where validators find the schema (``xsi:schemaLocation`` pairs namespace and location).
MODS_SCHEMA_LOCATION: Final = "http://www.loc.gov/standards/mods/v3/mods-3-7.xsd"
#: ``recordInfo/recordOrigin``: tells a harvester the record was converted, and by what.
RECORD_ORIGIN: Final = (
    "Converted from MARC 21 to MODS 3.7 by lienthong, following the Library of Congress "
    "MARC 21 to MODS 3 mapping"
)

_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XML_SPACE = "xml:space"
# The default namespace keeps every element name unprefixed: smaller pages, faster output.
_ROOT_ATTRIB: Final = {
    "xmlns": MODS_NAMESPACE,
    "xmlns:xsi": _XSI,
    "version": MODS_VERSION,
    "xsi:schemaLocation": f"{MODS_NAMESPACE} {MODS_SCHEMA_LOCATION}",
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_Clean = Callable[[str], str]


class _Node:
    """One MODS element while it is built: tag, attributes, text, children.

    A plain object instead of an lxml element: building some fifty lxml elements per
    record cost most of the rendering time, while these are serialised once, as text.
    """

    __slots__ = ("tag", "attrib", "text", "children")

    def __init__(self, tag: str, attrib: dict[str, str] | None = None) -> None:
        self.tag = tag
        self.attrib = dict(attrib) if attrib else None
        self.text: str | None = None
        self.children: list[_Node] = []

    def set(self, key: str, value: str) -> None:
        """Set an attribute."""
        if self.attrib is None:
            self.attrib = {}
        self.attrib[key] = value

    def remove(self, child: _Node) -> None:
        """Take out a child that turned out to be empty."""
        self.children.remove(child)

    def __len__(self) -> int:
        return len(self.children)

    def write(self, out: list[str], escape: _Clean) -> None:
        """Append this element as XML text (values are escaped here, once)."""
        tag, attrib, text, children = self.tag, self.attrib, self.text, self.children
        head = "<" + tag
        if attrib:
            head += "".join([f' {key}="{escape(value)}"' for key, value in attrib.items()])
        if not children:  # most elements: one string each
            out.append(head + "/>" if text is None else f"{head}>{escape(text)}</{tag}>")
            return
        out.append(f"{head}>{escape(text)}" if text else head + ">")
        for child in children:
            child.write(out, escape)
        out.append(f"</{tag}>")


def _sub(parent: _Node, tag: str, attrib: dict[str, str] | None = None) -> _Node:
    node = _Node(tag, attrib)
    parent.children.append(node)
    return node


# Element names (the MODS namespace is the document's default one).
_MODS = "mods"
_ABSTRACT = "abstract"
_ACCESS_CONDITION = "accessCondition"
_AFFILIATION = "affiliation"
_AREA = "area"
_CARTOGRAPHICS = "cartographics"
_CLASSIFICATION = "classification"
_COORDINATES = "coordinates"
_COPY_INFORMATION = "copyInformation"
_COPYRIGHT_DATE = "copyrightDate"
_DATE_CREATED = "dateCreated"
_DATE_ISSUED = "dateIssued"
_DATE_OTHER = "dateOther"
_DESCRIPTION_STANDARD = "descriptionStandard"
_DETAIL = "detail"
_DIGITAL_ORIGIN = "digitalOrigin"
_EDITION = "edition"
_EXTENT = "extent"
_FORM = "form"
_FREQUENCY = "frequency"
_GENRE = "genre"
_GEOGRAPHIC = "geographic"
_GEOGRAPHIC_CODE = "geographicCode"
_HIERARCHICAL_GEOGRAPHIC = "hierarchicalGeographic"
_HOLDING_SIMPLE = "holdingSimple"
_IDENTIFIER = "identifier"
_INTERNET_MEDIA_TYPE = "internetMediaType"
_ISSUANCE = "issuance"
_ITEM_IDENTIFIER = "itemIdentifier"
_LANGUAGE = "language"
_LANGUAGE_OF_CATALOGING = "languageOfCataloging"
_LANGUAGE_TERM = "languageTerm"
_LOCATION = "location"
_NAME = "name"
_NAME_IDENTIFIER = "nameIdentifier"
_NAME_PART = "namePart"
_NON_SORT = "nonSort"
_NOTE = "note"
_NUMBER = "number"
_OCCUPATION = "occupation"
_ORIGIN_INFO = "originInfo"
_PART = "part"
_PART_NAME = "partName"
_PART_NUMBER = "partNumber"
_PHYSICAL_DESCRIPTION = "physicalDescription"
_PHYSICAL_LOCATION = "physicalLocation"
_PLACE = "place"
_PLACE_TERM = "placeTerm"
_PROJECTION = "projection"
_PUBLISHER = "publisher"
_RECORD_CHANGE_DATE = "recordChangeDate"
_RECORD_CONTENT_SOURCE = "recordContentSource"
_RECORD_CREATION_DATE = "recordCreationDate"
_RECORD_IDENTIFIER = "recordIdentifier"
_RECORD_INFO = "recordInfo"
_RECORD_ORIGIN = "recordOrigin"
_REFORMATTING_QUALITY = "reformattingQuality"
_RELATED_ITEM = "relatedItem"
_ROLE = "role"
_ROLE_TERM = "roleTerm"
_SCALE = "scale"
_SHELF_LOCATOR = "shelfLocator"
_SUB_LOCATION = "subLocation"
_SUB_TITLE = "subTitle"
_SUBJECT = "subject"
_TABLE_OF_CONTENTS = "tableOfContents"
_TARGET_AUDIENCE = "targetAudience"
_TEMPORAL = "temporal"
_TEXT = "text"
_TITLE = "title"
_TITLE_INFO = "titleInfo"
_TOPIC = "topic"
_TYPE_OF_RESOURCE = "typeOfResource"
_URL = "url"

# Constant attribute sets, shared (lxml copies attributes into the element).
_A_CODE_MARCRELATOR: Final = {"type": "code", "authority": "marcrelator"}
_A_TEXT_MARCRELATOR: Final = {"type": "text", "authority": "marcrelator"}
_A_TEXT: Final = {"type": "text"}
_A_ISO639: Final = {"type": "code", "authority": "iso639-2b"}
_A_MARCCOUNTRY: Final = {"type": "code", "authority": "marccountry"}
_A_MARCGT: Final = {"authority": "marcgt"}
_A_MARCFORM: Final = {"authority": "marcform"}
_A_MARCCATEGORY: Final = {"authority": "marccategory"}
_A_MARCSMD: Final = {"authority": "marcsmd"}
_A_MARCTARGET: Final = {"authority": "marctarget"}
_A_MARCFREQUENCY: Final = {"authority": "marcfrequency"}
_A_MARCORG: Final = {"authority": "marcorg"}
_A_DATE: Final = {"type": "date"}
_A_TERMS_OF_ADDRESS: Final = {"type": "termsOfAddress"}
_A_MARC: Final = {"encoding": "marc"}
_A_ISO8601: Final = {"encoding": "iso8601"}
_A_NON_SORT: Final = {_XML_SPACE: "preserve"}
_A_SERIES: Final = {"type": "series"}
_A_CONSTITUENT: Final = {"type": "constituent"}

_PERSONAL: Final = {"type": "personal"}
_FAMILY: Final = {"type": "family"}
_CORPORATE: Final = {"type": "corporate"}
_CONFERENCE: Final = {"type": "conference"}

# ---------------------------------------------------------------------------------------
# Code tables (MARC 21 code lists and the LoC mapping's terms)
# ---------------------------------------------------------------------------------------

#: LDR/06 type of record -> typeOfResource.
_RESOURCE_TYPE: Final = {
    "a": "text", "t": "text", "e": "cartographic", "f": "cartographic",
    "c": "notated music", "d": "notated music", "i": "sound recording-nonmusical",
    "j": "sound recording-musical", "k": "still image", "g": "moving image",
    "r": "three dimensional object", "m": "software, multimedia", "p": "mixed material",
    "o": "kit",
}  # fmt: skip
#: LDR/06 values that describe manuscript material (typeOfResource manuscript="yes").
_MANUSCRIPT = frozenset("dfpt")
#: LDR/06 -> the 008 material configuration (books "a" depends on LDR/07, see _material).
_MATERIAL: Final = {
    "t": "BK", "p": "MM", "m": "CF", "e": "MP", "f": "MP", "g": "VM", "k": "VM", "o": "VM",
    "r": "VM", "c": "MU", "d": "MU", "i": "MU", "j": "MU",
}  # fmt: skip
#: LDR/07 -> issuance (LDR/07 m with LDR/19 a, b or c is a multipart monograph).
_ISSUANCE_BY_LEVEL: Final = {
    "a": "monographic", "c": "monographic", "d": "monographic", "m": "monographic",
    "b": "serial", "s": "serial", "i": "integrating resource",
}  # fmt: skip

#: 008/24-27 (books, serials) nature of contents -> marcgt genre.
_NATURE_OF_CONTENTS: Final = {
    "a": "abstract or summary", "b": "bibliography", "c": "catalog", "d": "dictionary",
    "e": "encyclopedia", "f": "handbook", "g": "legal article", "i": "index",
    "k": "discography", "l": "legislation", "m": "theses", "n": "survey of literature",
    "o": "review", "p": "programmed text", "q": "filmography", "r": "directory",
    "s": "statistics", "t": "technical report", "v": "legal case and case notes",
    "w": "law report or digest", "z": "treaty", "j": "patent", "2": "offprint",
}  # fmt: skip
#: 008/33 (books) literary form -> marcgt genre. The stylesheet leaves out fiction (1) and
#: poetry (p); the mapping and marcgt have both, and Vietnamese catalogues use them a lot.
_LITERARY_FORM: Final = {
    "1": "fiction", "c": "comic strip", "d": "drama", "e": "essay", "f": "novel",
    "h": "humor, satire", "i": "letter", "j": "short story", "l": "fiction", "p": "poetry",
    "s": "speech",
}  # fmt: skip
#: 008/21 (continuing resources) type -> marcgt genre.
_SERIAL_TYPE: Final = {
    "d": "database", "l": "loose-leaf", "m": "series", "n": "newspaper", "p": "periodical",
    "w": "web site",
}  # fmt: skip
#: 008/26 (computer files) type of file -> marcgt genre.
_FILE_TYPE: Final = {"a": "numeric data", "e": "database", "f": "font", "g": "game"}
#: 008/25 (maps) type of cartographic material -> marcgt genre.
_MAP_TYPE: Final = {"a": "map", "b": "map", "c": "map", "d": "globe", "e": "atlas"}
#: 008/33 (visual materials) type of material -> marcgt genre.
_VISUAL_TYPE: Final = {
    "a": "art original", "b": "kit", "c": "art reproduction", "d": "diorama",
    "f": "filmstrip", "g": "legal article", "i": "picture", "k": "graphic",
    "l": "technical drawing", "m": "motion picture", "n": "chart", "o": "flash card",
    "p": "microscope slide", "q": "model", "r": "realia", "s": "slide", "t": "transparency",
    "v": "videorecording", "w": "toy",
}  # fmt: skip
#: 008/30-31 (sound recordings) literary text -> marcgt genre.
_LITERARY_TEXT: Final = {
    "b": "biography", "c": "conference publication", "d": "drama", "e": "essay",
    "f": "fiction", "o": "folktale", "h": "history", "k": "humor, satire", "m": "memoir",
    "p": "poetry", "r": "rehearsal", "g": "reporting", "s": "sound", "l": "speech",
}  # fmt: skip
#: 008/28 codes that mean "published by a government". Unknown (u) and no attempt (|)
#: are left out: they say nothing, and the stylesheet's genre for them would be false.
# 008 positions whose code alone names a genre, per material (after the rules for books'
# and serials' nature of contents, conference, festschrift and biography).
_CODED_GENRES: Final[dict[str, tuple[tuple[int, dict[str, str]], ...]]] = {
    "BK": ((33, _LITERARY_FORM),),
    "SE": ((21, _SERIAL_TYPE),),
    "MP": ((25, _MAP_TYPE),),
    "CF": ((26, _FILE_TYPE),),
    "VM": ((33, _VISUAL_TYPE),),
    "MU": ((30, _LITERARY_TEXT), (31, _LITERARY_TEXT)),
}
_GOVERNMENT = frozenset("acfilmosz")
_GOVERNMENT_MATERIAL = frozenset({"BK", "SE", "CF", "MP", "VM"})
#: 008/22 target audience -> marctarget.
_AUDIENCE: Final = {
    "a": "preschool", "b": "juvenile", "c": "juvenile", "j": "juvenile", "d": "adolescent",
    "e": "adult", "f": "specialized", "g": "general",
}  # fmt: skip
_AUDIENCE_MATERIAL = frozenset({"BK", "CF", "MU", "VM"})
#: 008/18 (continuing resources) frequency -> marcfrequency.
_FREQUENCY_CODE: Final = {
    "a": "Annual", "b": "Bimonthly", "c": "Semiweekly", "d": "Daily", "e": "Biweekly",
    "f": "Semiannual", "g": "Biennial", "h": "Triennial", "i": "Three times a week",
    "j": "Three times a month", "k": "Continuously updated", "m": "Monthly",
    "q": "Quarterly", "s": "Semimonthly", "t": "Three times a year", "u": "Unknown",
    "w": "Weekly", " ": "Completely irregular",
}  # fmt: skip
#: 008/23 (or /29 for maps and visual materials) form of item -> marcform.
_FORM_OF_ITEM: Final = {
    "a": "microfilm", "b": "microfiche", "c": "microopaque", "d": "large print",
    "f": "braille", "o": "online", "q": "direct electronic", "r": "print",
    "s": "electronic",
}  # fmt: skip
_FORM_AT_23 = frozenset({"BK", "MU", "SE", "MM"})
_FORM_AT_29 = frozenset({"MP", "VM"})
#: 007/00 category of material -> marccategory.
_CATEGORY_007: Final = {
    "a": "map", "c": "electronic resource", "d": "globe", "f": "tactile material",
    "g": "projected graphic", "h": "microform", "k": "nonprojected graphic",
    "m": "motion picture", "o": "kit", "q": "notated music", "r": "remote-sensing image",
    "s": "sound recording", "t": "text", "v": "videorecording",
}  # fmt: skip
#: 007/00-01 specific material designation -> marcsmd.
_SMD_007: Final = {
    "ad": "atlas", "ag": "diagram", "aj": "map", "ak": "profile", "aq": "model",
    "ar": "remote-sensing image", "as": "section", "ay": "view",
    "ca": "tape cartridge", "cb": "chip cartridge", "cc": "computer optical disc cartridge",
    "cf": "tape cassette", "ch": "tape reel", "cj": "magnetic disc",
    "cm": "magneto-optical disc", "co": "optical disc", "cr": "remote",
    "da": "celestial globe", "db": "planetary or lunar globe", "dc": "terrestrial globe",
    "de": "earth moon globe", "fa": "moon", "fb": "combination", "fc": "braille",
    "fd": "tactile, with no writing system", "gc": "filmstrip cartridge", "gd": "filmslip",
    "gf": "other filmstrip type", "go": "filmstrip roll", "gs": "slide", "gt": "transparency",
    "ha": "aperture card", "hb": "microfilm cartridge", "hc": "microfilm cassette",
    "hd": "microfilm reel", "he": "microfiche", "hf": "microfiche cassette",
    "hg": "microopaque", "kc": "collage", "kd": "drawing", "ke": "painting",
    "kf": "photomechanical print", "kg": "photonegative", "kh": "photoprint",
    "ki": "picture", "kj": "print", "kl": "technical drawing", "kn": "chart",
    "ko": "flash card", "mc": "film cartridge", "mf": "film cassette", "mr": "film reel",
    "oo": "kit", "qq": "notated music", "rr": "remote-sensing image", "sd": "sound disc",
    "se": "cylinder", "sg": "sound cartridge", "si": "sound-track film", "sq": "roll",
    "ss": "sound cassette", "st": "sound-tape reel", "sw": "wire recording",
    "ta": "regular print", "tb": "large print", "tc": "braille",
    "td": "text in looseleaf binder", "vc": "videocartridge", "vd": "videodisc",
    "vf": "videocassette", "vr": "videoreel",
}  # fmt: skip
#: 007/11 of a computer file (antecedent/source) -> digitalOrigin.
_DIGITAL_ORIGIN_007: Final = {
    "a": "reformatted digital", "b": "digitized microfilm", "d": "digitized other analog",
}  # fmt: skip
#: 007/13 of a computer file (reformatting quality) -> reformattingQuality.
_REFORMATTING_007: Final = {"a": "access", "p": "preservation", "r": "replacement"}

#: 041 subfield -> language objectPart ($a is the language of the whole resource).
_OBJECT_PART: Final = {
    "a": "", "b": "summary", "d": "sung or spoken text", "e": "libretto",
    "f": "table of contents", "g": "accompanying material", "h": "translation",
}  # fmt: skip
#: languageTerm authorities the schema enumerates; any other 041 $2 is left unnamed.
_LANGUAGE_AUTHORITIES = frozenset({"rfc3066", "iso639-2b", "iso639-3", "rfc4646", "rfc5646"})

#: 6XX (and 655) second indicator -> subject authority (7 means "see $2").
_THESAURUS: Final = {
    "0": {"authority": "lcsh"}, "1": {"authority": "lcshac"}, "2": {"authority": "mesh"},
    "3": {"authority": "nal"}, "5": {"authority": "csh"}, "6": {"authority": "rvm"},
}  # fmt: skip
#: Subject subdivisions, in any order after the main heading.
_SUBDIVISION: Final = {"v": _GENRE, "x": _TOPIC, "y": _TEMPORAL, "z": _GEOGRAPHIC}
#: 653 second indicator -> (child element, name type) for uncontrolled terms.
_INDEX_TERM: Final = {
    " ": (_TOPIC, None), "0": (_TOPIC, None), "1": (_NAME, _PERSONAL),
    "2": (_NAME, _CORPORATE), "3": (_NAME, _CONFERENCE), "4": (_TEMPORAL, None),
    "5": (_GEOGRAPHIC, None), "6": (_GENRE, None),
}  # fmt: skip
#: 662/752 subfields -> hierarchicalGeographic children.
_PLACE_LEVEL: Final = {
    "a": "country", "b": "state", "c": "county", "d": "city",
    "f": "citySection", "g": _AREA, "h": "extraTerrestrialArea",
}  # fmt: skip

#: Fields mapped to note, with the type from the MODS note type list (None: untyped). Other
#: 5XX fields map elsewhere (505, 506, 510, 520, 521, 534, 540) or, like local 59X notes,
#: are not part of the mapping.
_NOTE_TYPE: Final[dict[str, str | None]] = {
    "362": "date/sequential designation", "500": None, "501": None, "502": "thesis",
    "504": "bibliography", "508": "creation/production credits", "511": "performers",
    "515": "numbering", "518": "venue", "524": "preferred citation",
    "530": "additional physical form", "533": "reproduction", "535": "original location",
    "536": "funding", "538": "system details", "541": "acquisition",
    "545": "biographical/historical", "546": "language", "561": "ownership",
    "562": "version identification", "581": "publications", "583": "action",
    "585": "exhibitions", "507": None, "513": None, "514": None, "516": None, "522": None,
    "525": None, "526": None, "544": None, "547": None, "550": None, "552": None,
    "555": None, "556": None, "565": None, "567": None, "580": None, "584": None,
    "586": None, "588": None,
}  # fmt: skip
_NOTE_SKIP: Final = {"508": frozenset("u368"), "518": frozenset("368"), "530": frozenset("u368")}
_NOTE_SKIP_DEFAULT = frozenset("68")
#: 520 first indicator -> abstract displayLabel (8: no display constant).
_ABSTRACT_LABEL: Final = {
    " ": "Summary", "0": "Subject", "1": "Review", "2": "Scope and content", "3": "Abstract",
    "4": "Content advice",
}  # fmt: skip
#: 505 first indicator -> tableOfContents displayLabel.
_CONTENTS_LABEL: Final = {"0": "Contents", "1": "Incomplete contents", "2": "Partial contents"}
#: 521 first indicator -> targetAudience displayLabel.
_AUDIENCE_LABEL: Final = {
    " ": "Audience", "0": "Reading grade level", "1": "Interest age level",
    "2": "Interest grade level", "3": "Special audience characteristics",
    "4": "Motivation or interest level",
}  # fmt: skip

#: 76X-78X linking entry -> relatedItem type (777 and 787 have none; 775 only with ind2 #).
_LINK_TYPE: Final = {
    "760": "series", "762": "series", "765": "otherVersion", "767": "otherVersion",
    "770": "constituent", "774": "constituent", "772": "host", "773": "host",
    "775": "otherVersion", "776": "otherFormat", "777": "", "780": "preceding",
    "785": "succeeding", "786": "original", "787": "",
}  # fmt: skip
#: 264 second indicator -> (eventType, dateOther type) for the non-publication events.
_EVENT: Final = {
    "0": ("producer", "production"), "2": ("distributor", "distribution"),
    "3": ("manufacturer", "manufacture"),
}  # fmt: skip
#: 024 first indicator -> identifier type (7: type in $2; 8: unspecified).
_STANDARD_NUMBER: Final = {"0": "isrc", "1": "upc", "2": "ismn", "3": "ean", "4": "sici"}
#: 028 first indicator -> identifier type.
_PUBLISHER_NUMBER: Final = {
    "0": "issue number", "1": "matrix number", "2": "music plate", "3": "music publisher",
    "4": "videorecording identifier",
}  # fmt: skip

# Subfield sets used to assemble titles and names (LoC mapping, "Contents of elements").
_T245 = frozenset("afgks")
_T246 = frozenset("af")
_TA = frozenset("a")
_T_UNIFORM = frozenset("adfgklmors")
_T_NAME_TITLE = frozenset("tfklmors")
_N = frozenset("n")
_NV = frozenset("nv")
_V = frozenset("v")
#: Linking entry title subfields -> titleInfo type.
_LINK_TITLES: Final = (("t", None), ("p", "abbreviated"), ("s", "uniform"))


# RFC 3986 URI-reference, as libxml2 checks xs:anyURI: it first blanks out spaces, controls,
# non-ASCII and <>"{}|\\^`' so those count as ordinary characters here; a port must have
# digits.
_URI_PLAIN = "A-Za-z0-9\\-._~!$&'()*+,;=\\x00-\\x20\\x7f-\\U0010ffff<>\"{}|\\\\^`"
_PCT = "%[0-9A-Fa-f]{2}"
_PCHAR = f"(?:[{_URI_PLAIN}:@]|{_PCT})"
_SEGMENT = f"{_PCHAR}*"
_SEGMENT_NONEMPTY = f"{_PCHAR}+"
_SEGMENT_NO_COLON = f"(?:[{_URI_PLAIN}@]|{_PCT})+"
_AUTHORITY = (
    f"(?:(?:[{_URI_PLAIN}:]|{_PCT})*@)?"
    f"(?:\\[[0-9A-Fa-f:.vV]+\\]|(?:[{_URI_PLAIN}]|{_PCT})*)(?::[0-9]+)?"
)
_AFTER_PATH = f"(?:\\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
_PATH_ABSOLUTE = f"/(?:{_SEGMENT_NONEMPTY}(?:/{_SEGMENT})*)?"
_NETWORK_PATH = f"//{_AUTHORITY}(?:/{_SEGMENT})*"
_HIER_PART = f"{_NETWORK_PATH}|{_PATH_ABSOLUTE}|{_SEGMENT_NONEMPTY}(?:/{_SEGMENT})*|"
_RELATIVE_PART = f"{_NETWORK_PATH}|{_PATH_ABSOLUTE}|{_SEGMENT_NO_COLON}(?:/{_SEGMENT})*|"
_URI_REFERENCE = re.compile(
    f"(?:[A-Za-z][A-Za-z0-9+.\\-]*:(?:{_HIER_PART})|(?:{_RELATIVE_PART})){_AFTER_PATH}"
)
_LONE_PERCENT = re.compile("%(?![0-9A-Fa-f]{2})")

_DIGITS = frozenset("0123456789")


class _Record:
    """One record's fields grouped by tag, with the leader and 008 read once."""

    __slots__ = ("by_tag", "get", "fields", "leader", "f008", "material", "root", "clean")

    def __init__(self, record: Record, root: _Node, clean: _Clean) -> None:
        by_tag: dict[str, list[Field]] = {}
        for fld in record.fields:
            found = by_tag.get(fld.tag)
            if found is None:
                by_tag[fld.tag] = [fld]
            else:
                found.append(fld)
        self.by_tag = by_tag
        #: ``get(tag, ())``: every ``tag`` field in record order (a dict lookup, no Python
        #: call: sections ask for some fifty tags per record).
        self.get = by_tag.get
        self.fields: list[Field] = record.fields
        self.leader = str(record.leader).ljust(24)
        self.f008 = self.control("008").ljust(40)
        self.material = _material(self.leader[6], self.leader[7])
        self.root = root
        self.clean = clean

    def control(self, tag: str) -> str:
        """The first ``tag`` control field's data, or ""."""
        found = self.by_tag.get(tag)
        if not found:
            return ""
        return found[0].data or ""


def _material(leader6: str, leader7: str) -> str:
    if leader6 == "a":
        if leader7 in "acdm":
            return "BK"
        if leader7 in "bis":
            return "SE"
        return ""
    return _MATERIAL.get(leader6, "")


# ---------------------------------------------------------------------------------------
# Small builders
# ---------------------------------------------------------------------------------------


def _leaf(
    parent: _Node, tag: str, value: str, clean: _Clean, attrib: dict[str, str] | None = None
) -> _Node:
    element = _sub(parent, tag, attrib)
    element.text = clean(value)
    return element


def _first(fld: Field, code: str) -> str:
    for sub_code, value in fld.subfields:
        if sub_code == code:
            return value
    return ""


def _values(fld: Field, codes: frozenset[str] | str) -> list[str]:
    return [value for code, value in fld.subfields if code in codes]


def _joined(fld: Field, codes: frozenset[str] | str, skip: bool = False) -> str:
    """Subfields in ``codes`` (or not in them, with ``skip``) joined by spaces."""
    if skip:
        return " ".join(value for code, value in fld.subfields if code not in codes).strip()
    return " ".join(value for code, value in fld.subfields if code in codes).strip()


def _chopped_leaf(
    parent: _Node, tag: str, value: str, clean: _Clean, attrib: dict[str, str] | None = None
) -> _Node | None:
    """``tag`` with ISBD end punctuation removed; nothing when no data is left."""
    value = strip_isbd(value)
    if not value:
        return None
    element = _sub(parent, tag, attrib)
    element.text = clean(value)
    return element


def _drop_if_empty(parent: _Node, element: _Node) -> None:
    if not len(element):
        parent.remove(element)


# ---------------------------------------------------------------------------------------
# titleInfo
# ---------------------------------------------------------------------------------------


def _title_info(
    parent: _Node,
    fld: Field,
    clean: _Clean,
    codes: frozenset[str],
    *,
    numbers: frozenset[str] = _N,
    subtitle: bool = False,
    attrib: dict[str, str] | None = None,
    nonfiling: int = 0,
    start: str = "",
) -> _Node | None:
    """A titleInfo from one field's title subfields; None when the field has no title.

    Subfields in ``codes`` build the title (or the subtitle after $b); $n (and ``numbers``)
    open a partNumber and $p a partName, and later title subfields belong to that part, as
    the mapping's "and $f $g $k following $n" says. ``start`` skips subfields before the
    first ``start`` subfield (name/title fields, where the title begins at $t).
    """
    title: list[str] = []
    sub_title: list[str] = []
    parts: list[tuple[str, list[str]]] = []
    target = title
    started = not start
    for code, value in fld.subfields:
        if not started:
            if code != start:
                continue
            started = True
        if code in numbers:
            target = [value]
            parts.append((_PART_NUMBER, target))
        elif code == "p":
            target = [value]
            parts.append((_PART_NAME, target))
        elif code == "b" and subtitle and not parts:
            sub_title.append(value)
            target = sub_title
        elif code in codes:
            target.append(value)
    raw = " ".join(title).strip()
    if not raw and not sub_title and not parts:
        return None
    info = _sub(parent, _TITLE_INFO, attrib)
    if 0 < nonfiling < len(raw):
        _leaf(info, _NON_SORT, raw[:nonfiling], clean, _A_NON_SORT)
        raw = raw[nonfiling:]
    if raw:
        _chopped_leaf(info, _TITLE, raw, clean)
    if sub_title:
        _chopped_leaf(info, _SUB_TITLE, " ".join(sub_title), clean)
    for tag, words in parts:
        _chopped_leaf(info, tag, " ".join(words), clean)
    return info


def _nonfiling(indicator: str) -> int:
    return int(indicator) if indicator in _DIGITS else 0


def _titles(rec: _Record, brief: bool) -> None:
    root, clean = rec.root, rec.clean
    for fld in rec.get("245", ()):
        _title_info(root, fld, clean, _T245, subtitle=True, nonfiling=_nonfiling(fld.indicator2))
    if brief:
        return
    for fld in rec.get("210", ()):
        _title_info(root, fld, clean, _TA, subtitle=True, attrib={"type": "abbreviated"})
    for fld in rec.get("242", ()):
        attrib = {"type": "translated"}
        language = _first(fld, "y")
        if language:
            attrib["lang"] = clean(language)
        _title_info(
            root, fld, clean, _TA, subtitle=True, attrib=attrib,
            nonfiling=_nonfiling(fld.indicator2),
        )  # fmt: skip
    for fld in rec.get("246", ()):
        # 246 second indicator 1 is a parallel title, which the mapping calls translated.
        attrib = {"type": "translated" if fld.indicator2 == "1" else "alternative"}
        label = _first(fld, "i")
        if label:
            attrib["displayLabel"] = clean(label)
        _title_info(root, fld, clean, _T246, subtitle=True, attrib=attrib)
    has_main_entry = bool(rec.get("100", ()) or rec.get("110", ()) or rec.get("111", ()))
    for fld in rec.get("240", ()):
        attrib = {"type": "uniform"}
        if has_main_entry:
            # nameTitleGroup ties the uniform title to the 1XX name it belongs with.
            attrib["nameTitleGroup"] = "1"
        _title_info(
            root, fld, clean, _T_UNIFORM, attrib=attrib, nonfiling=_nonfiling(fld.indicator2)
        )
    for fld in rec.get("130", ()):
        _title_info(
            root, fld, clean, _T_UNIFORM, attrib={"type": "uniform"},
            nonfiling=_nonfiling(fld.indicator1),
        )  # fmt: skip
    for fld in rec.get("730", ()):
        if fld.indicator2 != "2":  # analytical entries are related items, see _relations
            _title_info(
                root, fld, clean, _T_UNIFORM, attrib={"type": "uniform"},
                nonfiling=_nonfiling(fld.indicator1),
            )  # fmt: skip
    for fld in rec.get("740", ()):
        if fld.indicator2 != "2":
            _title_info(root, fld, clean, _TA, attrib={"type": "alternative"})


# ---------------------------------------------------------------------------------------
# name
# ---------------------------------------------------------------------------------------


def _name_type(fld: Field) -> dict[str, str]:
    kind = fld.tag[1:]
    if kind == "10":
        return _CORPORATE
    if kind == "11":
        return _CONFERENCE
    return _FAMILY if fld.indicator1 == "3" else _PERSONAL


def _name(
    parent: _Node,
    fld: Field,
    clean: _Clean,
    *,
    attrib: dict[str, str] | None = None,
    primary: bool = False,
    identifiers: bool = True,
) -> _Node:
    """A name from an X00/X10/X11 field (subfields before any $t only).

    Personal and family names: $a $q as the namePart, $b $c as termsOfAddress, $d as the
    date part, $u affiliation. Corporate names: one namePart each for $a and $b, then $c $d
    $n together. Meeting names: $a $c $d $e $n $q together. Roles come from the relator
    term ($e; $j for meetings, where $e is a subordinate unit) and relator code ($4).
    """
    kind = attrib if attrib is not None else _name_type(fld)
    name = _sub(parent, _NAME, kind)
    if primary:
        name.set("usage", "primary")
    personal = kind is _PERSONAL or kind is _FAMILY
    meeting = kind is _CONFERENCE
    role_code = "j" if meeting else "e"
    main: list[str] = []
    extra: list[str] = []
    address: list[str] = []
    dates: list[str] = []
    affiliations: list[str] = []
    roles: list[tuple[str, bool]] = []
    ids: list[str] = []
    for code, value in fld.subfields:
        if code == "t":
            break
        if code == "4":
            roles.append((value, True))
        elif code == role_code:
            roles.append((value, False))
        elif code == "0":
            ids.append(value)
        elif personal:
            if code == "a" or code == "q":
                main.append(value)
            elif code == "b" or code == "c":
                address.append(value)
            elif code == "d":
                dates.append(value)
            elif code == "u":
                affiliations.append(value)
        elif meeting:
            if code in "acdenq":
                main.append(value)
        elif code == "a" or code == "b":
            _chopped_leaf(name, _NAME_PART, value, clean)
        elif code in "cdn":
            extra.append(value)
    if main:
        _chopped_leaf(name, _NAME_PART, " ".join(main), clean)
    if extra:
        _chopped_leaf(name, _NAME_PART, " ".join(extra), clean)
    if address:
        _chopped_leaf(name, _NAME_PART, " ".join(address), clean, _A_TERMS_OF_ADDRESS)
    for value in dates:
        _chopped_leaf(name, _NAME_PART, value, clean, _A_DATE)
    for value in affiliations:
        _chopped_leaf(name, _AFFILIATION, value, clean)
    for value, is_code in roles:
        _role(name, value, clean, is_code)
    if primary and not roles:
        # The mapping's "creator" keeps the main-entry meaning the 1XX tag carried.
        role = _sub(name, _ROLE)
        _sub(role, _ROLE_TERM, _A_TEXT_MARCRELATOR).text = "creator"
        _sub(role, _ROLE_TERM, _A_CODE_MARCRELATOR).text = "cre"
    if identifiers:
        for value in ids:
            if value.strip():
                _leaf(name, _NAME_IDENTIFIER, value.strip(), clean)
    return name


def _role(name: _Node, value: str, clean: _Clean, is_code: bool) -> None:
    value = value.strip() if is_code else strip_isbd(value)
    if value:
        role = _sub(name, _ROLE)
        _leaf(role, _ROLE_TERM, value, clean, _A_CODE_MARCRELATOR if is_code else _A_TEXT)


def _names(rec: _Record, brief: bool) -> None:
    root, clean = rec.root, rec.clean
    for tag in ("100", "110", "111"):
        for fld in rec.get(tag, ()):
            if _first(fld, "t"):
                continue  # a name/title main entry: its title is the uniform title
            _name(root, fld, clean, primary=True)
            if brief:
                return
    for fld in rec.fields:
        tag = fld.tag
        if tag in ("700", "710", "711"):
            if _first(fld, "t"):
                continue  # name/title added entries are related items
            _name(root, fld, clean)
        elif tag == "720":
            _uncontrolled_name(root, fld, clean)
        else:
            continue
        if brief:
            return


def _uncontrolled_name(parent: _Node, fld: Field, clean: _Clean) -> None:
    name = _sub(parent, _NAME, _PERSONAL if fld.indicator1 == "1" else None)
    for code, value in fld.subfields:
        if code == "a":
            _chopped_leaf(name, _NAME_PART, value, clean)
        elif code == "e":
            _role(name, value, clean, False)
        elif code == "4":
            _role(name, value, clean, True)


# ---------------------------------------------------------------------------------------
# typeOfResource, genre
# ---------------------------------------------------------------------------------------


def _type_of_resource(rec: _Record) -> None:
    leader6 = rec.leader[6]
    resource = _RESOURCE_TYPE.get(leader6)
    if resource is None:
        return
    element = _sub(rec.root, _TYPE_OF_RESOURCE)
    if rec.leader[7] == "c":
        element.set("collection", "yes")
    if leader6 in _MANUSCRIPT:
        element.set("manuscript", "yes")
    element.text = resource


def _genres(rec: _Record) -> None:
    root, f008, material = rec.root, rec.f008, rec.material
    terms: list[str] = []
    if material == "BK" or material == "SE":
        for code in f008[24:28]:
            term = _NATURE_OF_CONTENTS.get(code)
            if term and (material == "BK" or code not in "j2"):
                terms.append(term)
        if f008[29] == "1":
            terms.append("conference publication")
        if material == "BK":
            if f008[30] == "1":
                terms.append("festschrift")
            if f008[34] in "abcd":
                terms.append("biography")
    for position, table in _CODED_GENRES.get(material, ()):
        term = table.get(f008[position])
        if term:
            terms.append(term)
    if material in _GOVERNMENT_MATERIAL and f008[28] in _GOVERNMENT:
        terms.append("government publication")
    seen: set[str] = set()
    for term in terms:
        if term not in seen:
            seen.add(term)
            _sub(root, _GENRE, _A_MARCGT).text = term
    clean = rec.clean
    for fld in rec.get("336", ()):
        _genre_field(root, fld, clean, frozenset("a"), _first(fld, "2"))
    for fld in rec.get("655", ()):
        source = _first(fld, "2") if fld.indicator2 == "7" else ""
        authority = source or _THESAURUS.get(fld.indicator2, {}).get("authority", "")
        _genre_field(root, fld, clean, frozenset("abvxyz"), authority)


def _genre_field(
    root: _Node, fld: Field, clean: _Clean, codes: frozenset[str], authority: str
) -> None:
    # Subdivisions are joined with "--", the way headings are displayed.
    value = "--".join(filter(None, (strip_isbd(v) for v in _values(fld, codes))))
    if value:
        _leaf(root, _GENRE, value, clean, {"authority": clean(authority)} if authority else None)


# ---------------------------------------------------------------------------------------
# originInfo
# ---------------------------------------------------------------------------------------


def _usable_date(value: str) -> bool:
    return len(value) == 4 and "|" not in value and " " not in value and value != "uuuu"


def _origin_info(rec: _Record, brief: bool) -> None:
    root, clean, f008 = rec.root, rec.clean, rec.f008
    origin = _sub(root, _ORIGIN_INFO)
    date_tag = _DATE_CREATED if rec.leader[6] in _MANUSCRIPT else _DATE_ISSUED
    if not brief:
        country = f008[15:18].strip()
        if country and "|" not in country and rec.by_tag.get("008"):
            place = _sub(origin, _PLACE)
            _leaf(place, _PLACE_TERM, country, clean, _A_MARCCOUNTRY)
    # 260 and 264 second indicator 1 both describe publication: one originInfo keeps the
    # place, publisher and date of the same event together.
    for tag in ("260", "264"):
        for fld in rec.get(tag, ()):
            if tag == "264" and fld.indicator2 != "1":
                if fld.indicator2 == "4" and not brief:
                    for value in _values(fld, "c"):
                        _chopped_leaf(origin, _COPYRIGHT_DATE, value, clean)
                continue
            for code, value in fld.subfields:
                if code == "c":
                    _chopped_leaf(origin, date_tag, value, clean)
                elif brief:
                    continue
                elif code == "a":
                    value = strip_isbd(value)
                    if value:
                        place = _sub(origin, _PLACE)
                        _leaf(place, _PLACE_TERM, value, clean, _A_TEXT)
                elif code == "b":
                    _chopped_leaf(origin, _PUBLISHER, value, clean)
                elif code == "g" and tag == "260":
                    _chopped_leaf(origin, _DATE_CREATED, value, clean)
    if rec.by_tag.get("008"):
        _fixed_dates(origin, f008, date_tag, clean, brief)
    if not brief:
        for fld in rec.get("250", ()):
            _chopped_leaf(origin, _EDITION, _joined(fld, "a"), clean)
        level = rec.leader[7]
        issuance = _ISSUANCE_BY_LEVEL.get(level)
        if issuance:
            if level == "m" and rec.leader[19] in "abc":
                issuance = "multipart monograph"
            _sub(origin, _ISSUANCE).text = issuance
        for tag in ("310", "321"):
            for fld in rec.get(tag, ()):
                _chopped_leaf(origin, _FREQUENCY, _joined(fld, "ab"), clean)
        if rec.material == "SE" and rec.by_tag.get("008"):
            frequency = _FREQUENCY_CODE.get(f008[18])
            if frequency:
                _sub(origin, _FREQUENCY, _A_MARCFREQUENCY).text = frequency
    _drop_if_empty(root, origin)
    if not brief:
        for fld in rec.get("264", ()):
            event = _EVENT.get(fld.indicator2)
            if event:
                _event(root, fld, clean, *event)


def _fixed_dates(origin: _Node, f008: str, date_tag: str, clean: _Clean, brief: bool) -> None:
    """008/06-14 as MARC-encoded dates; the first one is the record's key date."""
    kind = f008[6]
    date1 = f008[7:11]
    date2 = f008[11:15]
    if kind in "eprst":
        if _usable_date(date1):
            _sub(origin, date_tag, {"encoding": "marc", "keyDate": "yes"}).text = clean(date1)
        if kind == "t" and _usable_date(date2) and not brief:
            _sub(origin, _COPYRIGHT_DATE, _A_MARC).text = clean(date2)
    elif kind in "cdikmuq":
        questionable = kind == "q"
        if _usable_date(date1):
            attrib = {"encoding": "marc", "point": "start", "keyDate": "yes"}
            if questionable:
                attrib["qualifier"] = "questionable"
            _sub(origin, date_tag, attrib).text = clean(date1)
        if date2 != "    " and "|" not in date2 and date2.strip():
            attrib = {"encoding": "marc", "point": "end"}
            if questionable:
                attrib["qualifier"] = "questionable"
            _sub(origin, date_tag, attrib).text = clean(date2)


def _event(root: _Node, fld: Field, clean: _Clean, event: str, date_type: str) -> None:
    origin = _sub(root, _ORIGIN_INFO, {"eventType": event})
    for code, value in fld.subfields:
        if code == "a":
            value = strip_isbd(value)
            if value:
                place = _sub(origin, _PLACE)
                _leaf(place, _PLACE_TERM, value, clean, _A_TEXT)
        elif code == "b":
            _chopped_leaf(origin, _PUBLISHER, value, clean)
        elif code == "c":
            _chopped_leaf(origin, _DATE_OTHER, value, clean, {"type": date_type})
    _drop_if_empty(root, origin)


# ---------------------------------------------------------------------------------------
# language, physicalDescription
# ---------------------------------------------------------------------------------------


def _languages(rec: _Record) -> None:
    root, clean = rec.root, rec.clean
    seen: set[tuple[str, str]] = set()
    if rec.by_tag.get("008"):
        code = rec.f008[35:38]
        if code.strip() and "|" not in code and "#" not in code:
            seen.add(("", code))
            language = _sub(root, _LANGUAGE)
            _leaf(language, _LANGUAGE_TERM, code, clean, _A_ISO639)
    for fld in rec.get("041", ()):
        attrib = _A_ISO639
        if fld.indicator2 == "7":
            source = _first(fld, "2").strip()
            attrib = (
                {"type": "code", "authority": source}
                if source in _LANGUAGE_AUTHORITIES
                else {"type": "code"}
            )
        split = attrib is _A_ISO639
        for sub_code, value in fld.subfields:
            part = _OBJECT_PART.get(sub_code)
            if part is None:
                continue
            value = value.strip()
            # Before 2001, several codes were written run together in one subfield.
            codes = (
                [value[i : i + 3] for i in range(0, len(value), 3)]
                if split and len(value) > 3 and len(value) % 3 == 0
                else [value]
            )
            for code in codes:
                if not code or (part, code) in seen:
                    continue
                seen.add((part, code))
                language = _sub(root, _LANGUAGE, {"objectPart": part} if part else None)
                _leaf(language, _LANGUAGE_TERM, code, clean, attrib)


def _physical_description(rec: _Record) -> None:
    root, clean, f008, material = rec.root, rec.clean, rec.f008, rec.material
    description = _sub(root, _PHYSICAL_DESCRIPTION)
    leader6 = rec.leader[6]
    for fld in rec.get("007", ()):
        data = fld.data or ""
        if data[:1] == "c" and material == "CF" and len(data) > 11:
            origin = _DIGITAL_ORIGIN_007.get(data[11])
            if origin:
                _sub(description, _DIGITAL_ORIGIN).text = origin
    form = ""
    if rec.by_tag.get("008"):
        if material in _FORM_AT_23:
            code = f008[23]
        elif material in _FORM_AT_29:
            code = f008[29]
        else:
            code = ""
        if code:
            form = _FORM_OF_ITEM.get(code, "")
            if code == " " and (material in ("BK", "SE") or leader6 in "cd"):
                form = "print"
    if not form and leader6 == "m":
        form = "electronic"
    if form:
        _sub(description, _FORM, _A_MARCFORM).text = form
    seen: set[str] = set()
    for fld in rec.get("007", ()):
        data = fld.data or ""
        category = _CATEGORY_007.get(data[:1])
        if category and "c" + category not in seen:
            seen.add("c" + category)
            _sub(description, _FORM, _A_MARCCATEGORY).text = category
        smd = _SMD_007.get(data[:2])
        if smd and "s" + smd not in seen:
            seen.add("s" + smd)
            _sub(description, _FORM, _A_MARCSMD).text = smd
        if data[:1] == "c" and len(data) > 13:
            quality = _REFORMATTING_007.get(data[13])
            if quality:
                _sub(description, _REFORMATTING_QUALITY).text = quality
    for tag, kind in (("337", "media"), ("338", "carrier")):
        for fld in rec.get(tag, ()):
            source = _first(fld, "2")
            attrib = {"type": kind, "authority": clean(source)} if source else {"type": kind}
            for value in _values(fld, "a"):
                if value.strip():
                    _leaf(description, _FORM, value.strip(), clean, attrib)
    for fld in rec.get("856", ()):
        if fld.indicator2 != "2":
            for value in _values(fld, "q"):
                if len(value.strip()) > 1:
                    _leaf(description, _INTERNET_MEDIA_TYPE, value.strip(), clean)
    for fld in rec.get("300", ()):
        extent = strip_isbd(_joined(fld, "abce3g"))
        if extent:
            unit = _joined(fld, "f")
            _leaf(description, _EXTENT, extent, clean, {"unit": clean(unit)} if unit else None)
    _drop_if_empty(root, description)


# ---------------------------------------------------------------------------------------
# abstract, tableOfContents, targetAudience, note, accessCondition
# ---------------------------------------------------------------------------------------


def _descriptions(rec: _Record) -> None:
    root, clean = rec.root, rec.clean
    for fld in rec.get("520", ()):
        text = _joined(fld, "ab")
        if text:
            label = _ABSTRACT_LABEL.get(fld.indicator1)
            _leaf(root, _ABSTRACT, text, clean, {"displayLabel": label} if label else None)
    for fld in rec.get("505", ()):
        text = _joined(fld, "agrt")
        if text:
            label = _CONTENTS_LABEL.get(fld.indicator1)
            attrib = {"displayLabel": label} if label else None
            _leaf(root, _TABLE_OF_CONTENTS, text, clean, attrib)
    for fld in rec.get("521", ()):
        text = _joined(fld, "ab")
        if text:
            label = _AUDIENCE_LABEL.get(fld.indicator1)
            attrib = {"displayLabel": label} if label else None
            _leaf(root, _TARGET_AUDIENCE, text, clean, attrib)
    if rec.material in _AUDIENCE_MATERIAL and rec.by_tag.get("008"):
        audience = _AUDIENCE.get(rec.f008[22])
        if audience:
            _sub(root, _TARGET_AUDIENCE, _A_MARCTARGET).text = audience
    for fld in rec.get("245", ()):
        responsibility = _joined(fld, "c")
        if responsibility:
            attrib = {"type": "statement of responsibility"}
            _leaf(root, _NOTE, responsibility, clean, attrib)
    for fld in rec.fields:
        tag = fld.tag
        if tag not in _NOTE_TYPE:
            continue
        text = _joined(fld, _NOTE_SKIP.get(tag, _NOTE_SKIP_DEFAULT), skip=True)
        if text:
            note_type = _NOTE_TYPE[tag]
            _leaf(root, _NOTE, text, clean, {"type": note_type} if note_type else None)
    for tag, kind, codes in (
        ("506", "restriction on access", "abcd35"),
        ("540", "use and reproduction", "abcde35"),
    ):
        for fld in rec.get(tag, ()):
            text = _joined(fld, codes)
            if text:
                _leaf(root, _ACCESS_CONDITION, text, clean, {"type": kind})


# ---------------------------------------------------------------------------------------
# subject
# ---------------------------------------------------------------------------------------


def _thesaurus(fld: Field, clean: _Clean) -> dict[str, str] | None:
    indicator = fld.indicator2
    if indicator == "7":
        source = _first(fld, "2").strip()
        return {"authority": clean(source)} if source else None
    return _THESAURUS.get(indicator)


def _subdivisions(subject: _Node, fld: Field, clean: _Clean) -> None:
    for code, value in fld.subfields:
        tag = _SUBDIVISION.get(code)
        if tag is not None:
            _chopped_leaf(subject, tag, value, clean)


def _subject_name(root: _Node, fld: Field, clean: _Clean) -> None:
    subject = _sub(root, _SUBJECT, _thesaurus(fld, clean))
    _name(subject, fld, clean, identifiers=False)
    if _first(fld, "t"):
        _title_info(subject, fld, clean, _T_NAME_TITLE, start="t")
    _subdivisions(subject, fld, clean)


def _subject_title(root: _Node, fld: Field, clean: _Clean) -> None:
    subject = _sub(root, _SUBJECT, _thesaurus(fld, clean))
    _title_info(subject, fld, clean, frozenset("adfhklors"))
    _subdivisions(subject, fld, clean)
    _drop_if_empty(root, subject)


def _subject_heading(root: _Node, fld: Field, clean: _Clean) -> None:
    """648 (temporal), 650 (topic) and 651 (geographic) headings with their subdivisions."""
    tag = fld.tag
    authority = _thesaurus(fld, clean)
    if authority is None and tag == "648":
        source = _first(fld, "2").strip()
        authority = {"authority": clean(source)} if source else None
    subject = _sub(root, _SUBJECT, authority)
    if tag == "650":
        _chopped_leaf(subject, _TOPIC, _joined(fld, "abcd"), clean)
    elif tag == "651":
        for value in _values(fld, "a"):
            _chopped_leaf(subject, _GEOGRAPHIC, value, clean)
    else:
        _chopped_leaf(subject, _TEMPORAL, _joined(fld, "a"), clean)
    _subdivisions(subject, fld, clean)
    _drop_if_empty(root, subject)


def _subject_index_terms(root: _Node, fld: Field, clean: _Clean) -> None:
    tag, kind = _INDEX_TERM.get(fld.indicator2, (_TOPIC, None))
    subject = _sub(root, _SUBJECT)
    for value in _values(fld, "a"):
        if tag == _NAME:
            name = _sub(subject, _NAME, kind)
            if _chopped_leaf(name, _NAME_PART, value, clean) is None:
                subject.remove(name)
        else:
            _chopped_leaf(subject, tag, value, clean)
    _drop_if_empty(root, subject)


def _subject_occupation(root: _Node, fld: Field, clean: _Clean) -> None:
    source = _first(fld, "2").strip()
    subject = _sub(root, _SUBJECT, {"authority": clean(source)} if source else None)
    _chopped_leaf(subject, _OCCUPATION, _joined(fld, "a"), clean)
    _subdivisions(subject, fld, clean)
    _drop_if_empty(root, subject)


def _subject_place(root: _Node, fld: Field, clean: _Clean) -> None:
    subject = _sub(root, _SUBJECT)
    places = _sub(subject, _HIERARCHICAL_GEOGRAPHIC)
    for code, value in fld.subfields:
        tag = _PLACE_LEVEL.get(code)
        if tag is not None:
            _chopped_leaf(places, tag, value, clean)
    _drop_if_empty(subject, places)
    _drop_if_empty(root, subject)


#: Subject fields -> the builder for their subject element.
_SUBJECT_BUILDERS: Final[dict[str, Callable[[_Node, Field, _Clean], None]]] = {
    "600": _subject_name, "610": _subject_name, "611": _subject_name, "630": _subject_title,
    "648": _subject_heading, "650": _subject_heading, "651": _subject_heading,
    "653": _subject_index_terms, "656": _subject_occupation, "662": _subject_place,
    "752": _subject_place,
}  # fmt: skip


def _subjects(rec: _Record) -> None:
    root, clean = rec.root, rec.clean
    for fld in rec.get("043", ()):
        subject = _sub(root, _SUBJECT)
        for code, value in fld.subfields:
            if (code == "a" or code == "c") and value.strip():
                authority = "marcgac" if code == "a" else "iso3166"
                _leaf(subject, _GEOGRAPHIC_CODE, value.strip(), clean, {"authority": authority})
        _drop_if_empty(root, subject)
    for fld in rec.get("255", ()):
        subject = _sub(root, _SUBJECT)
        maps = _sub(subject, _CARTOGRAPHICS)
        # cartographics is a sequence: one scale, one projection, then coordinates.
        for code, tag in (("a", _SCALE), ("b", _PROJECTION)):
            value = _first(fld, code).strip()
            if value:
                _leaf(maps, tag, value, clean)
        for value in _values(fld, "c"):
            if value.strip():
                _leaf(maps, _COORDINATES, value.strip(), clean)
        _drop_if_empty(subject, maps)
        _drop_if_empty(root, subject)
    # Subject order is kept: the first heading is the cataloguer's primary subject.
    for fld in rec.fields:
        build = _SUBJECT_BUILDERS.get(fld.tag)
        if build is not None:
            build(root, fld, clean)


# ---------------------------------------------------------------------------------------
# classification
# ---------------------------------------------------------------------------------------


def _classifications(rec: _Record) -> None:
    root, clean = rec.root, rec.clean
    attrib: dict[str, str] | None
    lcc = {"authority": "lcc"}
    for fld in rec.get("050", ()):
        # Each $b (item number) belongs to the $a before it; a lone $a stands alone.
        pending = ""
        for code, value in fld.subfields:
            if code == "a":
                if pending.strip():
                    _leaf(root, _CLASSIFICATION, pending.strip(), clean, lcc)
                pending = value
            elif code == "b":
                number = f"{pending.strip()} {value.strip()}".strip()
                if number:
                    _leaf(root, _CLASSIFICATION, number, clean, lcc)
                pending = ""
        if pending.strip():
            _leaf(root, _CLASSIFICATION, pending.strip(), clean, lcc)
    for fld in rec.get("060", ()):
        _class_number(root, _joined(fld, "ab"), clean, {"authority": "nlm"})
    for tag, scheme, codes in (("080", "udc", "abx"), ("082", "ddc", "ab")):
        for fld in rec.get(tag, ()):
            scheme_edition = {"authority": scheme}
            edition = _first(fld, "2").strip()
            if edition:
                scheme_edition["edition"] = clean(edition)
            if tag == "082":
                # Two $a are two alternative numbers, not one number with a space.
                for number in _ddc_numbers(fld):
                    _class_number(root, number, clean, scheme_edition)
            else:
                _class_number(root, _joined(fld, codes), clean, scheme_edition)
    for fld in rec.get("084", ()):
        source = _first(fld, "2").strip()
        attrib = {"authority": clean(source)} if source else None
        _class_number(root, _joined(fld, "ab"), clean, attrib)
    for fld in rec.get("086", ()):
        if fld.indicator1 == "0":
            attrib = {"authority": "sudocs"}
        elif fld.indicator1 == "1":
            attrib = {"authority": "candoc"}
        else:
            source = _first(fld, "2").strip()
            attrib = {"authority": clean(source)} if source else None
        _class_number(root, _joined(fld, "a"), clean, attrib)


def _ddc_numbers(fld: Field) -> list[str]:
    numbers: list[str] = []
    for code, value in fld.subfields:
        if code == "a":
            numbers.append(value.strip())
        elif code == "b" and numbers:
            numbers[-1] = f"{numbers[-1]} {value.strip()}"
    return numbers


def _class_number(root: _Node, number: str, clean: _Clean, attrib: dict[str, str] | None) -> None:
    number = number.strip()
    if number:
        _leaf(root, _CLASSIFICATION, number, clean, attrib)


# ---------------------------------------------------------------------------------------
# relatedItem
# ---------------------------------------------------------------------------------------


def _series(rec: _Record) -> None:
    root, clean = rec.root, rec.clean
    traced = any(rec.by_tag.get(tag) for tag in ("800", "810", "811", "830"))
    for fld in rec.fields:
        tag = fld.tag
        if tag == "490" or tag == "440":
            # A traced 490 (first indicator 1) is repeated by its 8XX: map it only when the
            # record has no 8XX, which happens in local catalogues.
            if tag == "490" and fld.indicator1 == "1" and traced:
                continue
            item = _sub(root, _RELATED_ITEM, _A_SERIES)
            if tag == "440":
                _title_info(
                    item, fld, clean, _TA, numbers=_NV, nonfiling=_nonfiling(fld.indicator2)
                )
            else:
                _title_info(item, fld, clean, _TA, numbers=_V)
            _issn(item, fld, clean)
        elif tag in ("800", "810", "811"):
            item = _sub(root, _RELATED_ITEM, _A_SERIES)
            _title_info(item, fld, clean, _T_NAME_TITLE, numbers=_NV, start="t")
            _name(item, fld, clean, identifiers=False)
            _issn(item, fld, clean)
        elif tag == "830":
            item = _sub(root, _RELATED_ITEM, _A_SERIES)
            nonfiling = _nonfiling(fld.indicator2)
            _title_info(item, fld, clean, _T_UNIFORM, numbers=_NV, nonfiling=nonfiling)
            _issn(item, fld, clean)
        else:
            continue
        _drop_if_empty(root, item)


def _issn(item: _Node, fld: Field, clean: _Clean) -> None:
    for value in _values(fld, "x"):
        value = strip_isbd(value)
        if value:
            _leaf(item, _IDENTIFIER, value, clean, {"type": "issn"})


def _relations(rec: _Record) -> None:
    root, clean = rec.root, rec.clean
    for fld in rec.fields:
        tag = fld.tag
        link_type = _LINK_TYPE.get(tag)
        if link_type is not None:
            if tag == "775" and fld.indicator2 != " ":
                link_type = ""
            _linking_entry(root, fld, clean, link_type)
        elif tag in ("700", "710", "711") and _first(fld, "t"):
            attrib = _A_CONSTITUENT if fld.indicator2 == "2" else None
            item = _sub(root, _RELATED_ITEM, attrib)
            _title_info(item, fld, clean, _T_NAME_TITLE, start="t")
            _name(item, fld, clean, identifiers=False)
            _issn(item, fld, clean)
            _drop_if_empty(root, item)
        elif (tag == "730" or tag == "740") and fld.indicator2 == "2":
            item = _sub(root, _RELATED_ITEM, _A_CONSTITUENT)
            _title_info(item, fld, clean, _T_UNIFORM if tag == "730" else _TA)
            _issn(item, fld, clean)
            _drop_if_empty(root, item)
        elif tag == "510" and fld.indicator1 in " 01":
            item = _sub(root, _RELATED_ITEM, {"type": "isReferencedBy"})
            for value in _values(fld, "a"):
                info = _sub(item, _TITLE_INFO)
                _leaf(info, _TITLE, value.strip(), clean)
            for value in _values(fld, "c"):
                value = strip_isbd(value)
                if value:
                    detail = _sub(_sub(item, _PART), _DETAIL, {"type": "part"})
                    _leaf(detail, _NUMBER, value, clean)
            _drop_if_empty(root, item)
        elif tag == "534":
            _linking_entry(root, fld, clean, "original")
        elif tag == "856" and fld.indicator2 == "2":
            item = _sub(root, _RELATED_ITEM)
            for value in _values(fld, "q"):
                if len(value.strip()) > 1:
                    description = _sub(item, _PHYSICAL_DESCRIPTION)
                    _leaf(description, _INTERNET_MEDIA_TYPE, value.strip(), clean)
            _urls(item, fld, clean, primary=False)
            _drop_if_empty(root, item)


def _linking_entry(root: _Node, fld: Field, clean: _Clean, link_type: str) -> None:
    """A 76X-78X linking entry (or 534 original version) as a relatedItem."""
    attrib: dict[str, str] = {"type": link_type} if link_type else {}
    relationship = _first(fld, "i").strip()
    label = relationship or _first(fld, "3").strip()
    if relationship:
        attrib["otherType"] = clean(relationship)
    if label:
        attrib["displayLabel"] = clean(label)
    item = _sub(root, _RELATED_ITEM, attrib)
    host = fld.tag == "773"
    numbers = _values(fld, "g") if not host else []
    # In 534, $p is an introductory phrase, not an abbreviated title.
    title_codes = _LINK_TITLES if fld.tag != "534" else _LINK_TITLES[:1]
    for code, title_type in title_codes:
        for value in _values(fld, code):
            value = strip_isbd(value)
            if value:
                info = _sub(item, _TITLE_INFO, {"type": title_type} if title_type else None)
                _leaf(info, _TITLE, value, clean)
                for number in numbers:
                    _chopped_leaf(info, _PART_NUMBER, number, clean)
    for value in _values(fld, "a"):
        name = _sub(item, _NAME)
        if _chopped_leaf(name, _NAME_PART, value, clean) is None:
            item.remove(name)
    publishers = [strip_isbd(v) for v in _values(fld, "c" if fld.tag == "534" else "d")]
    editions = [strip_isbd(v) for v in _values(fld, "b")]
    if any(publishers) or any(editions):
        origin = _sub(item, _ORIGIN_INFO)
        for value in publishers:
            if value:
                _leaf(origin, _PUBLISHER, value, clean)
        for value in editions:
            if value:
                _leaf(origin, _EDITION, value, clean)
    for value in _values(fld, "n"):
        if value.strip():
            _leaf(item, _NOTE, value.strip(), clean)
    for code, id_type in (("o", ""), ("x", "issn"), ("z", "isbn"), ("w", "local")):
        for value in _values(fld, code):
            value = value.strip()
            if value:
                _leaf(item, _IDENTIFIER, value, clean, {"type": id_type} if id_type else None)
    if host:
        for value in _values(fld, "g"):
            if value.strip():
                _leaf(_sub(item, _PART), _TEXT, value.strip(), clean)
    _drop_if_empty(root, item)


# ---------------------------------------------------------------------------------------
# identifier
# ---------------------------------------------------------------------------------------


def _identifiers(rec: _Record) -> None:
    root, clean = rec.root, rec.clean
    for tag, kind, valid, invalid in (
        ("020", "isbn", "a", "z"),
        ("022", "issn", "a", "yz"),
        ("022", "issn-l", "l", "m"),
        ("010", "lccn", "a", "z"),
    ):
        for fld in rec.get(tag, ()):
            for code, value in fld.subfields:
                if code in valid:
                    attrib = {"type": kind}
                elif code in invalid:
                    attrib = {"type": kind, "invalid": "yes"}
                else:
                    continue
                # LCCNs are space-padded to a fixed width; the padding is not the number.
                value = " ".join(value.split()) if tag == "010" else strip_isbd(value)
                if value:
                    _leaf(root, _IDENTIFIER, value, clean, attrib)
    for fld in rec.get("024", ()):
        indicator = fld.indicator1
        if indicator == "7":
            source = _first(fld, "2").strip()
            kind = clean(source) if source else ""
        else:
            kind = _STANDARD_NUMBER.get(indicator, "")
        for code, value in fld.subfields:
            if code != "a" and code != "z":
                continue
            value = strip_isbd(value)
            if not value:
                continue
            attrib = {"type": kind} if kind else {}
            if code == "z":
                attrib["invalid"] = "yes"
            _leaf(root, _IDENTIFIER, value, clean, attrib or None)
    for fld in rec.get("028", ()):
        kind = _PUBLISHER_NUMBER.get(fld.indicator1, "")
        value = _joined(fld, "ab")
        if value:
            _leaf(root, _IDENTIFIER, value, clean, {"type": kind} if kind else None)
    for fld in rec.get("035", ()):
        for value in _values(fld, "a"):
            if value.startswith("(OCoLC)"):
                number = value[7:].strip()
                if number:
                    _leaf(root, _IDENTIFIER, number, clean, {"type": "oclc"})
    for fld in rec.get("037", ()):
        value = _joined(fld, "ab")
        if value:
            attrib = {"type": "stock number"}
            source = _joined(fld, "c")
            if source:
                attrib["displayLabel"] = clean(source)
            _leaf(root, _IDENTIFIER, value, clean, attrib)
    for fld in rec.get("856", ()):
        if fld.indicator2 != "2":
            for value in _values(fld, "u"):
                uri = _uri(value, clean)
                if uri:
                    _leaf(root, _IDENTIFIER, uri, clean, {"type": "uri"})


def _uri(value: str, clean: _Clean) -> str:
    """``value`` as a URI reference the schema's anyURI type accepts, or "" when empty.

    URLs typed by hand carry spaces, a lone "%" or a second "#"; escaped, they are still
    the same address. Whatever is still not a URI reference after that (a stray "[", a
    port that is not a number) is percent-encoded whole: one bad 856 must not make the
    record invalid, and the encoded text can still be decoded back to what was typed.
    """
    # Cleaned first: a lone surrogate cannot be percent-encoded (it has no UTF-8 form).
    value = clean(value).strip()
    if not value:
        return ""
    value = _LONE_PERCENT.sub("%25", value.replace(" ", "%20"))
    fragment = value.find("#")
    if fragment >= 0:
        value = value[: fragment + 1] + value[fragment + 1 :].replace("#", "%23")
    if _URI_REFERENCE.fullmatch(value):
        return value
    return quote(value, safe="")


# ---------------------------------------------------------------------------------------
# location
# ---------------------------------------------------------------------------------------


def _locations(rec: _Record, holdings: Sequence[Holding]) -> None:
    root, clean = rec.root, rec.clean
    if holdings:
        for holding in holdings:
            _holding(root, holding, clean)
    else:
        for fld in rec.get("852", ()):
            _location_852(root, fld, clean)
    primary = _primary_url(rec.get("856", ()))
    for fld in rec.get("856", ()):
        if fld.indicator2 != "2":
            location = _sub(root, _LOCATION)
            _urls(location, fld, clean, primary=fld is primary)
            _drop_if_empty(root, location)


def _holding(root: _Node, holding: Holding, clean: _Clean) -> None:
    """One held copy: library, then shelving location, call number and barcode.

    Circulation status is left out on purpose: MODS pages are cached and harvested, and a
    status copied into them would be stale; SIP2 and the OPAC syntax answer it live.
    """
    library = holding.library.strip()
    shelf = holding.location.strip()
    call_number = holding.call_number.strip()
    barcode = holding.barcode.strip()
    if not (library or shelf or call_number or barcode):
        return
    location = _sub(root, _LOCATION)
    if library:
        _leaf(location, _PHYSICAL_LOCATION, library, clean)
    if shelf or call_number or barcode:
        # copyInformation is a sequence: subLocation, shelfLocator, ..., itemIdentifier.
        copy = _sub(_sub(location, _HOLDING_SIMPLE), _COPY_INFORMATION)
        if shelf:
            _leaf(copy, _SUB_LOCATION, shelf, clean)
        if call_number:
            _leaf(copy, _SHELF_LOCATOR, call_number, clean)
        if barcode:
            _leaf(copy, _ITEM_IDENTIFIER, barcode, clean, {"type": "barcode"})


def _location_852(root: _Node, fld: Field, clean: _Clean) -> None:
    location = _sub(root, _LOCATION)
    place = _joined(fld, "abe")
    if place:
        _leaf(location, _PHYSICAL_LOCATION, place, clean)
    shelf = _joined(fld, "hijklm")
    if shelf:
        _leaf(location, _SHELF_LOCATOR, shelf, clean)
    items = [(c, v.strip()) for c, v in fld.subfields if (c == "p" or c == "t") and v.strip()]
    if items:
        copy = _sub(_sub(location, _HOLDING_SIMPLE), _COPY_INFORMATION)
        for code, value in items:
            attrib = {"type": "copy number"} if code == "t" else {"type": "barcode"}
            _leaf(copy, _ITEM_IDENTIFIER, value, clean, attrib)
    _drop_if_empty(root, location)


def _primary_url(fields: Iterable[Field]) -> Field | None:
    """The 856 whose URL is the resource itself: first ind2 0, else first 1, else first."""
    first: Field | None = None
    version: Field | None = None
    for fld in fields:
        if fld.indicator2 == "2" or not _first(fld, "u"):
            continue
        if fld.indicator2 == "0":
            return fld
        if fld.indicator2 == "1" and version is None:
            version = fld
        if first is None:
            first = fld
    return version or first


def _urls(parent: _Node, fld: Field, clean: _Clean, *, primary: bool) -> None:
    values = [_uri(value, clean) for value in _values(fld, "u")]
    values = [value for value in values if value]
    if not values:
        return
    location = parent if parent.tag == _LOCATION else _sub(parent, _LOCATION)
    attrib: dict[str, str] = {}
    label = _joined(fld, "y3")
    if label:
        attrib["displayLabel"] = clean(label)
    note = _joined(fld, "z")
    if note:
        attrib["note"] = clean(note)
    for index, value in enumerate(values):
        url = _leaf(location, _URL, value, clean, attrib or None)
        if primary and index == 0:
            url.set("usage", "primary display")


# ---------------------------------------------------------------------------------------
# recordInfo
# ---------------------------------------------------------------------------------------


def _record_info(rec: _Record) -> None:
    clean = rec.clean
    info = _sub(rec.root, _RECORD_INFO)
    if rec.leader[18] == "a":
        _sub(info, _DESCRIPTION_STANDARD).text = "aacr"
    sources = rec.get("040", ())
    for fld in sources:
        for value in _values(fld, "e"):
            if value.strip():
                _leaf(info, _DESCRIPTION_STANDARD, value.strip(), clean)
    for fld in sources[:1]:
        agency = _first(fld, "a").strip()
        if agency:
            _leaf(info, _RECORD_CONTENT_SOURCE, agency, clean, _A_MARCORG)
    created = rec.control("008")[:6]
    if created.strip():
        _leaf(info, _RECORD_CREATION_DATE, created, clean, _A_MARC)
    changed = rec.control("005").strip()
    if changed:
        _leaf(info, _RECORD_CHANGE_DATE, changed, clean, _A_ISO8601)
    control_number = rec.control("001").strip()
    if control_number:
        organisation = rec.control("003").strip()
        attrib = {"source": clean(organisation)} if organisation else None
        _leaf(info, _RECORD_IDENTIFIER, control_number, clean, attrib)
    _sub(info, _RECORD_ORIGIN).text = RECORD_ORIGIN
    for fld in sources:
        for value in _values(fld, "b"):
            if value.strip():
                language = _sub(info, _LANGUAGE_OF_CATALOGING)
                _leaf(language, _LANGUAGE_TERM, value.strip(), clean, _A_ISO639)


# ---------------------------------------------------------------------------------------
# The public transform
# ---------------------------------------------------------------------------------------


def marc_to_mods(
    record: Record,
    holdings: Sequence[Holding] = (),
    *,
    brief: bool = False,
    text: XmlText | None = None,
) -> etree._Node:
    """:func:`mods_text` as an lxml element, for callers that need a tree."""
    xml = mods_text(record, holdings, brief=brief, text=text)
    return etree.fromstring(xml.encode("utf-8"), _PARSER)


def mods_text(
    record: Record,
    holdings: Sequence[Holding] = (),
    *,
    brief: bool = False,
    text: XmlText | None = None,
) -> str:
    """Render ``record`` as a ``<mods version="3.7">`` element (XML text) valid against the
    MODS schema.

    ``holdings`` are the copies the gateway knows (the record's source library and, in a
    union catalogue, others); each becomes a ``location`` and the record's own 852 fields
    are then not mapped, since the gateway's items come from them. ``brief`` gives the brief
    element set SRU and Z39.50 clients ask for in result lists: the title, the primary (or
    first) name, the publication date and the identifiers. ``text`` scrubs and counts
    characters XML cannot carry; pass one shared :class:`XmlText` to total the losses of a
    whole response page, or leave it out for a private one.

    The record is expected in NFC (canonical records are); it is not modified.
    """
    clean = text if text is not None else XmlText()
    root = _Node(_MODS, _ROOT_ATTRIB)
    rec = _Record(record, root, clean)
    _titles(rec, brief)
    _names(rec, brief)
    if brief:
        _origin_info(rec, brief=True)
        _identifiers(rec)
    else:
        _type_of_resource(rec)
        _genres(rec)
        _origin_info(rec, brief=False)
        _languages(rec)
        _physical_description(rec)
        _descriptions(rec)
        _subjects(rec)
        _classifications(rec)
        _series(rec)
        _relations(rec)
        _identifiers(rec)
        _locations(rec, holdings)
        _record_info(rec)
    if not len(root):
        # The schema wants at least one element; an empty titleInfo says "no title".
        _sub(root, _TITLE_INFO)
    out: list[str] = []
    root.write(out, clean.escape)
    return "".join(out)
