"""The simulator's sales, delivery, billing, receivables and pricing tables.

SAP objects mirrored: MARA/MAKT/MARC/MVKE/T179 (materials), KONP (price conditions, one row
per condition record), VBAK/VBAP (orders), LIKP/LIPS (deliveries), VBRK (invoices) and BSID
(customer line items, open and cleared). Number ranges: orders 10 digits from 0000500000,
deliveries 80000000…, invoices 90000000…, FI invoices 1400000000…, payments 1500000000….

Documents are created on the simulator clock: ``advance(now)`` moves every order through
delivery, goods issue, billing and payment once its lead time has passed, stamping each step
with its scheduled time. Credit exposure is derived from these documents (gross values, VAT
included): open orders, open deliveries (goods not issued), open billing (goods issued, not
invoiced) and receivables (open items).
"""

import sqlite3
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from connectors.erp import simulator_catalogue as cat

SALES_SCHEMA = """
CREATE TABLE IF NOT EXISTS mara (matnr TEXT PRIMARY KEY, prodh TEXT, matkl TEXT, meins TEXT,
    ean11 TEXT);
CREATE TABLE IF NOT EXISTS makt (matnr TEXT, spras TEXT, maktx TEXT, PRIMARY KEY (matnr, spras));
CREATE TABLE IF NOT EXISTS t179 (prodh TEXT PRIMARY KEY, stufe INTEGER, vtext TEXT);
CREATE TABLE IF NOT EXISTS mvke (matnr TEXT, vkorg TEXT, vtweg TEXT, dwerk TEXT,
    PRIMARY KEY (matnr, vkorg, vtweg));
CREATE TABLE IF NOT EXISTS marc (matnr TEXT, werks TEXT, PRIMARY KEY (matnr, werks));
CREATE TABLE IF NOT EXISTS t001w (werks TEXT PRIMARY KEY, name1 TEXT);
CREATE TABLE IF NOT EXISTS konp (knumh TEXT PRIMARY KEY, kschl TEXT NOT NULL, vkorg TEXT,
    vtweg TEXT, kunnr TEXT, matnr TEXT, datab TEXT NOT NULL, datbi TEXT NOT NULL,
    kbetr TEXT NOT NULL, konwa TEXT NOT NULL, kmein TEXT, pltyp TEXT);
CREATE INDEX IF NOT EXISTS konp_key ON konp (kschl, matnr, kunnr, vkorg, vtweg);
CREATE TABLE IF NOT EXISTS konv (vbeln TEXT, posnr TEXT, stunr INTEGER, kschl TEXT,
    kbetr TEXT, waers TEXT, kwert TEXT, PRIMARY KEY (vbeln, posnr, stunr));
CREATE TABLE IF NOT EXISTS zdf_cond_keys (idempotency_key TEXT PRIMARY KEY, request TEXT,
    knumhs TEXT);
CREATE TABLE IF NOT EXISTS vbak (vbeln TEXT PRIMARY KEY, auart TEXT, vkorg TEXT, vtweg TEXT,
    spart TEXT, kunnr TEXT, kunwe TEXT, bstkd TEXT, vdatu TEXT, erdat TEXT, erzet TEXT,
    netwr TEXT, mwsbk TEXT, waerk TEXT, cmgst TEXT, lfstk TEXT DEFAULT 'A',
    fkstk TEXT DEFAULT 'A', idempotency_key TEXT UNIQUE);
CREATE INDEX IF NOT EXISTS vbak_bstkd ON vbak (kunnr, bstkd);
CREATE TABLE IF NOT EXISTS vbap (vbeln TEXT, posnr TEXT, matnr TEXT, arktx TEXT, pstyv TEXT,
    werks TEXT, kwmeng TEXT, vrkme TEXT, netpr TEXT, netwr TEXT, PRIMARY KEY (vbeln, posnr));
CREATE TABLE IF NOT EXISTS likp (vbeln TEXT PRIMARY KEY, lfart TEXT, vstel TEXT, vkorg TEXT,
    kunag TEXT, kunnr TEXT, vgbel TEXT, lfdat TEXT, wbstk TEXT, fkstk TEXT, gi_at TEXT,
    created_at TEXT, changed_at TEXT, gross TEXT);
CREATE TABLE IF NOT EXISTS lips (vbeln TEXT, posnr TEXT, matnr TEXT, werks TEXT, lfimg TEXT,
    vrkme TEXT, vgbel TEXT, vgpos TEXT, PRIMARY KEY (vbeln, posnr));
CREATE TABLE IF NOT EXISTS vbrk (vbeln TEXT PRIMARY KEY, fkart TEXT, fkdat TEXT, vkorg TEXT,
    kunag TEXT, kunrg TEXT, netwr TEXT, mwsbk TEXT, waerk TEXT, aubel TEXT, vgbel TEXT,
    belnr TEXT, fksto TEXT DEFAULT '', created_at TEXT);
CREATE TABLE IF NOT EXISTS bsid (bukrs TEXT, kunnr TEXT, belnr TEXT, gjahr TEXT, buzei TEXT,
    blart TEXT, budat TEXT, bldat TEXT, zfbdt TEXT, netdt TEXT, due_at TEXT, shkzg TEXT,
    dmbtr TEXT, waers TEXT, vbeln TEXT, xblnr TEXT, augbl TEXT, augdt TEXT, sgtxt TEXT,
    PRIMARY KEY (bukrs, belnr, gjahr, buzei));
"""
RANGES = {"VBELN_ORDER": 500000, "VBELN_DELIVERY": 80000000, "VBELN_BILLING": 90000000,
          "BELNR_RV": 1400000000, "BELNR_DZ": 1500000000, "KNUMH": 1}
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
VAT = Decimal(cat.VAT_RATE)
# Credit control area → the sales organisations whose documents count towards its exposure.
CREDIT_AREA_ORGS = {"1000": ("1000", "2000")}
# Sales areas of the seeded demo customers (in addition to the KNVV row every customer has).
DEMO_SALES_AREAS = {"0000010001": [("1000", "20", "00")],
                    "0000010002": [("2000", "10", "00")]}


