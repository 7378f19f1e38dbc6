"""Hot API responses without marshmallow's per-field machinery, same output as the schema.

``Dumper(SomeSchema)`` reads the schema's dump fields once and serialises an object (or a
dict row) the way ``SomeSchema().dump`` does: the same keys, the same skipped-when-absent
attributes, the same formatting. Plain values (ints, strings, booleans, datetimes, ``None``)
are written directly, Method fields call the schema's method as marshmallow does; anything
else — Decimals and floats that are not None, non-native values — goes through the field's
own ``serialize``. Schemas with pre/post-dump hooks are refused.

The schema stays the documented contract (``@blp.response`` keeps it); a view returns
``json_response(dumper.one(obj))`` and flask-smorest passes the ready response through.
"""

import datetime

from flask import current_app
from marshmallow import Schema, fields
from marshmallow.utils import missing

_MISSING = missing


def _kind(field: fields.Field) -> str:
    if type(field) is fields.Method and field.serialize_method_name \
            and field.dump_default is missing:
        return "method"
    if field.dump_default is not missing or not field._CHECK_ATTRIBUTE:
        return "field"
    if isinstance(field, fields.Decimal | fields.Float):
        return "number"  # None stays None; other values through the field
    if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
        nested = field.inner.nested
        if isinstance(nested, type) and issubclass(nested, Schema) and \
                field.inner.only is None and not field.inner.exclude and not field.inner.many:
            return "nested_list"
        return "field"
    if isinstance(field, fields.Boolean):
        return "bool"
    if isinstance(field, fields.Integer) and not field.as_string and not field.strict:
        return "int"
    if type(field) is fields.String:
        return "str"
    if type(field) is fields.DateTime and field.format in (None, "iso"):
        return "datetime"
    if type(field) is fields.Raw:
        return "raw"
    return "field"


class Dumper:
    """A schema's dump, compiled once."""

    def __init__(self, schema_cls: type[Schema]):
        schema = schema_cls()
        if any(schema._hooks.get(k) for k in schema._hooks):
            raise ValueError(f"{schema_cls.__name__} has dump hooks; use the schema itself")
        self.schema = schema
        self.plan = []
        for name, field in schema.dump_fields.items():
            attr = field.attribute or name
            if "." in attr:
                kind = "field"
            else:
                kind = _kind(field)
            key = field.data_key if field.data_key is not None else name
            inner = Dumper(field.inner.nested) if kind == "nested_list" else None
            if kind == "method":  # what Method._serialize calls: the schema's bound method
                inner = getattr(schema, field.serialize_method_name)
            self.plan.append((key, name, attr, kind, field, inner))

    def one(self, obj) -> dict:
        out = {}
        is_dict = isinstance(obj, dict)
        accessor = self.schema.get_attribute
        for key, name, attr, kind, field, inner in self.plan:
            if kind == "field":
                value = field.serialize(name, obj, accessor=accessor)
                if value is not _MISSING:
                    out[key] = value
                continue
            if kind == "method":
                value = inner(obj)
                if value is not _MISSING:
                    out[key] = value
                continue
            value = obj.get(attr, _MISSING) if is_dict else getattr(obj, attr, _MISSING)
            if value is _MISSING:
                continue
            if value is None:
                out[key] = None
            elif kind == "raw":
                out[key] = value
            elif kind == "nested_list":
                out[key] = [inner.one(v) for v in value]
            elif kind == "int" and type(value) is int:
                out[key] = value
            elif kind == "str" and type(value) is str:
                out[key] = value
            elif kind == "bool" and type(value) is bool:
                out[key] = value
            elif kind == "datetime" and type(value) is datetime.datetime:
                out[key] = value.isoformat()
            else:
                out[key] = field.serialize(name, obj, accessor=accessor)
        return out

    def many(self, objs) -> list[dict]:
        return [self.one(o) for o in objs]


def json_response(body, status: int = 200, headers: dict | None = None):
    """A ready JSON response (the app's encoder); flask-smorest returns it unchanged."""
    from app.core.web import dumps

    response = current_app.response_class(dumps(body), status=status,
                                          mimetype="application/json")
    if headers:
        response.headers.update(headers)
    return response
