"""Named field validators (``validator: uscc`` in a form YAML) and translatable messages.

A named validator is a function ``clean(value: str) -> str``: it returns the normalised
value (e.g. a phone number without spaces or ``+86``) or raises
``marshmallow.ValidationError`` with a lazy, translatable message.

Messages are built with :func:`lazy_text` (extract them with ``pybabel extract -k _l``):
the translation happens when the message is turned into ``str``, i.e. in the locale of
the current request, and falls back to the English msgid outside an app context or when
Flask-Babel is not initialised.
"""

import re
from collections.abc import Callable

from flask_babel import LazyString, gettext
from marshmallow import ValidationError


def _gettext_safe(msgid: str, **params) -> str:
    try:
        return gettext(msgid, **params)
    except (KeyError, RuntimeError):  # no Babel on this app / no app context
        return msgid % params if params else msgid


def lazy_text(msgid: str, **params) -> LazyString:
    """A message translated when rendered; ``%(name)s`` placeholders take ``params``."""
    return LazyString(_gettext_safe, msgid, **params)


_l = lazy_text


def text(msgid: str, **params) -> str:
    """Translate now (current locale) with the same fallback as :func:`lazy_text`."""
    return _gettext_safe(msgid, **params)


def _fail(message) -> ValidationError:
    return ValidationError([message])


# --- 统一社会信用代码 (GB 32100-2015) ---------------------------------------------

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 chars: no I, O, Z, S, V
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Registration authorities accepted for dealers: 1 机构编制, 5 民政, 9 市场监管(工商), Y 其他.
USCC_AUTHORITIES = frozenset("159Y")
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def uscc_check_char(first17: str) -> str:
    """The 18th (check) character for the first 17 characters of a USCC."""
    if len(first17) != 17 or any(c not in USCC_CHARSET for c in first17):
        raise ValueError("first17 must be 17 characters from the USCC charset")
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    check = 31 - total % 31
    return USCC_CHARSET[0 if check == 31 else check]


def is_valid_uscc(value: str) -> bool:
    try:
        clean_uscc(value)
    except ValidationError:
        return False
    return True


def clean_uscc(value: str) -> str:
    code = re.sub(r"\s+", "", str(value)).upper()
    if len(code) != 18:
        raise _fail(_l("A unified social credit code has 18 characters."))
    if any(c not in USCC_CHARSET for c in code):
        raise _fail(_l("Invalid unified social credit code (invalid characters)."))
    if code[0] not in USCC_AUTHORITIES:
        raise _fail(_l("Invalid unified social credit code (registration authority)."))
    if not _USCC_SHAPE.match(code):
        raise _fail(_l("Invalid unified social credit code (region code)."))
    if uscc_check_char(code[:17]) != code[17]:
        raise _fail(_l("Invalid unified social credit code (check digit)."))
    return code


# --- Mainland mobile numbers and bank accounts --------------------------------------

_MOBILE_CN = re.compile(r"^1[3-9]\d{9}$")


def clean_mobile_cn(value: str) -> str:
    number = re.sub(r"[\s-]+", "", str(value))
    for prefix in ("+86", "0086"):
        if number.startswith(prefix):
            number = number[len(prefix):]
            break
    if not _MOBILE_CN.match(number):
        raise _fail(_l("Enter a valid mainland China mobile number (11 digits, starting with 1)."))
    return number


def clean_bank_account(value: str) -> str:
    number = re.sub(r"[\s-]+", "", str(value))
    if not number.isascii() or not number.isdigit() or not 8 <= len(number) <= 30:
        raise _fail(_l("A bank account number has 8 to 30 digits."))
    return number


# --- Registry ---------------------------------------------------------------------

Cleaner = Callable[[str], str]

VALIDATORS: dict[str, Cleaner] = {
    "uscc": clean_uscc,
    "mobile_cn": clean_mobile_cn,
    "bank_account": clean_bank_account,
}


def register_validator(name: str, fn: Cleaner) -> None:
    """Add a named validator; register it before ``FormRegistry.load`` so YAML can use it."""
    VALIDATORS[name] = fn


def get_validator(name: str) -> Cleaner:
    try:
        return VALIDATORS[name]
    except KeyError:
        raise LookupError(f"unknown validator {name!r}") from None