def cents(value: Decimal) -> Decimal:
    """An amount rounded to the cent as SAP rounds it: commercially, half away from zero."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# What ``advance`` works through, earliest first, with the lead time each waits (an invoice
# is paid at its own due time).
_EARLIEST_PENDING = (
    "SELECT (SELECT min(erzet) FROM vbak WHERE cmgst = 'A' AND lfstk = 'A'),"
    " (SELECT min(created_at) FROM likp WHERE wbstk = 'A'),"
    " (SELECT min(gi_at) FROM likp WHERE wbstk = 'C' AND fkstk = 'A'),"
    " (SELECT min(due_at) FROM bsid WHERE shkzg = 'S' AND augbl IS NULL)")
_PENDING_LEADS = ("delivery_hours", "goods_issue_hours", "billing_hours", None)


def ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def parse_ts(text: str) -> datetime:
    """A ``ts`` text back as a datetime (every due check of ``advance`` parses a few: the ISO
    parser is an order of magnitude cheaper than ``strptime``)."""
    return datetime.fromisoformat(text)


def gross(net: Decimal) -> Decimal:
    return cents(net + cents(net * VAT))


class SalesStoreMixin:
    """Methods of SimulatorStore for the SD/FI side (it provides _lock and _connect)."""

    @staticmethod
    def _seed_sales(conn: sqlite3.Connection) -> None:
        for werks, name in cat.PLANTS.items():
            conn.execute("INSERT OR IGNORE INTO t001w VALUES (?, ?)", (werks, name))
        for prodh, level, text in cat.HIERARCHY:
            conn.execute("INSERT OR IGNORE INTO t179 VALUES (?, ?, ?)", (prodh, level, text))
        for matnr, zh, en, prodh, matkl, ean, price in cat.MATERIALS:
            fresh = conn.execute("INSERT OR IGNORE INTO mara VALUES (?, ?, ?, ?, ?)",
                                 (matnr, prodh, matkl, cat.BASE_UOM, ean)).rowcount
            conn.execute("INSERT OR IGNORE INTO makt VALUES (?, '1', ?)", (matnr, zh))
            conn.execute("INSERT OR IGNORE INTO makt VALUES (?, 'E', ?)", (matnr, en))
            for vkorg, werks in cat.DELIVERING_PLANT.items():
                if (vkorg, matnr) in cat.NOT_SOLD:
                    continue
                conn.execute("INSERT OR IGNORE INTO marc VALUES (?, ?)", (matnr, werks))
                for vtweg, factor in cat.CHANNEL_SURCHARGE.items():
                    conn.execute("INSERT OR IGNORE INTO mvke VALUES (?, ?, ?, ?)",
                                 (matnr, vkorg, vtweg, werks))
                    if fresh:
                        amount = cents(Decimal(price) * Decimal(factor))
                        SalesStoreMixin._insert_condition(conn, {
                            "kschl": "PR00", "vkorg": vkorg, "vtweg": vtweg, "kunnr": None,
                            "matnr": matnr, "datab": cat.PRICE_VALID_FROM,
                            "datbi": cat.PRICE_VALID_TO, "kbetr": str(amount), "konwa": "CNY",
                            "kmein": cat.BASE_UOM})
        for kunnr, areas in DEMO_SALES_AREAS.items():
            for area in areas:
                conn.execute("INSERT OR IGNORE INTO knvv VALUES (?, ?, ?, ?)", (kunnr, *area))

    @staticmethod
    def _seed_opening_item(conn: sqlite3.Connection, kunnr: str, amount: str,
                           now: datetime) -> None:
        """A demo customer's receivables as one open invoice, due in ten days."""
        belnr = SalesStoreMixin._next(conn, "BELNR_RV")
        posted = now - timedelta(days=20)
        conn.execute(
            "INSERT INTO bsid VALUES (?, ?, ?, ?, '001', 'RV', ?, ?, ?, ?, ?, 'S', ?, 'CNY',"
            " NULL, ?, NULL, NULL, ?)",
            ("1000", kunnr, belnr, str(posted.year), posted.date().isoformat(),
             posted.date().isoformat(), posted.date().isoformat(),
             (posted + timedelta(days=30)).date().isoformat(), ts(posted + timedelta(days=30)),
             amount, "OPENING", "Opening balance"))

    @staticmethod
    def _next(conn: sqlite3.Connection, name: str) -> str:
        number = conn.execute("SELECT next_number FROM nriv WHERE object = ?",
                              (name,)).fetchone()[0]
        conn.execute("UPDATE nriv SET next_number = ? WHERE object = ?", (number + 1, name))
        return f"{number:010d}" if name in ("VBELN_ORDER", "KNUMH") else str(number)

    # ----- master data ---------------------------------------------------------------------

    def materials(self, vkorg: str | None, vtweg: str | None, werks: str | None,
                  prodh: str | None, spras: str) -> dict:
        where, args = ["1 = 1"], []
        if vkorg or vtweg:
            where.append("EXISTS (SELECT 1 FROM mvke WHERE mvke.matnr = mara.matnr"
                         " AND (? IS NULL OR vkorg = ?) AND (? IS NULL OR vtweg = ?))")
            args += [vkorg, vkorg, vtweg, vtweg]
        if werks:
            where.append("EXISTS (SELECT 1 FROM marc WHERE marc.matnr = mara.matnr"
                         " AND werks = ?)")
            args.append(werks)
        if prodh:
            where.append("prodh LIKE ?")
            args.append(prodh + "%")
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT mara.*, COALESCE(t.maktx, z.maktx) AS maktx FROM mara"  # noqa: S608 - only ? placeholders / fixed columns
                " LEFT JOIN makt t ON t.matnr = mara.matnr AND t.spras = ?"
                " LEFT JOIN makt z ON z.matnr = mara.matnr AND z.spras = '1'"
                f" WHERE {' AND '.join(where)} ORDER BY mara.matnr", (spras, *args)).fetchall()
            numbers = [r["matnr"] for r in rows]
            marks = ",".join("?" * len(numbers)) or "''"
            sales = conn.execute(f"SELECT * FROM mvke WHERE matnr IN ({marks})"  # noqa: S608 - only ? placeholders / fixed columns
                                 " ORDER BY matnr, vkorg, vtweg", numbers).fetchall()
            plants = conn.execute(f"SELECT marc.*, t001w.name1 FROM marc JOIN t001w USING"  # noqa: S608 - only ? placeholders / fixed columns
                                  f" (werks) WHERE matnr IN ({marks}) ORDER BY matnr, werks",
                                  numbers).fetchall()
            hierarchy = conn.execute("SELECT * FROM t179 ORDER BY prodh").fetchall()
        if vkorg or vtweg:
            sales = [s for s in sales if (not vkorg or s["vkorg"] == vkorg)
                     and (not vtweg or s["vtweg"] == vtweg)]
        return {"materials": [dict(r) for r in rows], "sales": [dict(r) for r in sales],
                "plants": [dict(r) for r in plants], "hierarchy": [dict(r) for r in hierarchy]}

    def material(self, matnr: str) -> dict | None:
        with self._connect() as conn:
            row = conn.execute("SELECT mara.*, makt.maktx FROM mara LEFT JOIN makt ON"
                               " makt.matnr = mara.matnr AND makt.spras = '1'"
                               " WHERE mara.matnr = ?", (matnr,)).fetchone()
            if row is None:
                return None
            found = dict(row)
            found["sales"] = {(r["vkorg"], r["vtweg"]): r["dwerk"] for r in conn.execute(
                "SELECT * FROM mvke WHERE matnr = ?", (matnr,))}
            found["plants"] = {r["werks"] for r in conn.execute(
                "SELECT werks FROM marc WHERE matnr = ?", (matnr,))}
        return found

    def customer_areas(self, kunnr: str) -> set[tuple[str, str, str]]:
        with self._connect() as conn:
            return {(r["vkorg"], r["vtweg"], r["spart"]) for r in conn.execute(
                "SELECT * FROM knvv WHERE kunnr = ?", (kunnr,))}

    # ----- price conditions ----------------------------------------------------------------

    @staticmethod
    def _insert_condition(conn: sqlite3.Connection, row: dict) -> str:
        knumh = SalesStoreMixin._next(conn, "KNUMH")
        conn.execute("INSERT INTO konp (knumh, kschl, vkorg, vtweg, kunnr, matnr, datab, datbi,"
                     " kbetr, konwa, kmein, pltyp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (knumh, row["kschl"], row["vkorg"], row["vtweg"], row["kunnr"],
                      row["matnr"], row["datab"], row["datbi"], row["kbetr"], row["konwa"],
                      row["kmein"], row.get("pltyp")))
        return knumh

    def conditions(self, kschl=None, vkorg=None, vtweg=None, matnr=None, kunnr=None,
                   valid_on=None, pltyp=None) -> list[dict]:
        where, args = [], []
        for column, value in (("kschl", kschl), ("vkorg", vkorg), ("vtweg", vtweg),
                              ("matnr", matnr), ("kunnr", kunnr), ("pltyp", pltyp)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        if valid_on:
            where.append("datab <= ? AND datbi >= ?")
            args += [valid_on, valid_on]
        sql = "SELECT * FROM konp" + (" WHERE " + " AND ".join(where) if where else "")  # noqa: S608 - only ? placeholders / fixed columns
        with self._connect() as conn:
            return [dict(r) for r in conn.execute(
                sql + " ORDER BY kschl, vkorg, vtweg, kunnr, matnr, datab", args)]

    def condition_amount(self, kschl: str, vkorg: str, vtweg: str, on: str,
                         matnr: str | None = None, kunnr: str | None = None,
                         pltyp: str | None = None) -> Decimal | None:
        """The amount of the record valid on ``on`` for this key (None when there is none).

        With a price list (PLTYP) its own record wins over the sales area's base record.
        """
        with self._connect() as conn:
            row = conn.execute(
                "SELECT kbetr FROM konp WHERE kschl = ? AND vkorg = ? AND vtweg = ?"
                " AND matnr IS ? AND kunnr IS ? AND datab <= ? AND datbi >= ?"
                " AND (pltyp IS NULL OR pltyp = ?)"
                " ORDER BY pltyp IS NULL, datab DESC LIMIT 1",
                (kschl, vkorg, vtweg, matnr, kunnr, on, on, pltyp)).fetchone()
        return Decimal(row["kbetr"]) if row else None

    def set_conditions(self, rows: list[dict], key: str | None,
                       request: str) -> tuple[str, list[str]]:
        """Write condition records, cutting overlapped ones; (outcome, condition numbers).

        Outcomes: ``set``, ``replayed`` (same key and request: nothing written) and
        ``key_conflict`` (the key was used for another request).
        """
        with self._lock, self._connect() as conn:
            if key:
                done = conn.execute("SELECT * FROM zdf_cond_keys WHERE idempotency_key = ?",
                                    (key,)).fetchone()
                if done:
                    if done["request"] != request:
                        return "key_conflict", []
                    return "replayed", done["knumhs"].split(",")
            numbers = []
            for row in rows:
                self._cut_overlaps(conn, row)
                numbers.append(self._insert_condition(conn, row))
            if key:
                conn.execute("INSERT INTO zdf_cond_keys VALUES (?, ?, ?)",
                             (key, request, ",".join(numbers)))
            return "set", numbers

    @staticmethod
    def _cut_overlaps(conn: sqlite3.Connection, row: dict) -> None:
        """Existing records of the same key lose the part of their validity the new one takes."""
        start, end = row["datab"], row["datbi"]
        day = timedelta(days=1)
        for old in conn.execute(
                "SELECT * FROM konp WHERE kschl = ? AND vkorg IS ? AND vtweg IS ? AND kunnr IS ?"
                " AND matnr IS ? AND pltyp IS ? AND datab <= ? AND datbi >= ?",
                (row["kschl"], row["vkorg"], row["vtweg"], row["kunnr"], row["matnr"],
                 row.get("pltyp"), end, start)).fetchall():
            before = old["datab"] < start
            after = old["datbi"] > end
            if before:
                conn.execute("UPDATE konp SET datbi = ? WHERE knumh = ?",
                             (_shift(start, -day), old["knumh"]))
            else:
                conn.execute("DELETE FROM konp WHERE knumh = ?", (old["knumh"],))
            if after:
                rest = dict(old) | {"datab": _shift(end, day)}
                SalesStoreMixin._insert_condition(conn, rest)

    # ----- sales orders --------------------------------------------------------------------

    def find_order(self, kunnr: str, bstkd: str | None, key: str | None) -> str | None:
        """The order already created for this idempotency key or sold-to + PURCH_NO_C."""
        with self._connect() as conn:
            if key:
                row = conn.execute("SELECT vbeln FROM vbak WHERE idempotency_key = ?",
                                   (key,)).fetchone()
                if row:
                    return row["vbeln"]
            if bstkd:
                row = conn.execute("SELECT vbeln FROM vbak WHERE kunnr = ? AND bstkd = ?",
                                   (kunnr, bstkd)).fetchone()
                if row:
                    return row["vbeln"]
        return None

    def create_order(self, header: dict, items: list[dict], key: str | None,
                     now: datetime, credit_area: str) -> tuple[str, bool, str]:
        """Insert VBAK/VBAP after the credit check; (vbeln, created, credit status CMGST).

        Dedupe happens under the lock: a concurrent twin answers the first order.
        """
        with self._lock, self._connect() as conn:
            twin = None
            if key:
                twin = conn.execute("SELECT vbeln, cmgst FROM vbak WHERE idempotency_key = ?",
                                    (key,)).fetchone()
            if twin is None and header["bstkd"]:
                twin = conn.execute("SELECT vbeln, cmgst FROM vbak WHERE kunnr = ? AND bstkd = ?",
                                    (header["kunnr"], header["bstkd"])).fetchone()
            if twin is not None:
                return twin["vbeln"], False, twin["cmgst"]
            net = sum((i["netwr"] for i in items), ZERO)
            tax = cents(net * VAT)
            limit, exposure = self._credit_position(conn, header["kunnr"], credit_area)
            cmgst = "A" if limit is None or exposure + net + tax <= limit else "B"
            vbeln = self._next(conn, "VBELN_ORDER")
            conn.execute(
                "INSERT INTO vbak (vbeln, auart, vkorg, vtweg, spart, kunnr, kunwe, bstkd, vdatu,"
                " erdat, erzet, netwr, mwsbk, waerk, cmgst, idempotency_key) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (vbeln, header["auart"], header["vkorg"], header["vtweg"], header["spart"],
                 header["kunnr"], header["kunwe"], header["bstkd"], header["vdatu"],
                 now.date().isoformat(), ts(now), str(net), str(tax), header["waerk"], cmgst,
                 key))
            for item in items:
                conn.execute("INSERT INTO vbap VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (vbeln, item["posnr"], item["matnr"], item["arktx"],
                              item["pstyv"], item["werks"], str(item["kwmeng"]), item["vrkme"],
                              str(item["netpr"]), str(item["netwr"])))
                for step, cond in enumerate(item.get("conditions") or [], start=1):
                    conn.execute("INSERT INTO konv VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 (vbeln, item["posnr"], step, cond["kschl"], str(cond["kbetr"]),
                                  cond["waers"], str(cond["kwert"])))
            return vbeln, True, cmgst

    def order(self, vbeln: str) -> dict | None:
        with self._connect() as conn:
            head = conn.execute("SELECT * FROM vbak WHERE vbeln = ?", (vbeln,)).fetchone()
            if head is None:
                return None
            result = dict(head)
            result["items"] = [dict(r) for r in conn.execute(
                "SELECT * FROM vbap WHERE vbeln = ? ORDER BY posnr", (vbeln,))]
            result["conditions"] = [dict(r) for r in conn.execute(
                "SELECT * FROM konv WHERE vbeln = ? ORDER BY posnr, stunr", (vbeln,))]
            delivery = conn.execute("SELECT * FROM likp WHERE vgbel = ?", (vbeln,)).fetchone()
            result["delivery"] = dict(delivery) if delivery else None
            bill = conn.execute("SELECT * FROM vbrk WHERE aubel = ? AND fksto = ''",
                                (vbeln,)).fetchone()
            result["billing"] = dict(bill) if bill else None
        return result

    def count_orders(self) -> int:
        with self._connect() as conn:
            return conn.execute("SELECT COUNT(*) FROM vbak").fetchone()[0]

    # ----- progression on the simulator clock ----------------------------------------------

    def advance(self, now: datetime, lead) -> None:
        """Create every delivery, goods issue, invoice and payment due by ``now``.

        Most calls find nothing due (every credit check and order read calls this): one read
        of the four earliest pending moments settles that, without the store's write lock.
        """
        if not self._anything_due(now, lead):
            return
        with self._lock, self._connect() as conn:
            for order in conn.execute("SELECT * FROM vbak WHERE cmgst = 'A' AND lfstk = 'A'"
                                      " ORDER BY vbeln").fetchall():
                at = parse_ts(order["erzet"]) + lead("delivery_hours")
                if at <= now:
                    self._deliver(conn, order, at)
            for dlv in conn.execute("SELECT * FROM likp WHERE wbstk = 'A' ORDER BY vbeln"
                                    ).fetchall():
                at = parse_ts(dlv["created_at"]) + lead("goods_issue_hours")
                if at <= now:
                    conn.execute("UPDATE likp SET wbstk = 'C', gi_at = ?, changed_at = ?"
                                 " WHERE vbeln = ?", (ts(at), ts(at), dlv["vbeln"]))
            for dlv in conn.execute("SELECT * FROM likp WHERE wbstk = 'C' AND fkstk = 'A'"
                                    " ORDER BY vbeln").fetchall():
                at = parse_ts(dlv["gi_at"]) + lead("billing_hours")
                if at <= now:
                    self._bill(conn, dlv, at, lead("payment_days"))
            for item in conn.execute("SELECT * FROM bsid WHERE shkzg = 'S' AND augbl IS NULL"
                                     " ORDER BY belnr").fetchall():
                if parse_ts(item["due_at"]) <= now:
                    self._pay(conn, item, parse_ts(item["due_at"]))

    def _anything_due(self, now: datetime, lead) -> bool:
        """Whether ``advance`` has anything to do by ``now``: the earliest order to deliver,
        delivery to goods-issue, delivery to bill and invoice to pay (``ts`` texts sort in
        time order), each plus its lead time, against ``now``."""
        with self._connect() as conn:
            earliest = conn.execute(_EARLIEST_PENDING).fetchone()
        return any(at is not None and parse_ts(at) + (lead(name) if name else timedelta()) <= now
                   for at, name in zip(earliest, _PENDING_LEADS, strict=True))

    def _deliver(self, conn: sqlite3.Connection, order: sqlite3.Row, at: datetime) -> None:
        vbeln = self._next(conn, "VBELN_DELIVERY")
        items = conn.execute("SELECT * FROM vbap WHERE vbeln = ? ORDER BY posnr",
                             (order["vbeln"],)).fetchall()
        total = gross(Decimal(order["netwr"]))
        conn.execute("INSERT INTO likp VALUES (?, 'LF', ?, ?, ?, ?, ?, ?, 'A', 'A', NULL, ?, ?,"
                     " ?)", (vbeln, items[0]["werks"], order["vkorg"], order["kunnr"],
                             order["kunwe"], order["vbeln"], at.date().isoformat(), ts(at),
                             ts(at), str(total)))
        for n, item in enumerate(items, start=1):
            conn.execute("INSERT INTO lips VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (vbeln, f"{n * 10:06d}", item["matnr"], item["werks"], item["kwmeng"],
                          item["vrkme"], order["vbeln"], item["posnr"]))
        conn.execute("UPDATE vbak SET lfstk = 'C' WHERE vbeln = ?", (order["vbeln"],))

    def _bill(self, conn: sqlite3.Connection, dlv: sqlite3.Row, at: datetime,
              terms: timedelta) -> None:
        order = conn.execute("SELECT * FROM vbak WHERE vbeln = ?", (dlv["vgbel"],)).fetchone()
        vbeln, belnr = self._next(conn, "VBELN_BILLING"), self._next(conn, "BELNR_RV")
        day = at.date().isoformat()
        conn.execute("INSERT INTO vbrk VALUES (?, 'F2', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?)",
                     (vbeln, day, order["vkorg"], order["kunnr"], order["kunnr"],
                      order["netwr"], order["mwsbk"], order["waerk"], order["vbeln"],
                      dlv["vbeln"], belnr, ts(at)))
        bukrs = cat.COMPANY_CODE.get(order["vkorg"], order["vkorg"])
        conn.execute(
            "INSERT INTO bsid VALUES (?, ?, ?, ?, '001', 'RV', ?, ?, ?, ?, ?, 'S', ?, ?, ?, ?,"
            " NULL, NULL, ?)",
            (bukrs, order["kunnr"], belnr, str(at.year), day, day, day,
             (at + terms).date().isoformat(), ts(at + terms), dlv["gross"], order["waerk"],
             vbeln, (order["bstkd"] or "")[:16], f"Invoice {vbeln}"))
        conn.execute("UPDATE likp SET fkstk = 'C' WHERE vbeln = ?", (dlv["vbeln"],))
        conn.execute("UPDATE vbak SET fkstk = 'C' WHERE vbeln = ?", (order["vbeln"],))

    def _pay(self, conn: sqlite3.Connection, item: sqlite3.Row, at: datetime) -> None:
        belnr, day = self._next(conn, "BELNR_DZ"), at.date().isoformat()
        conn.execute(
            "INSERT INTO bsid VALUES (?, ?, ?, ?, '001', 'DZ', ?, ?, ?, ?, ?, 'H', ?, ?, NULL, ?,"
            " ?, ?, ?)",
            (item["bukrs"], item["kunnr"], belnr, str(at.year), day, day, day, day, ts(at),
             item["dmbtr"], item["waers"], item["belnr"], belnr, day, "Incoming payment"))
        conn.execute("UPDATE bsid SET augbl = ?, augdt = ? WHERE bukrs = ? AND belnr = ?"
                     " AND gjahr = ? AND buzei = ?", (belnr, day, item["bukrs"], item["belnr"],
                                                      item["gjahr"], item["buzei"]))

    # ----- deliveries, billing, receivables ------------------------------------------------

    def deliveries_changed(self, since: datetime, kunnr: str | None,
                           vkorg: str | None) -> tuple[list[dict], list[dict]]:
        with self._connect() as conn:
            heads = [dict(r) for r in conn.execute(
                "SELECT likp.*, vbak.bstkd FROM likp JOIN vbak ON vbak.vbeln = likp.vgbel"
                " WHERE likp.changed_at > ? AND (? IS NULL OR likp.kunag = ?)"
                " AND (? IS NULL OR likp.vkorg = ?) ORDER BY likp.changed_at, likp.vbeln",
                (ts(since), kunnr, kunnr, vkorg, vkorg))]
            numbers = [h["vbeln"] for h in heads]
            marks = ",".join("?" * len(numbers)) or "''"
            items = [dict(r) for r in conn.execute(
                f"SELECT * FROM lips WHERE vbeln IN ({marks}) ORDER BY vbeln, posnr", numbers)]  # noqa: S608 - only ? placeholders / fixed columns
        return heads, items

    def billing_documents(self, kunnr: str | None, vbeln: str | None, date_from: str | None,
                          date_to: str | None) -> list[dict]:
        with self._connect() as conn:
            return [dict(r) for r in conn.execute(
                "SELECT * FROM vbrk WHERE (? IS NULL OR kunrg = ?) AND (? IS NULL OR aubel = ?)"
                " AND (? IS NULL OR fkdat >= ?) AND (? IS NULL OR fkdat <= ?) ORDER BY vbeln",
                (kunnr, kunnr, vbeln, vbeln, date_from, date_from, date_to, date_to))]

    def line_items(self, bukrs: str, kunnr: str) -> list[dict]:
        with self._connect() as conn:
            return [dict(r) for r in conn.execute(
                "SELECT * FROM bsid WHERE bukrs = ? AND kunnr = ? ORDER BY budat, belnr",
                (bukrs, kunnr))]

    def customer_exists(self, kunnr: str) -> bool:
        with self._connect() as conn:
            return conn.execute("SELECT 1 FROM kna1 WHERE kunnr = ?", (kunnr,)).fetchone() \
                is not None

    # ----- credit exposure -----------------------------------------------------------------

    @staticmethod
    def _document_exposure(conn: sqlite3.Connection, kunnr: str, kkber: str) -> dict:
        orgs = CREDIT_AREA_ORGS.get(kkber, ())
        marks = ",".join("?" * len(orgs)) or "''"
        orders = conn.execute(f"SELECT netwr FROM vbak WHERE kunnr = ? AND cmgst = 'A' AND"  # noqa: S608 - only ? placeholders / fixed columns
                              f" lfstk = 'A' AND vkorg IN ({marks})", (kunnr, *orgs)).fetchall()
        deliveries = conn.execute(f"SELECT gross, wbstk FROM likp WHERE kunag = ? AND fkstk = 'A'"  # noqa: S608 - only ? placeholders / fixed columns
                                  f" AND vkorg IN ({marks})", (kunnr, *orgs)).fetchall()
        bukrs = sorted({cat.COMPANY_CODE.get(o, o) for o in orgs})
        marks_b = ",".join("?" * len(bukrs)) or "''"
        items = conn.execute(f"SELECT dmbtr FROM bsid WHERE kunnr = ? AND shkzg = 'S' AND"  # noqa: S608 - only ? placeholders / fixed columns
                             f" augbl IS NULL AND bukrs IN ({marks_b})",
                             (kunnr, *bukrs)).fetchall()
        return {
            "open_orders": sum((gross(Decimal(r["netwr"])) for r in orders), ZERO),
            "open_deliveries": sum((Decimal(r["gross"]) for r in deliveries
                                    if r["wbstk"] == "A"), ZERO),
            "open_billing": sum((Decimal(r["gross"]) for r in deliveries
                                 if r["wbstk"] == "C"), ZERO),
            "receivables": sum((Decimal(r["dmbtr"]) for r in items), ZERO),
        }

    def _credit_position(self, conn: sqlite3.Connection, kunnr: str,
                         kkber: str) -> tuple[Decimal | None, Decimal]:
        """(limit, total exposure) of an account; limit None when there is no account."""
        row = conn.execute("SELECT * FROM knkk WHERE kunnr = ? AND kkber = ?",
                           (kunnr, kkber)).fetchone()
        if row is None:
            return None, ZERO
        docs = self._document_exposure(conn, kunnr, kkber)
        carried = sum(Decimal(row[k]) for k in ("open_orders", "open_deliveries",
                                                  "open_billing", "receivables"))
        return Decimal(row["klimk"]), carried + sum(docs.values(), ZERO)


def _shift(day: str, delta: timedelta) -> str:
    return (datetime.strptime(day, "%Y-%m-%d") + delta).date().isoformat()
