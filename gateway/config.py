"""The one YAML configuration file: schema as data, validation with line numbers, rendering.

Everything is checked before anything starts, and every problem is reported at once with
its key path and line, so an administrator fixes the file in one pass. The schema below is
also the documentation: ``conf/gateway.example.yaml`` and the file ``lienthong init``
writes are rendered from it, so the documented keys and the accepted keys cannot drift.
"""

from __future__ import annotations

import difflib
import ipaddress
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
    "address_problem",
    "SIP2_CHARSETS",
    "SIP2_TERMINATORS",
    "CIRCULATION_BACKENDS",
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


#: Character sets a SIP2 kiosk may speak (protocols.sip2 encodes each).
SIP2_CHARSETS = ("utf-8", "cp850", "latin-1", "ascii")
#: What the gateway ends each SIP2 reply with.
SIP2_TERMINATORS = ("cr", "crlf", "lf")
#: Circulation back ends a SIP2 account can be served by.
CIRCULATION_BACKENDS = ("embedded",)
_CURRENCY = re.compile(r"^[A-Z]{3}$")
#: Text a SIP2 field can carry: no field separator, no control characters (CR ends a message).
_SIP2_TEXT = re.compile(r"^[^|\x00-\x1f\x7f]{0,255}$")


def address_problem(value: Any) -> str | None:
    """Why ``value`` is not an allowed kiosk address (one IP address or a network in CIDR
    form), or None when it is one; 'lienthong accounts add --allow' checks with it too."""
    text = str(value).strip()
    try:
        ipaddress.ip_network(text, strict=True)
    except ValueError:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return "is not an IP address or a network like 10.1.2.0/24"
        return f"has bits set after the prefix length (did you mean {network}?)"
    return None


