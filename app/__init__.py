"""Dealerflow: the application factory."""

import logging
import os

from flask import Flask, request, session
from flask_login import current_user

from app.extensions import babel, csrf, db, login_manager, migrate
from config import Config, load_secret_key


def _select_locale():
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        from app.core.auth import api_user
        from app.core.errors import AppError

        try:  # a bearer-token API caller's own choice (also for a 422 before the view runs)
            locale = api_user().locale
        except AppError:
            locale = None
        if locale:
            return locale
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale:
        return current_user.locale
    if session.get("locale"):
        return session["locale"]
    return request.accept_languages.best_match(["zh_CN", "zh", "en"]) or "zh_CN"


def _configure(app: Flask, config) -> None:
    app.config.from_object(Config)
    if config is not None:
        if isinstance(config, dict):
            app.config.update(config)
        else:
            app.config.from_object(config)
    app.config.from_prefixed_env("DEALERFLOW")
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql://"):
        app.config["SQLALCHEMY_DATABASE_URI"] = app.config["SQLALCHEMY_DATABASE_URI"].replace(
            "postgresql://", "postgresql+psycopg://", 1)
    if not app.config.get("SECRET_KEY"):
        if not (app.debug or app.testing or os.environ.get("DEALERFLOW_DEV") == "1"
                or app.config["DATABASE_URL"].startswith("sqlite")):
            raise RuntimeError("DEALERFLOW_SECRET_KEY must be set in production")
        app.config["SECRET_KEY"] = load_secret_key(app.instance_path)
    os.makedirs(app.instance_path, exist_ok=True)


def create_app(config=None) -> Flask:
    from app.core.web import DealerflowFlask

    app = DealerflowFlask(__name__, instance_path=os.environ.get("DEALERFLOW_INSTANCE_PATH"))
    _configure(app, config)
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("spiff").setLevel(app.config["ENGINE_LOG_LEVEL"])

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "..", "migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "core.login"
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)

    from app import models  # noqa: F401  (register every model)
    from app.core import web

    web.install(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            web.tune_sqlite(db.engine, app.config["SQLITE_SYNCHRONOUS"],
                           float(app.config["SQLITE_CHECKPOINT_SECONDS"]))
        from app.engine.runtime import configure_script_engine
        from app.tasks.approvers import register as register_approver_helpers

        register_approver_helpers()
        configure_script_engine(app.config["SCRIPT_TIMEOUT_SECONDS"])

    _register_connectors()
    _register_blueprints(app)
    from flask_babel import get_locale

    app.jinja_env.globals["current_locale"] = lambda: str(get_locale() or "zh_CN")
    from app.core.i18n import translate

    # A stored English service message (an incident's error) in the page's language.
    app.jinja_env.filters["service_message"] = translate
    from app.cli import register_cli

    register_cli(app)
    from app.forms.setup import init_forms

    init_forms(app)
    return app


def _register_connectors() -> None:
    import app.dealers.operations  # noqa: F401  (dealers.archive)
    import app.erp.operations  # noqa: F401  (the erp.* operations)
    import app.notify.operations  # noqa: F401  (notify.*, sms.send, esign.send_contract)
    import app.orders.operations  # noqa: F401  (orders.*)
    import app.payments.operations  # noqa: F401  (bank.create_payment_request)
    import app.pricing.operations  # noqa: F401  (pricing.*, the price-import job)
    import app.promotions.operations  # noqa: F401  (promotions.apply_decision)
    import app.stores.operations  # noqa: F401  (the stores.* operations)
    import app.tasks.timeouts  # noqa: F401  (tasks.check_timeouts)
    import connectors.builtin  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from flask_smorest import Api

    from app.admin.views import bp as admin_views
    from app.announcements.api import blp as announcements_api
    from app.announcements.views import bp as announcements_views
    from app.audit.api import blp as audit_api
    from app.catalog.api import blp as catalog_api
    from app.catalog.views import bp as catalog_views
    from app.core.api import blp as core_api
    from app.core.views import bp as core_views
    from app.dealers.api import blp as dealers_api
    from app.dealers.views import bp as dealers_views
    from app.engine.api import blp as engine_api
    from app.erp.api import blp as erp_api
    from app.files.api import blp as files_api
    from app.jobs.api import blp as jobs_api
    from app.notify.api import blp as notify_api
    from app.notify.views import bp as notify_views
    from app.orders.api import blp as orders_api
    from app.payments.api import blp as payments_api
    from app.pricing.api import blp as pricing_api
    from app.promotions.api import blp as promotions_api
    from app.stores.api import blp as stores_api
    from app.tasks.api import blp as tasks_api
    from app.tasks.views import bp as tasks_views

    api = Api(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}}, "security": [{"bearer": []}]})
    for blp in (core_api, engine_api, tasks_api, audit_api, jobs_api, dealers_api, files_api,
                erp_api, catalog_api, promotions_api, orders_api, notify_api,
                stores_api, payments_api, announcements_api, pricing_api):
        api.register_blueprint(blp, url_prefix="/api/v1")
        csrf.exempt(blp)
    from app.files.views import bp as files_views
    from app.modeler.views import bp as modeler_views
    from app.portal.views import bp as portal_views
    from app.pricing.views import bp as pricing_views
    from app.stores.views import bp as stores_views
    for bp in (core_views, tasks_views, dealers_views, admin_views, files_views, catalog_views,
               notify_views, stores_views, portal_views, announcements_views, pricing_views,
               modeler_views):
        app.register_blueprint(bp)
    from app.core import web

    web.install_late(app)
