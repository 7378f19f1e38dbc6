"""Flask extensions, created once and bound in create_app()."""

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Blueprint as SmorestBlueprint
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from marshmallow import Schema
from marshmallow import missing as ma_missing
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase
from webargs.flaskparser import FlaskParser
from webargs.multidictproxy import MultiDictProxy

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


class _ArgsProxy(MultiDictProxy):
    """A query-string/form proxy that answers an absent key without an exception.

    werkzeug's ``MultiDict.get`` builds and catches a ``BadRequestKeyError`` for every key
    it lacks, and webargs asks for each of a schema's fields: an inbox query with one
    parameter paid for fifteen HTTP exception objects.
    """

    _multiple_by_schema: dict[int, set[str]] = {}

    def __init__(self, multidict, schema, known_multi_fields=()):
        self.data = multidict
        self.known_multi_fields = known_multi_fields
        keys = self._multiple_by_schema.get(id(schema))
        if keys is None:
            keys = self._collect_multiple_keys(schema)
            if getattr(schema, "_dealerflow_shared", False):  # built once, kept for good
                self._multiple_by_schema[id(schema)] = keys
        self.multiple_keys = keys

    def __getitem__(self, key):
        if key not in self.data:
            return ma_missing
        return super().__getitem__(key)


class SchemaReusingParser(FlaskParser):
    """webargs' Flask parser, with one instance per argument schema class.

    webargs instantiates a schema class on every request; marshmallow schemas hold no
    per-load state, so the API's argument schemas are built once.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._instances: dict[type, Schema] = {}

    def _makeproxy(self, multidict, schema, *, cls=MultiDictProxy):
        if cls is MultiDictProxy:
            cls = _ArgsProxy
        return cls(multidict, schema, known_multi_fields=tuple(self.KNOWN_MULTI_FIELDS))

    def _get_schema(self, argmap, req):
        if isinstance(argmap, type) and issubclass(argmap, Schema):
            schema = self._instances.get(argmap)
            if schema is None:
                schema = self._instances[argmap] = argmap()
                schema._dealerflow_shared = True
            return schema
        return super()._get_schema(argmap, req)


# Set before any blueprint module decorates its views (they read it at import time).
SmorestBlueprint.ARGUMENTS_PARSER = SchemaReusingParser()
