"""The ERP simulator's clock: real UTC time plus an offset tests and demos can move forward.

Sales documents progress on this clock (order → delivery → goods issue → billing → payment),
after the lead times below; moving the clock forward (``POST /sim/admin/clock``) makes the
simulator catch up on its next call, with every document stamped at its scheduled time.
"""

import threading
from datetime import UTC, datetime, timedelta

LEAD_TIMES = {
    "delivery_hours": 2.0,  # order (credit check passed) → outbound delivery created
    "goods_issue_hours": 22.0,  # delivery created → goods issue posted (WBSTK C)
    "billing_hours": 1.0,  # goods issue → invoice (F2) and its open item in FI
    "payment_days": 30.0,  # invoice → paid (payment terms NT30), the open item cleared
}


class SimClock:
    def __init__(self, offset_seconds: float = 0, lead_times: dict | None = None):
        self._lock = threading.Lock()
        self._offset = timedelta(seconds=float(offset_seconds))
        self._lead = dict(LEAD_TIMES)
        self.update({"lead_times": lead_times or {}})

    def now(self) -> datetime:
        """Simulator time: naive UTC, whole seconds."""
        with self._lock:
            offset = self._offset
        return (datetime.now(UTC).replace(tzinfo=None) + offset).replace(microsecond=0)

    def lead(self, name: str) -> timedelta:
        with self._lock:
            value = self._lead[name]
        return timedelta(days=value) if name.endswith("_days") else timedelta(hours=value)

    def update(self, changes: dict) -> dict:
        """Apply ``advance_seconds`` / ``offset_seconds`` / ``lead_times``; the new snapshot."""
        unknown = set(changes) - {"advance_seconds", "offset_seconds", "lead_times"}
        if unknown:
            raise ValueError(f"Unknown clock settings: {', '.join(sorted(unknown))}")
        lead = dict(changes.get("lead_times") or {})
        if set(lead) - set(LEAD_TIMES):
            raise ValueError(f"lead_times takes {', '.join(LEAD_TIMES)}")
        clean = {k: float(v) for k, v in lead.items()}
        if any(v < 0 for v in clean.values()):
            raise ValueError("lead times must not be negative")
        advance = float(changes.get("advance_seconds") or 0)
        if advance < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            if "offset_seconds" in changes:
                self._offset = timedelta(seconds=float(changes["offset_seconds"]))
            self._offset += timedelta(seconds=advance)
            self._lead.update(clean)
        return self.snapshot()

    def snapshot(self) -> dict:
        with self._lock:
            offset, lead = self._offset.total_seconds(), dict(self._lead)
        return {"now": self.now().isoformat() + "Z", "offset_seconds": offset,
                "lead_times": lead}
