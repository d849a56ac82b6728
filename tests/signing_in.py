"""Signing test users in: one-time codes computed from a device's key, as an
authenticator app would, and sessions marked verified for tests that are not about
two-factor sign-in."""

from __future__ import annotations

import time

from django.conf import settings
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from permissions.models import User
from permissions.sign_in.two_factor import uses_two_factor

PASSWORD = "correct horse battery staple"
# A fixed key so that a browser test's other process can compute codes too (hex, 20 bytes).
TEST_TOTP_KEY = "3132333435363738393031323334353637383930"


def totp_device(user: User, *, key: str = TEST_TOTP_KEY) -> TOTPDevice:
    """The user's confirmed authenticator-app device, created if they have none."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="test app", key=key, confirmed=True)
    return device


def totp_code(device: TOTPDevice) -> str:
    """The code the app shows now; if this time step's code was used already (django-otp
    accepts each once), the next step's, which the device's tolerance accepts."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if totp.t() <= device.last_t:
        totp.time += device.step * (device.last_t + 1 - totp.t())
    return f"{totp.token():0{device.digits}d}"


def verify_session(client: Client, user: User) -> None:
    """Mark the client's session as having entered a code, as the code step does."""
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = totp_device(user).persistent_id
    session.save()


def signed_in(user: User, *, verified: bool = True, **client_options: object) -> Client:
    """A test client with a session of `user` (force_login). For a user who needs a code,
    the session is marked verified unless `verified=False` (a password-only session)."""
    client = Client(**client_options)  # type: ignore[arg-type]
    client.force_login(user)
    if verified and uses_two_factor(user):
        verify_session(client, user)
    return client


def session_cookie_of(client: Client) -> bytes:
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()
