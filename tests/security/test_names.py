"""Spoofed names: bidi overrides, zero-width and other invisible characters in display
names, institution names and usernames are refused with a clear error, on the command
line as through the services; names are NFC-normalised; and a name holding HTML is shown
as text on the pages."""

from __future__ import annotations

import io
import unicodedata

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from exchange.kernel.errors import BadRequest
from permissions.institutions.registry import institution_upsert
from permissions.models import Institution, User
from permissions.people.services import user_upsert
from permissions.people.validators import clean_name
from tests import factories
from tests.conftest import World
from tests.signing_in import signed_in

pytestmark = pytest.mark.django_db

BIDI = [chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
OTHER = [
    "\x00", "\x07", "\x1b", "\x7f", "\x85", "\n", "\t",  # Cc
    "\u00ad", "\u061c", "\u180e", "\u206f", "\U000e0001",  # Cf (soft hyphen, ALM, tags…)
    "\u2028", "\u2029",  # line and paragraph separators
    "\ue000",  # private use
]  # fmt: skip
INVISIBLE = BIDI + ZERO_WIDTH + OTHER


def code(char: str) -> str:
    return f"U+{ord(char):04X}"


def test_the_list_covers_the_unicode_categories_refused() -> None:
    categories = {unicodedata.category(c) for c in INVISIBLE}
    assert categories == {"Cc", "Cf", "Co", "Zl", "Zp"}


@pytest.mark.parametrize("char", INVISIBLE, ids=code)
def test_display_name_spoofing_with_an_invisible_character_is_refused(
    world: World, char: str
) -> None:
    with pytest.raises(BadRequest) as refused:
        user_upsert(username="spoofer", institution=world.participant_institution,
                    display_name=f"Olivia{char}Moderator")  # fmt: skip
    assert refused.value.field == "display_name"
    assert code(char) in refused.value.message
    assert not User.objects.filter(username="spoofer").exists()


@pytest.mark.parametrize("char", INVISIBLE, ids=code)
def test_institution_name_spoofing_with_an_invisible_character_is_refused(char: str) -> None:
    with pytest.raises(BadRequest) as refused:
        institution_upsert(slug="fake", name=f"Europol{char}", country="NL", kind="agency")
    assert refused.value.field == "name"
    assert not Institution.objects.filter(slug="fake").exists()


@pytest.mark.parametrize("char", INVISIBLE, ids=code)
def test_username_spoofing_with_an_invisible_character_is_refused(world: World, char: str) -> None:
    with pytest.raises(BadRequest) as refused:
        user_upsert(username=f"oli{char}via", institution=world.participant_institution)
    assert refused.value.field == "username"
    assert User.objects.filter(username__startswith="oli").count() == 1  # olivia alone


def test_a_bidi_override_in_a_display_name_is_a_clear_command_error(world: World) -> None:
    with pytest.raises(CommandError, match=r"U\+202E .*RIGHT-TO-LEFT OVERRIDE"):
        call_command("create_user", "mallory", "--institution", "guardia-civil",
                     "--display-name", "Mallory \u202egnp.exe", stdout=io.StringIO())  # fmt: skip
    assert not User.objects.filter(username="mallory").exists()


def test_a_zero_width_space_in_an_institution_name_is_a_clear_command_error() -> None:
    with pytest.raises(CommandError, match=r"U\+200B"):
        call_command("create_institution", "europol", "--name", "Euro\u200bpol",
                     "--country", "NL", "--kind", "agency", stdout=io.StringIO())  # fmt: skip
    assert not Institution.objects.filter(slug="europol").exists()


def test_names_are_nfc_normalised(world: World) -> None:
    decomposed = "Jose\u0301 Mari\u0301a"
    user = user_upsert(username="jose", institution=world.participant_institution,
                       display_name=decomposed)  # fmt: skip
    assert user.display_name == "José María" == unicodedata.normalize("NFC", decomposed)
    institution = institution_upsert(slug="ministerio", name="Ministe\u0301rio Pu\u0301blico",
                                     country="BR", kind="prosecution")  # fmt: skip
    assert institution.name == "Ministério Público"


def test_a_full_width_username_finds_the_account_rather_than_making_a_twin(world: World) -> None:
    same = user_upsert(username="\uff4flivia", institution=world.participant_institution)
    assert same.pk == world.owner.pk
    assert User.objects.filter(username__endswith="livia").count() == 1


def test_names_from_every_script_are_kept(world: World) -> None:
    for name in ["Ólafur Þórsson", "Łukasz Żółć", "Ἀθηνᾶ", "Наталья", "محمد", "José 🚔"]:
        assert clean_name(name, field="display_name") == name


def test_a_name_holding_html_is_shown_as_text_on_the_pages(world: World) -> None:
    hostile = "<script>window.__pwned=1</script>"
    institution = factories.make_institution("hostile-inst", country="FR")
    institution_upsert(slug="hostile-inst", name=f"<img src=x onerror=alert(1)>{hostile}",
                       country="FR", kind="police")  # fmt: skip
    factories.admit(world.channel, institution, "participant")
    user = user_upsert(username="hostile", institution=institution, display_name=hostile)
    client = Client()
    client.force_login(user)
    for path in ["/", "/c/ops/"]:
        page = client.get(path).content.decode()
        assert "<script>window.__pwned" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page, path


@pytest.mark.django_db
def test_display_name_spoofing_through_the_admin_is_refused_too(world: World) -> None:
    """The admin's forms go around the services; the model field's validator still
    refuses what the services refuse."""
    admin = user_upsert(username="root", institution=None, is_staff=True)
    admin.is_superuser = True
    admin.save()
    client = signed_in(admin)
    url = f"/admin/permissions/institution/{world.outsider_institution.pk}/change/"
    response = client.post(
        url,
        {"slug": world.outsider_institution.slug, "name": "Carabineros\u202egnp.exe",
         "country": "CL", "kind": "police", "active": "on"},
    )  # fmt: skip
    assert response.status_code == 200  # the form again, with its error
    assert "is not allowed in a name" in response.content.decode()
    world.outsider_institution.refresh_from_db()
    assert world.outsider_institution.name == "Carabineros"
