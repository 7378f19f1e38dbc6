"""Every message the services raise at a user has a Simplified Chinese translation.

The raised messages are read from the source: the first argument (or ``message=``) of every
``AppError`` family or marshmallow ``ValidationError`` call, the ``{field: [messages]}`` a
``ValidationFailed`` gets (also when built up in a local variable first), and validators'
``error=``. A plain string must be a translated msgid that ``pybabel extract`` finds (else a
catalogue update drops it); an f-string must have the shape of a translated template of
``app.core.i18n`` (``{name}`` placeholders standing for its values).
"""

import ast
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from app.core import i18n, service_messages

ROOT = Path(__file__).resolve().parents[2]
ERRORS = {"AppError", "NotFound", "Forbidden", "Unauthorized", "Conflict", "ValidationFailed",
          "WorkflowError", "UrgeTooSoon", "BankUnavailable", "ValidationError"}


def _text(node) -> str | None:
    """A string literal as is; an f-string with each value as ``{}``; else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _texts(node) -> list[str]:
    found = _text(node)
    if found is not None:
        return [found]
    if isinstance(node, ast.Dict):
        return [t for value in node.values for t in _texts(value)]
    if isinstance(node, ast.List | ast.Tuple):
        return [t for item in node.elts for t in _texts(item)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # "a" + (f"b" if x else "")
        return _texts(node.left)
    return []


def _root(node) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _built_up(function, name: str) -> list[str]:
    """The messages put into the local ``name`` (``errors[k] = [...]``, ``.append(...)``)."""
    out = []
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and any(_root(t) == name for t in node.targets):
            out += _texts(node.value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in ("append", "extend", "setdefault") and \
                _root(node.func.value) == name:
            out += [t for arg in node.args for t in _texts(arg)]
    return out


def _called(node) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else \
        func.attr if isinstance(func, ast.Attribute) else None


def raised_messages() -> dict[str, str]:
    """{message: where} for every message the application raises at a user."""
    found = {}
    for path in sorted((ROOT / "app").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.FunctionDef):
                for call in ast.walk(node):
                    if isinstance(call, ast.Call) and _called(call) == "ValidationFailed" and \
                            call.args and isinstance(call.args[0], ast.Name):
                        for text in _built_up(node, call.args[0].id):
                            found.setdefault(text, where)
            if not isinstance(node, ast.Call):
                continue
            args = [k.value for k in node.keywords if k.arg == "error"]
            if _called(node) in ERRORS:
                args += node.args[:1] + [k.value for k in node.keywords if k.arg == "message"]
            for arg in args:
                for text in _texts(arg):
                    found.setdefault(text, where)
    return found


def _shape(template: str) -> str:
    return re.sub(r"\{\w+\}", "{}", template)


def _marked() -> set[str]:
    """The msgids ``pybabel extract`` finds in the Python sources (babel.cfg's keywords)."""
    keywords = {"_l": None, "_": None, "gettext": None, "lazy_gettext": None,
                "lazy_text": None}
    return {message for _, _, message, *_ in extract_from_dir(
        str(ROOT / "app"), method_map=[("**.py", "python")], keywords=keywords)
        if isinstance(message, str)}


def test_every_raised_message_has_a_chinese_translation():
    with (ROOT / "app/translations/zh/LC_MESSAGES/messages.po").open("rb") as po:
        translated = {m.id for m in read_po(po) if m.id and m.string and not m.fuzzy}
    templates = {_shape(t) for t in i18n.TEMPLATES + service_messages.TEMPLATES
                 if t in translated}
    marked = _marked()
    raised = raised_messages()
    assert len(raised) > 150  # the scan still finds the services' messages
    untranslated = sorted(f"{where}: {text!r}" for text, where in raised.items()
                          if not (text in translated and text in marked
                                  or "{}" in text and text in templates))
    assert untranslated == []


def test_templates_and_their_translations_have_the_same_placeholders():
    with (ROOT / "app/translations/zh/LC_MESSAGES/messages.po").open("rb") as po:
        catalogue = {m.id: m.string for m in read_po(po) if m.id}
    for template in i18n.TEMPLATES + service_messages.TEMPLATES:
        names = sorted(re.findall(r"\{(\w+)\}", template))
        assert sorted(re.findall(r"\{(\w+)\}", catalogue.get(template, ""))) == names, template


def test_each_template_translates_its_own_messages(app):
    """A message is read back with the template it came from, not a shorter one that also
    matches it (``Price change {number} is {status}`` vs ``… is {status}, not being written``)."""
    for template in i18n.TEMPLATES + service_messages.TEMPLATES:
        names = re.findall(r"\{(\w+)\}", template)
        message = template.format(**{name: f"v{i}" for i, name in enumerate(names)})
        with app.test_request_context(headers={"Accept-Language": "zh"}):
            shown = i18n.translate(message)
            expected = i18n._catalogue().gettext(template).format(
                **{name: f"v{i}" for i, name in enumerate(names)})
        assert shown == expected, template
