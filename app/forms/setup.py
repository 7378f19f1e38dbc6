"""Load forms/ once per app and register the option sources forms may name."""

from flask import Flask, current_app
from sqlalchemy import select

from app.extensions import db

_REGISTRY_KEY = "dealerflow.forms"


def _tier1_dealers(locale: str):
    from app.dealers.models import Dealer

    rows = db.session.execute(select(Dealer.id, Dealer.code, Dealer.name)
                              .where(Dealer.dealer_type == "tier1", Dealer.status == "active")
                              .order_by(Dealer.code)).all()
    return [(str(r.id), f"{r.code} {r.name}") for r in rows]


def init_forms(app: Flask) -> None:
    from app.admin.services import region_choices
    from app.forms import FormRegistry, install_jinja_globals, register_option_source

    register_option_source("regions", lambda locale: region_choices(locale or "zh_CN"))
    register_option_source("tier1_dealers", _tier1_dealers)
    app.extensions[_REGISTRY_KEY] = FormRegistry.load(app.config["FORMS_DIR"])
    install_jinja_globals(app.jinja_env)


def form_registry():
    return current_app.extensions[_REGISTRY_KEY]
