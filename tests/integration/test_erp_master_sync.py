"""Materials and PR00 prices flow from the ERP simulator into the catalogue."""

from datetime import date, datetime
from decimal import Decimal

import orjson
from sqlalchemy import func, select

from app.catalog.models import Product, ProductCategory, ProductPrice, ProductSalesArea
from app.extensions import db
from app.jobs.periodic import run_periodic
from connectors.erp.simulator_catalogue import MATERIALS


def _product(material):
    return db.session.scalar(select(Product).where(Product.material_number == material))


def _sync():
    run = run_periodic("erp.master_data_sync", "test-worker", actor="admin", now=datetime.utcnow())
    assert run is not None and run.status == "done", run.last_error if run else None
    return orjson.loads(run.result)


def test_materials_arrive_with_their_category_path_sales_areas_and_list_prices(app, sim):
    counts = _sync()
    assert counts["materials"]["created"] == len(MATERIALS)
    db.session.expire_all()
    cola = _product("DF-BV-1001")
    assert cola.name_zh == "清爽可乐 330ml×24罐" and cola.name_en == "Cola 330 ml x 24 cans"
    assert cola.on_shelf is False  # new products wait for operations staff
    category = db.session.get(ProductCategory, cola.category_id)
    assert category.code == "BEVCSD" and category.level == 2
    assert db.session.get(ProductCategory, category.parent_id).code == "BEV"
    areas = {(a.sales_org, a.distr_chan, a.division) for a in db.session.scalars(
        select(ProductSalesArea).where(ProductSalesArea.product_id == cola.id))}
    assert ("1000", "10", "00") in areas and ("2000", "20", "00") in areas
    [east] = [p for p in db.session.scalars(select(ProductPrice).where(
        ProductPrice.product_id == cola.id, ProductPrice.sales_org == "1000",
        ProductPrice.distr_chan == "10")) if p.valid_from <= date.today() <= p.valid_to]
    assert east.amount == Decimal("48.00") and east.currency == "CNY"


def test_a_second_sync_keeps_staff_edits_and_creates_nothing_new(app, sim):
    _sync()
    db.session.expire_all()
    prices = db.session.scalar(select(func.count()).select_from(ProductPrice))
    cola = _product("DF-BV-1001")
    own = ProductCategory(code="PROMO", name_zh="促销专区", name_en="Promotions", level=1)
    db.session.add(own)
    db.session.flush()
    cola.category_id, cola.category_path, cola.category_source = own.id, "/PROMO/", "platform"
    cola.on_shelf, cola.description = True, "夏季主推"
    db.session.commit()

    counts = _sync()
    assert counts["materials"]["created"] == 0 and counts["prices"]["created"] == 0
    db.session.expire_all()
    cola = _product("DF-BV-1001")
    assert cola.category_id == own.id and cola.on_shelf is True and cola.description == "夏季主推"
    assert db.session.scalar(select(func.count()).select_from(ProductPrice)) == prices


def test_flask_erp_sync_reports_counts_and_writes_nothing_when_the_erp_is_down(app, sim):
    runner = app.test_cli_runner()
    sim.faults(down=True)
    down = runner.invoke(args=["erp", "sync"])
    assert down.exit_code == 1 and "ERP unavailable" in down.output
    db.session.expire_all()
    assert _product("DF-BV-1001") is None
    sim.faults(down=False)
    ok = runner.invoke(args=["erp", "sync"])
    assert ok.exit_code == 0, ok.output
    assert orjson.loads(ok.output)["materials"]["created"] == len(MATERIALS)
    db.session.expire_all()
    assert _product("DF-BV-1001") is not None
