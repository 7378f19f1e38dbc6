"""Pages for dealers."""

from flask import Blueprint

bp = Blueprint("dealers", __name__)
