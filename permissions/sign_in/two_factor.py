"""Who must sign in with a one-time code, and whether a session has entered one.

`two_factor_required` is the one rule; `session_state` applies it to a session. The
pages (permissions.sign_in.middleware), the JSON API (exchange.api's session authentication and
token issuing) and the WebSocket handshake (permissions.sign_in.ws_auth) all ask here, so the
three never disagree about a session that has only passed the password.

django-otp keeps the device a session was verified with under its own session key;
a session counts as verified only while that device still exists, is confirmed and
belongs to the session's user.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from django_otp import DEVICE_ID_SESSION_KEY, user_has_device
from django_otp.models import Device

from permissions.access import moderates_any_channel
from permissions.models import User


class SessionState(enum.Enum):
    VERIFIED = "verified"  # a code was entered in this session
    NOT_NEEDED = "not_needed"  # no device and not required: the password is enough
    NEEDS_CODE = "needs_code"  # the user has a device: the code step comes next
    NEEDS_ENROLMENT = "needs_enrolment"  # required, and no device yet

    @property
    def passes(self) -> bool:
        return self in (SessionState.VERIFIED, SessionState.NOT_NEEDED)


def two_factor_required(user: User) -> bool:
    """Whether `user` may not use Exchange with a password alone.

    Required of platform admins, focal points, moderators of any channel, and every user
    of an institution that asks for it. Anyone else may turn it on for themselves; once
    they have a device, their sessions need a code too (see `session_state`).
    """
    if user.is_staff or user.is_focal_point:
        return True
    institution = user.institution
    if institution is not None and institution.require_two_factor:
        return True
    return moderates_any_channel(user)


def uses_two_factor(user: User) -> bool:
    """Whether a code is asked of `user`: required of them, or a device of their own."""
    return user_has_device(user, confirmed=True) or two_factor_required(user)


def verified_device(user: User, session: Mapping[str, Any]) -> Device | None:
    """The confirmed device of `user` this session entered a code from, if any."""
    persistent_id = session.get(DEVICE_ID_SESSION_KEY)
    if not persistent_id:
        return None
    device = Device.from_persistent_id(persistent_id)
    if device is None or device.user_id != user.pk or not device.confirmed:
        return None
    return device


def session_state(user: User, session: Mapping[str, Any]) -> SessionState:
    """Where a signed-in session of `user` stands with the second factor."""
    if verified_device(user, session) is not None:
        return SessionState.VERIFIED
    if user_has_device(user, confirmed=True):
        return SessionState.NEEDS_CODE
    if two_factor_required(user):
        return SessionState.NEEDS_ENROLMENT
    return SessionState.NOT_NEEDED
