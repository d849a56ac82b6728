"""The moderation page, the catalogue's "Ask to join", and the audit page, through the
Django test client: what a moderator may do there, what everyone else is refused, and
that bad input says what is wrong and changes nothing."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.db import connection
from django.test import Client

from audit.chain import record
from audit.models import AuditEvent
from channels_app.models import Channel, Epoch, Message, Report
from channels_app.reports.services import report_file
from permissions.membership import requests as access_requests
from permissions.membership.services import ban_create
from permissions.models import AccessRequest, AccessRequestState, Admission, Ban, User
from tests import factories
from tests.channels_app.pages.test_pages import _Scripts as Scripts
from tests.conftest import World
from tests.signing_in import signed_in

pytestmark = pytest.mark.django_db

MODERATE = "/c/ops/moderate/"


def flash(response: object) -> list[str]:
    """The outcome messages the redirected-to page shows."""
    html = response.content.decode()  # type: ignore[attr-defined]
    return [
        unescape(re.sub(r"\s+", " ", text).strip())
        for text in re.findall(r'<li class="flash-\w+" role="\w+">(.*?)</li>', html, re.S)
    ]


def flash_errors(response: object) -> list[str]:
    html = response.content.decode()  # type: ignore[attr-defined]
    return [
        unescape(text)
        for text in re.findall(r'<li class="flash-error" role="alert">(.*?)</li>', html, re.S)
    ]


@pytest.fixture
def other_moderator(world: World) -> User:
    """The moderator of another channel, whose institution is not in "ops"."""
    other = factories.make_channel("other")
    factories.admit(other, world.outsider_institution, "participant")
    moderator = factories.make_user("olga", institution=world.outsider_institution)
    factories.make_moderator(other, moderator)
    return moderator


def state(world: World) -> tuple[object, ...]:
    """What a refused form must leave as it was."""
    channel = world.channel
    return (
        sorted(Admission.objects.filter(channel=channel).values_list("institution__slug", "role")),
        sorted(Ban.objects.filter(channel=channel).values_list("user__username", flat=True)),
        sorted(AccessRequest.objects.values_list("pk", "state")),
        sorted(Report.objects.values_list("pk", "state")),
        sorted(Message.objects.filter(deleted_at__isnull=False).values_list("pk", flat=True)),
        # Signing the test client in is audited too; nothing else may be.
        AuditEvent.objects.exclude(action="user.signed_in").count(),
    )


# --- who may open the moderation page --------------------------------------------------


def test_a_moderator_sees_the_moderation_page_with_every_section(world: World) -> None:
    response = signed_in(world.owner).get(MODERATE)
    assert response.status_code == 200
    html = response.content.decode()
    for section in ("institutions", "bans", "requests", "reports"):
        assert f'id="{section}"' in html
    assert world.participant_institution.name in html
    assert world.observer_institution.name in html
    # The outsider's institution is offered for admission, the admitted ones are not.
    admit_form = html[html.index('id="admit"') :]
    admit_form = admit_form[: admit_form.index("</form>")]
    assert f'value="{world.outsider_institution.slug}"' in admit_form
    assert f'value="{world.participant_institution.slug}"' not in admit_form


def test_the_channel_page_links_the_moderation_page_for_moderators_only(world: World) -> None:
    assert MODERATE in signed_in(world.owner).get("/c/ops/").content.decode()
    assert MODERATE not in signed_in(world.member).get("/c/ops/").content.decode()


@pytest.mark.parametrize("who", ["member", "observer"])
def test_members_who_do_not_moderate_are_refused(world: World, who: str) -> None:
    response = signed_in(getattr(world, who)).get(MODERATE)
    assert response.status_code == 403
    assert "Only the channel&#x27;s moderators" in response.content.decode()


def test_an_outsider_is_refused_like_on_the_channel_page(world: World) -> None:
    response = signed_in(world.outsider).get(MODERATE)
    assert response.status_code == 403
    assert "not a member" in response.content.decode()


def test_another_channels_moderator_is_refused(world: World, other_moderator: User) -> None:
    assert signed_in(other_moderator).get(MODERATE).status_code == 403


def test_an_unlisted_channel_answers_404_to_non_members(world: World) -> None:
    Channel.objects.filter(pk=world.channel.pk).update(listed=False)
    assert signed_in(world.outsider).get(MODERATE).status_code == 404
    assert signed_in(world.member).get(MODERATE).status_code == 403


def test_an_anonymous_visitor_is_sent_to_sign_in() -> None:
    response = Client().get(MODERATE)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("admissions/", {"institution": "carabineros", "role": "participant"}),
        ("admissions/guardia-civil/role/", {"role": "observer"}),
        ("admissions/policia-federal/remove/", {}),
        ("bans/", {"username": "mateo"}),
    ],
)
@pytest.mark.parametrize("who", ["member", "observer", "outsider"])
def test_forms_posted_by_non_moderators_are_refused_and_change_nothing(
    world: World, who: str, path: str, data: dict[str, str]
) -> None:
    before = state(world)
    response = signed_in(getattr(world, who)).post(MODERATE + path, data)
    assert response.status_code == 403
    assert state(world) == before


def test_another_channels_moderator_cannot_answer_this_channels_request(
    world: World, other_moderator: User
) -> None:
    request = access_requests.request_file(actor=world.outsider, channel_slug="ops")
    before = state(world)
    response = signed_in(other_moderator).post(
        f"/c/other/moderate/requests/{request.pk}/approve/", {"role": "participant"}, follow=True
    )
    assert flash_errors(response) == ["No such access request."]
    assert state(world) == before


def test_a_form_without_its_csrf_token_is_refused(world: World) -> None:
    client = signed_in(world.owner, enforce_csrf_checks=True)
    before = state(world)
    response = client.post(MODERATE + "bans/", {"username": "mateo"})
    assert response.status_code == 403
    assert state(world) == before


# --- admissions ----------------------------------------------------------------------


def test_a_moderator_admits_an_institution_with_a_role(world: World) -> None:
    response = signed_in(world.owner).post(
        MODERATE + "admissions/", {"institution": "carabineros", "role": "observer"}, follow=True
    )
    assert response.redirect_chain == [(MODERATE, 302)]
    assert flash(response) == ["The institution was admitted."]
    assert Admission.objects.get(channel=world.channel, institution__slug="carabineros").role == (
        "observer"
    )
    assert AuditEvent.objects.filter(action="admission.created", actor=world.owner.username)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"institution": "carabineros", "role": "owner"}, "Role: Select a valid choice."),
        ({"institution": "nowhere", "role": "participant"}, "cannot be admitted"),
        ({"institution": "guardia-civil", "role": "observer"}, "cannot be admitted"),
        ({"role": "participant"}, "Institution: This field is required."),
    ],
)
def test_admitting_with_bad_input_says_why_and_changes_nothing(
    world: World, data: dict[str, str], error: str
) -> None:
    before = state(world)
    response = signed_in(world.owner).post(MODERATE + "admissions/", data, follow=True)
    assert response.status_code == 200
    [message] = flash_errors(response)
    assert error in message
    assert state(world) == before


def test_an_inactive_institution_cannot_be_admitted(world: World) -> None:
    world.outsider_institution.active = False
    world.outsider_institution.save()
    before = state(world)
    response = signed_in(world.owner).post(
        MODERATE + "admissions/", {"institution": "carabineros", "role": "participant"}, follow=True
    )
    assert flash_errors(response)
    assert state(world) == before


def test_a_moderator_changes_an_institutions_role(world: World) -> None:
    response = signed_in(world.owner).post(
        MODERATE + "admissions/policia-federal/role/", {"role": "participant"}, follow=True
    )
    assert flash(response) == ["The role was changed."]
    assert Admission.objects.get(institution=world.observer_institution).role == "participant"


def test_changing_the_role_of_an_institution_not_admitted_changes_nothing(world: World) -> None:
    before = state(world)
    response = signed_in(world.owner).post(
        MODERATE + "admissions/carabineros/role/", {"role": "observer"}, follow=True
    )
    assert flash_errors(response) == ["That institution is not admitted to this channel."]
    assert state(world) == before


def test_removing_asks_first_and_says_what_happens(world: World) -> None:
    response = signed_in(world.owner).get(MODERATE + "admissions/policia-federal/remove/")
    assert response.status_code == 200
    html = re.sub(r"\s+", " ", response.content.decode())
    assert "lose access to Ops at once" in html or "loses access to Ops at once" in html
    assert "The channel key is replaced" in html
    assert Admission.objects.filter(institution=world.observer_institution).exists()


def test_a_moderator_removes_an_institution_and_the_key_is_marked_for_replacement(
    world: World,
) -> None:
    Epoch.objects.create(channel=world.channel, number=1, public_key="age1" + "q" * 58)
    response = signed_in(world.owner).post(
        MODERATE + "admissions/policia-federal/remove/", follow=True
    )
    assert flash(response) == ["Policia Federal was removed: its users lost access at once."]
    assert not Admission.objects.filter(institution=world.observer_institution).exists()
    assert Epoch.objects.get(channel=world.channel, number=1).stale
    # The page replaces the key itself: it loads the channel page's key code.
    html = response.content.decode()
    assert 'id="key-stale"' in html
    assert "js/moderate-page.js" in html
    assert '"channel": "ops"' in html  # its configuration


def test_the_moderation_page_loads_no_key_code_while_the_key_is_current(world: World) -> None:
    Epoch.objects.create(channel=world.channel, number=1, public_key="age1" + "q" * 58)
    html = signed_in(world.owner).get(MODERATE).content.decode()
    assert 'id="key-stale"' not in html
    assert "<script" not in html


def test_removing_an_institution_that_is_not_admitted_changes_nothing(world: World) -> None:
    before = state(world)
    response = signed_in(world.owner).post(MODERATE + "admissions/carabineros/remove/", follow=True)
    assert flash_errors(response) == ["That institution is not admitted to this channel."]
    assert state(world) == before


# --- bans ----------------------------------------------------------------------------


def test_a_moderator_bans_and_unbans_a_member(world: World) -> None:
    client = signed_in(world.owner)
    response = client.post(MODERATE + "bans/", {"username": "mateo"}, follow=True)
    assert flash(response) == ["mateo was banned."]
    assert Ban.objects.filter(channel=world.channel, user=world.member).exists()
    assert 'data-username="mateo"' in response.content.decode()
    assert signed_in(world.member).get("/c/ops/").status_code == 403

    response = client.post(MODERATE + "bans/mateo/lift/", follow=True)
    assert flash(response) == ["The ban on mateo was lifted."]
    assert not Ban.objects.filter(channel=world.channel).exists()


@pytest.mark.parametrize("username", ["ursula", "olivia", "nobody", ""])
def test_only_members_of_admitted_institutions_can_be_banned(world: World, username: str) -> None:
    """Not an outsider (nothing to take), not a moderator, not an unknown name."""
    before = state(world)
    response = signed_in(world.owner).post(MODERATE + "bans/", {"username": username}, follow=True)
    assert len(flash_errors(response)) == 1
    assert state(world) == before


def test_banning_someone_already_banned_changes_nothing(world: World) -> None:
    ban_create(actor=world.owner, channel=world.channel, user=world.member)
    before = state(world)
    response = signed_in(world.owner).post(MODERATE + "bans/", {"username": "mateo"}, follow=True)
    assert flash_errors(response)
    assert state(world) == before


def test_lifting_a_ban_that_does_not_exist_says_so(world: World) -> None:
    before = state(world)
    response = signed_in(world.owner).post(MODERATE + "bans/mateo/lift/", follow=True)
    assert flash_errors(response) == ["That user is not banned from this channel."]
    assert state(world) == before


def test_the_ban_form_suggests_only_those_who_can_be_banned(world: World) -> None:
    html = signed_in(world.owner).get(MODERATE).content.decode()
    suggestions = re.search(r'<datalist id="bannable">(.*?)</datalist>', html, re.S)
    assert suggestions is not None
    offered = set(re.findall(r'<option value="([^"]+)"', suggestions.group(1)))
    assert offered == {"mateo", "oscar"}


# --- access requests -----------------------------------------------------------------


@pytest.mark.parametrize("role", ["participant", "observer"])
def test_a_moderator_approves_a_request_with_a_role(world: World, role: str) -> None:
    request = access_requests.request_file(
        actor=world.outsider, channel_slug="ops", note="We investigate ransomware."
    )
    client = signed_in(world.owner)
    page = client.get(MODERATE).content.decode()
    assert "We investigate ransomware." in page
    assert f'data-request="{request.pk}"' in page
    response = client.post(f"{MODERATE}requests/{request.pk}/approve/", {"role": role}, follow=True)
    assert flash(response) == ["The request was approved: the institution is admitted."]
    assert Admission.objects.get(institution=world.outsider_institution).role == role
    request.refresh_from_db()
    assert request.state == AccessRequestState.APPROVED
    assert signed_in(world.outsider).get("/c/ops/").status_code == 200


def test_a_moderator_declines_a_request(world: World) -> None:
    request = access_requests.request_file(actor=world.outsider, channel_slug="ops")
    response = signed_in(world.owner).post(f"{MODERATE}requests/{request.pk}/decline/", follow=True)
    assert flash(response) == ["The request was declined."]
    request.refresh_from_db()
    assert request.state == AccessRequestState.DECLINED
    assert not Admission.objects.filter(institution=world.outsider_institution).exists()


def test_answering_a_request_twice_or_with_a_bad_role_changes_nothing(world: World) -> None:
    request = access_requests.request_file(actor=world.outsider, channel_slug="ops")
    client = signed_in(world.owner)
    before = state(world)
    response = client.post(f"{MODERATE}requests/{request.pk}/approve/", {"role": "x"}, follow=True)
    assert flash_errors(response) == [
        "Role: Select a valid choice. x is not one of the available choices."
    ]
    assert state(world) == before
    client.post(f"{MODERATE}requests/{request.pk}/decline/")
    before = state(world)
    response = client.post(
        f"{MODERATE}requests/{request.pk}/approve/", {"role": "participant"}, follow=True
    )
    assert flash_errors(response) == ["This request was already declined."]
    assert state(world) == before


# --- reports -------------------------------------------------------------------------


def test_an_open_report_shows_who_reported_why_and_the_message(world: World) -> None:
    message = factories.post(world.member, world.channel, "Buy cheap watches at example.test")
    report_file(actor=world.observer, message_id=message.pk, reason="Spam")
    html = signed_in(world.owner).get(MODERATE).content.decode()
    reports = html[html.index('id="reports"') :]
    assert "Oscar" in reports  # the reporter
    assert "Spam" in reports
    assert "Mateo" in reports  # the message's author
    assert "Buy cheap watches at example.test" in reports


def test_a_long_message_is_shown_as_an_excerpt(world: World) -> None:
    message = factories.post(world.member, world.channel, "word " * 500)
    report_file(actor=world.observer, message_id=message.pk, reason="Too long")
    html = signed_in(world.owner).get(MODERATE).content.decode()
    assert "word " * 30 in html
    assert "word " * 100 not in html


def test_resolving_a_report_keeps_the_message(world: World) -> None:
    message = factories.post(world.member, world.channel, "borderline")
    report = report_file(actor=world.observer, message_id=message.pk, reason="Rude")
    response = signed_in(world.owner).post(f"{MODERATE}reports/{report.pk}/resolve/", follow=True)
    assert flash(response) == ["The report was resolved."]
    report.refresh_from_db()
    message.refresh_from_db()
    assert report.state == "resolved"
    assert message.deleted_at is None


def test_resolving_a_report_can_delete_the_message(world: World) -> None:
    message = factories.post(world.member, world.channel, "offensive")
    report = report_file(actor=world.observer, message_id=message.pk, reason="Offensive")
    response = signed_in(world.owner).post(
        f"{MODERATE}reports/{report.pk}/resolve/", {"delete_message": "on"}, follow=True
    )
    assert flash(response) == ["The report was resolved and the message deleted."]
    message.refresh_from_db()
    assert message.deleted_at is not None
    assert 'data-report="' not in response.content.decode()


def test_a_report_of_another_channel_cannot_be_resolved_here(
    world: World, other_moderator: User
) -> None:
    message = factories.post(world.member, world.channel, "hello")
    report = report_file(actor=world.observer, message_id=message.pk, reason="Spam")
    before = state(world)
    response = signed_in(other_moderator).post(
        f"/c/other/moderate/reports/{report.pk}/resolve/", {"delete_message": "on"}, follow=True
    )
    assert flash_errors(response) == ["No such report."]
    assert state(world) == before


def test_a_resolved_report_cannot_be_resolved_again(world: World) -> None:
    message = factories.post(world.member, world.channel, "hello")
    report = report_file(actor=world.observer, message_id=message.pk, reason="Spam")
    client = signed_in(world.owner)
    client.post(f"{MODERATE}reports/{report.pk}/resolve/")
    before = state(world)
    response = client.post(
        f"{MODERATE}reports/{report.pk}/resolve/", {"delete_message": "on"}, follow=True
    )
    assert flash_errors(response) == ["This report is already resolved."]
    assert state(world) == before


# --- the catalogue -------------------------------------------------------------------


def card(html: str, slug: str) -> str:
    match = re.search(rf'<li class="card" data-channel="{slug}">(.*?)</li>', html, re.S)
    assert match, f"no card for {slug}"
    return match.group(1)


def test_an_outsider_asks_to_join_and_sees_the_request_pending(world: World) -> None:
    client = signed_in(world.outsider)
    assert "Ask to join" in card(client.get("/").content.decode(), "ops")
    response = client.post("/c/ops/ask/", {"note": "Cybercrime unit"}, follow=True)
    assert flash(response) == ["Your request was sent to the channel's moderators."]
    request = AccessRequest.objects.get(channel=world.channel)
    assert (request.institution, request.requested_by, request.note) == (
        world.outsider_institution,
        world.outsider,
        "Cybercrime unit",
    )
    ops = card(response.content.decode(), "ops")
    assert 'data-state="open"' in ops
    assert "Ask to join" not in ops


def test_a_declined_request_is_shown_and_may_be_filed_again(world: World) -> None:
    request = access_requests.request_file(actor=world.outsider, channel_slug="ops")
    access_requests.request_decline(actor=world.owner, request_id=request.pk)
    client = signed_in(world.outsider)
    ops = card(client.get("/").content.decode(), "ops")
    assert 'data-state="declined"' in ops
    assert "Ask to join" in ops
    response = client.post("/c/ops/ask/", {"note": ""}, follow=True)
    assert 'data-state="open"' in card(response.content.decode(), "ops")


def test_members_are_not_offered_to_ask(world: World) -> None:
    assert "Ask to join" not in card(signed_in(world.member).get("/").content.decode(), "ops")


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        ("twice", "Your institution already has an open request for this channel."),
        ("member", "Your institution already takes part in this channel."),
        ("long", "Note to the moderators (optional): Ensure this value has at most 1000"),
    ],
)
def test_asking_to_join_with_bad_input_says_why_and_changes_nothing(
    world: World, setup: str, error: str
) -> None:
    user = world.member if setup == "member" else world.outsider
    if setup == "twice":
        access_requests.request_file(actor=world.outsider, channel_slug="ops")
    note = "x" * 1001 if setup == "long" else ""
    before = state(world)
    response = signed_in(user).post("/c/ops/ask/", {"note": note}, follow=True)
    [message] = flash_errors(response)
    assert message.startswith(error)
    assert state(world) == before


def test_asking_to_join_an_unlisted_channel_answers_404(world: World) -> None:
    Channel.objects.filter(pk=world.channel.pk).update(listed=False)
    before = state(world)
    assert signed_in(world.outsider).post("/c/ops/ask/", {"note": ""}).status_code == 404
    assert signed_in(world.outsider).post("/c/nowhere/ask/", {"note": ""}).status_code == 404
    assert state(world) == before


def test_moderators_see_open_requests_and_reports_on_their_cards(world: World) -> None:
    access_requests.request_file(actor=world.outsider, channel_slug="ops")
    message = factories.post(world.member, world.channel, "hello")
    report_file(actor=world.observer, message_id=message.pk, reason="Spam")
    report_file(actor=world.member, message_id=message.pk, reason="Spam")
    ops = card(signed_in(world.owner).get("/").content.decode(), "ops")
    assert f'href="{MODERATE}"' in ops
    assert "1 open access request, 2 open reports" in re.sub(r"\s+", " ", ops)
    assert MODERATE not in card(signed_in(world.member).get("/").content.decode(), "ops")


# --- the audit page ------------------------------------------------------------------


def staff() -> User:
    return User.objects.create_user("admin", is_staff=True)


def test_a_platform_admin_reads_every_event_newest_first(
    world: World, other_moderator: User
) -> None:
    response = signed_in(staff()).get("/audit/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-ok="true"' in html
    seqs = [int(s) for s in re.findall(r'<tr data-seq="(\d+)">', html)]
    assert seqs == sorted(seqs, reverse=True)
    assert seqs[0] == AuditEvent.objects.order_by("-seq").first().seq  # type: ignore[union-attr]
    assert "institution.created" in html  # events of no channel, too


def test_a_moderator_reads_the_events_of_their_channels_only(
    world: World, other_moderator: User
) -> None:
    html = signed_in(world.owner).get("/audit/").content.decode()
    shown = {int(s) for s in re.findall(r'<tr data-seq="(\d+)">', html)}
    assert shown == set(
        AuditEvent.objects.filter(channel_id=world.channel.pk).values_list("seq", flat=True)
    )
    other = Channel.objects.get(slug="other")
    assert not shown & set(
        AuditEvent.objects.filter(channel_id=other.pk).values_list("seq", flat=True)
    )


def test_the_audit_page_filters_by_channel_and_refuses_one_it_may_not_show(
    world: World, other_moderator: User
) -> None:
    client = signed_in(staff())
    html = client.get("/audit/?channel=other").content.decode()
    other = Channel.objects.get(slug="other")
    shown = {int(s) for s in re.findall(r'<tr data-seq="(\d+)">', html)}
    assert shown == set(
        AuditEvent.objects.filter(channel_id=other.pk).values_list("seq", flat=True)
    )
    response = signed_in(world.owner).get("/audit/?channel=other")
    assert response.status_code == 400
    assert "No such channel" in response.content.decode()


def test_the_audit_page_is_paginated(world: World) -> None:
    for n in range(60):
        record(action="test.filler", actor=None, channel=world.channel, target=f"n:{n}")
    client = signed_in(world.owner)
    first = client.get("/audit/").content.decode()
    second = client.get("/audit/?page=2").content.decode()
    first_seqs = [int(s) for s in re.findall(r'<tr data-seq="(\d+)">', first)]
    second_seqs = [int(s) for s in re.findall(r'<tr data-seq="(\d+)">', second)]
    assert len(first_seqs) == 50
    assert second_seqs and max(second_seqs) < min(first_seqs)
    assert "Older" in first


def test_the_audit_page_shows_a_broken_chain(world: World) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # past the append-only trigger, as a superuser
            cursor.execute("SET LOCAL session_replication_role = replica")
        table = connection.ops.quote_name(AuditEvent._meta.db_table)
        cursor.execute(f"UPDATE {table} SET target = 'forged' WHERE seq = 2")  # noqa: S608
    html = signed_in(staff()).get("/audit/").content.decode()
    assert 'data-ok="false"' in html
    assert "The chain is broken at event 2" in html


@pytest.mark.parametrize("who", ["member", "observer", "outsider"])
def test_people_who_moderate_nothing_cannot_read_the_audit_page(world: World, who: str) -> None:
    client = signed_in(getattr(world, who))
    response = client.get("/audit/")
    assert response.status_code == 403
    assert 'href="/audit/"' not in client.get("/").content.decode()


def test_the_header_links_the_audit_page_for_those_who_may_read_it(world: World) -> None:
    assert 'href="/audit/"' in signed_in(world.owner).get("/").content.decode()
    assert 'href="/audit/"' in signed_in(staff()).get("/").content.decode()


@pytest.mark.parametrize(
    "path", [MODERATE, MODERATE + "admissions/policia-federal/remove/", "/audit/", "/"]
)
def test_the_new_pages_run_no_inline_script(world: World, path: str) -> None:
    """A strict CSP is coming: scripts come from files, never from the page itself."""
    access_requests.request_file(actor=world.outsider, channel_slug="ops")
    Epoch.objects.create(channel=world.channel, number=1, public_key="age1" + "q" * 58)
    ban_create(actor=world.owner, channel=world.channel, user=world.observer)  # key now stale
    parser = Scripts()
    parser.feed(signed_in(world.owner).get(path).content.decode())
    for script in parser.scripts:
        assert script.get("src") or script.get("type") == "application/json", script
    assert parser.handlers == []
    assert parser.styles == []
