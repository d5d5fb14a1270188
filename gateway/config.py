"""The one YAML configuration file: schema as data, validation with line numbers, rendering.

Everything is checked before anything starts, and every problem is reported at once with
its key path and line, so an administrator fixes the file in one pass. The schema below is
also the documentation: ``conf/gateway.example.yaml`` and the file ``lienthong init``
writes are rendered from it, so the documented keys and the accepted keys cannot drift.
"""

from __future__ import annotations

import difflib
import os
import re
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .endpoints import ENDPOINT_SPECS, available
from .passwords import is_password_hash

__all__ = [
    "Config",
    "ConfigError",
    "Problem",
    "Library",
    "SCHEMA",
    "ENDPOINTS",
    "LIBRARY_KINDS",
    "find_config",
    "load_config",
    "render_config",
]

CONFIG_ENV = "LIENTHONG_CONFIG"
DEFAULT_CONFIG_NAME = "lienthong.yaml"
#: The protocol endpoints a gateway can serve, in the order they are documented.
ENDPOINTS = ("sru", "oaipmh", "z3950", "sip2")
LIBRARY_KINDS = ("national", "provincial", "district", "school", "university", "special", "other")
#: Values of a library's ``legacy_vietnamese`` (crosswalks.legacy.LegacyMode).
LEGACY_MODES = ("auto", "tcvn3", "vni", "off")
_LIBRARY_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_NAMESPACE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*(\.[A-Za-z][A-Za-z0-9-]*)+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HTTP_URL = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?(/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*)?$")


