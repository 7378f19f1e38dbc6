"""Validate submissions against a ``FormDef`` and turn HTML posts into submissions.

``validate_submission`` builds (once per form) a marshmallow schema from the definition
and loads the data with it; every error comes back as ``ValidationFailed`` (HTTP 422)
with a flat ``{field path: [message, ...]}`` dict (table cells: ``addresses.0.address``).
"""

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validates_schema

from app.core.errors import ValidationFailed
from app.forms.definitions import FieldDef, FormDef, options_for
from app.forms.validators import get_validator
from app.forms.validators import lazy_text as _l

MAX_TABLE_ROWS = 500  # hard cap when a table has no max_rows
FORM_ERROR_KEY = "_form"  # errors that belong to no single field

REQUIRED = _l("This field is required.")


def _fail(message) -> ValidationError:
    return ValidationError([message])


# --- Field classes: marshmallow fields with our own (translatable) messages --------

class _Messages:
    invalid = _l("Invalid value.")

    def make_error(self, key: str, **kwargs) -> ValidationError:
        return _fail(REQUIRED if key in ("required", "null") else self.invalid)


class _Text(_Messages, fields.Field):
    def __init__(self, cleaner: Callable[[str], str] | None = None, **kwargs):
        self.cleaner = cleaner
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
            raise self.make_error("invalid")
        text = str(value).strip()
        return self.cleaner(text) if self.cleaner else text


class _Int(_Messages, fields.Field):
    invalid = _l("Enter a whole number.")

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,18}", value.strip()):
            return int(value)
        if isinstance(value, (float, Decimal)):
            try:
                whole = int(value)
            except (ValueError, ArithmeticError):
                raise self.make_error("invalid") from None
            if whole == value and abs(whole) < 10**18:
                return whole
        raise self.make_error("invalid")


_DECIMAL_RE = re.compile(r"[+-]?(\d{1,28}(\.\d{0,12})?|\.\d{1,12})")
_GROUPED_RE = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")


class _Dec(_Messages, fields.Field):
    invalid = _l("Enter a number.")

    def __init__(self, places: int | None = None, **kwargs):
        self.places = places
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
            raise self.make_error("invalid")
        text = str(value).strip()
        if _GROUPED_RE.fullmatch(text):
            text = text.replace(",", "")  # 1,000,000.00
        if not _DECIMAL_RE.fullmatch(text):
            raise self.make_error("invalid")
        number = Decimal(text)
        if self.places is None:
            return number
        try:
            return number.quantize(Decimal(1).scaleb(-self.places), rounding=ROUND_HALF_UP)
        except InvalidOperation:
            raise self.make_error("invalid") from None


class _Date(_Messages, fields.Field):
    invalid = _l("Enter a valid date (YYYY-MM-DD).")

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise self.make_error("invalid")


class _Multi(_Messages, fields.Field):
    invalid = _l("Select one or more of the options.")

    def _deserialize(self, value, attr, data, **kwargs) -> list[str]:
        items = [value] if isinstance(value, (str, int)) else value
        if not isinstance(items, (list, tuple)) or \
                any(isinstance(i, bool) or not isinstance(i, (str, int)) for i in items):
            raise self.make_error("invalid")
        return list(dict.fromkeys(str(i).strip() for i in items))


class _FileRef(_Messages, fields.Field):
    invalid = _l("Invalid file reference.")

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        if isinstance(value, str) and re.fullmatch(r"[1-9]\d{0,17}", value.strip()):
            return int(value)
        raise self.make_error("invalid")


class _Table(_Messages, fields.List):
    invalid = _l("Expected a list of rows.")

    def __init__(self, fd: FieldDef, inner, **kwargs):
        self.min_rows = fd.min_rows or 0
        super().__init__(inner, **kwargs)

    def make_error(self, key: str, **kwargs) -> ValidationError:
        if key in ("required", "null") and self.min_rows:
            return _fail(_l("Add at least %(n)s row(s).", n=self.min_rows))
        return super().make_error(key, **kwargs)


class _Row(_Messages, fields.Nested):
    invalid = _l("Each row must be an object.")

    def make_error(self, key: str, **kwargs) -> ValidationError:
        return _fail(self.invalid)


# --- Validators (run on deserialized, non-empty values) ----------------------------

