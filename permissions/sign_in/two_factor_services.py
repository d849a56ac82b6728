"""Writes of two-factor sign-in: enrolling an authenticator app, checking a code.

Codes are checked by django-otp's devices, which throttle: after each wrong code the
device refuses every code, right or wrong, for twice as long as after the previous one
(OTP_TOTP_THROTTLE_FACTOR seconds, doubling). A right code from the authenticator app
is accepted once (django-otp remembers the last time step used); a backup code is
deleted when used.
"""

from __future__ import annotations

import math

from django.db import transaction
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from exchange.kernel.errors import BadRequest, Conflict, RateLimited
from permissions.models import User

BACKUP_CODE_COUNT = 10
APP_DEVICE_NAME = "Authenticator app"
BACKUP_DEVICE_NAME = "Backup codes"
WRONG_CODE = "That code is not right. Codes change every 30 seconds; use the newest one."


def _normalised(code: str) -> str:
    return code.replace(" ", "").replace("-", "").strip().lower()


def _throttled(device: ThrottlingMixin) -> RateLimited | None:
    allowed, extra = device.verify_is_allowed()
    if allowed:
        return None
    locked_until = (extra or {}).get("locked_until")
    wait = 1
    if locked_until is not None:
        wait = max(1, math.ceil((locked_until - timezone.now()).total_seconds()))
    return RateLimited(
        f"Too many wrong codes. Wait {wait} seconds, then enter the newest code.",
        retry_after=wait,
    )


def totp_device_for_enrolment(*, user: User) -> TOTPDevice:
    """The authenticator-app device `user` is enrolling, created unconfirmed on first call.

    Refused once the user has a confirmed app: replacing it needs a platform admin, so
    that a stolen password alone cannot swap the second factor."""
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise Conflict("Two-factor sign-in is already on for this account.")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)
    return device


def totp_enrolment_confirm(*, user: User, code: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the device being enrolled with one valid code; return it and fresh backup
    codes (shown this once: only they are kept, as django-otp stores them)."""
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .order_by("-pk")
            .first()
        )
        if device is None:
            raise Conflict("No enrolment is under way; open the enrolment page again.")
        refused = _throttled(device)
        accepted = refused is None and device.verify_token(_normalised(code))
        if accepted:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            codes = backup_codes_reset(user=user)
    if refused is not None:
        raise refused
    if not accepted:
        raise BadRequest(WRONG_CODE, field="code")
    return device, codes


def backup_codes_reset(*, user: User) -> list[str]:
    """Replace the user's backup codes with BACKUP_CODE_COUNT new ones; return them."""
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name=BACKUP_DEVICE_NAME, confirmed=True)
        codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


def code_verify(*, user: User, code: str) -> Device:
    """The confirmed device that accepts `code`: six digits go to the authenticator app,
    anything else to the backup codes, so a wrong code counts against one device only.

    Raises RateLimited while that device is throttled, BadRequest for a wrong code."""
    code = _normalised(code)
    model: type[TOTPDevice] | type[StaticDevice] = TOTPDevice if code.isdigit() else StaticDevice
    with transaction.atomic():
        device = model.objects.select_for_update().filter(user=user, confirmed=True).first()
        if device is None:
            refused, accepted = None, False
        else:
            refused = _throttled(device)
            accepted = refused is None and device.verify_token(code)
    if refused is not None:
        raise refused
    if not accepted or device is None:
        raise BadRequest(WRONG_CODE, field="code")
    return device
