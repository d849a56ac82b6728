"""The ways reading or writing an age file can fail, one class per kind of failure.

Why distinct classes: a caller (and the conformance suite) must tell a file that is not an
age file at all from one that is not addressed to us, one whose header was tampered with,
and one whose payload was cut or altered, without parsing messages. Every class derives
from ``AgeError`` so ``except AgeError`` catches them all. Messages never contain key
material or plaintext.
"""

from __future__ import annotations


class AgeError(Exception):
    """Base class of every age failure."""


class AgeFormatError(AgeError):
    """The header is not a well-formed age v1 header (or a stanza addressed to one of our
    identities is malformed, or the payload nonce is missing): the file is not a valid
    age file."""


class AgeMacError(AgeError):
    """A file key was unwrapped but the header MAC does not match: the header was altered."""


class AgeNoIdentityMatch(AgeError):
    """The header is well formed but none of the given identities unwraps any stanza."""


class AgePayloadError(AgeError):
    """The STREAM payload does not decrypt and authenticate all the way to its end:
    truncated, extended or altered ciphertext."""


class AgeArmorError(AgeError):
    """The ASCII armor (PEM) around an age file is malformed."""


class AgeKeyError(AgeError, ValueError):
    """A key string (recipient, identity, identity file) is malformed.

    Also a ``ValueError``, since it is raised while validating a value given by a caller.
    """


class MalformedRecipientError(AgeKeyError):
    """An ``age1…`` recipient string is malformed."""


class MalformedIdentityError(AgeKeyError):
    """An ``AGE-SECRET-KEY-1…`` identity string or an identity file is malformed."""
