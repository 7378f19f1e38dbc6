"""The ERP simulator's own database (plain sqlite3, never the platform's database).

Tables mirror the SAP objects the simulator answers for: KNA1 (customer), KNVV (customer per
sales area) and KNKK (credit account per credit control area, CTLPC = risk category), plus a
number range for KUNNR and the idempotency keys of credit limit writes (ZDF_CREDIT_LIMIT_SET).
The sales side (orders, deliveries, billing, receivables, materials, prices) is in
simulator_sales_store. KNKK's exposure columns hold amounts carried from before the simulator's
own documents; the exposure answered is those plus what the documents add up to.
"""

import queue
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from connectors.erp.simulator_clock import SimClock
from connectors.erp.simulator_sales_store import RANGES, SALES_SCHEMA, SalesStoreMixin

FIRST_KUNNR = 100000  # new customers get 0000100000, 0000100001, …
CREDIT_CONTROL_AREA = "1000"
SALES_AREA = ("1000", "10", "00")  # VKORG, VTWEG, SPART of the demo dealers

SCHEMA = """
CREATE TABLE IF NOT EXISTS kna1 (
    kunnr TEXT PRIMARY KEY, name1 TEXT NOT NULL, sort1 TEXT, city TEXT, street TEXT,
    postl_cod1 TEXT, country TEXT, region TEXT, langu TEXT, tel1_numb TEXT,
    idempotency_key TEXT UNIQUE, created_at TEXT DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE IF NOT EXISTS knvv (
    kunnr TEXT NOT NULL, vkorg TEXT NOT NULL, vtweg TEXT NOT NULL, spart TEXT NOT NULL,
    PRIMARY KEY (kunnr, vkorg, vtweg, spart));
CREATE TABLE IF NOT EXISTS knkk (
    kunnr TEXT NOT NULL, kkber TEXT NOT NULL, klimk TEXT NOT NULL, open_orders TEXT NOT NULL,
    open_deliveries TEXT NOT NULL, open_billing TEXT NOT NULL, receivables TEXT NOT NULL,
    currency TEXT NOT NULL, PRIMARY KEY (kunnr, kkber));
CREATE TABLE IF NOT EXISTS nriv (object TEXT PRIMARY KEY, next_number INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS zdf_limit_keys (
    idempotency_key TEXT PRIMARY KEY, kunnr TEXT NOT NULL, kkber TEXT NOT NULL,
    klimk TEXT NOT NULL, currency TEXT NOT NULL, ctlpc TEXT);
"""
KNKK_ROW = ("knkk (kunnr, kkber, klimk, open_orders, open_deliveries, open_billing, receivables,"
            " currency) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
CENT = Decimal("0.01")

# The platform's demo dealers, already known to the ERP (limit 800,000 CNY, some exposure;
# their receivables are one open opening-balance invoice).
DEMO_CUSTOMERS = [
    ("0000010001", "上海东方食品贸易有限公司", "上海", "31"),
    ("0000010002", "广州南粤快消品有限公司", "广州", "44"),
]
DEMO_EXPOSURE = ("800000.00", "120000.00", "35000.00", "15000.00", "0")
DEMO_RECEIVABLES = "210000.00"

CREDIT_FIELDS = ("credit_limit", "open_orders", "open_deliveries", "open_billing", "receivables")


class SimulatorStore(SalesStoreMixin):
    """Thread-safe access to the simulator database (one connection per call)."""

    def __init__(self, path: str, clock: SimClock | None = None):
        self.path = path
        self.clock = clock or SimClock()
        self._lock = threading.Lock()
        self._pool: queue.SimpleQueue = queue.SimpleQueue()
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(SCHEMA)
            conn.executescript(SALES_SCHEMA)
            self._upgrade(conn)
            self._seed(conn)
            self._seed_sales(conn)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection in one transaction: committed on success, rolled back on error.

        Connections stay open (WAL mode: a commit appends to the log, readers never wait for
        the writer); each is used by one request thread at a time.
        """
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            # A test and demo tool: losing the last commits on a power cut is acceptable.
            conn.execute("PRAGMA synchronous = NORMAL")
        try:
            with conn:
                yield conn
        finally:
            self._pool.put(conn)

    @staticmethod
    def _upgrade(conn: sqlite3.Connection) -> None:
        """Add KNKK-CTLPC to a database created before risk categories were kept."""
        columns = {row["name"] for row in conn.execute("PRAGMA table_info(knkk)")}
        if "ctlpc" not in columns:
            conn.execute("ALTER TABLE knkk ADD COLUMN ctlpc TEXT")
        # KONP-PLTYP: price-list records, kept since price changes name a price list.
        if "pltyp" not in {row["name"] for row in conn.execute("PRAGMA table_info(konp)")}:
            conn.execute("ALTER TABLE konp ADD COLUMN pltyp TEXT")

    def _seed(self, conn: sqlite3.Connection) -> None:
        conn.execute("INSERT OR IGNORE INTO nriv VALUES ('KUNNR', ?)", (FIRST_KUNNR,))
        for name, start in RANGES.items():
            conn.execute("INSERT OR IGNORE INTO nriv VALUES (?, ?)", (name, start))
        for kunnr, name, city, region in DEMO_CUSTOMERS:
            conn.execute("INSERT OR IGNORE INTO kna1 (kunnr, name1, city, country, region, langu)"
                         " VALUES (?, ?, ?, 'CN', ?, '1')", (kunnr, name, city, region))
            conn.execute("INSERT OR IGNORE INTO knvv VALUES (?, ?, ?, ?)", (kunnr, *SALES_AREA))
            fresh = conn.execute("INSERT OR IGNORE INTO " + KNKK_ROW,
                                 (kunnr, CREDIT_CONTROL_AREA, *DEMO_EXPOSURE, "CNY")).rowcount
            if fresh:
                self._seed_opening_item(conn, kunnr, DEMO_RECEIVABLES,
                                        datetime.now(UTC).replace(tzinfo=None, microsecond=0))

    def create_customer(self, data: dict, sales_area: tuple, key: str | None) -> tuple[str, bool]:
        """Insert a customer (KNA1 + KNVV + an empty KNKK); (kunnr, created).

        A known idempotency key answers the customer created for it, with created=False.
        """
        with self._lock, self._connect() as conn:
            if key:
                row = conn.execute("SELECT kunnr FROM kna1 WHERE idempotency_key = ?",
                                   (key,)).fetchone()
                if row:
                    return row["kunnr"], False
            number = conn.execute("SELECT next_number FROM nriv WHERE object = 'KUNNR'").fetchone()[0]
            conn.execute("UPDATE nriv SET next_number = ? WHERE object = 'KUNNR'", (number + 1,))
            kunnr = f"{number:010d}"
            conn.execute(
                "INSERT INTO kna1 (kunnr, name1, sort1, city, street, postl_cod1, country, region,"
                " langu, tel1_numb, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (kunnr, data.get("NAME"), data.get("SORT1"), data.get("CITY"), data.get("STREET"),
                 data.get("POSTL_COD1"), data.get("COUNTRY"), data.get("REGION"),
                 data.get("LANGU"), data.get("TEL1_NUMB"), key))
            conn.execute("INSERT INTO knvv VALUES (?, ?, ?, ?)", (kunnr, *sales_area))
            conn.execute("INSERT INTO " + KNKK_ROW, (kunnr, CREDIT_CONTROL_AREA, *("0",) * 5, "CNY"))
            return kunnr, True

    def credit_account(self, kunnr: str, kkber: str) -> dict | None:
        """Limit and exposure figures (Decimals) of a customer in a credit control area."""
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM knkk WHERE kunnr = ? AND kkber = ?",
                               (kunnr, kkber)).fetchone()
            if row is None:
                return None
            docs = self._document_exposure(conn, kunnr, kkber)
        figures = {"credit_limit": Decimal(row["klimk"])}
        for name in CREDIT_FIELDS[1:]:
            figures[name] = Decimal(row[name]) + docs[name]
        figures["currency"], figures["risk_category"] = row["currency"], row["ctlpc"]
        return figures

    def set_credit_limit(self, kunnr: str, kkber: str, limit: Decimal, currency: str,
                         risk: str | None, key: str | None) -> tuple[str, str | None]:
        """Upsert KNKK's limit (and risk category, when given); (outcome, detail).

        Outcomes: ``set`` / ``replayed`` (detail: the stored limit), ``unknown_customer``,
        ``currency_mismatch`` (detail: the account's currency) and ``key_conflict`` (the key
        was used for another write). A known key with the same data writes nothing.
        """
        klimk = str(limit.quantize(CENT, rounding=ROUND_HALF_UP))
        with self._lock, self._connect() as conn:
            if key:
                done = conn.execute("SELECT * FROM zdf_limit_keys WHERE idempotency_key = ?",
                                    (key,)).fetchone()
                if done:
                    stored = (done["kunnr"], done["kkber"], done["klimk"], done["currency"],
                              done["ctlpc"])
                    same = stored == (kunnr, kkber, klimk, currency, risk)
                    return ("replayed", done["klimk"]) if same else ("key_conflict", None)
            if not conn.execute("SELECT 1 FROM kna1 WHERE kunnr = ?", (kunnr,)).fetchone():
                return "unknown_customer", None
            account = conn.execute("SELECT currency FROM knkk WHERE kunnr = ? AND kkber = ?",
                                   (kunnr, kkber)).fetchone()
            if account and account["currency"] != currency:
                return "currency_mismatch", account["currency"]
            self._write_limit(conn, (kunnr, kkber, klimk, currency, risk), key)
            return "set", klimk

    @staticmethod
    def _write_limit(conn: sqlite3.Connection, row: tuple, key: str | None) -> None:
        """row = (kunnr, kkber, klimk, currency, ctlpc); a new account starts without exposure."""
        kunnr, kkber, klimk, currency, ctlpc = row
        conn.execute(
            "INSERT INTO knkk (kunnr, kkber, klimk, open_orders, open_deliveries, open_billing,"
            " receivables, currency, ctlpc) VALUES (?, ?, ?, '0', '0', '0', '0', ?, ?)"
            " ON CONFLICT (kunnr, kkber) DO UPDATE SET klimk = excluded.klimk,"
            " ctlpc = COALESCE(excluded.ctlpc, knkk.ctlpc)", (kunnr, kkber, klimk, currency, ctlpc))
        if key:
            conn.execute("INSERT INTO zdf_limit_keys VALUES (?, ?, ?, ?, ?, ?)", (key, *row))

    def count_customers(self) -> int:
        with self._connect() as conn:
            return conn.execute("SELECT COUNT(*) FROM kna1").fetchone()[0]

    def customer(self, kunnr: str) -> dict | None:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM kna1 WHERE kunnr = ?", (kunnr,)).fetchone()
        return dict(row) if row else None
