"""Service-side messages in the user's language.

Services, marshmallow schemas and connectors speak English: the audit trail, logs and worker
jobs keep English. During a request, ``AppError`` (so every 4xx the API or a page shows) and
the marshmallow errors a page catches are passed through :func:`translate_errors`, which
shows each message in the request's locale when the catalogue has it: verbatim, or as one of
``TEMPLATES`` (English with ``{name}`` placeholders, e.g. marshmallow's "Must be one of:
{choices}.") whose translation gets the same values. Field keys never change; a message the
catalogue does not know stays English.
"""

import re
from functools import lru_cache

from flask import has_request_context


def _l(text: str) -> str:
    """Mark an English message for the catalogue (extracted by pybabel; translated on show)."""
    return text


# marshmallow's own messages (fields, schemas, validators as they format them)
MARSHMALLOW = (
    _l("Missing data for required field."), _l("Field may not be null."), _l("Invalid value."),
    _l("Invalid type."), _l("Invalid input type."), _l("Unknown field."), _l("Invalid input."),
    _l("Not a valid list."), _l("Not a valid tuple."), _l("Not a valid string."),
    _l("Not a valid utf-8 string."), _l("Not a valid UUID."), _l("Not a valid number."),
    _l("Number too large."), _l("Not a valid integer."),
    _l("Special numeric values (nan or infinity) are not permitted."),
    _l("Not a valid boolean."), _l("Not a valid datetime."), _l("Not a valid date."),
    _l("Not a valid time."), _l("Not a valid period of time."), _l("Not a valid mapping type."),
    _l("Not a valid URL."), _l("Not a valid email address."),
    _l("String does not match expected pattern."),
)
TEMPLATES = (
    _l("Must be one of: {choices}."),
    _l("Must be greater than or equal to {min}."), _l("Must be greater than {min}."),
    _l("Must be less than or equal to {max}."), _l("Must be less than {max}."),
    _l("Must be greater than or equal to {min} and less than or equal to {max}."),
    _l("Must be greater than {min} and less than {max}."),
    _l("Must be greater than or equal to {min} and less than {max}."),
    _l("Must be greater than {min} and less than or equal to {max}."),
    _l("Shorter than minimum length {min}."), _l("Longer than maximum length {max}."),
    _l("Length must be between {min} and {max}."), _l("Length must be {equal}."),
    _l("Must be equal to {other}."),
    _l('"{input}" cannot be formatted as a date.'),
    _l('"{input}" cannot be formatted as a datetime.'),
    _l("One or more of the choices you made was not in: {choices}."),
    # our own services
    _l("Unknown dealer '{value}'"), _l("Task {id} not found"), _l("Instance {id} not found"),
    _l("Task {id} is already {status}"), _l("Process '{key}' is not deployed"),
    _l("You may not start '{key}'"), _l("Unknown user '{username}'"),
    _l("You already have a filter named '{name}'"), _l("Unknown attachment(s): {ids}"),
    _l("Product {id} not found"), _l("Order {id} not found"), _l("Dealer {id} not found"),
    _l("Store {id} not found"),
)
OWN = (
    _l("Validation failed"), _l("Unknown category"), _l("Unknown parent category"),
    _l("This category is inactive"), _l("Say why you return it"), _l("Say why you reject it"),
    _l("A comment is required at this step"), _l("Must be approve or reject"),
    _l("Give the filter a name"), _l("At most 60 characters"), _l("This code is taken"),
    _l("Not a date (YYYY-MM-DD) or date-time"), _l("Must not be below the minimum amount"),
    _l("You are not a candidate for this task"), _l("You cannot hand a task to yourself"),
    _l("Your role may not do this"), _l("Your role may not open this page"),
    _l("Your role may not edit categories"), _l("Category not found"), _l("Wrong username or password"),
    _l("The change conflicts with another one; try again"),
    _l("A category with this name already exists here"),
)


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[re.Pattern, str], ...]:
    from app.core.service_messages import TEMPLATES as SERVICE_TEMPLATES

    out = []
    # Most literal text first: a template that matches another's messages (``Price change
    # {number} is {status}`` those of ``... is {status}, not being written``) comes after it.
    for english in sorted(TEMPLATES + SERVICE_TEMPLATES,
                          key=lambda t: -len(re.sub(r"\{\w+\}", "", t))):
        parts = re.split(r"\{(\w+)\}", english)
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)"
                        for i, p in enumerate(parts))
        out.append((re.compile(regex, re.DOTALL), english))
    return tuple(out)


def _catalogue():
    """The request's translations when its locale is not English, else ``None``."""
    if not has_request_context():
        return None
    from flask_babel import get_locale, get_translations

    try:
        locale = get_locale()
    except (KeyError, RuntimeError):  # no Babel on this app
        return None
    if locale is None or locale.language == "en":
        return None
    return get_translations()


def _translate(text: str, catalogue) -> str:
    found = catalogue.gettext(text)
    if found != text:
        return found
    for regex, english in _patterns():
        match = regex.fullmatch(text)
        if match:
            translated = catalogue.gettext(english)
            return translated.format(**match.groupdict()) if translated != english else text
    return text


def translate(text):
    """``text`` in the request's language if the catalogue knows it (else unchanged)."""
    catalogue = _catalogue() if isinstance(text, str) else None
    return _translate(text, catalogue) if catalogue is not None else text


def translate_errors(errors):
    """Every message of a (nested) ``{field: [messages]}`` structure, keys unchanged."""
    catalogue = _catalogue()
    if catalogue is None:
        return errors

    def walk(value):
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [walk(item) for item in value]
        return _translate(value, catalogue) if isinstance(value, str) else value

    return walk(errors)
