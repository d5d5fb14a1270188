"""Koha's catalogue tables in a throw-away MariaDB database, and Koha's ways of changing them.

The SQL adapter's ready-made Koha mapping is tested against the tables as Koha creates them
(``installer/data/mysql/kohastructure.sql``, the columns that matter here, with Koha's types,
defaults and ``ON UPDATE CURRENT_TIMESTAMP``), and the helpers change them the way Koha
does: a save rewrites ``biblio_metadata`` (its timestamp moves), a deletion copies the biblio
row into ``deletedbiblio`` (keeping the biblio's old timestamp), its metadata into
``deletedbiblio_metadata`` (with a fresh one) and its items into ``deleteditems``.

Each :class:`KohaDatabase` is its own database ``koha_test_<random>``, dropped afterwards,
so tests of several helpers can run side by side on one server.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy
from pymarc import Field, Record, Subfield
from pymarc.field import Indicators
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from crosswalks.marcxml import marcxml_text

__all__ = ["MARIADB", "KOHA_TABLES", "KohaDatabase", "koha_database"]

#: The test server (root without a password, see the developer guide).
MARIADB = "mysql+pymysql://root@127.0.0.1:3306/test"

_BIBLIO_COLUMNS = """
  `biblionumber` int(11) NOT NULL {increment},
  `frameworkcode` varchar(4) NOT NULL DEFAULT '',
  `author` longtext DEFAULT NULL,
  `title` longtext DEFAULT NULL,
  `medium` longtext DEFAULT NULL,
  `subtitle` longtext DEFAULT NULL,
  `part_number` longtext DEFAULT NULL,
  `part_name` longtext DEFAULT NULL,
  `unititle` longtext DEFAULT NULL,
  `notes` longtext DEFAULT NULL,
  `serial` tinyint(1) DEFAULT NULL,
  `seriestitle` longtext DEFAULT NULL,
  `copyrightdate` smallint(6) DEFAULT NULL,
  `timestamp` timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  `datecreated` date NOT NULL,
  `abstract` longtext DEFAULT NULL,
  PRIMARY KEY (`biblionumber`)"""

_METADATA_COLUMNS = """
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `biblionumber` int(11) NOT NULL,
  `format` varchar(16) NOT NULL,
  `schema` varchar(16) NOT NULL,
  `metadata` longtext NOT NULL,
  `timestamp` timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  PRIMARY KEY (`id`),
  UNIQUE KEY `{name}_uniq` (`biblionumber`,`format`,`schema`),
  KEY `{name}_timestamp` (`timestamp`)"""

_ITEM_COLUMNS = """
  `itemnumber` int(11) NOT NULL {increment},
  `biblionumber` int(11) NOT NULL DEFAULT 0,
  `biblioitemnumber` int(11) NOT NULL DEFAULT 0,
  `barcode` varchar(20) DEFAULT NULL,
  `dateaccessioned` date DEFAULT NULL,
  `booksellerid` longtext DEFAULT NULL,
  `homebranch` varchar(10) DEFAULT NULL,
  `price` decimal(8,2) DEFAULT NULL,
  `replacementprice` decimal(8,2) DEFAULT NULL,
  `datelastborrowed` date DEFAULT NULL,
  `datelastseen` datetime DEFAULT NULL,
  `stack` tinyint(1) DEFAULT NULL,
  `notforloan` tinyint(1) NOT NULL DEFAULT 0,
  `damaged` tinyint(1) NOT NULL DEFAULT 0,
  `itemlost` tinyint(1) NOT NULL DEFAULT 0,
  `itemlost_on` datetime DEFAULT NULL,
  `withdrawn` tinyint(1) NOT NULL DEFAULT 0,
  `withdrawn_on` datetime DEFAULT NULL,
  `itemcallnumber` varchar(255) DEFAULT NULL,
  `issues` smallint(6) DEFAULT 0,
  `renewals` smallint(6) DEFAULT NULL,
  `reserves` smallint(6) DEFAULT NULL,
  `restricted` tinyint(1) DEFAULT NULL,
  `itemnotes` longtext DEFAULT NULL,
  `holdingbranch` varchar(10) DEFAULT NULL,
  `location` varchar(80) DEFAULT NULL,
  `permanent_location` varchar(80) DEFAULT NULL,
  `onloan` date DEFAULT NULL,
  `cn_source` varchar(10) DEFAULT NULL,
  `cn_sort` varchar(255) DEFAULT NULL,
  `ccode` varchar(80) DEFAULT NULL,
  `itype` varchar(10) DEFAULT NULL,
  `copynumber` varchar(32) DEFAULT NULL,
  `timestamp` timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  PRIMARY KEY (`itemnumber`),
  KEY `{name}_biblionumber` (`biblionumber`),
  KEY `{name}_timestamp` (`timestamp`){barcode}"""

#: Table -> CREATE TABLE statement, in creation order.
KOHA_TABLES = {
    "biblio": "CREATE TABLE `biblio` ("
    + _BIBLIO_COLUMNS.format(increment="AUTO_INCREMENT")
    + ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
    "biblioitems": """CREATE TABLE `biblioitems` (
  `biblioitemnumber` int(11) NOT NULL AUTO_INCREMENT,
  `biblionumber` int(11) NOT NULL DEFAULT 0,
  `volume` longtext DEFAULT NULL,
  `number` longtext DEFAULT NULL,
  `itemtype` varchar(10) DEFAULT NULL,
  `isbn` longtext DEFAULT NULL,
  `issn` longtext DEFAULT NULL,
  `ean` longtext DEFAULT NULL,
  `publicationyear` longtext DEFAULT NULL,
  `publishercode` longtext DEFAULT NULL,
  `editionstatement` longtext DEFAULT NULL,
  `pages` longtext DEFAULT NULL,
  `notes` longtext DEFAULT NULL,
  `size` longtext DEFAULT NULL,
  `place` longtext DEFAULT NULL,
  `lccn` longtext DEFAULT NULL,
  `url` longtext DEFAULT NULL,
  `cn_source` varchar(10) DEFAULT NULL,
  `cn_class` varchar(30) DEFAULT NULL,
  `totalissues` int(10) DEFAULT NULL,
  `timestamp` timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  PRIMARY KEY (`biblioitemnumber`),
  KEY `bibinoidx` (`biblionumber`),
  CONSTRAINT `biblioitems_ibfk_1` FOREIGN KEY (`biblionumber`) REFERENCES `biblio`
    (`biblionumber`) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
    "biblio_metadata": "CREATE TABLE `biblio_metadata` ("
    + _METADATA_COLUMNS.format(name="biblio_metadata")
    + """,
  CONSTRAINT `record_metadata_fk_1` FOREIGN KEY (`biblionumber`) REFERENCES `biblio`
    (`biblionumber`) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
    "deletedbiblio": "CREATE TABLE `deletedbiblio` ("
    + _BIBLIO_COLUMNS.format(increment="")
    + ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
    "deletedbiblio_metadata": "CREATE TABLE `deletedbiblio_metadata` ("
    + _METADATA_COLUMNS.format(name="deletedbiblio_metadata")
    + """,
  CONSTRAINT `deletedrecord_metadata_fk_1` FOREIGN KEY (`biblionumber`) REFERENCES
    `deletedbiblio` (`biblionumber`) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
    "items": "CREATE TABLE `items` ("
    + _ITEM_COLUMNS.format(
        increment="AUTO_INCREMENT",
        name="items",
        barcode=",\n  UNIQUE KEY `itembarcodeidx` (`barcode`)",
    )  # fmt: skip
    + """,
  CONSTRAINT `items_ibfk_4` FOREIGN KEY (`biblionumber`) REFERENCES `biblio`
    (`biblionumber`) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
    "deleteditems": "CREATE TABLE `deleteditems` ("
    + _ITEM_COLUMNS.format(increment="", name="deleteditems", barcode="")
    + ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
}


def koha_marcxml(record: Record, biblionumber: int) -> str:
    """The MARCXML Koha stores for ``record``: 999 $c and $d hold the biblionumber."""
    for old in record.get_fields("999"):
        record.remove_field(old)
    record.add_ordered_field(
        Field(tag="999", indicators=Indicators(" ", " "),
              subfields=[Subfield("c", str(biblionumber)), Subfield("d", str(biblionumber))])
    )  # fmt: skip
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + marcxml_text(record)


class KohaDatabase:
    """One throw-away Koha database: its URL, a connection, and Koha-like changes."""

    def __init__(self, name: str, engine: Engine) -> None:
        self.name = name
        self.engine = engine
        self.url = MARIADB.rsplit("/", 1)[0] + f"/{name}"

    def connection(self) -> Connection:
        return self.engine.connect()

    def add_biblio(self, record: Record, *, when: datetime, biblionumber: int | None = None) -> int:
        """Catalogue ``record`` as Koha does; ``when`` is the time of the save."""
        title = record.title or ""
        author = record.author or ""
        with self.engine.begin() as conn:
            result = conn.execute(
                text("INSERT INTO biblio (biblionumber, title, author, datecreated, timestamp) "
                     "VALUES (:n, :t, :a, :d, :w)"),
                {"n": biblionumber, "t": title, "a": author, "d": when.date(), "w": when},
            )  # fmt: skip
            number = int(biblionumber or result.lastrowid)
            conn.execute(
                text("INSERT INTO biblioitems (biblionumber, isbn, timestamp) VALUES (:n, :i, :w)"),
                {"n": number, "i": record.isbn or None, "w": when},
            )
            conn.execute(
                text("INSERT INTO biblio_metadata (biblionumber, format, `schema`, metadata, "
                     "timestamp) VALUES (:n, 'marcxml', 'MARC21', :m, :w)"),
                {"n": number, "m": koha_marcxml(record, number), "w": when},
            )  # fmt: skip
        return number

    def add_many(self, rows: list[tuple[int, str]], *, when: datetime) -> None:
        """Bulk load (biblionumber, MARCXML) pairs, for the benchmark."""
        with self.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO biblio (biblionumber, datecreated, timestamp) "
                     "VALUES (:n, :d, :w)"),
                [{"n": n, "d": when.date(), "w": when} for n, _ in rows],
            )  # fmt: skip
            conn.execute(
                text("INSERT INTO biblio_metadata (biblionumber, format, `schema`, metadata, "
                     "timestamp) VALUES (:n, 'marcxml', 'MARC21', :m, :w)"),
                [{"n": n, "m": m, "w": when} for n, m in rows],
            )  # fmt: skip

    def save_biblio(self, biblionumber: int, record: Record) -> None:
        """An edit in the cataloguing module: the MARCXML is rewritten (timestamp moves)."""
        with self.engine.begin() as conn:
            conn.execute(
                text("UPDATE biblio_metadata SET metadata = :m WHERE biblionumber = :n"),
                {"n": biblionumber, "m": koha_marcxml(record, biblionumber)},
            )
            conn.execute(text("UPDATE biblio SET title = :t WHERE biblionumber = :n"),
                         {"n": biblionumber, "t": record.title or ""})  # fmt: skip

    def set_metadata(self, biblionumber: int, metadata: str, *, when: datetime) -> None:
        """Overwrite the stored MARCXML text as is (to store garbage on purpose)."""
        with self.engine.begin() as conn:
            conn.execute(
                text("UPDATE biblio_metadata SET metadata = :m, timestamp = :w "
                     "WHERE biblionumber = :n"),
                {"n": biblionumber, "m": metadata, "w": when},
            )  # fmt: skip

    def delete_biblio(self, biblionumber: int) -> None:
        """Koha's DelBiblio: items to deleteditems, biblio to deletedbiblio (old timestamp
        kept), metadata to deletedbiblio_metadata (timestamp of now), then the delete."""
        with self.engine.begin() as conn:
            kept = [c for c in self._columns(conn, "items") if c != "timestamp"]
            columns = ", ".join(f"`{c}`" for c in kept)
            conn.execute(text(f"INSERT INTO deleteditems ({columns}) SELECT {columns} FROM "
                              "items WHERE biblionumber = :n"), {"n": biblionumber})  # fmt: skip
            conn.execute(text("DELETE FROM items WHERE biblionumber = :n"), {"n": biblionumber})
            conn.execute(text("INSERT INTO deletedbiblio SELECT * FROM biblio "
                              "WHERE biblionumber = :n"), {"n": biblionumber})  # fmt: skip
            conn.execute(
                text("INSERT INTO deletedbiblio_metadata (biblionumber, format, `schema`, "
                     "metadata) SELECT biblionumber, format, `schema`, metadata "
                     "FROM biblio_metadata WHERE biblionumber = :n"),
                {"n": biblionumber},
            )  # fmt: skip
            conn.execute(text("DELETE FROM biblio WHERE biblionumber = :n"), {"n": biblionumber})

    def add_item(
        self,
        biblionumber: int,
        barcode: str,
        *,
        when: datetime,
        branch: str = "CPL",
        callnumber: str = "",
    ) -> int:
        """A copy of ``biblionumber`` at ``branch``."""
        with self.engine.begin() as conn:
            result = conn.execute(
                text("INSERT INTO items (biblionumber, biblioitemnumber, barcode, homebranch, "
                     "holdingbranch, itemcallnumber, timestamp) SELECT :n, biblioitemnumber, "
                     ":b, :h, :h, :c, :w FROM biblioitems WHERE biblionumber = :n"),
                {"n": biblionumber, "b": barcode, "h": branch, "c": callnumber, "w": when},
            )  # fmt: skip
            return int(result.lastrowid)

    def check_out(self, barcode: str, due: str) -> None:
        """A loan: Koha sets items.onloan to the due date (items.timestamp moves)."""
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE items SET onloan = :d WHERE barcode = :b"),
                         {"d": due, "b": barcode})  # fmt: skip

    def delete_item(self, barcode: str) -> None:
        """Koha's item deletion: the row moves to deleteditems with a fresh timestamp."""
        with self.engine.begin() as conn:
            columns = [c for c in self._columns(conn, "items") if c != "timestamp"]
            listed = ", ".join(f"`{c}`" for c in columns)
            conn.execute(text(f"INSERT INTO deleteditems ({listed}) SELECT {listed} FROM items "
                              "WHERE barcode = :b"), {"b": barcode})  # fmt: skip
            conn.execute(text("DELETE FROM items WHERE barcode = :b"), {"b": barcode})

    @staticmethod
    def _columns(conn: Connection, table: str) -> list[str]:
        return list(conn.execute(text(f"SELECT * FROM `{table}` WHERE 1 = 0")).keys())


@contextmanager
def koha_database() -> Iterator[KohaDatabase]:
    """A fresh database with Koha's catalogue tables, dropped afterwards."""
    name = f"koha_test_{secrets.token_hex(5)}"
    server = sqlalchemy.create_engine(MARIADB, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    engine = sqlalchemy.create_engine(MARIADB.rsplit("/", 1)[0] + f"/{name}?charset=utf8mb4")
    try:
        with engine.begin() as conn:
            for statement in KOHA_TABLES.values():
                conn.execute(text(statement))
        yield KohaDatabase(name, engine)
    finally:
        engine.dispose()
        with server.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()
