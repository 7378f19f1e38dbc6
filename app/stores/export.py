"""The store ledger as an Excel workbook (openpyxl write-only: rows stream to disk)."""

import tempfile

from openpyxl import Workbook

from app.stores.services import iter_ledger

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ("Code", "Store", "Dealer", "Region", "Status", "Type", "City", "Address", "Area m²",
          "Expected opening", "Opened on", "Closed on", "Budget CNY", "Actual CNY")


def ledger_workbook(user, **filters):
    """Write every store in scope (filtered) to a temporary .xlsx; return the open file."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Stores")
    sheet.append(HEADER)
    for r in iter_ledger(user, **filters):
        sheet.append((r["code"], r["name"], r["dealer_name"], r["region"], r["status"],
                      r["store_type"], r["city"], r["address"], r["area_m2"],
                      r["expected_opening"], r["opened_on"], r["closed_on"], r["budget_total"],
                      r["actual_total"]))
    out = tempfile.TemporaryFile(suffix=".xlsx")
    book.save(out)
    out.seek(0)
    return out
