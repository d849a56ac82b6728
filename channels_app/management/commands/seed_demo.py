"""Demo data for a first look. Refuses to run unless DEBUG is on: it creates accounts with
a published password, and gives the demo users whose role requires two-factor sign-in
(moderators, focal points, the platform admin) an authenticator device with a published
key, printed here so that a first look needs only an authenticator app (or oathtool)."""

from __future__ import annotations

import uuid
from base64 import b32encode
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from channels_app.evaluations.pair import Evaluation
from channels_app.messages.services import message_send
from permissions.institutions.registry import institution_upsert
from permissions.management.commands._base import ExchangeCommand
from permissions.membership.services import admission_set, moderator_appoint
from permissions.models import User
from permissions.people.services import user_upsert
from permissions.sign_in.two_factor import two_factor_required

DEMO_PASSWORD = "exchange-demo-2026"  # noqa: S105  (printed on purpose; DEBUG only)

INSTITUTIONS = [
    ("policia-es", "Policía Nacional", "ES", "police"),
    ("mpf-br", "Ministério Público Federal", "BR", "prosecution"),
    ("inpec-co", "Instituto Nacional Penitenciario y Carcelario", "CO", "penitentiary"),
    ("parquet-fr", "Parquet national", "FR", "prosecution"),
]
USERS = [
    ("ana", "Ana García", "policia-es", True),
    ("joao", "João Silva", "mpf-br", True),
    ("camille", "Camille Martin", "parquet-fr", False),
    ("diego", "Diego Rojas", "inpec-co", False),
]
ADMISSIONS = [
    ("cybercrime", "policia-es", "participant"),
    ("cybercrime", "mpf-br", "participant"),
    ("cybercrime", "parquet-fr", "observer"),
    ("penitentiary", "inpec-co", "participant"),
    ("penitentiary", "policia-es", "participant"),
    ("medical-waste", "mpf-br", "participant"),
    ("medical-waste", "policia-es", "participant"),
    ("corruption", "parquet-fr", "participant"),
]
# (channel, author, body, 4x4 evaluation or None)
MESSAGES: list[tuple[str, str, str, Evaluation | None]] = [
    (
        "cybercrime",
        "ana",
        "Welcome to the **cybercrime** channel. Share what worked, and what did not.",
        None,
    ),
    (
        "cybercrime",
        "joao",
        "We saw a wave of *phishing* against pension funds in March; notes follow.",
        Evaluation("B", 2),
    ),
    (
        "medical-waste",
        "joao",
        "Lessons from seizures of PPE waste at the port of Santos.",
        None,
    ),
    ("penitentiary", "diego", "How did your prisons handle visits during the lockdown?", None),
]
# The demo's authenticator key (hex, 20 bytes), shared by every demo user who needs one.
DEMO_TOTP_KEY = b"exchange-demo-totp!!".hex()
DEMO_DEVICE_NAME = "Demo authenticator"
NAMESPACE = uuid.UUID("6f1d2f0e-7a5b-4c55-9d7e-0a7c4a1e2b90")


class Command(ExchangeCommand):
    help = "Load demo institutions, users, admissions and messages (DEBUG only; idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo runs only with EXCHANGE_DEBUG=1: it creates known passwords."
            )
        institutions = {
            slug: institution_upsert(slug=slug, name=name, country=country, kind=kind)
            for slug, name, country, kind in INSTITUTIONS
        }
        users = {
            username: user_upsert(
                username=username,
                institution=institutions[inst],
                display_name=display,
                password=DEMO_PASSWORD,
                is_focal_point=focal,
            )
            for username, display, inst, focal in USERS
        }
        user_upsert(
            username="admin",
            institution=None,
            display_name="Platform admin",
            password=DEMO_PASSWORD,
            is_staff=True,
        )
        for channel_slug, inst, role in ADMISSIONS:
            admission_set(
                actor=None,
                channel=self.channel(channel_slug),
                institution=institutions[inst],
                role=role,
            )
        moderator_appoint(actor=None, channel=self.channel("cybercrime"), user=users["ana"])
        for index, (channel_slug, username, body, evaluation) in enumerate(MESSAGES):
            message_send(
                actor=users[username],
                channel_slug=channel_slug,
                client_id=uuid.uuid5(NAMESPACE, str(index)),
                body=body,
                evaluation=evaluation,
            )
        with_code = [
            user.username
            for user in User.objects.filter(username__in=[*users, "admin"]).order_by("username")
            if two_factor_required(user)
        ]
        for username in with_code:
            TOTPDevice.objects.update_or_create(
                user=User.objects.get(username=username),
                name=DEMO_DEVICE_NAME,
                defaults={"key": DEMO_TOTP_KEY, "confirmed": True},
            )
        self.stdout.write(f"Demo sign-ins (password {DEMO_PASSWORD}):")
        self.stdout.write("  ana     Policía Nacional (ES), participant, moderates cybercrime")
        self.stdout.write("  joao    Ministério Público Federal (BR), participant")
        self.stdout.write("  camille Parquet national (FR), observer in cybercrime")
        self.stdout.write("  diego   INPEC (CO), not a member of cybercrime")
        self.stdout.write("  admin   platform admin (/admin/), sees no channel content")
        secret = b32encode(bytes.fromhex(DEMO_TOTP_KEY)).decode()
        self.stdout.write(
            f"One-time codes for {', '.join(with_code)} (their role requires them): add the"
            f" demo key {secret} to an authenticator app, or run: oathtool --totp -b {secret}"
        )