# -- schema ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """One configuration key: its type, default, check and documentation.

    ``kind`` is one of str, int, bool, port, path, map, list. ``example`` is what rendered
    files show (defaults to ``default``). A key without default is required.
    """

    kind: str
    doc: str
    default: Any = ...
    example: Any = ...
    check: Callable[[Any], str | None] | None = None
    children: dict[str, Key] = field(default_factory=dict)
    items: Key | None = None
    minimum: int | None = None
    maximum: int | None = None
    #: The value may be a secret typed in the wrong place: problems never quote it.
    secret: bool = False

    @property
    def required(self) -> bool:
        """True when the file must give a value."""
        return self.default is ... and self.kind not in ("map",)


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def _matches(pattern: re.Pattern[str], what: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if pattern.fullmatch(str(value)) else f"is not {what}"

    return check


def _password_hash_check(value: Any) -> str | None:
    return (
        None
        if is_password_hash(str(value))
        else ("is not a password hash (make one with 'lienthong hash-password')")
    )


SCHEMA: dict[str, Key] = {
    "gateway": Key("map", "Who this gateway is: shown by OAI-PMH Identify and SRU explain.", children={
        "name": Key("str", "Repository name shown to harvesters and catalogue clients.",
                    example="Liên thông thư viện tỉnh Đắk Lắk"),
        "admin_email": Key("str", "Administrator e-mail published by OAI-PMH Identify.",
                           example="thuvien@example.vn", check=_matches(_EMAIL, "an e-mail address")),
        "oai_namespace": Key("str", "Repository identifier (a domain name you control); records "
                             "are identified as oai:<namespace>:<library>/<local id>.",
                             example="lienthong.example.vn",
                             check=_matches(_NAMESPACE, "a domain name like lienthong.example.vn")),
    }),
    "store": Key("map", "Where records are kept.", children={
        "path": Key("path", "SQLite file (the embedded default), relative to this file's folder.",
                    default="lienthong.db"),
    }),
    "server": Key("map", "Network addresses. Command-line flags of 'serve' override them.", children={
        "host": Key("str", "Address to listen on; 0.0.0.0 for every interface.",
                    default="127.0.0.1"),
        "http_port": Key("port", "HTTP port for SRU, OAI-PMH and /health.", default=8080),
        "z3950_port": Key("port", "TCP port for Z39.50 (210 is the registered port).",
                          default=2100),
        "sip2_port": Key("port", "TCP port for SIP2 self-check devices.", default=6001),
        "threads": Key("int", "Worker threads for store calls (never on the network thread).",
                       default=8, minimum=1, maximum=128),
    }),
    "sru": Key("map", "SRU (search and retrieve over HTTP, at /sru and /sru/<library id>).",
               children={
        "default_version": Key("str", "Version answered when a request names none: 1.1, 1.2 "
                               "or 2.0.", default="2.0", check=_one_of(("1.1", "1.2", "2.0"))),
        "default_records": Key("int", "Records per page when a request does not say.",
                               default=10, minimum=0, maximum=1000),
        "max_records": Key("int", "Most records one page may carry (maximumRecords is capped).",
                           default=100, minimum=1, maximum=1000),
        "stylesheet": Key("str", "XSLT linked from responses so that browsers show a search "
                          "page ('none' for no link); the gateway serves /sru/sru.xsl.",
                          default="/sru/sru.xsl"),
    }),
    "oai": Key("map", "OAI-PMH (harvesting, at /oai).", children={
        "base_url": Key("str", "Public base URL harvesters use, when the gateway is behind a "
                        "proxy (default: the address each request came to).",
                        default=None, example="https://lienthong.example.vn/oai",
                        check=_matches(_HTTP_URL, "an http:// or https:// URL")),
        "page_size": Key("int", "Records or headers per ListRecords/ListIdentifiers page "
                         "(aggregators ask for 100-500).", default=200, minimum=10, maximum=1000),
        "token_lifetime_hours": Key("int", "How long a resumption token stays valid, in hours "
                                    "(at least 24: a national harvest pauses overnight).",
                                    default=48, minimum=24, maximum=8760),
        "stylesheet": Key("str", "XSLT linked from responses so that browsers show a readable "
                          "page ('none' for no link); the gateway serves /oai/oai.xsl.",
                          default="/oai/oai.xsl"),
    }),
    "z3950": Key("map", "Z39.50 (copy cataloguing, on server.z3950_port; databases Default and "
                 "each library id).", children={
        "processes": Key("int", "Processes serving Z39.50 on its port (the kernel spreads "
                         "sessions over them; caches and threads are per process); one per "
                         "CPU core uses a multi-core machine.",
                         default=1, minimum=1, maximum=64),
        "max_sessions": Key("int", "Most Z39.50 sessions open at once, per process; more are "
                            "closed at connect.", default=200, minimum=1, maximum=10000),
        "idle_timeout": Key("int", "Seconds without a request before a session is closed.",
                            default=600, minimum=10, maximum=86400),
        "max_result_sets": Key("int", "Named result sets one session may keep.", default=20,
                               minimum=1, maximum=1000),
        "max_present": Key("int", "Most records one Present (or piggy-backed Search) returns.",
                           default=100, minimum=1, maximum=10000),
        "max_message_size": Key("int", "Largest response in bytes the target agrees to "
                                "(clients' preferredMessageSize is capped to it).",
                                default=8388608, minimum=65536, maximum=1073741824),
        "max_request_size": Key("int", "Largest request APDU in bytes; a bigger one closes "
                                "the session.", default=1048576, minimum=4096,
                                maximum=67108864),
        "render_cache_mb": Key("int", "Memory in MiB, per process, for recently served records "
                               "(popular records are then served without rendering them "
                               "again).",
                               default=64, minimum=0, maximum=65536),
        "accounts": Key("list", "Z39.50 logins (idPass authentication). With none, access is "
                        "open. Make a password hash with 'lienthong hash-password'.",
                        default=[], items=Key("map", "One login.", children={
                            "user": Key("str", "User id the client sends.", example="thuvien-x"),
                            "password_hash": Key("str", "The password's hash (never the "
                                                 "password itself).",
                                                 example="scrypt$16384$8$1$c2FsdA$aGFzaA",
                                                 check=_password_hash_check, secret=True),
                        })),
    }),
    "endpoints": Key("map", "Which protocol endpoints to serve (true/false).", children={
        name: Key("bool", f"Serve {label}.", default=False)
        for name, label in (("sru", "SRU (copy cataloguing over HTTP)"),
                            ("oaipmh", "OAI-PMH (harvesting by the National Library)"),
                            ("z3950", "Z39.50 (copy cataloguing)"),
                            ("sip2", "SIP2 (self-check kiosks and RFID)"))
    }),
    "libraries": Key("list", "Member libraries whose records the gateway serves.",
                     items=Key("map", "One member library.", children={
                         "id": Key("str", "Short id used in set names (library:<id>) and "
                                   "identifiers: lower-case letters, digits, '.', '_', '-'.",
                                   example="dlk-tinh",
                                   check=_matches(_LIBRARY_ID, "a valid library id "
                                                  "(lower-case letters, digits, . _ -)")),
                         "name": Key("str", "Name shown to users.",
                                     example="Thư viện tỉnh Đắk Lắk"),
                         "kind": Key("str", "One of " + ", ".join(LIBRARY_KINDS) + ".",
                                     default="other", example="provincial",
                                     check=_one_of(LIBRARY_KINDS)),
                         "legacy_vietnamese": Key(
                             "str", "How this library's imports look for TCVN3 (ABC) or VNI "
                             "text: auto, tcvn3, vni or off (--legacy-vietnamese overrides).",
                             default="auto", check=_one_of(LEGACY_MODES)),
                         "url": Key("str", "Address of the library's own catalogue or OAI-PMH "
                                    "endpoint, named as the records' origin in OAI-PMH "
                                    "provenance (optional).", default=None,
                                    example="https://opac.thuvien.example.vn/",
                                    check=_matches(_HTTP_URL, "an http:// or https:// URL")),
                     })),
    "import": Key("map", "Loading MARC files with 'lienthong import'.", children={
        "batch_size": Key("int", "Records per transaction (larger batches import faster).",
                          default=5000, minimum=1,
                          maximum=100000),
    }),
    "logging": Key("map", "Log output (always to standard output).", children={
        "level": Key("str", "One of debug, info, warning, error.", default="info",
                     check=_one_of(("debug", "info", "warning", "error"))),
    }),
}  # fmt: skip


# -- result types ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a configuration file."""

    path: str
    line: int | None
    message: str
    file: str = ""

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        key = f" {self.path}:" if self.path else ""
        return f"{where}:{key} {self.message}"


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Library:
    """A member library."""

    id: str
    name: str
    kind: str
    legacy_vietnamese: str = "auto"  #: the import's --legacy-vietnamese default
    url: str | None = None  #: the library's own system, named in OAI-PMH provenance


