"""Money rounds commercially (half away from zero), as SAP does, on the platform and in the
ERP simulator alike: a half cent goes up, where banker's rounding would go to the even cent."""

from decimal import Decimal

import pytest

from app.catalog.services import net_unit_price
from app.promotions.rules import money
from app.tasks.projection import _amount_and_dealer
from connectors.erp.simulator_sales_store import cents, gross


@pytest.mark.parametrize(("value", "expected"), [
    ("5.025", "5.03"), ("2.345", "2.35"), ("0.005", "0.01"), ("-5.025", "-5.03"), ("5.0249", "5.02"),
])
def test_half_a_cent_rounds_up_on_the_platform_and_in_the_simulator(value, expected):
    assert money(Decimal(value)) == Decimal(expected)
    assert cents(Decimal(value)) == Decimal(expected)


def test_net_unit_price_and_the_simulators_gross_round_a_half_cent_up():
    # 10.05 less 50 % is 5.025: SAP (and now the platform) says 5.03, half-even said 5.02.
    assert net_unit_price(Decimal("10.05"), Decimal("0"), Decimal("50")) == Decimal("5.03")
    # 13 % VAT on 0.50 is 0.065: 0.07, so 0.57 gross (half-even: 0.56).
    assert gross(Decimal("0.50")) == Decimal("0.57")


def test_the_inbox_amount_of_a_task_rounds_a_half_cent_up():
    assert _amount_and_dealer({"amount": "1234.565"}, {})[0] == Decimal("1234.57")
