"""The administration commands of SPEC §6: idempotent, clear errors, non-zero exits."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from channels_app.models import Channel, Message
from permissions.access import channel_access
from permissions.models import Institution, User
from permissions.sign_in.tokens import token_authenticate

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, stdin: str | None = None) -> str:
    out = io.StringIO()
    if stdin is not None:
        sys_stdin, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        call_command(*args, stdout=out)
    finally:
        if stdin is not None:
            sys.stdin = sys_stdin
    return out.getvalue()


def test_the_thematic_channels_exist_after_migrating() -> None:
    slugs = set(Channel.objects.values_list("slug", flat=True))
    assert {"cybercrime", "penitentiary", "corruption", "medical-waste"} <= slugs


def test_a_whole_setup_from_the_command_line_is_idempotent() -> None:
    for _ in range(2):
        run("create_institution", "pn-es", "--name", "Policía Nacional", "--country", "es",
            "--kind", "police")  # fmt: skip
        run("create_user", "ana", "--institution", "pn-es", "--display-name", "Ana",
            "--password-stdin", stdin="a long enough passphrase 42\n")  # fmt: skip
        run("admit", "cybercrime", "pn-es", "--role", "observer")
        run("admit", "cybercrime", "pn-es", "--role", "participant")
        run("make_moderator", "cybercrime", "ana")
    assert Institution.objects.get(slug="pn-es").country == "ES"
    ana = User.objects.get(username="ana")
    assert ana.check_password("a long enough passphrase 42")
    access = channel_access(ana, Channel.objects.get(slug="cybercrime"))
    assert access.can_post and access.can_moderate


def test_issue_token_prints_a_token_that_authenticates() -> None:
    run("create_institution", "x", "--name", "X", "--country", "PT", "--kind", "judiciary")
    run("create_user", "rui", "--institution", "x")
    token = run("issue_token", "rui", "--name", "laptop", "--expires-days", "5").strip()
    user = token_authenticate(token)
    assert user is not None and user.username == "rui"
    assert token not in str(list(User.objects.get(username="rui").api_tokens.values()))


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("create_institution", "x", "--name", "X", "--country", "XX", "--kind", "police"),
         "ISO 3166-1"),
        (("create_institution", "x", "--name", "X", "--country", "ES", "--kind", "navy"),
         "Unknown kind"),
        (("create_user", "bob", "--institution", "nowhere"), "Unknown institution"),
        (("create_user", "bob"), "belongs to an institution"),
        (("admit", "cybercrime", "nowhere"), "Unknown institution"),
        (("admit", "nochannel", "known"), "Unknown channel"),
        (("admit", "cybercrime", "known", "--role", "king"), "Unknown role"),
        (("make_moderator", "cybercrime", "ghost"), "Unknown user"),
        (("issue_token", "ghost"), "Unknown user"),
        (("issue_token", "known-user", "--expires-days", "0"), "between 1 and 3650"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_error(args: tuple[str, ...], needle: str) -> None:
    run("create_institution", "known", "--name", "K", "--country", "FR", "--kind", "police")
    run("create_user", "known-user", "--institution", "known")
    with pytest.raises(CommandError, match=needle):
        run(*args)


def test_a_weak_password_is_refused() -> None:
    run("create_institution", "known", "--name", "K", "--country", "FR", "--kind", "police")
    with pytest.raises(CommandError):
        run("create_user", "weak", "--institution", "known", "--password-stdin", stdin="123\n")


@override_settings(DEBUG=False)
def test_seed_demo_refuses_without_debug() -> None:
    with pytest.raises(CommandError, match="EXCHANGE_DEBUG"):
        run("seed_demo")


@override_settings(DEBUG=True)
def test_seed_demo_loads_once_however_often_it_runs() -> None:
    run("seed_demo")
    run("seed_demo")
    assert Message.objects.filter(channel__slug="cybercrime").count() == 2
    assert User.objects.filter(username__in=["ana", "joao", "camille", "diego"]).count() == 4


@override_settings(DEBUG=True)
def test_seed_demo_gives_the_users_who_need_codes_a_device_with_the_printed_key() -> None:
    from base64 import b32encode

    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    printed = run("seed_demo")
    run("seed_demo")
    devices = TOTPDevice.objects.filter(confirmed=True).select_related("user")
    # ana moderates and is a focal point, joao is a focal point, admin is staff.
    assert sorted(d.user.username for d in devices) == ["admin", "ana", "joao"]
    secret = b32encode(devices[0].bin_key).decode()
    assert f"oathtool --totp -b {secret}" in printed
    code = TOTP(devices[0].bin_key).token()
    assert devices[0].verify_token(code)


def test_a_command_exits_non_zero_with_the_message_on_stderr() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "create_institution", "x", "--name", "X",
         "--country", "QQ", "--kind", "police"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"EXCHANGE_DEBUG": "1", "PATH": "/usr/bin:/bin",
             "DATABASE_URL": "sqlite:///:memory:"},
    )  # fmt: skip
    assert result.returncode != 0
    assert "ISO 3166-1" in result.stderr
    assert "Traceback" not in result.stderr
