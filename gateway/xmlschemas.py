"""Official XML Schemas loaded offline from local folders (the schemas are not shipped).

Schemas import each other by their published URLs (www.loc.gov, dublincore.org, w3.org);
validation must not depend on those sites, so a resolver maps every remote schema URL to
the file of the same name in the first folder that has one, as an XML catalog would.

:func:`combined_schema` builds, in memory, one schema importing every schema the folders
hold, by target namespace: what validating an OAI-PMH response needs, since its
``metadata``, ``about`` and ``description`` elements are ``processContents="strict"`` and
must find a declaration for whatever namespace they carry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from lxml import etree

__all__ = [
    "CombinedSchema",
    "LocalSchemas",
    "SchemaFolderError",
    "combined_schema",
    "load_schema",
    "target_namespaces",
]

_XS = "http://www.w3.org/2001/XMLSchema"
#: Top-level schema components: a file with none of them only imports others (a wrapper).
_COMPONENTS = frozenset(
    f"{{{_XS}}}{name}"
    for name in ("element", "attribute", "complexType", "simpleType", "group", "attributeGroup")
)


class SchemaFolderError(Exception):
    """The schemas in the folders cannot be used (missing, unreadable or not compiling)."""


class LocalSchemas(etree.Resolver):
    """Resolves a remote schema URL to the local file with the same name."""

    def __init__(self, folders: Sequence[Path]) -> None:
        super().__init__()
        self.folders = tuple(folders)

    def resolve(self, url: str | None, pubid: str | None, context: object) -> object:
        """The local copy for an http(s) URL; other URLs (relative paths) as usual."""
        if not url or not url.startswith(("http://", "https://")):
            return None
        name = url.rstrip("/").rsplit("/", 1)[-1]
        for folder in self.folders:
            candidate = folder / name
            if candidate.is_file():
                return self.resolve_filename(str(candidate), context)
        raise LookupError(f"no local copy of the schema {url}")


def _parser(folders: Sequence[Path]) -> etree.XMLParser:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(LocalSchemas(folders))
    return parser


def load_schema(path: Path, folders: Sequence[Path] = ()) -> etree.XMLSchema:
    """The schema in ``path``, its remote imports found beside it, then in ``folders``."""
    parser = _parser([path.parent, *folders])
    return etree.XMLSchema(etree.parse(str(path), parser))


def target_namespaces(folders: Sequence[Path]) -> dict[str, Path]:
    """Namespace -> the schema file declaring it, over every ``*.xsd`` in ``folders``.

    The first folder wins when two declare the same namespace (``xml.xsd`` is in
    several); files that only import others (like ``oai-all.xsd``) are left out.
    """
    found: dict[str, Path] = {}
    for folder in folders:
        for path in sorted(folder.glob("*.xsd")):
            try:
                root = etree.parse(str(path), etree.XMLParser(no_network=True)).getroot()
            except (OSError, etree.XMLSyntaxError) as exc:
                raise SchemaFolderError(f"{path} is not a readable schema: {exc}") from None
            namespace = root.get("targetNamespace")
            if root.tag != f"{{{_XS}}}schema" or not namespace:
                continue
            if any(child.tag in _COMPONENTS for child in root):
                found.setdefault(namespace, path)
    return found


@dataclass(frozen=True, slots=True)
class CombinedSchema:
    """One compiled schema covering every namespace of the folders it was built from."""

    schema: etree.XMLSchema
    #: Namespace -> schema file, for every namespace the schema declares elements in.
    namespaces: dict[str, Path]

    def file_names(self) -> list[str]:
        """The schema files it is made of, by name."""
        return sorted({path.name for path in self.namespaces.values()})


def combined_schema(
    folders: Sequence[Path],
    *,
    required: Sequence[str] = (),
    target_namespace: str = "urn:x-lienthong:combined",
    declarations: str = "",
) -> CombinedSchema:
    """A schema importing every schema in ``folders``, built in memory.

    ``required`` names the files that must be among them (``OAI-PMH.xsd``);
    ``declarations`` (XML Schema text with the ``xs`` prefix) adds components in
    ``target_namespace``, the wrapper's own.
    """
    folders = [Path(folder) for folder in folders]
    namespaces = target_namespaces(folders)
    names = {path.name for path in namespaces.values()}
    missing = [name for name in required if name not in names]
    if missing:
        where = ", ".join(str(folder) for folder in folders) or "no folder"
        raise SchemaFolderError(f"no {', '.join(missing)} in {where}")
    imports = "".join(
        f"<xs:import namespace={quoteattr(namespace)} schemaLocation={quoteattr(str(path))}/>"
        for namespace, path in namespaces.items()
    )
    text = (
        f'<xs:schema xmlns:xs="{_XS}" targetNamespace={quoteattr(target_namespace)} '
        f'elementFormDefault="qualified">{imports}{declarations}</xs:schema>'
    )
    try:
        wrapper = etree.fromstring(text.encode("utf-8"), _parser(folders))
        schema = etree.XMLSchema(wrapper)
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, LookupError) as exc:
        raise SchemaFolderError(f"the schemas in {', '.join(map(str, folders))} do not "
                                f"compile: {exc}") from None  # fmt: skip
    namespaces.pop(target_namespace, None)
    return CombinedSchema(schema, namespaces)