def _length_validator(fd: FieldDef):
    def check(value: str) -> None:
        if fd.min_length is not None and len(value) < fd.min_length:
            raise _fail(_l("Enter at least %(n)s characters.", n=fd.min_length))
        if fd.max_length is not None and len(value) > fd.max_length:
            raise _fail(_l("Enter at most %(n)s characters.", n=fd.max_length))
    return check


def _pattern_validator(fd: FieldDef):
    def check(value: str) -> None:
        if not fd.regex.fullmatch(value):
            raise _fail(_l("Invalid format."))
    return check


def _range_validator(fd: FieldDef):
    def check(value) -> None:
        if fd.min is not None and value < fd.min:
            raise _fail(_l("Must be at least %(min)s.", min=fd.min))
        if fd.max is not None and value > fd.max:
            raise _fail(_l("Must be at most %(max)s.", max=fd.max))
    return check


def _choice_validator(fd: FieldDef):
    def check(value) -> None:  # options are looked up now: sources may change
        allowed = {v for v, _label in options_for(fd, "en")}
        chosen = value if isinstance(value, list) else [value]
        if any(v not in allowed for v in chosen):
            raise _fail(_l("Select a valid option."))
    return check


def _rows_validator(fd: FieldDef):
    most = fd.max_rows if fd.max_rows is not None else MAX_TABLE_ROWS

    def check(rows: list) -> None:
        if fd.min_rows and len(rows) < fd.min_rows:
            raise _fail(_l("Add at least %(n)s row(s).", n=fd.min_rows))
        if len(rows) > most:
            raise _fail(_l("Enter at most %(n)s rows.", n=most))
    return check


def _validators_for(fd: FieldDef) -> list:
    checks = []
    if fd.type in ("string", "text"):
        checks.append(_length_validator(fd))
        if fd.pattern:
            checks.append(_pattern_validator(fd))
    if fd.type in ("int", "decimal", "date") and (fd.min is not None or fd.max is not None):
        checks.append(_range_validator(fd))
    if fd.type in ("select", "multiselect"):
        checks.append(_choice_validator(fd))
    if fd.type == "table":
        checks.append(_rows_validator(fd))
    return checks


# --- Schema building ----------------------------------------------------------------

class _FormSchema(Schema):
    error_messages = {"type": _l("Invalid input type."), "unknown": _l("Unknown field.")}
    df_fields: tuple[FieldDef, ...] = ()

    class Meta:
        unknown = EXCLUDE
        register = False

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _check_required_if(self, data, original_data, **kwargs):
        if not isinstance(original_data, Mapping):
            return
        partial = kwargs.get("partial")
        errors = {}
        for fd in self.df_fields:
            if not fd.required_if or partial is True or (partial and fd.name in partial):
                continue
            if _condition_met(fd.required_if, data) and _blank(data.get(fd.name)) \
                    and _blank(original_data.get(fd.name)):
                errors[fd.name] = [REQUIRED]
        if errors:
            raise ValidationError(errors)


def _condition_met(condition: dict[str, list[str]], data: Mapping) -> bool:
    for name, wanted in condition.items():
        value = data.get(name)
        values = value if isinstance(value, list) else [] if value is None else [value]
        if not any(str(v) in wanted for v in values):
            return False
    return True


def _blank(value) -> bool:
    return value is None or value == "" or value == []


def _build_field(fd: FieldDef) -> fields.Field:
    required = fd.required or (fd.type == "table" and bool(fd.min_rows))
    kw = {"required": required, "allow_none": not required, "validate": _validators_for(fd)}
    if fd.type in ("string", "text", "select"):
        cleaner = get_validator(fd.validator) if fd.validator else None
        return _Text(cleaner=cleaner, **kw)
    if fd.type == "table":
        row = _Row(_schema_class(fd.columns, fd.name), unknown=EXCLUDE)
        return _Table(fd, row, **kw)
    simple = {"int": _Int, "date": _Date, "multiselect": _Multi, "file": _FileRef}
    if fd.type == "decimal":
        return _Dec(places=fd.places, **kw)
    return simple[fd.type](**kw)


def _schema_class(fds: list[FieldDef], name: str) -> type[Schema]:
    attrs = {fd.name: _build_field(fd) for fd in fds}
    attrs["df_fields"] = tuple(fds)
    return type(f"{name.title().replace('_', '')}Schema", (_FormSchema,), attrs)


_SCHEMAS: dict[str, tuple[FormDef, Schema]] = {}


