"""Form definitions, validation, HTML-post parsing and rendering (no app factory needed)."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import jinja2
import pytest
from werkzeug.datastructures import MultiDict

from app.core.errors import ValidationFailed
from app.forms import (
    FormDefinitionError,
    FormRegistry,
    install_jinja_globals,
    is_valid_uscc,
    parse_form,
    parse_form_post,
    register_option_source,
    to_json_safe,
    uscc_check_char,
    validate_submission,
)
from app.forms.validators import clean_bank_account, clean_mobile_cn
from config import Config

ROOT = Path(__file__).resolve().parents[2]
VALID_USCC = "91350100M000100Y43"  # published sample code, check character 3


def _regions(locale):
    zh = (locale or "").startswith("zh")
    return [("east", "华东" if zh else "East China"), ("south", "华南" if zh else "South China")]


@pytest.fixture(autouse=True)
def option_sources():
    register_option_source("regions", _regions)
    register_option_source("tier1_dealers", lambda locale: [(1, "上海一级经销商"), (2, "杭州")])


@pytest.fixture(scope="module")
def registry():
    return FormRegistry.load(Config.FORMS_DIR)


@pytest.fixture
def admission(registry):
    return registry.get("dealer_admission")


def application(**changes):
    data = {
        "company_name": "上海好味食品贸易有限公司", "city": "上海", "uscc": VALID_USCC,
        "legal_representative": "张伟", "contact_name": "李娜", "contact_phone": "13812345678",
        "region": "east", "dealer_type": "tier1", "level": "A",
        "requested_credit_limit": "500000", "bank_name": "招商银行上海分行",
        "bank_account": "6225 8802 1234 5678",
        "shipping_addresses": [{"address": "上海市浦东新区 1 号", "receiver": "王五",
                                "phone": "+86 139 1234 5678"}],
        "business_licence": 7, "remarks": "",
    }
    data.update(changes)
    return data


def errors_of(form, data, **kwargs) -> dict:
    with pytest.raises(ValidationFailed) as info:
        validate_submission(form, data, **kwargs)
    assert info.value.status == 422
    return info.value.errors


# --- registry -------------------------------------------------------------------------

def test_registry_loads_shipped_forms(registry):
    assert {"dealer_admission", "admission_review", "admission_finance"} <= set(registry.keys())
    form = registry.get("dealer_admission")
    assert form.title_for("zh_CN") == "经销商准入申请"
    assert form.title_for("en") == "Dealer admission application"
    assert form.get_field("uscc").label_for("en") == "Unified social credit code"
    assert registry.has("admission_review") and not registry.has("nope")
    with pytest.raises(KeyError):
        registry.get("nope")


def test_malformed_yaml_names_the_file(tmp_path):
    (tmp_path / "broken.yaml").write_text("key: x\nfields: [\n", encoding="utf-8")
    with pytest.raises(FormDefinitionError) as info:
        FormRegistry.load(tmp_path)
    assert info.value.file.endswith("broken.yaml")


@pytest.mark.parametrize("field, message", [
    ({"name": "a", "type": "colour"}, "unknown field type"),
    ({"name": "a", "type": "string", "requird": True}, "unknown key"),
    ({"name": "a", "type": "select"}, "options"),
    ({"name": "a", "type": "string", "validator": "nope"}, "unknown validator"),
    ({"name": "a", "type": "table", "columns": [{"name": "b", "type": "table",
                                                  "columns": [{"name": "c"}]}]}, "nested"),
    ({"name": "a", "required_if": {"ghost": "x"}}, "unknown field"),
])
def test_bad_definitions_are_rejected(tmp_path, field, message):
    raw = {"key": "bad", "title": "Bad", "fields": [field]}
    with pytest.raises(FormDefinitionError, match=message):
        parse_form(raw, "bad.yaml")


# --- validators -----------------------------------------------------------------------

def test_uscc_check_character():
    assert uscc_check_char(VALID_USCC[:17]) == "3"
    first17 = "91110108MA01ABCDE"
    code = first17 + uscc_check_char(first17)
    assert is_valid_uscc(code) and is_valid_uscc(code.lower())
    wrong = "0" if code[17] != "0" else "1"
    assert not is_valid_uscc(code[:17] + wrong)
    assert not is_valid_uscc("81350100M000100Y43")  # authority 8 not accepted
    assert not is_valid_uscc("913501O0M000100Y43")  # O is not in the charset
    assert not is_valid_uscc("9135A100M000100Y43")  # region code must be digits
    assert not is_valid_uscc(VALID_USCC[:17])


def test_mobile_and_bank_account_are_normalised():
    assert clean_mobile_cn("+86 138-1234-5678") == "13812345678"
    assert clean_bank_account("6225 8802 1234") == "622588021234"


# --- validation -----------------------------------------------------------------------

def test_valid_application_is_cleaned(admission):
    clean = validate_submission(admission, application(extra="dropped"))
    assert clean["requested_credit_limit"] == Decimal("500000.00")
    assert isinstance(clean["requested_credit_limit"], Decimal)
    assert clean["business_licence"] == 7
    assert clean["bank_account"] == "6225880212345678"
    assert clean["shipping_addresses"][0]["phone"] == "13912345678"
    assert clean["remarks"] is None
    assert "extra" not in clean


def test_decimal_is_quantized(admission):
    clean = validate_submission(admission, application(requested_credit_limit="1,234.565"))
    assert clean["requested_credit_limit"] == Decimal("1234.57")


def test_bad_uscc_check_digit(admission):
    errors = errors_of(admission, application(uscc="91350100M000100Y44"))
    assert list(errors) == ["uscc"]
    assert "check digit" in errors["uscc"][0]


def test_bad_phone(admission):
    errors = errors_of(admission, application(contact_phone="12345"))
    assert list(errors) == ["contact_phone"]


def test_negative_credit_limit(admission):
    errors = errors_of(admission, application(requested_credit_limit="-1"))
    assert errors["requested_credit_limit"] == ["Must be at least 0."]
    errors = errors_of(admission, application(requested_credit_limit="12abc"))
    assert errors["requested_credit_limit"] == ["Enter a number."]


def test_missing_required_fields(admission):
    data = application()
    del data["company_name"]
    errors = errors_of(admission, dict(data, uscc="  "))
    assert errors["company_name"] == ["This field is required."]
    assert errors["uscc"] == ["This field is required."]


def test_unknown_select_value_rejected(admission):
    errors = errors_of(admission, application(level="Z", region="mars"))
    assert errors["level"] == ["Select a valid option."]
    assert errors["region"] == ["Select a valid option."]


def test_tier2_needs_parent_dealer(admission):
    errors = errors_of(admission, application(dealer_type="tier2"))
    assert list(errors) == ["parent_dealer"]
    clean = validate_submission(admission, application(dealer_type="tier2", parent_dealer=1))
    assert clean["parent_dealer"] == "1"
    errors = errors_of(admission, application(dealer_type="tier2", parent_dealer="99"))
    assert errors["parent_dealer"] == ["Select a valid option."]


def test_table_row_errors_are_keyed_by_row(admission):
    rows = [{"address": "", "receiver": "x"}, {"address": "杭州", "phone": "555"}]
    errors = errors_of(admission, application(shipping_addresses=rows))
    assert set(errors) == {"shipping_addresses.0.address", "shipping_addresses.1.phone"}
    errors = errors_of(admission, application(shipping_addresses=[]))
    assert errors["shipping_addresses"] == ["Add at least 1 row(s)."]
    data = application()
    del data["shipping_addresses"]
    assert "shipping_addresses" in errors_of(admission, data)


def test_file_reference_checked_by_callback(admission):
    errors = errors_of(admission, application(), file_exists=lambda i: False)
    assert list(errors) == ["business_licence"]
    assert validate_submission(admission, application(), file_exists={7}.__contains__)
    assert "business_licence" in errors_of(admission, application(business_licence="abc"))


def test_partial_draft_skips_required(admission):
    assert validate_submission(admission, {"company_name": "x"}, partial_fields=True) == {
        "company_name": "x"}


def test_review_comment_required_on_reject_or_return(registry):
    review = registry.get("admission_review")
    assert validate_submission(review, {"decision": "approve"}) == {"decision": "approve"}
    for decision in ("reject", "return"):
        errors = errors_of(review, {"decision": decision, "comment": " "})
        assert errors == {"comment": ["This field is required."]}
    assert validate_submission(review, {"decision": "reject", "comment": "资料不全"})
    assert "decision" in errors_of(review, {"decision": "maybe"})


def test_finance_approve_needs_terms(registry):
    finance = registry.get("admission_finance")
    errors = errors_of(finance, {"decision": "approve"})
    assert set(errors) == {"approved_credit_limit", "payment_terms"}
    clean = validate_submission(finance, {"decision": "approve", "approved_credit_limit": 3e5,
                                          "payment_terms": "net30"})
    assert clean["approved_credit_limit"] == Decimal("300000.00")
    assert validate_submission(finance, {"decision": "return", "comment": "补充材料"})


def test_readonly_fields_are_ignored_at_task():
    form = parse_form({"key": "t", "title": "T", "readonly_at": {"check": ["amount"]},
                       "fields": [{"name": "amount", "type": "int", "required": True},
                                  {"name": "day", "type": "date", "min": "2024-01-01"},
                                  {"name": "tags", "type": "multiselect",
                                   "options": ["a", "b"]}]})
    clean = validate_submission(form, {"amount": "oops", "day": "2024-02-03",
                                       "tags": ["a", "a"]}, task_id="check")
    assert clean == {"day": date(2024, 2, 3), "tags": ["a"]}
    errors = errors_of(form, {"amount": "1.5", "day": "2023-12-31", "tags": ["c"]})
    assert set(errors) == {"amount", "day", "tags"}


def test_non_mapping_input():
    form = parse_form({"key": "t", "title": "T", "fields": [{"name": "a"}]})
    assert errors_of(form, ["a"]) == {"_form": ["Expected an object."]}


def test_to_json_safe():
    value = {"a": Decimal("1.50"), "d": date(2024, 1, 2), "rows": [{"x": Decimal("2")}]}
    assert to_json_safe(value) == {"a": "1.50", "d": "2024-01-02", "rows": [{"x": "2"}]}


# --- HTML posts -----------------------------------------------------------------------

class FakeUpload:
    def __init__(self, filename):
        self.filename = filename


def test_parse_form_post(admission):
    post = MultiDict([
        ("company_name", " 好味 "), ("uscc", VALID_USCC), ("business_licence", "7"),
        ("shipping_addresses-0-address", "上海"), ("shipping_addresses-0-receiver", ""),
        ("shipping_addresses-3-address", ""), ("shipping_addresses-3-receiver", ""),
        ("shipping_addresses-5-address", "杭州"), ("shipping_addresses-5-phone", "13912345678"),
    ])
    data = parse_form_post(admission, post)
    assert data["company_name"] == " 好味 " and data["business_licence"] == "7"
    assert data["shipping_addresses"] == [  # re-numbered; the blank row 3 is dropped
        {"address": "上海", "receiver": ""}, {"address": "杭州", "phone": "13912345678"}]
    assert "region" not in data


def test_parse_form_post_upload_and_errors(admission):
    saved = []

    def save_file(upload, field):
        saved.append((upload.filename, field.name))
        return 42

    files = MultiDict([("business_licence", FakeUpload("licence.pdf"))])
    data = parse_form_post(admission, MultiDict([("business_licence", "7")]), files,
                           save_file=save_file)
    assert data["business_licence"] == 42 and saved == [("licence.pdf", "business_licence")]

    def refuse(upload, field):
        raise ValidationFailed({"file": ["too big"]})

    with pytest.raises(ValidationFailed) as info:
        parse_form_post(admission, MultiDict([("company_name", "x")]), files, save_file=refuse)
    assert info.value.errors == {"business_licence": ["too big"]}
    assert info.value.values == {"company_name": "x", "shipping_addresses": []}


def test_parse_form_post_multiselect():
    form = parse_form({"key": "t", "title": "T",
                       "fields": [{"name": "tags", "type": "multiselect", "options": ["a", "b"]}]})
    assert parse_form_post(form, MultiDict([("tags", "a"), ("tags", "b")])) == {
        "tags": ["a", "b"]}
    assert parse_form_post(form, MultiDict()) == {"tags": []}


# --- rendering ------------------------------------------------------------------------

@pytest.fixture
def env():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROOT / "app" / "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    install_jinja_globals(env)
    return env


def render(env, call: str, **context) -> str:
    source = ('{% from "forms/macros.html" import render_form, render_readonly %}' + call)
    return env.from_string(source).render(**context)


def test_render_form_in_both_languages_with_errors(env, admission):
    values = application(company_name="<b>x</b>")
    errors = {"uscc": ["Invalid unified social credit code (check digit)."],
              "shipping_addresses.0.address": ["This field is required."]}
    call = "{{ render_form(form, values, errors, [], locale) }}"
    zh = render(env, call, form=admission, values=values, errors=errors, locale="zh_CN")
    en = render(env, call, form=admission, values=values, errors=errors, locale="en")
    assert "公司名称" in zh and "Company name" not in zh and "华东" in zh and "添加一行" in zh
    assert "Company name" in en and "公司名称" not in en and "East China" in en
    assert 'class="field-error" id="f-uscc-error">Invalid unified social credit code' in en
    assert 'id="f-uscc" aria-invalid="true"' in en
    assert 'id="f-shipping_addresses-0-address-error"' in en
    assert 'name="shipping_addresses-0-address"' in en and "__INDEX__" in en
    assert 'accept="application/pdf,image/png,image/jpeg"' in en
    assert '<option value="tier1" selected>Tier-1 distributor</option>' in en
    assert "&lt;b&gt;x&lt;/b&gt;" in en and "<b>x</b>" not in en
    assert "<form" not in en and 'type="submit"' not in en


def test_render_form_readonly_fields(env, admission):
    call = "{{ render_form(form, values, {}, ['dealer_type'], 'zh') }}"
    html = render(env, call, form=admission, values=application())
    assert 'name="dealer_type"' not in html and "一级经销商" in html


def test_render_readonly(env, admission):
    call = "{{ render_readonly(form, values, locale) }}"
    html = render(env, call, form=admission, values=to_json_safe(application()), locale="zh")
    assert "一级经销商" in html and "华东" in html and '<a href="/files/7">' in html
    assert '<table class="df-table">' in html and "上海市浦东新区 1 号" in html
    assert "<input" not in html
    en = render(env, call, form=admission, values=application(), locale="en")
    assert "Tier-1 distributor" in en and "Dealer type" in en