def _policy_keys(*, inherit: bool) -> dict[str, Key]:
    """The loan policy keys: with defaults for the default policy, or optional (inherited
    from circulation.policy) in a library's own policy."""
    table = (
        ("loan_days", "Days a loan lasts.", 14, 21, 1, 3650),
        ("max_loans", "Most items a borrower may have on loan at once.", 5, 10, 0, 1000),
        ("max_renewals", "Times one loan may be renewed.", 2, 3, 0, 100),
        ("fine_per_day", "Fine for each day an item is late, in whole currency units "
         "(đồng for VND).", 1000, 2000, 0, 100_000_000),
        ("max_fines", "Unpaid fines at or above this amount block borrowing (0: fines "
         "never block).", 50000, 100000, 0, 1_000_000_000),
        ("max_overdue", "Overdue loans at or above this number block borrowing (0: overdue "
         "loans never block).", 0, 1, 0, 1000),
        ("hold_shelf_days", "Days a reserved item waits on the hold shelf for its "
         "borrower.", 7, 5, 1, 365),
    )  # fmt: skip
    keys = {
        name: Key("int", doc, default=None if inherit else default,
                  example=example if inherit else ..., minimum=low, maximum=high)
        for name, doc, default, example, low, high in table
    }  # fmt: skip
    keys["currency"] = Key("str", "Currency of fines, three letters (VND).",
                           default=None if inherit else "VND", example="VND",
                           check=_matches(_CURRENCY, "a three-letter currency code like VND"))  # fmt: skip
    return keys


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
    "sip2": Key("map", "SIP2 (self-check kiosks and RFID gates, on server.sip2_port; "
                "circulation is answered by the back end named in each account).", children={
        "idle_timeout": Key("int", "Seconds without a message before a kiosk's connection is "
                            "closed.", default=600, minimum=10, maximum=86400),
        "max_sessions": Key("int", "Most SIP2 connections open at once, per process; more are "
                            "closed at connect.", default=2000, minimum=1, maximum=100000),
        "require_login": Key("bool", "Kiosks must log in (message 93) before anything but a "
                             "status request (99) or a resend (97).", default=True),
        "default_charset": Key("str", "Character set before a kiosk has logged in: "
                               + ", ".join(SIP2_CHARSETS) + ".", default="utf-8",
                               check=_one_of(SIP2_CHARSETS)),
        "failed_pin_limit": Key("int", "Wrong borrower PINs from one kiosk before its PIN "
                                "checks are refused for a while (guessing is stopped).",
                                default=5, minimum=1, maximum=1000),
        "failed_pin_lockout": Key("int", "Seconds PIN checks stay refused after too many wrong "
                                  "PINs.", default=300, minimum=1, maximum=86400),
        "failed_login_limit": Key("int", "Wrong kiosk logins (93) on one connection before it "
                                  "is closed.", default=3, minimum=1, maximum=100),
        "timeout": Key("int", "Time-out the kiosks are told (status reply 98), in tenths of a "
                       "second.", default=100, minimum=0, maximum=999),
        "retries": Key("int", "Retries the kiosks are told they may make (status reply 98).",
                       default=3, minimum=0, maximum=999),
        "tls_port": Key("port", "Second TCP port where kiosks connect with TLS (encrypted); "
                        "needs tls_certificate and tls_key. Leave unset for none.",
                        default=None, example=6443),
        "tls_certificate": Key("path", "TLS certificate (PEM file, with any intermediate "
                               "certificates), relative to this file's folder.",
                               default=None, example="sip2-certificate.pem"),
        "tls_key": Key("path", "Private key of the TLS certificate (PEM file, readable only by "
                       "the gateway).", default=None, example="sip2-key.pem"),
        "accounts": Key("list", "Kiosk logins, one per self-check machine or RFID gate. Add "
                        "them with 'lienthong accounts add' (the password is stored as a hash).",
                        default=[], items=Key("map", "One kiosk.", children={
                            "user": Key("str", "Login the kiosk sends (CN); each one once.",
                                        example="kiosk-dlk-1",
                                        check=_matches(_SIP2_TEXT, "a SIP2 login (no '|', no "
                                                       "control characters)")),
                            "password_hash": Key("str", "The kiosk password's hash (never the "
                                                 "password itself).",
                                                 example="scrypt$16384$8$1$c2FsdA$aGFzaA",
                                                 check=_password_hash_check, secret=True),
                            "library": Key("str", "Id of the member library this kiosk serves "
                                           "(one of libraries).", example="dlk-tinh"),
                            "location": Key("str", "Where the kiosk stands, shown to the kiosk "
                                            "in the status reply (optional).", default="",
                                            example="Tầng 1, quầy mượn trả",
                                            check=_matches(_SIP2_TEXT, "a SIP2 field (no '|', "
                                                           "no control characters)")),
                            "allowed_addresses": Key("list", "IP addresses or networks "
                                                     "(10.1.2.0/24) the kiosk may connect "
                                                     "from; empty: any.", default=[],
                                                     items=Key("str", "One address or network.",
                                                               check=address_problem)),
                            "charset": Key("str", "Character set the kiosk speaks: "
                                           + ", ".join(SIP2_CHARSETS) + ".", default="utf-8",
                                           check=_one_of(SIP2_CHARSETS)),
                            "terminator": Key("str", "Line end sent after each reply: cr, crlf "
                                              "or lf.", default="cr",
                                              check=_one_of(SIP2_TERMINATORS)),
                            "error_detection": Key("bool", "Send sequence numbers and checksums "
                                                   "(AY/AZ), and check them when the kiosk "
                                                   "sends them.", default=True),
                            "backend": Key("str", "Circulation system that answers this kiosk: "
                                           + ", ".join(CIRCULATION_BACKENDS) + ".",
                                           default="embedded",
                                           check=_one_of(CIRCULATION_BACKENDS)),
                        })),
    }),
    "circulation": Key("map", "The embedded circulation system (for libraries without their "
                       "own: borrowers, copies and loans loaded from CSV files).", children={
        "path": Key("path", "SQLite file of borrowers, copies and loans, relative to this "
                    "file's folder.", default="circulation.db"),
        "policy": Key("map", "Loan rules for every library without its own entry in "
                      "policies.", children=_policy_keys(inherit=False)),
        "policies": Key("list", "A library's own loan rules; keys left out are taken from "
                        "policy.", default=[], items=Key("map", "One library's rules.", children={
                            "library": Key("str", "Id of the member library (one of "
                                           "libraries).", example="dlk-tinh"),
                            **_policy_keys(inherit=True),
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
            # A text whose default is "" (an optional label) may be given empty.
            "str": isinstance(raw, str) and (raw.strip() != "" or spec.default == ""),
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
        ports: dict[int, str] = {}
        for section, key in (("server", "http_port"), ("server", "z3950_port"),
                             ("server", "sip2_port"), ("sip2", "tls_port")):  # fmt: skip
            port = (values.get(section) or {}).get(key)
            if port in ports and port:
                self.problem(f"{section}.{key}", _find(root, section, key),
                             f"port {port} is also {ports[port]}")  # fmt: skip
            elif isinstance(port, int):
                ports[port] = f"{section}.{key}"
        self.sip2_checks(values, root, seen)
        policies: set[str] = set()
        for i, policy in enumerate((values.get("circulation") or {}).get("policies") or []):
            library = policy.get("library")
            node = _find(root, "circulation", "policies", i, "library")
            if library is None:
                continue
            if library not in seen:
                self.problem(f"circulation.policies[{i}].library", node,
                             _unknown_library(library, seen))  # fmt: skip
            elif library in policies:
                self.problem(f"circulation.policies[{i}].library", node,
                             f"library {library!r} already has a policy above")  # fmt: skip
            policies.add(library)

    def sip2_checks(self, values: dict[str, Any], root: yaml.Node, libraries: set[str]) -> None:
        """Kiosk accounts name configured libraries, once each; TLS has its files."""
        sip2 = values.get("sip2") or {}
        users: set[str] = set()
        for i, account in enumerate(sip2.get("accounts") or []):
            user, library = account.get("user"), account.get("library")
            if user is not None and user in users:
                self.problem(f"sip2.accounts[{i}].user",
                             _find(root, "sip2", "accounts", i, "user"),
                             f"user {user!r} is listed twice")  # fmt: skip
            users.add(user)
            if library is not None and library not in libraries:
                self.problem(f"sip2.accounts[{i}].library",
                             _find(root, "sip2", "accounts", i, "library"),
                             _unknown_library(library, libraries))  # fmt: skip
        store_path, circulation_path = values["store"]["path"], values["circulation"]["path"]
        if Path(store_path).resolve() == Path(circulation_path).resolve():
            self.problem("circulation.path", _find(root, "circulation", "path"),
                         "is the record store's file (store.path); give the circulation "
                         "database a file of its own")  # fmt: skip
        if sip2.get("tls_port") is not None:
            for key in ("tls_certificate", "tls_key"):
                if sip2.get(key) is None:
                    self.problem(f"sip2.{key}", _find(root, "sip2", "tls_port"),
                                 "is required when sip2.tls_port is set")  # fmt: skip

    def check_paths(self, values: dict[str, Any], root: yaml.Node) -> None:
        """Databases: the folder must exist and be writable, an existing file readable and
        writable. TLS files (when set) must be readable files."""
        self._check_database("store", Path(values["store"]["path"]), root)
        self._check_database("circulation", Path(values["circulation"]["path"]), root)
        for key in ("tls_certificate", "tls_key"):
            location = values["sip2"][key]
            if location is None:
                continue
            file, node = Path(location), _find(root, "sip2", key)
            if not file.is_file():
                what = "is a folder, not a file" if file.is_dir() else "does not exist"
                self.problem(f"sip2.{key}", node, f"{file} {what}")
            elif not os.access(file, os.R_OK):
                self.problem(f"sip2.{key}", node, f"{file} is not readable")

    def _check_database(self, section: str, file: Path, root: yaml.Node) -> None:
        key, node = f"{section}.path", _find(root, section, "path")
        if file.exists():
            if file.is_dir():
                self.problem(key, node, f"{file} is a folder, not a file")
            elif not os.access(file, os.R_OK | os.W_OK):
                self.problem(key, node, f"{file} is not readable and writable")
        elif not file.parent.is_dir():
            self.problem(key, node, f"folder {file.parent} does not exist")
        elif not os.access(file.parent, os.W_OK):
            self.problem(key, node, f"folder {file.parent} is not writable")


def _unknown_library(library: str, known: set[str]) -> str:
    listed = ", ".join(sorted(k for k in known if k)) or "none"
    return f"{library!r} is not a library of this file (libraries: {listed})"


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
        if not entries:
            yield f"{pad}{name}: []"
            return
        yield f"{pad}{name}:"
        for entry in entries:
            first = True
            for child_name, child in spec.items.children.items():
                inner = pad + ("  " if first else "    ")
                yield from (f"{inner}# {line}" for line in _wrap(child.doc, 96 - len(inner)))
                lead = "- " if first else "  "
                if child_name in entry:
                    value = entry[child_name]
                elif child.required:
                    value = _example(child)  # shown; the file then fails validation
                else:
                    value = child.default  # left out: the default, never the example
                if child.default is None and value is None:
                    # optional: shown, not set
                    yield f"{pad}    # {child_name}: {_scalar(_example(child))}"
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
