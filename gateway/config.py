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
    "BACKEND_KINDS",
    "SOURCE_KINDS",
    "SOURCE_KIND_KEYS",
    "BACKEND_KIND_KEYS",
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
#: Circulation back ends a SIP2 account can be served by: the embedded one, or an entry of
#: circulation.backends of one of these kinds.
CIRCULATION_BACKENDS = ("embedded",)
BACKEND_KINDS = ("sip2", "sql")
#: Kinds of bibliographic source (``sources[].kind``), each an adapter in ``adapters/``.
SOURCE_KINDS = ("marc-folder", "oai", "sql", "spreadsheet")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
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


#: Keys of one ``sources`` entry. Kind-specific keys are optional here; the cross-checks
#: say which ones a kind needs and refuse the ones it would ignore.
_SOURCE_KEYS: dict[str, Key] = {
    "name": Key("str", "Short name of the source, used on the command line (each one once).",
                example="dlk-koha", check=_matches(_LIBRARY_ID, "a valid source name "
                                                   "(lower-case letters, digits, . _ -)")),
    "library": Key("str", "Id of the member library whose records these are (one of "
                   "libraries).", example="dlk-tinh"),
    "kind": Key("str", "What the source is: marc-folder (a folder of ISO 2709 or MARCXML "
                "exports), oai (an OAI-PMH server such as Koha's or DSpace's), sql (a database "
                "read with a mapping), spreadsheet (an .xlsx or .csv file).",
                example="oai", check=_one_of(SOURCE_KINDS)),
    "enabled": Key("bool", "Sync this source (false keeps its records but stops syncing).",
                   default=True),
    "interval_minutes": Key("int", "Minutes between syncs while the gateway runs (0: only with "
                            "'lienthong sources sync').", default=60, minimum=0, maximum=525600),
    "reconcile_hours": Key("int", "Hours between full comparisons with the source, which turn "
                           "records gone from it into deletions (0: never).", default=24,
                           minimum=0, maximum=87600),
    "overlap_seconds": Key("int", "Each incremental sync starts this many seconds before the "
                           "last one, so clock differences never lose a change.", default=300,
                           minimum=0, maximum=604800),
    "timeout_seconds": Key("int", "Seconds to wait for the source to answer.", default=60,
                           minimum=1, maximum=3600),
    "path": Key("path", "marc-folder: the folder the exports are put in; spreadsheet: the "
                ".xlsx or .csv file (relative to this file's folder).", default=None,
                example="exports/ilib"),
    "export": Key("str", "marc-folder: 'full' (each file is the whole catalogue; records "
                  "missing from it are deleted) or 'delta' (files only add and change).",
                  default=None, example="delta", check=_one_of(("full", "delta"))),
    "id_rule": Key("str", "Where a record's id is: 001, 001+003, or a field and subfield such "
                   "as 035$a or 999$c; oai also identifier (the OAI identifier, its default); "
                   "marc-folder's default is 001.", default=None, example="001"),
    "url": Key("str", "oai: the base URL (https://opac.example.vn/cgi-bin/koha/oai.pl); sql: "
               "the database URL without the password "
               "(mysql+pymysql://koha_ro@db.example.vn/koha).", default=None,
               example="https://opac.example.vn/cgi-bin/koha/oai.pl"),
    "password_env": Key("str", "sql: name of the environment variable that holds the database "
                        "password (never write the password in this file).", default=None,
                        example="KOHA_DB_PASSWORD",
                        check=_matches(_ENV_NAME, "an environment variable name")),
    "metadata_prefix": Key("str", "oai: marc21 (full MARC records) or oai_dc (Dublin Core).",
                           default=None, example="marc21",
                           check=_one_of(("marc21", "oai_dc"))),
    "set": Key("str", "oai: harvest only this set (optional).", default=None),
    "mapping": Key("str", "sql: 'koha' for Koha's own tables, or a mapping file; spreadsheet: "
                   "an optional file naming extra columns (relative to this file's folder).",
                   default=None, example="koha"),
    "sheet": Key("str", "spreadsheet: the sheet to read (default: the first).", default=None),
    "encoding": Key("str", "spreadsheet (.csv): auto, utf-8, utf-16, cp1258, tcvn3 or vni.",
                    default=None, example="auto",
                    check=_one_of(("auto", "utf-8", "utf-16", "cp1258", "tcvn3", "vni"))),
}  # fmt: skip
#: Id rules each kind understands (adapters.records.IdRule; oai also its identifier).
_RECORD_RULE = r"001\+003|00[1-9]|(0[1-9][0-9]|[1-9][0-9]{2})\$[a-z0-9]"
_ID_RULES = {
    "marc-folder": re.compile(_RECORD_RULE),
    "spreadsheet": re.compile(_RECORD_RULE),
    "oai": re.compile(f"identifier|{_RECORD_RULE}"),
}
#: The kind-specific keys of a source, and which kinds use each (required ones first).
SOURCE_KIND_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "marc-folder": (("path",), ("export", "id_rule")),
    "oai": (("url",), ("metadata_prefix", "set", "id_rule")),
    "sql": (("url", "mapping"), ("password_env",)),
    "spreadsheet": (("path",), ("sheet", "encoding", "mapping", "id_rule")),
}
#: Defaults of kind-specific keys, filled in when the kind uses the key and it is not given.
SOURCE_KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "marc-folder": {"export": "delta", "id_rule": "001"},
    "oai": {"metadata_prefix": "marc21", "id_rule": "identifier"},
    "spreadsheet": {"encoding": "auto"},
}

