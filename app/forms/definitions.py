"""Form definitions: one YAML file per form, parsed into ``FormDef`` / ``FieldDef``.

A definition is checked strictly when it is loaded (unknown types, unknown keys, bad
references) so that typos fail at start-up, not when a dealer submits the form.
Options are either static (in the YAML) or come from a named source registered with
:func:`register_option_source` and looked up when a form is validated or rendered.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path

import yaml

from app.forms.validators import VALIDATORS

FIELD_TYPES = frozenset(
    {"string", "text", "int", "decimal", "date", "select", "multiselect", "file", "table"})
CHOICE_TYPES = frozenset({"select", "multiselect"})
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_FIELD_KEYS = frozenset({
    "name", "type", "label", "required", "required_if", "min", "max", "min_length",
    "max_length", "pattern", "options", "options_source", "columns", "help", "default",
    "validator", "accept", "max_bytes", "min_rows", "max_rows", "places"})
_FORM_KEYS = frozenset({"key", "title", "fields", "readonly_at", "description"})


class FormDefinitionError(Exception):
    """A form YAML file is malformed; ``file`` names it, ``message`` says what is wrong."""

    def __init__(self, file, message: str):
        super().__init__(f"{file}: {message}")
        self.file = str(file)
        self.message = message


def pick_text(texts: dict | None, locale: str | None) -> str:
    """The zh or en text of a ``{'zh': ..., 'en': ...}`` dict, falling back to the other."""
    if not texts:
        return ""
    first, second = ("zh", "en") if (locale or "").lower().startswith("zh") else ("en", "zh")
    return texts.get(first) or texts.get(second) or ""


@dataclass
class FieldDef:
    name: str
    type: str
    label: dict = field(default_factory=dict)
    required: bool = False
    required_if: dict[str, list[str]] | None = None
    min: object = None
    max: object = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    options: list[tuple[str, dict]] | None = None
    options_source: str | None = None
    columns: list["FieldDef"] = field(default_factory=list)
    help: dict = field(default_factory=dict)
    default: object = None
    validator: str | None = None
    accept: list[str] = field(default_factory=list)
    max_bytes: int | None = None
    min_rows: int | None = None
    max_rows: int | None = None
    places: int | None = None

    def label_for(self, locale: str | None) -> str:
        return pick_text(self.label, locale) or self.name

    def help_for(self, locale: str | None) -> str:
        return pick_text(self.help, locale)

    @cached_property
    def regex(self) -> re.Pattern | None:
        return re.compile(self.pattern) if self.pattern else None


@dataclass
class FormDef:
    key: str
    title: dict
    fields: list[FieldDef]
    readonly_at: dict[str, list[str]] = field(default_factory=dict)
    description: dict = field(default_factory=dict)
    source: str = ""

    def title_for(self, locale: str | None) -> str:
        return pick_text(self.title, locale) or self.key

    def get_field(self, name: str) -> FieldDef:
        for fd in self.fields:
            if fd.name == name:
                return fd
        raise KeyError(name)

    @property
    def field_names(self) -> list[str]:
        return [fd.name for fd in self.fields]

    def readonly_for(self, task_id: str | None) -> frozenset[str]:
        """Names of the fields that are read-only (ignored on input) at a BPMN task."""
        return frozenset(self.readonly_at.get(task_id, ())) if task_id else frozenset()


# --- Option sources -----------------------------------------------------------------

OptionSource = Callable[[str | None], list[tuple[object, str]]]
_OPTION_SOURCES: dict[str, OptionSource] = {}


def register_option_source(name: str, fn: OptionSource) -> None:
    """Register ``fn(locale) -> [(value, label), ...]`` under ``name`` (replaces any old one)."""
    _OPTION_SOURCES[name] = fn


def options_for(fd: FieldDef, locale: str | None = None) -> list[tuple[str, str]]:
    """``[(value, label)]`` for a select/multiselect field; values are always ``str``."""
    if fd.options_source:
        try:
            source = _OPTION_SOURCES[fd.options_source]
        except KeyError:
            raise LookupError(f"option source {fd.options_source!r} is not registered") from None
        return [(str(value), str(label)) for value, label in source(locale)]
    return [(value, pick_text(label, locale) or value) for value, label in fd.options or ()]


def option_label(fd: FieldDef, value, locale: str | None = None) -> str:
    """The label of one option value (the value itself when it is not an option)."""
    return dict(options_for(fd, locale)).get(str(value), str(value))


# --- Parsing ------------------------------------------------------------------------

class _Parser:
    def __init__(self, source: str):
        self.source = source

    def fail(self, message: str) -> FormDefinitionError:
        return FormDefinitionError(self.source, message)

    def texts(self, raw, what: str, *, required: bool = False) -> dict:
        if raw is None and not required:
            return {}
        if isinstance(raw, str):
            return {"zh": raw, "en": raw}
        if isinstance(raw, dict) and raw and set(raw) <= {"zh", "en"} \
                and all(isinstance(v, str) for v in raw.values()):
            return dict(raw)
        raise self.fail(f"{what}: expected a text or a {{zh: ..., en: ...}} mapping")

    def form(self, raw) -> FormDef:
        if not isinstance(raw, dict):
            raise self.fail("the file must contain a mapping")
        self.no_unknown(raw, _FORM_KEYS, "form")
        key = raw.get("key")
        if not isinstance(key, str) or not _NAME_RE.match(key):
            raise self.fail("key: required, lower-case letters, digits and underscores")
        raw_fields = raw.get("fields")
        if not isinstance(raw_fields, list) or not raw_fields:
            raise self.fail("fields: expected a non-empty list")
        fields = self.field_list(raw_fields, "fields", in_table=False)
        readonly = self.readonly(raw.get("readonly_at") or {}, {f.name for f in fields})
        return FormDef(key=key, title=self.texts(raw.get("title"), "title", required=True),
                       fields=fields, readonly_at=readonly, source=self.source,
                       description=self.texts(raw.get("description"), "description"))

    def no_unknown(self, raw: dict, allowed: frozenset, what: str) -> None:
        unknown = sorted(str(k) for k in set(raw) - allowed)
        if unknown:
            raise self.fail(f"{what}: unknown key(s) {', '.join(unknown)}")

    def field_list(self, raw_fields: list, where: str, *, in_table: bool) -> list[FieldDef]:
        fields = [self.field(raw, f"{where}[{i}]", in_table) for i, raw in enumerate(raw_fields)]
        names = [f.name for f in fields]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise self.fail(f"{where}: duplicate field name(s) {', '.join(dupes)}")
        for fd in fields:
            for other in fd.required_if or {}:
                if other not in names or other == fd.name:
                    raise self.fail(f"{fd.name}: required_if refers to unknown field {other!r}")
        return fields

    def readonly(self, raw, names: set[str]) -> dict[str, list[str]]:
        if not isinstance(raw, dict):
            raise self.fail("readonly_at: expected a mapping of task id to field names")
        result = {}
        for task, fields in raw.items():
            if not isinstance(fields, list) or not all(f in names for f in fields):
                raise self.fail(f"readonly_at.{task}: expected a list of this form's fields")
            result[str(task)] = list(fields)
        return result

    def field(self, raw, where: str, in_table: bool) -> FieldDef:
        if not isinstance(raw, dict):
            raise self.fail(f"{where}: expected a mapping")
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise self.fail(f"{where}: name must be lower-case letters, digits and underscores")
        where = f"field {name}"
        self.no_unknown(raw, _FIELD_KEYS, where)
        ftype = raw.get("type", "string")
        if ftype not in FIELD_TYPES:
            raise self.fail(f"{where}: unknown field type {ftype!r}")
        if in_table and ftype == "table":
            raise self.fail(f"{where}: tables cannot be nested")
        fd = FieldDef(name=name, type=ftype,
                      label=self.texts(raw.get("label"), f"{where}.label"),
                      help=self.texts(raw.get("help"), f"{where}.help"),
                      required=self.boolean(raw.get("required", False), f"{where}.required"),
                      required_if=self.required_if(raw.get("required_if"), where),
                      default=raw.get("default"))
        self.bounds(fd, raw, where)
        self.choices(fd, raw, where)
        self.extras(fd, raw, where)
        return fd

    def boolean(self, raw, where: str) -> bool:
        if not isinstance(raw, bool):
            raise self.fail(f"{where}: expected true or false")
        return raw

    def count(self, raw, where: str) -> int | None:
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            raise self.fail(f"{where}: expected a non-negative integer")
        return raw

    def required_if(self, raw, where: str) -> dict[str, list[str]] | None:
        if raw is None:
            return None
        if not isinstance(raw, dict) or not raw:
            raise self.fail(f"{where}.required_if: expected a mapping field -> value(s)")
        return {str(k): [str(x) for x in (v if isinstance(v, list) else [v])]
                for k, v in raw.items()}

    def bound(self, fd: FieldDef, raw, where: str):
        if raw is None:
            return None
        if fd.type not in ("int", "decimal", "date"):
            raise self.fail(f"{where}: min/max only apply to int, decimal and date fields")
        try:
            if fd.type == "date":
                return raw if isinstance(raw, date) else date.fromisoformat(str(raw))
            if fd.type == "int":
                return int(str(raw))
            value = Decimal(str(raw))
            if value.is_finite():
                return value
        except (ValueError, TypeError, InvalidOperation):
            pass
        raise self.fail(f"{where}: invalid bound {raw!r} for a {fd.type} field")

    def bounds(self, fd: FieldDef, raw: dict, where: str) -> None:
        fd.min = self.bound(fd, raw.get("min"), f"{where}.min")
        fd.max = self.bound(fd, raw.get("max"), f"{where}.max")
        for attr in ("min_length", "max_length", "min_rows", "max_rows", "places", "max_bytes"):
            setattr(fd, attr, self.count(raw.get(attr), f"{where}.{attr}"))
        if (fd.min_rows is not None or fd.max_rows is not None) and fd.type != "table":
            raise self.fail(f"{where}: min_rows/max_rows only apply to tables")
        if fd.places is not None and fd.type != "decimal":
            raise self.fail(f"{where}: places only applies to decimal fields")
        pattern = raw.get("pattern")
        if pattern is not None:
            try:
                re.compile(pattern)
            except (re.error, TypeError) as exc:
                raise self.fail(f"{where}.pattern: {exc}") from None
            fd.pattern = pattern

    def choices(self, fd: FieldDef, raw: dict, where: str) -> None:
        options, source = raw.get("options"), raw.get("options_source")
        if fd.type not in CHOICE_TYPES:
            if options is not None or source is not None:
                raise self.fail(f"{where}: options only apply to select/multiselect")
            return
        if (options is None) == (source is None):
            raise self.fail(f"{where}: give either options or options_source")
        if source is not None:
            if not isinstance(source, str) or not source:
                raise self.fail(f"{where}.options_source: expected a source name")
            fd.options_source = source
            return
        if not isinstance(options, list) or not options:
            raise self.fail(f"{where}.options: expected a non-empty list")
        fd.options = [self.option(o, f"{where}.options") for o in options]

    def option(self, raw, where: str) -> tuple[str, dict]:
        if isinstance(raw, (str, int)) and not isinstance(raw, bool):
            return str(raw), {}
        if isinstance(raw, dict) and "value" in raw and set(raw) <= {"value", "label"}:
            return str(raw["value"]), self.texts(raw.get("label"), where)
        raise self.fail(f"{where}: expected a value or {{value: ..., label: ...}}")

    def extras(self, fd: FieldDef, raw: dict, where: str) -> None:
        validator = raw.get("validator")
        if validator is not None:
            if validator not in VALIDATORS:
                raise self.fail(f"{where}: unknown validator {validator!r}")
            fd.validator = validator
        accept = raw.get("accept")
        if accept is not None:
            items = accept.split(",") if isinstance(accept, str) else accept
            if not isinstance(items, list) or not all(isinstance(a, str) for a in items):
                raise self.fail(f"{where}.accept: expected content types")
            fd.accept = [a.strip() for a in items if a.strip()]
        columns = raw.get("columns")
        if fd.type == "table":
            if not isinstance(columns, list) or not columns:
                raise self.fail(f"{where}.columns: a table needs a non-empty list of columns")
            fd.columns = self.field_list(columns, f"{where}.columns", in_table=True)
        elif columns is not None:
            raise self.fail(f"{where}: columns only apply to tables")


def parse_form(raw, source: str = "<form>") -> FormDef:
    """Build a ``FormDef`` from already-parsed YAML (raises ``FormDefinitionError``)."""
    return _Parser(source).form(raw)


class FormRegistry:
    """All form definitions of a directory, by key."""

    def __init__(self, forms: dict[str, FormDef] | None = None):
        self._forms = dict(forms or {})

    @classmethod
    def load(cls, directory) -> "FormRegistry":
        path = Path(directory)
        if not path.is_dir():
            raise FormDefinitionError(path, "form directory not found")
        forms: dict[str, FormDef] = {}
        for file in sorted(path.glob("*.yaml")):
            try:
                raw = yaml.safe_load(file.read_text(encoding="utf-8"))
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                raise FormDefinitionError(file, f"malformed YAML: {exc}") from None
            form = parse_form(raw, str(file))
            if form.key in forms:
                raise FormDefinitionError(file, f"duplicate form key {form.key!r} "
                                                f"(also in {forms[form.key].source})")
            forms[form.key] = form
        return cls(forms)

    def get(self, key: str) -> FormDef:
        return self._forms[key]

    def has(self, key: str) -> bool:
        return key in self._forms

    def keys(self) -> list[str]:
        return sorted(self._forms)

    def __contains__(self, key: str) -> bool:
        return self.has(key)
