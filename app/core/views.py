"""Login, logout, language switch, home and health pages."""

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.admin.services import set_locale
from app.core.api import healthz
from app.core.auth import authenticate
from app.core.errors import Unauthorized

bp = Blueprint("core", __name__)
bp.add_url_rule("/healthz", "healthz", healthz)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("core.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        try:
            user = authenticate(request.form.get("username", ""), request.form.get("password", ""))
        except Unauthorized:
            error = _("Wrong username or password")
        else:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("core/login.html", error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    return redirect(url_for("core.login"))


@bp.route("/locale", methods=["POST"])
def switch_locale():
    locale = request.form.get("locale", "zh_CN")
    session["locale"] = locale if locale in ("zh_CN", "en") else "zh_CN"
    if current_user.is_authenticated:
        set_locale(current_user, session["locale"])
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/")
@login_required
def home():
    if current_user.has_role("admin") and not current_user.has_role("regional_manager"):
        return redirect(url_for("tasks.inbox"))
    return redirect(url_for("tasks.inbox"))
