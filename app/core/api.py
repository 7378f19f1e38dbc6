"""Auth token and health endpoints."""

from flask import jsonify
from flask_smorest import Blueprint
from sqlalchemy import literal, select

from app.core import sql
from app.core.auth import authenticate, issue_token
from app.core.schemas import TokenRequest, TokenResponse
from app.extensions import db

blp = Blueprint("auth", __name__, description="Authentication")


@blp.route("/auth/token", methods=["POST"])
@blp.arguments(TokenRequest)
@blp.response(200, TokenResponse)
def create_token(body):
    """Exchange username and password for a bearer token."""
    user = authenticate(body["username"], body["password"])
    raw, token = issue_token(user)
    return {"token": raw, "expires_at": token.expires_at, "username": user.username,
            "roles": user.roles}


_PING = sql.prepared(select(literal(1)))


def healthz():
    sql.execute(_PING)
    return jsonify(status="ok", database=db.engine.dialect.name)
