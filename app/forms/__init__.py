"""Form definitions (YAML) → validation (marshmallow) → rendering (Jinja macros).

Public API::

    registry = FormRegistry.load(app.config["FORMS_DIR"])
    form = registry.get("dealer_admission")
    data = parse_form_post(form, request.form, request.files, save_file=...)   # HTML only
    clean = validate_submission(form, data, file_exists=..., task_id=...)      # HTML and API
    store(to_json_safe(clean))

Templates use ``{% from "forms/macros.html" import render_form, render_readonly %}``;
the macros need the Jinja global ``options_for`` (see :func:`install_jinja_globals`).
"""

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal

from app.core.errors import ValidationFailed
from app.forms.definitions import (
    FIELD_TYPES,
    FieldDef,
    FormDef,
    FormDefinitionError,
    FormRegistry,
    option_label,
    options_for,
    parse_form,
    pick_text,
    register_option_source,
)
from app.forms.validation import (
    FORM_ERROR_KEY,
    MAX_TABLE_ROWS,
    flatten_errors,
    schema_for,
    validate_submission,
)
from app.forms.validators import (
    is_valid_uscc,
    lazy_text,
    register_validator,
    uscc_check_char,
)

__all__ = [
    "FIELD_TYPES", "FORM_ERROR_KEY", "FieldDef", "FormDef", "FormDefinitionError",
    "FormRegistry", "MAX_TABLE_ROWS", "flatten_errors", "init_app", "install_jinja_globals",
    "is_valid_uscc", "lazy_text", "option_label", "options_for", "parse_form",
    "parse_form_post", "pick_text", "register_option_source", "register_validator",
    "schema_for", "to_json_safe", "uscc_check_char", "validate_submission",
]

SaveFile = Callable[[object, FieldDef], int]


def install_jinja_globals(env) -> None:
    """Register the globals ``forms/macros.html`` needs on a Jinja environment."""
    env.globals["options_for"] = options_for


def init_app(app) -> None:
    """Flask hook: install the Jinja globals on ``app.jinja_env``."""
    install_jinja_globals(app.jinja_env)


def to_json_safe(value):
    """Decimal → str, date/datetime → ISO str, recursively through dicts/lists/tuples."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_safe(v) for v in value]
    return value


# --- HTML posts -----------------------------------------------------------------------

class _Post:
    """Reads one HTML post; uploads go through ``save_file``; upload errors are collected."""

    def __init__(self, form_data, files, save_file: SaveFile | None):
        self.form_data = form_data
        self.files = files or {}
        self.save_file = save_file
        self.errors: dict[str, list[str]] = {}

    def has(self, name: str) -> bool:
        return name in self.form_data

    def getlist(self, name: str) -> list:
        getlist = getattr(self.form_data, "getlist", None)
        if getlist is not None:
            return getlist(name)
        value = self.form_data.get(name)
        return [] if value is None else value if isinstance(value, list) else [value]

    def value(self, fd: FieldDef, name: str, path: str, out: dict, key: str) -> None:
        """Put the posted value of field ``fd`` (input name ``name``) into ``out[key]``."""
        if fd.type == "multiselect":
            out[key] = self.getlist(name)
        elif fd.type == "file":
            self.file(fd, name, path, out, key)
        elif fd.type == "table":
            out[key] = self.rows(fd, name, path)
        elif self.has(name):
            out[key] = self.form_data.get(name)

    def file(self, fd: FieldDef, name: str, path: str, out: dict, key: str) -> None:
        upload = self.files.get(name)
        if upload is not None and getattr(upload, "filename", None):
            if self.save_file is None:
                raise ValueError(f"{path}: a file was uploaded but no save_file was given")
            try:
                out[key] = self.save_file(upload, fd)
            except ValidationFailed as exc:
                msgs = [m for v in exc.errors.values() for m in v]
                self.errors[path] = msgs or [exc.message]
        elif self.has(name):
            out[key] = self.form_data.get(name)  # hidden input: the attachment already there

    def rows(self, fd: FieldDef, name: str, path: str) -> list[dict]:
        pattern = re.compile(rf"^{re.escape(name)}-(\d{{1,4}})-[a-z][a-z0-9_]*$")
        keys = list(self.form_data) + list(self.files)
        indexes = sorted({int(m.group(1)) for k in keys if (m := pattern.match(k))})
        rows = []
        for index in indexes[:MAX_TABLE_ROWS + 1]:
            row: dict = {}
            for col in fd.columns:
                self.value(col, f"{name}-{index}-{col.name}",
                           f"{path}.{len(rows)}.{col.name}", row, col.name)
            if any(v not in (None, "", []) for v in row.values()):
                rows.append(row)  # blank rows (e.g. an unused template row) are dropped
        return rows


def parse_form_post(form: FormDef, form_data, files=None, *,
                    save_file: SaveFile | None = None, task_id: str | None = None) -> dict:
    """Turn an HTML post into the dict ``validate_submission`` expects.

    ``form_data``: ``request.form`` (a MultiDict; a plain dict works too);
    ``files``: ``request.files``. Table cells are posted as ``<table>-<i>-<column>`` and
    re-numbered 0, 1, … in posted order (gaps left by removed rows disappear, blank rows
    are dropped). Multiselects use ``getlist``. A file field takes an uploaded file
    (``save_file(file_storage, field) -> attachment id``) or else the hidden input of the
    same name holding the id of the file already attached. Fields read-only at
    ``task_id`` are skipped. Upload errors raise ``ValidationFailed`` keyed by the field
    path; its ``values`` attribute holds everything parsed so the form can be re-shown.
    """
    readonly = form.readonly_for(task_id)
    post = _Post(form_data, files, save_file)
    data: dict = {}
    for fd in form.fields:
        if fd.name not in readonly:
            post.value(fd, fd.name, fd.name, data, fd.name)
    if post.errors:
        exc = ValidationFailed(post.errors)
        exc.values = data
        raise exc
    return data