@dataclass(frozen=True)
class Config:
    """A validated configuration. ``values`` holds every key, defaults filled in."""

    file: Path
    values: dict[str, Any]

    @property
    def directory(self) -> Path:
        """Folder of the configuration file; relative paths in it are relative to this."""
        return self.file.parent

    @property
    def store_location(self) -> str:
        """The store's location, resolved against the configuration folder."""
        return str(self.values["store"]["path"])

    @property
    def libraries(self) -> list[Library]:
        """The member libraries, in file order."""
        return [Library(**entry) for entry in self.values["libraries"]]

    def library(self, library_id: str) -> Library | None:
        """The member library with ``library_id``, if configured."""
        return next((lib for lib in self.libraries if lib.id == library_id), None)

    @property
    def enabled_endpoints(self) -> list[str]:
        """Names of the endpoints switched on, in documentation order."""
        return [name for name in ENDPOINTS if self.values["endpoints"][name]]


# -- loading -----------------------------------------------------------------------------


def find_config(explicit: str | os.PathLike[str] | None) -> Path:
    """The config file to use: ``-c PATH``, else ``$LIENTHONG_CONFIG``, else ./lienthong.yaml."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env)
    return Path(DEFAULT_CONFIG_NAME)


def load_config(path: str | os.PathLike[str], *, check_paths: bool = True) -> Config:
    """Read and validate ``path``; raise :class:`ConfigError` listing every problem."""
    file = Path(path)
    label = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [
                Problem(
                    "",
                    None,
                    "configuration file not found (create one with "
                    "'lienthong init DIR' or pass -c PATH)",
                    label,
                )
            ]
        ) from None
    except UnicodeDecodeError as exc:
        line = text_line_of(file.read_bytes(), exc.start)
        raise ConfigError([Problem("", line, "file is not UTF-8 text", label)]) from None
    except OSError as exc:
        raise ConfigError([Problem("", None, f"cannot read: {exc.strerror}", label)]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = f"YAML syntax error: {exc.problem or exc}"
        if mark:
            message += f" (column {mark.column + 1})"
        raise ConfigError([Problem("", mark.line + 1 if mark else None, message, label)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem("", None, f"YAML error: {exc}", label)]) from None
    validator = _Validator(label, file.parent.resolve())
    if node is None:
        node = yaml.MappingNode("tag:yaml.org,2002:map", [])
    values = validator.mapping(node, SCHEMA, "")
    validator.cross_checks(values, node)
    if check_paths and not validator.problems:
        validator.check_paths(values, node)
    if validator.problems:
        raise ConfigError(validator.problems)
    return Config(file=file.resolve(), values=values)


def text_line_of(data: bytes, offset: int) -> int:
    """1-based line number of byte ``offset`` in ``data``."""
    return data.count(b"\n", 0, offset) + 1


class _Validator:
    """Walks the YAML node tree against :data:`SCHEMA`, collecting problems."""

    def __init__(self, label: str, directory: Path) -> None:
        self.label = label
        self.directory = directory
        self.problems: list[Problem] = []
        self._constructor = yaml.SafeLoader("")

    def problem(self, path: str, node: yaml.Node | None, message: str) -> None:
        mark = getattr(node, "start_mark", None)
        line = mark.line + 1 if mark is not None else None
        self.problems.append(Problem(path, line, message, self.label))

    def mapping(self, node: yaml.Node, schema: dict[str, Key], path: str) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if not isinstance(node, yaml.MappingNode):
            self.problem(path, node, "expected a mapping of keys")
            node = yaml.MappingNode("tag:yaml.org,2002:map", [])
        seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            key_path = f"{path}.{key}" if path else key
            if key in seen:
                self.problem(key_path, key_node, "key given twice")
                continue
            seen[key] = value_node
            spec = schema.get(key)
            if spec is None:
                hint = difflib.get_close_matches(key, list(schema), n=1)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                known = ", ".join(schema)
                self.problem(key_path, key_node, f"unknown key{suggestion}; known: {known}")
                continue
            values[key] = self.value(value_node, spec, key_path)
        for key, spec in schema.items():
            if key in values:
                continue
            key_path = f"{path}.{key}" if path else key
            if spec.kind == "map":
                values[key] = self.mapping(yaml.MappingNode("", []), spec.children, key_path)
            elif spec.kind == "list" and spec.default is ...:
                self.problem(key_path, node if path else None, "required key is missing")
                values[key] = []
            elif spec.required:
                self.problem(key_path, node if path else None, "required key is missing")
            else:
                values[key] = spec.default
        return values

    def value(self, node: yaml.Node, spec: Key, path: str) -> Any:
        if spec.kind == "map":
            return self.mapping(node, spec.children, path)
        if spec.kind == "list":
            if not isinstance(node, yaml.SequenceNode):
                self.problem(path, node, "expected a list")
                return []
            assert spec.items is not None
            return [
                self.value(item, spec.items, f"{path}[{i}]") for i, item in enumerate(node.value)
            ]
        if not isinstance(node, yaml.ScalarNode):
            self.problem(
                path,
                node,
                f"expected {_KIND_NAMES[spec.kind]}, got a "
                f"{'list' if isinstance(node, yaml.SequenceNode) else 'mapping'}",
            )
            return spec.default if spec.default is not ... else None
        raw = self._constructor.construct_object(node)
        if raw is None and spec.default is None:
            return None  # an optional key left empty
        value = self.scalar(raw, spec, path, node)
        if value is not None and spec.check is not None:
            message = spec.check(value)
            if message:
                shown = "the value" if spec.secret else repr(value)
                self.problem(path, node, f"{shown} {message}")
        return value

    def scalar(self, raw: Any, spec: Key, path: str, node: yaml.Node) -> Any:
        kind = spec.kind
        ok = {
            "str": isinstance(raw, str) and raw.strip() != "",
            "path": isinstance(raw, str) and raw.strip() != "",
            "bool": isinstance(raw, bool),
            "int": isinstance(raw, int) and not isinstance(raw, bool),
            "port": isinstance(raw, int) and not isinstance(raw, bool),
        }[kind]
        if not ok:
            shown = "nothing" if raw is None else "a value" if spec.secret else f"{raw!r}"
            self.problem(path, node, f"expected {_KIND_NAMES[kind]}, got {shown}")
            return spec.default if spec.default is not ... else None
        if kind == "port":
            if not 0 <= raw <= 65535:
                self.problem(path, node, f"port {raw} is outside 0-65535")
        elif kind == "int":
            if spec.minimum is not None and raw < spec.minimum:
                self.problem(path, node, f"{raw} is below the minimum {spec.minimum}")
            if spec.maximum is not None and raw > spec.maximum:
                self.problem(path, node, f"{raw} is above the maximum {spec.maximum}")
        elif kind == "path":
            return str((self.directory / os.path.expanduser(raw)).resolve())
        return raw

    def cross_checks(self, values: dict[str, Any], root: yaml.Node) -> None:
        """Checks that involve more than one key."""
        seen: set[str] = set()
        for i, lib in enumerate(values.get("libraries") or []):
            lib_id = lib.get("id")
            if lib_id and lib_id in seen:
                self.problem(f"libraries[{i}].id", _find(root, "libraries", i, "id"),
                             f"library id {lib_id!r} is used twice")  # fmt: skip
            seen.add(lib_id)
        for name, enabled in (values.get("endpoints") or {}).items():
            if enabled and not available(name):
                self.problem(f"endpoints.{name}", _find(root, "endpoints", name),
                             f"{ENDPOINT_SPECS[name].title} is not part of this version of "
                             "lienthong yet; set it to false")  # fmt: skip
        processes = (values.get("z3950") or {}).get("processes") or 1
        if processes > 1 and os.name != "posix":
            self.problem("z3950.processes", _find(root, "z3950", "processes"),
                         "several processes need a POSIX system (Linux); use 1 here")  # fmt: skip
        users: set[str] = set()
        for i, account in enumerate((values.get("z3950") or {}).get("accounts") or []):
            user = account.get("user")
            if user in users:
                self.problem(f"z3950.accounts[{i}].user",
                             _find(root, "z3950", "accounts", i, "user"),
                             f"user {user!r} is listed twice")  # fmt: skip
            users.add(user)
        server = values.get("server") or {}
        ports: dict[int, str] = {}
        for key in ("http_port", "z3950_port", "sip2_port"):
            port = server.get(key)
            if port in ports and port:
                self.problem(f"server.{key}", _find(root, "server", key),
                             f"port {port} is also server.{ports[port]}")  # fmt: skip
            elif isinstance(port, int):
                ports[port] = key

    def check_paths(self, values: dict[str, Any], root: yaml.Node) -> None:
        """The store's folder must exist and be writable, and an existing file readable."""
        store = Path(values["store"]["path"])
        node = _find(root, "store", "path")
        if store.exists():
            if store.is_dir():
                self.problem("store.path", node, f"{store} is a folder, not a file")
            elif not os.access(store, os.R_OK | os.W_OK):
                self.problem("store.path", node, f"{store} is not readable and writable")
        elif not store.parent.is_dir():
            self.problem("store.path", node, f"folder {store.parent} does not exist")
        elif not os.access(store.parent, os.W_OK):
            self.problem("store.path", node, f"folder {store.parent} is not writable")