#: Keys of one ``circulation.backends`` entry (kind-specific ones checked as for sources).
_BACKEND_KEYS: dict[str, Key] = {
    "name": Key("str", "Name a kiosk account gives as its backend (each one once).",
                example="koha-dlk", check=_matches(_LIBRARY_ID, "a valid name (lower-case "
                                                   "letters, digits, . _ -)")),
    "kind": Key("str", "sip2 (the library system's own SIP2 server) or sql (its database).",
                example="sip2", check=_one_of(BACKEND_KINDS)),
    "host": Key("str", "sip2: host name or address of the library system's SIP2 server.",
                default=None, example="koha.example.vn"),
    "port": Key("port", "sip2: its TCP port.", default=None, example=6001),
    "user": Key("str", "sip2: the login the gateway sends upstream (93); leave it out for "
                "none.", default=None, example="lienthong"),
    "password_env": Key("str", "Name of the environment variable holding the upstream "
                        "login's or database's password.", default=None,
                        example="KOHA_SIP2_PASSWORD",
                        check=_matches(_ENV_NAME, "an environment variable name")),
    "charset": Key("str", "sip2: character set the upstream server speaks: "
                   + ", ".join(SIP2_CHARSETS) + " (default utf-8).", default=None,
                   example="utf-8", check=_one_of(SIP2_CHARSETS)),
    "terminator": Key("str", "sip2: line end sent upstream: cr (default), crlf or lf.",
                      default=None, example="cr", check=_one_of(SIP2_TERMINATORS)),
    "error_detection": Key("bool", "sip2: send sequence numbers and checksums upstream "
                           "(default true).", default=None, example=True),
    "institution": Key("str", "sip2: institution id (AO) sent upstream (default: the kiosk's "
                       "library id).", default=None, example="DLK"),
    "location": Key("str", "sip2: location code (CP) sent in the upstream login (optional).",
                    default=None, example="LIENTHONG"),
    "pool_size": Key("int", "sip2: most connections kept open to the upstream server "
                     "(default 4).", default=None, example=4, minimum=1, maximum=64),
    "tls": Key("bool", "sip2: connect with TLS (default false).", default=None, example=False),
    "timeout_seconds": Key("int", "Seconds to wait for the upstream system to answer.",
                           default=10, minimum=1, maximum=300),
    "url": Key("str", "sql: the database URL without the password "
               "(postgresql+psycopg://thuvien@db.truong.example.vn/thuvien).", default=None),
    "mapping": Key("path", "sql: the statements file (relative to this file's folder; see "
                   "conf/circulation-sql.example.yaml).", default=None,
                   example="circulation-sql.yaml"),
}  # fmt: skip
#: What the rendered file shows for sources: one entry of each kind.
_SOURCE_EXAMPLES = [
    {"name": "dlk-koha", "library": "dlk-tinh", "kind": "oai",
     "url": "https://opac.example.vn/cgi-bin/koha/oai.pl", "metadata_prefix": "marc21",
     "interval_minutes": 60},
    {"name": "buon-ho-ilib", "library": "buon-ho", "kind": "marc-folder",
     "path": "exports/ilib", "export": "full", "id_rule": "001"},
    {"name": "krong-pac-db", "library": "krong-pac", "kind": "sql",
     "url": "mysql+pymysql://koha_ro@db.example.vn/koha", "password_env": "KOHA_DB_PASSWORD",
     "mapping": "koha"},
    {"name": "thpt-nguyen-du", "library": "thpt-nguyen-du", "kind": "spreadsheet",
     "path": "truong/sach.xlsx"},
]  # fmt: skip
_BACKEND_EXAMPLES = [
    {"name": "koha-dlk", "kind": "sip2", "host": "koha.example.vn", "port": 6001,
     "user": "lienthong", "password_env": "KOHA_SIP2_PASSWORD", "charset": "utf-8"},
    {"name": "truong-db", "kind": "sql",
     "url": "postgresql+psycopg://thuvien@db.truong.example.vn/thuvien",
     "password_env": "TRUONG_DB_PASSWORD", "mapping": "circulation-sql.yaml"},
]  # fmt: skip
#: Defaults of the sip2-only keys, filled in for sip2 back ends only.
BACKEND_KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "sip2": {"user": "", "charset": "utf-8", "terminator": "cr", "error_detection": True,
             "institution": "", "location": "", "pool_size": 4, "tls": False},
}  # fmt: skip
BACKEND_KIND_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sip2": (("host", "port"), ("user", "charset", "terminator", "error_detection",
                                "institution", "location", "pool_size", "tls")),
    "sql": (("url", "mapping"), ()),
}  # fmt: skip

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
                                           "embedded, or the name of one of "
                                           "circulation.backends.", default="embedded"),
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
        "backends": Key("list", "Circulation systems of member libraries that have their own "
                        "(a kiosk account names one in backend): 'sip2' passes each transaction "
                        "to the library system's own SIP2 server (Koha's, ...); 'sql' runs the "
                        "statements of a mapping file on the library's database.", default=[],
                        example=_BACKEND_EXAMPLES,
                        items=Key("map", "One circulation system.", children=_BACKEND_KEYS)),
    }),
    "sources": Key("list", "Systems the member libraries' records are copied from and kept "
                   "in step with (one per library): add them with 'lienthong sources add'.",
                   default=[], example=_SOURCE_EXAMPLES,
                   items=Key("map", "One source.", children=_SOURCE_KEYS)),
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
        self.kind_checks(values, root, "sources", values.get("sources") or [],
                         SOURCE_KIND_KEYS, SOURCE_KIND_DEFAULTS)  # fmt: skip
        backends = (values.get("circulation") or {}).get("backends") or []
        self.kind_checks(values, root, "circulation.backends", backends, BACKEND_KIND_KEYS,
                         BACKEND_KIND_DEFAULTS)  # fmt: skip
        self.source_checks(values, root, seen)
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

    def kind_checks(
        self,
        values: dict[str, Any],
        root: yaml.Node,
        section: str,
        entries: list[dict[str, Any]],
        kind_keys: dict[str, tuple[tuple[str, ...], tuple[str, ...]]],
        defaults: dict[str, dict[str, Any]],
    ) -> None:
        """Entries whose keys depend on their kind: the kind's required keys are given, keys
        of other kinds are refused (a mistake otherwise silently ignored), defaults of the
        kind's own optional keys are filled in, and names are unique."""
        steps = section.split(".")
        names: set[str] = set()
        for i, entry in enumerate(entries):
            name, kind = entry.get("name"), entry.get("kind")
            if name is not None and name in names:
                self.problem(f"{section}[{i}].name", _find(root, *steps, i, "name"),
                             f"name {name!r} is used twice")  # fmt: skip
            names.add(str(name))
            if kind not in kind_keys:
                continue
            required, optional = kind_keys[kind]
            for key in required:
                if entry.get(key) is None:
                    self.problem(f"{section}[{i}].{key}", _find(root, *steps, i),
                                 f"is required for kind {kind}")  # fmt: skip
            for key, default in defaults.get(kind, {}).items():
                if entry.get(key) is None:
                    entry[key] = default
            used = set(required) | set(optional)
            for other, (other_required, other_optional) in kind_keys.items():
                for key in (*other_required, *other_optional):
                    node = _find(root, *steps, i, key)
                    if key not in used and node is not None:
                        self.problem(f"{section}[{i}].{key}", node,
                                     f"is not used by kind {kind} (only by {other})")  # fmt: skip
                        used.add(key)  # reported once, even when several kinds use it

    def source_checks(self, values: dict[str, Any], root: yaml.Node, libraries: set[str]) -> None:
        """Sources feed configured libraries, one source per library (a full comparison
        with one source deletes the library's records the source does not have, so two
        sources for one library would delete each other's); URLs look like URLs; kiosk
        accounts name a back end that exists."""
        fed: dict[str, str] = {}
        for i, entry in enumerate(values.get("sources") or []):
            library, name = entry.get("library"), entry.get("name")
            node = _find(root, "sources", i, "library")
            if library is not None and library not in libraries:
                self.problem(f"sources[{i}].library", node, _unknown_library(library, libraries))
            elif library in fed:
                self.problem(f"sources[{i}].library", node,
                             f"library {library!r} already has source {fed[library]!r}; "
                             "a library's records come from one source")  # fmt: skip
            elif library is not None:
                fed[library] = str(name)
            rule = entry.get("id_rule")
            kind_rules = _ID_RULES.get(entry.get("kind"))
            if rule is not None and kind_rules is not None and not kind_rules.fullmatch(rule):
                self.problem(f"sources[{i}].id_rule", _find(root, "sources", i, "id_rule"),
                             f"{rule!r} is not an id rule of kind {entry.get('kind')} (001, "
                             "001+003, a control field like 003, or a field and subfield like "
                             "035$a" + ("; or identifier" if entry.get("kind") == "oai" else "")
                             + ")")  # fmt: skip
            url = entry.get("url")
            if entry.get("kind") == "oai" and url is not None and not _HTTP_URL.fullmatch(url):
                self.problem(f"sources[{i}].url", _find(root, "sources", i, "url"),
                             f"{url!r} is not an http:// or https:// URL")  # fmt: skip
            if entry.get("kind") == "sql" and url is not None:
                self.database_url_check(f"sources[{i}].url", _find(root, "sources", i, "url"),
                                        url)  # fmt: skip
        circulation = values.get("circulation") or {}
        backends = {"embedded"}
        for i, entry in enumerate(circulation.get("backends") or []):
            if entry.get("name") == "embedded":
                self.problem(f"circulation.backends[{i}].name",
                             _find(root, "circulation", "backends", i, "name"),
                             "'embedded' is the built-in back end's name; choose another")  # fmt: skip
            backends.add(entry.get("name"))
            if entry.get("kind") == "sql" and entry.get("url") is not None:
                self.database_url_check(f"circulation.backends[{i}].url",
                                        _find(root, "circulation", "backends", i, "url"),
                                        entry["url"])  # fmt: skip
        for i, account in enumerate((values.get("sip2") or {}).get("accounts") or []):
            backend = account.get("backend")
            if backend is not None and backend not in backends:
                known = ", ".join(sorted(b for b in backends if b))
                self.problem(f"sip2.accounts[{i}].backend",
                             _find(root, "sip2", "accounts", i, "backend"),
                             f"{backend!r} is not a circulation back end (known: {known})")  # fmt: skip

    def database_url_check(self, path: str, node: yaml.Node | None, url: str) -> None:
        """A database URL SQLAlchemy can read, without a password in it (passwords belong in
        the environment variable named by password_env, never in this file)."""
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):  # ValueError: a port that is not a number
            self.problem(path, node, "is not a database URL like "
                         "mysql+pymysql://user@host/database")  # fmt: skip
            return
        secret_keys = {"password", "passwd", "pwd"}
        if parsed.password is not None or secret_keys & {k.lower() for k in parsed.query}:
            self.problem(path, node, "contains a password: remove it and name an environment "
                         "variable holding it in password_env")  # fmt: skip

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
            yield f"{pad}{name}: []"  # optional: example entries follow, commented out
            examples = (
                spec.example
                if isinstance(spec.example, list)
                else [{k: _example(child) for k, child in spec.items.children.items()}]
            )
            for example in examples:
                for i, (child_name, value) in enumerate(example.items()):
                    yield f"{pad}#   {'- ' if i == 0 else '  '}{child_name}: {_scalar(value)}"
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