def schema_for(form: FormDef) -> Schema:
    """The cached marshmallow schema of a form (rebuilt if the definition object changed)."""
    cached = _SCHEMAS.get(form.key)
    if cached is None or cached[0] is not form:
        cached = (form, _schema_class(form.fields, form.key)())
        _SCHEMAS[form.key] = cached
    return cached[1]


# --- Validation ---------------------------------------------------------------------

def _normalize(fds: list[FieldDef], data: Mapping) -> dict:
    """Known keys only; strings stripped; empty strings and lists become None."""
    out = {}
    for fd in fds:
        if fd.name in data:
            out[fd.name] = _normalize_value(fd, data[fd.name])
    return out


def _normalize_value(fd: FieldDef, value):
    if isinstance(value, str):
        value = value.strip()
    elif fd.type == "multiselect" and isinstance(value, (list, tuple)):
        value = [v for v in (x.strip() if isinstance(x, str) else x for x in value) if v != ""]
    elif fd.type == "table" and isinstance(value, (list, tuple)):
        return [_normalize(fd.columns, r) if isinstance(r, Mapping) else r for r in value]
    return None if value == "" or value == [] else value


def flatten_errors(messages, prefix: str = "", out: dict | None = None) -> dict:
    """marshmallow's nested errors → ``{'a': [...], 'rows.0.col': [...]}`` of plain str."""
    out = {} if out is None else out
    if isinstance(messages, dict):
        for key, value in messages.items():
            part = "" if key == "_schema" else str(key)
            path = f"{prefix}.{part}" if prefix and part else prefix or part
            flatten_errors(value, path, out)
        return out
    items = messages if isinstance(messages, list) else [messages]
    bucket = out.setdefault(prefix or FORM_ERROR_KEY, [])
    for item in items:
        if isinstance(item, dict):
            flatten_errors(item, prefix, out)
        elif str(item) not in bucket:
            bucket.append(str(item))
    return out


def _check_files(fds: list[FieldDef], data: Mapping, file_exists, prefix: str = "") -> dict:
    errors: dict[str, list[str]] = {}
    for fd in fds:
        value = data.get(fd.name)
        if fd.type == "file" and isinstance(value, int) and not file_exists(value):
            errors[f"{prefix}{fd.name}"] = [str(_l("File not found; upload it again."))]
        elif fd.type == "table" and isinstance(value, list):
            for i, row in enumerate(value):
                if isinstance(row, Mapping):
                    errors.update(_check_files(fd.columns, row, file_exists,
                                               f"{prefix}{fd.name}.{i}."))
    return errors


def _partial(partial_fields, readonly: frozenset[str]):
    if partial_fields is True:
        return True
    names = set(readonly) | set(partial_fields or ())
    return tuple(sorted(names)) if names else None


def validate_submission(form: FormDef, data: Mapping, *,
                        partial_fields: bool | Iterable[str] | None = None,
                        file_exists: Callable[[int], bool] | None = None,
                        task_id: str | None = None) -> dict:
    """Validate ``data`` against ``form`` and return the cleaned values.

    ``partial_fields``: ``True`` (draft: nothing is required) or names that may be missing.
    ``file_exists(id)``: checks referenced attachments (skipped when ``None``).
    ``task_id``: the BPMN task; fields read-only there are dropped from the input.
    Only keys present in ``data`` come back (missing optional fields are absent).
    Raises ``ValidationFailed`` with ``{field path: [messages]}``.
    """
    if not isinstance(data, Mapping):
        raise ValidationFailed({FORM_ERROR_KEY: [str(_l("Expected an object."))]})
    readonly = form.readonly_for(task_id)
    raw = _normalize([fd for fd in form.fields if fd.name not in readonly], data)
    errors: dict[str, list[str]] = {}
    try:
        result = schema_for(form).load(raw, partial=_partial(partial_fields, readonly))
    except ValidationError as exc:
        errors = flatten_errors(exc.messages)
        result = exc.valid_data if isinstance(exc.valid_data, dict) else {}
    if file_exists is not None:
        for key, msgs in _check_files(form.fields, result, file_exists).items():
            errors.setdefault(key, msgs)
    if errors:
        raise ValidationFailed(errors)
    return _finish(form.fields, result)


def _finish(fds: list[FieldDef], result: dict) -> dict:
    out = {}
    for fd in fds:
        if fd.name in result:
            value = result[fd.name]
            if value is None and fd.type in ("multiselect", "table"):
                value = []
            elif fd.type == "table":
                value = [_finish(fd.columns, row) if isinstance(row, dict) else row
                         for row in value]
            out[fd.name] = value
    return out