_KIND_NAMES = {
    "str": "a non-empty text",
    "path": "a file path",
    "bool": "true or false",
    "int": "a whole number",
    "port": "a port number",
    "map": "a mapping",
    "list": "a list",
}


def _find(node: yaml.Node, *steps: str | int) -> yaml.Node | None:
    """The node at ``steps`` (keys and list indexes) below ``node``, if present."""
    current: yaml.Node | None = node
    for step in steps:
        if isinstance(current, yaml.MappingNode) and isinstance(step, str):
            current = next((v for k, v in current.value if k.value == step), None)
        elif isinstance(current, yaml.SequenceNode) and isinstance(step, int):
            current = current.value[step] if step < len(current.value) else None
        else:
            return None
    return current


# -- rendering ---------------------------------------------------------------------------


def render_config(overrides: dict[str, Any] | None = None) -> str:
    """A complete, commented configuration file from :data:`SCHEMA`.

    ``overrides`` replaces example values by dotted key (``{"store.path": "x.db"}``) and
    ``libraries`` by a list of dicts.
    """
    overrides = overrides or {}
    lines = [
        "# lienthong configuration. Every key is documented here; 'lienthong config check'",
        "# validates this file. Relative paths are relative to this file's folder.",
        "",
    ]
    for name, spec in SCHEMA.items():
        lines.extend(_render_key(name, spec, name, 0, overrides))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _render_key(
    name: str, spec: Key, path: str, depth: int, overrides: dict[str, Any]
) -> Iterator[str]:
    pad = "  " * depth
    yield from (f"{pad}# {line}" for line in _wrap(spec.doc, 96 - len(pad)))
    if spec.kind == "map":
        yield f"{pad}{name}:"
        for child_name, child in spec.children.items():
            yield from _render_key(child_name, child, f"{path}.{child_name}", depth + 1, overrides)
        return
    if spec.kind == "list":
        assert spec.items is not None
        entries = overrides.get(path)
        if entries is None and spec.default == []:
            yield f"{pad}{name}: []"  # optional: an example entry follows, commented out
            for child_name, child in spec.items.children.items():
                lead = "- " if child_name == next(iter(spec.items.children)) else "  "
                yield f"{pad}#   {lead}{child_name}: {_scalar(_example(child))}"
            return
        if entries is None:
            entries = [{k: _example(v) for k, v in spec.items.children.items()
                        if v.default is not None}]  # fmt: skip
        yield f"{pad}{name}:"
        for entry in entries:
            first = True
            for child_name, child in spec.items.children.items():
                inner = pad + ("  " if first else "    ")
                yield from (f"{inner}# {line}" for line in _wrap(child.doc, 96 - len(inner)))
                lead = "- " if first else "  "
                value = entry.get(child_name, _example(child))
                if child.default is None and entry.get(child_name) is None:
                    yield f"{pad}    # {child_name}: {_scalar(value)}"  # optional: shown, not set
                else:
                    yield f"{pad}  {lead}{child_name}: {_scalar(value)}"
                first = False
        return
    value = overrides.get(path, _example(spec))
    if spec.default is None and path not in overrides:
        yield f"{pad}# {name}: {_scalar(value)}"  # optional: shown, not set
        return
    yield f"{pad}{name}: {_scalar(value)}"


def _example(spec: Key) -> Any:
    return spec.example if spec.example is not ... else spec.default


def _scalar(value: Any) -> str:
    text = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True)
    return text.strip().removesuffix("...").strip()


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=width) or [""]
