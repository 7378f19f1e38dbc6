"""Catalogue at scale: 5,000 products, filtered by category and text, over HTTP (target ≤ 50 ms).

A real gunicorn server on a temp SQLite DB (migrated, deployed, demo seeded); 5,000 products
in a three-level category tree, two sales areas, base and price-list prices, bulk-inserted.
``dealer_east`` (one sales area, price list 01) then asks, BENCH_CATALOG_N times each:
the catalogue page (HTML, session cookie) and the API, filtered by a top-level category and
a search term. Baseline in the same run: GET /healthz.
"""

import re
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import requests
from sqlalchemy import MetaData, create_engine, func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as c

PRODUCTS = 5_000
TARGET_MS = 50.0
WORDS = [
    "茶饮料 tea",
    "可乐 cola",
    "果汁 juice",
    "矿泉水 water",
    "薯片 chips",
    "饼干 biscuit",
    "洗发水 shampoo",
    "牙膏 toothpaste",
]


def seed_catalogue(db_path: Path, count: int) -> int:
    """Bulk-insert the catalogue; the id of its first top-level category."""
    engine = create_engine(f"sqlite:///{db_path}")
    meta = MetaData()
    meta.reflect(
        engine,
        only=[
            "product_category",
            "product",
            "product_sales_area",
            "product_price",
            "dealer_sales_area",
            "dealer",
            "price_change",
            "price_change_line",
        ],
    )
    cat, prod, psa, price, dsa, dealer, change, change_line = (
        meta.tables[n]
        for n in (
            "product_category",
            "product",
            "product_sales_area",
            "product_price",
            "dealer_sales_area",
            "dealer",
            "price_change",
            "price_change_line",
        )
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        # The demo seed already holds a few categories and products: number ours after them.
        next_id = (conn.scalar(select(func.max(cat.c.id))) or 0) + 1
        first_product = (conn.scalar(select(func.max(prod.c.id))) or 0) + 1
        categories, leaves, first_top = [], [], next_id
        for top in range(5):
            top_id = next_id
            categories.append(
                dict(
                    id=top_id,
                    code=f"BENCH-C{top}",
                    name_zh=f"大类{top}",
                    name_en=f"Group {top}",
                    parent_id=None,
                    path=f"/{top_id}/",
                    level=1,
                    sort_order=top,
                    created_at=now,
                )
            )
            next_id += 1
            for mid in range(4):
                mid_id = next_id
                categories.append(
                    dict(
                        id=mid_id,
                        code=f"BENCH-C{top}-{mid}",
                        name_zh=f"中类{top}-{mid}",
                        name_en=f"Family {top}-{mid}",
                        parent_id=top_id,
                        path=f"/{top_id}/{mid_id}/",
                        level=2,
                        sort_order=mid,
                        created_at=now,
                    )
                )
                next_id += 1
                for leaf in range(5):
                    leaves.append((next_id, f"/{top_id}/{mid_id}/{next_id}/"))
                    categories.append(
                        dict(
                            id=next_id,
                            code=f"BENCH-C{top}-{mid}-{leaf}",
                            name_zh=f"小类{top}-{mid}-{leaf}",
                            name_en=f"Line {top}-{mid}-{leaf}",
                            parent_id=mid_id,
                            path=leaves[-1][1],
                            level=3,
                            sort_order=leaf,
                            created_at=now,
                        )
                    )
                    next_id += 1
        conn.execute(insert(cat), categories)
        products, areas, prices = [], [], []
        for i in range(first_product, first_product + count):
            leaf_id, path = leaves[i % len(leaves)]
            word = WORDS[i % len(WORDS)]
            name = f"{word.split()[0]} {i}"
            products.append(
                dict(
                    id=i,
                    material_number=f"FG{i:08d}",
                    name_zh=name,
                    name_en=f"{word} {i}",
                    category_id=leaf_id,
                    category_path=path,
                    category_source="erp",
                    sales_unit="CS",
                    order_multiple=1,
                    product_type="FERT",
                    on_shelf=i % 10 != 0,
                    search_text=f"fg{i:08d} {name} {word} {i}".lower(),
                    created_at=now,
                    updated_at=now,
                )
            )
            org = "1000" if i % 2 else "2000"
            areas.append(dict(product_id=i, sales_org=org, distr_chan="10", division="00", created_at=now))
            prices.append(
                dict(
                    product_id=i,
                    sales_org=org,
                    distr_chan="10",
                    price_list=None,
                    amount=20 + i % 80,
                    currency="CNY",
                    valid_from=date(2026, 1, 1),
                    valid_to=date(9999, 12, 31),
                    source="erp",
                    created_at=now,
                )
            )
            prices.append(
                dict(
                    product_id=i,
                    sales_org=org,
                    distr_chan="10",
                    price_list="01",
                    amount=19 + i % 80,
                    currency="CNY",
                    valid_from=date(2026, 1, 1),
                    valid_to=date(9999, 12, 31),
                    source="erp",
                    created_at=now,
                )
            )
        conn.execute(insert(prod), products)
        conn.execute(insert(psa), areas)
        conn.execute(insert(price), prices)
        east, customer = conn.execute(
            select(dealer.c.id, dealer.c.erp_customer_no).where(dealer.c.code == "DE000001")
        ).one()
        has_area = conn.scalar(
            select(func.count()).where(
                dsa.c.dealer_id == east,
                dsa.c.sales_org == "1000",
                dsa.c.distr_chan == "10",
                dsa.c.division == "00",
            )
        )
        if not has_area:
            conn.execute(
                insert(dsa),
                [
                    dict(
                        dealer_id=east,
                        sales_org="1000",
                        distr_chan="10",
                        division="00",
                        price_list="01",
                        created_at=now,
                    )
                ],
            )
        # An applied price change: K004 on every 7th product and a K007 for the dealer, so the
        # catalogue's net prices read real condition records.
        change_id = conn.execute(
            insert(change).values(
                number="PCBENCH",
                submit_key="bench",
                status="applied",
                reason="bench",
                source="manual",
                created_by="bench",
                erp_condition_numbers=[],
                line_count=0,
                applied_at=now,
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
        lines = [
            dict(
                change_id=change_id,
                line_no=n,
                condition_type="K004",
                product_id=i,
                material_number=f"FG{i:08d}",
                dealer_id=None,
                customer_number=None,
                sales_org="1000" if i % 2 else "2000",
                distr_chan="10",
                amount=1,
                currency="CNY",
                valid_from=date(2026, 1, 1),
                valid_to=date(9999, 12, 31),
                created_at=now,
            )
            for n, i in enumerate(range(first_product, first_product + count, 7), start=1)
        ]
        lines.append(
            dict(
                change_id=change_id,
                line_no=len(lines) + 1,
                condition_type="K007",
                product_id=None,
                material_number=None,
                dealer_id=east,
                customer_number=customer,
                sales_org="1000",
                distr_chan="10",
                amount=3,
                currency="CNY",
                valid_from=date(2026, 1, 1),
                valid_to=date(9999, 12, 31),
                created_at=now,
            )
        )
        conn.execute(insert(change_line), lines)
    return first_top


def page_session(base: str, username: str) -> requests.Session:
    s = requests.Session()
    form = s.get(base + "/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    data = {"username": username, "password": "demo"}
    if token:
        data["csrf_token"] = token.group(1)
    r = s.post(base + "/login", data=data, allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text[:300]
    return s


def timed_get(session: requests.Session, url: str, n: int, headers=None) -> tuple[list[float], int]:
    samples, size = [], 0
    for _ in range(10):
        session.get(url, headers=headers, timeout=10)
    for _ in range(n):
        t0 = time.perf_counter()
        r = session.get(url, headers=headers, timeout=10)
        samples.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text[:300]
        size = len(r.content)
    return samples, size


def main() -> None:
    n = c.env_int("BENCH_CATALOG_N", 200)
    server = c.BenchServer()
    try:
        server.prepare()
        t0 = time.perf_counter()
        top = seed_catalogue(server.db_path, PRODUCTS)
        print(f"[seed] {PRODUCTS} products in {time.perf_counter() - t0:.1f} s")
        server.start()
        base = server.base_url
        c.header(
            f"Catalogue with {PRODUCTS:,} products, dealer_east, filtered by category and text, {n} runs"
        )
        token = requests.post(
            base + "/api/v1/auth/token", json={"username": "dealer_east", "password": "demo"}, timeout=10
        ).json()["token"]
        api = requests.Session()
        page = page_session(base, "dealer_east")
        health, _ = timed_get(requests.Session(), base + "/healthz", n)
        query = f"category={top}&q=cola"
        api_s, api_size = timed_get(
            api, f"{base}/api/v1/catalog/products?{query}", n, headers={"Authorization": f"Bearer {token}"}
        )
        total = api.get(
            f"{base}/api/v1/catalog/products?{query}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()["total"]
        page_s, page_size = timed_get(page, f"{base}/catalog?{query}", n)
        unfiltered, _ = timed_get(page, f"{base}/catalog", n)
        rows = [
            ["GET /healthz (baseline)", c.fmt(c.ms(c.median(health))), c.fmt(c.ms(c.p90(health))), "-"],
            [
                f"API ?{query} ({total} matches)",
                c.fmt(c.ms(c.median(api_s))),
                c.fmt(c.ms(c.p90(api_s))),
                f"{api_size:,} B",
            ],
            [
                f"page /catalog?{query}",
                c.fmt(c.ms(c.median(page_s))),
                c.fmt(c.ms(c.p90(page_s))),
                f"{page_size:,} B",
            ],
            [
                "page /catalog (no filter)",
                c.fmt(c.ms(c.median(unfiltered))),
                c.fmt(c.ms(c.p90(unfiltered))),
                "-",
            ],
        ]
        c.print_table(["request", "median ms", "p90 ms", "size"], rows)
        print(
            f"filtered page: {c.fmt(c.ms(c.median(page_s)))} ms median (target ≤ {TARGET_MS:.0f} ms); "
            f"ratio to /healthz {c.median(page_s) / c.median(health):.1f}x"
        )
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
