"""What a name may contain: display names, institution names and usernames.

A name is shown to other people as who said something, so it must look like what it is.
Bidi overrides and isolates (U+202A to U+202E, U+2066 to U+2069) reorder what is shown (a name
can seem to end in ".png" and end in ".exe"), zero-width characters (U+200B to U+200D,
U+2060, U+FEFF) make two different names look the same, and other control and format
characters break lines or hide text. So every character of Unicode category Cc (control),
Cf (format), Cs (surrogate), Co (private use), Zl or Zp (line and paragraph separators) is
refused, with the code point named. Names are NFC-normalised first, so that "é" typed as
one code point or as "e" plus a combining accent is the same name.
"""

from __future__ import annotations

import unicodedata

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError

from exchange.kernel.errors import BadRequest

REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}


def _refused_character(text: str) -> str | None:
    for char in text:
        if unicodedata.category(char) in REFUSED_CATEGORIES:
            return char
    return None


def clean_name(value: str, *, field: str) -> str:
    """`value` NFC-normalised without surrounding spaces, or `BadRequest` naming `field`
    and the first invisible or control character it holds."""
    normalised = unicodedata.normalize("NFC", value).strip(" ")
    char = _refused_character(normalised)
    if char is not None:
        name = unicodedata.name(char, "a control character")
        raise BadRequest(
            f"{field}: U+{ord(char):04X} ({name}) is not allowed in a name: it hides or "
            "reorders what others see.",
            field=field,
        )
    return normalised


def clean_username(value: str) -> str:
    """A username as Django stores it (NFKC, as `AbstractBaseUser.normalize_username`),
    with the same refusals as `clean_name`. Normalising before any lookup means that a
    full-width "olivia" (U+FF4F for the o) finds "olivia" rather than creating a second account."""
    return clean_name(AbstractBaseUser.normalize_username(value), field="username")


def visible_name_validator(value: str) -> None:
    """The same refusal as a Django field validator, so that forms outside the services
    (the Django admin) cannot store what the services refuse."""
    char = _refused_character(value)
    if char is not None:
        name = unicodedata.name(char, "a control character")
        raise ValidationError(
            f"U+{ord(char):04X} ({name}) is not allowed in a name: it hides or reorders "
            "what others see.",
            code="invisible_character",
        )
