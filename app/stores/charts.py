"""Small server-rendered SVG charts (no JavaScript needed, print and phone friendly)."""

from markupsafe import Markup, escape

COLOURS = ("#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2")
W, H, PAD = 560, 220, 36


def line_chart(points: list[dict], top: float = 100) -> Markup:
    """One line per ``key`` over ``slot`` (x) with ``score`` (y, 0..top)."""
    slots = sorted({p["slot"] for p in points})
    keys = sorted({p["key"] for p in points})
    if not slots:
        return Markup("")
    step = (W - 2 * PAD) / max(1, len(slots) - 1)

    def xy(p):
        x = PAD + slots.index(p["slot"]) * step
        return x, H - PAD - (H - 2 * PAD) * p["score"] / top

    parts = [f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#cbd5e1"/>']
    for i, slot in enumerate(slots):
        parts.append(f'<text x="{PAD + i * step:.0f}" y="{H - 12}" font-size="11" '
                     f'text-anchor="middle">{escape(slot)}</text>')
    for n, key in enumerate(keys):
        colour = COLOURS[n % len(COLOURS)]
        mine = sorted((p for p in points if p["key"] == key), key=lambda p: p["slot"])
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in map(xy, mine))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                     f'points="{coords}"/>')
        for p in mine:
            x, y = xy(p)
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                         f'<title>{escape(key)} {escape(p["slot"])}: {p["score"]}</title></circle>')
        parts.append(f'<text x="{W - PAD + 4}" y="{PAD + 14 * n}" font-size="11" '
                     f'fill="{colour}">{escape(key)}</text>')
    return _svg(parts)


def bar_chart(rows: list[tuple[str, float]], top: float | None = None) -> Markup:
    """Horizontal bars: (label, value)."""
    if not rows:
        return Markup("")
    top = top or max(v for _, v in rows) or 1
    height = 26 * len(rows) + 10
    parts = []
    for i, (label, value) in enumerate(rows):
        width = (W - 200) * value / top
        y = 8 + i * 26
        parts.append(f'<text x="0" y="{y + 13}" font-size="12">{escape(label)}</text>'
                     f'<rect x="120" y="{y}" width="{width:.1f}" height="18" '
                     f'fill="{COLOURS[0]}"/><text x="{124 + width:.1f}" y="{y + 13}" '
                     f'font-size="12">{value}</text>')
    return _svg(parts, height)


def _svg(parts: list[str], height: int = H) -> Markup:
    return Markup(f'<svg class="chart" viewBox="0 0 {W} {height}" role="img" '  # noqa: S704 - every label is escaped above
                  f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>')
