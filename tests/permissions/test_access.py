"""The guards: one answer to "may U do X in C", read afresh from the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from exchange.kernel.errors import Forbidden, NotAuthenticated, NotFound
from permissions.access import Need, access_channel, channel_access, channel_access_many
from permissions.membership.services import admission_remove, admission_set, ban_create
from permissions.models import User
from permissions.people.services import user_set_active
from tests import factories
from tests.conftest import World

pytestmark = pytest.mark.django_db


def test_roles_follow_the_institution_admission(world: World) -> None:
    assert channel_access(world.member, world.channel).can_post
    assert channel_access(world.observer, world.channel).can_read
    assert not channel_access(world.observer, world.channel).can_post
    assert not channel_access(world.outsider, world.channel).can_read
    assert channel_access(world.owner, world.channel).can_moderate
    assert not channel_access(world.member, world.channel).can_moderate


def test_a_new_user_of_an_admitted_institution_is_a_member_at_once(world: World) -> None:
    newcomer = factories.make_user("nuevo", institution=world.participant_institution)
    assert channel_access(newcomer, world.channel).can_post


def test_removing_the_institution_ends_access_for_all_its_users(world: World) -> None:
    admission_remove(
        actor=world.owner, channel=world.channel, institution=world.observer_institution
    )
    assert not channel_access(world.observer, world.channel).can_read


def test_a_deactivated_user_loses_access_everywhere(world: World) -> None:
    user_set_active(actor=None, user=world.member, active=False)
    member = User.objects.get(pk=world.member.pk)
    assert not channel_access(member, world.channel).can_read


def test_a_deactivated_institution_loses_access(world: World) -> None:
    world.participant_institution.active = False
    world.participant_institution.save()
    member = User.objects.select_related("institution").get(pk=world.member.pk)
    assert not channel_access(member, world.channel).can_read


def test_a_ban_removes_one_person_while_the_institution_stays(world: World) -> None:
    ban_create(actor=world.owner, channel=world.channel, user=world.member)
    assert not channel_access(world.member, world.channel).can_read
    colleague = factories.make_user("colega", institution=world.participant_institution)
    assert channel_access(colleague, world.channel).can_post


def test_staff_and_superusers_see_no_content_by_status_alone(world: World) -> None:
    admin = User.objects.create_superuser("root", password="x" * 16)
    assert not channel_access(admin, world.channel).can_read
    assert not channel_access_many(admin, [world.channel])[world.channel.pk].can_read
    with pytest.raises(Forbidden):
        access_channel(admin, world.channel.slug, Need.READ)


def test_unlisted_channels_are_404_for_non_members(world: World) -> None:
    world.channel.listed = False
    world.channel.save()
    with pytest.raises(NotFound):
        access_channel(world.outsider, world.channel.slug, Need.READ)
    with pytest.raises(Forbidden):
        access_channel(world.observer, world.channel.slug, Need.POST)


def test_the_three_ways_of_asking_give_the_same_answer(world: World) -> None:
    """access_channel (one SQL statement, every frame), channel_access and
    channel_access_many (the ORM) must never drift apart."""
    other = factories.make_channel("other", listed=False)
    factories.admit(other, world.outsider_institution, "observer")
    banned = factories.make_user("banned", institution=world.participant_institution)
    ban_create(actor=None, channel=world.channel, user=banned)
    retired = factories.make_institution("retired")
    factories.admit(world.channel, retired, "participant")
    pensioner = factories.make_user("pensioner", institution=retired)
    retired.active = False
    retired.save()
    # Past their grace period (lapsed), and due but still within it.
    lapsed = factories.make_user("lapsed", institution=world.participant_institution)
    due = factories.make_user("due", institution=world.participant_institution)
    days = settings.RECERTIFY_DAYS
    User.objects.filter(pk=lapsed.pk).update(
        certified_at=timezone.now() - timedelta(days=days + settings.RECERTIFY_GRACE_DAYS + 1)
    )
    User.objects.filter(pk=due.pk).update(certified_at=timezone.now() - timedelta(days=days + 1))
    channels = [world.channel, other]
    people = [world.owner, world.member, world.observer, world.outsider, banned, pensioner]
    people += [lapsed, due]
    for user in [User.objects.select_related("institution").get(pk=u.pk) for u in people]:
        many = channel_access_many(user, channels)
        for channel in channels:
            single = channel_access(user, channel)
            answers = {
                (many[channel.pk].role, many[channel.pk].is_moderator, many[channel.pk].is_member),
                (single.role, single.is_moderator, single.is_member),
            }
            try:
                raw = access_channel(user, channel.slug, Need.READ)
                answers.add((raw.role, raw.is_moderator, raw.is_member))
            except (Forbidden, NotFound, NotAuthenticated):
                assert not single.can_read, (user, channel)
            assert len(answers) == 1, (user.username, channel.slug, answers)
    lapsed.refresh_from_db()
    due.refresh_from_db()
    assert not channel_access(lapsed, world.channel).can_read
    assert channel_access(due, world.channel).can_post


def test_only_moderators_of_that_channel_change_admissions(world: World) -> None:
    other = factories.make_channel("other")
    with pytest.raises(Forbidden):
        admission_set(
            actor=world.owner,
            channel=other,
            institution=world.outsider_institution,
            role="observer",
        )
    with pytest.raises(Forbidden):
        admission_set(
            actor=world.member,
            channel=world.channel,
            institution=world.outsider_institution,
            role="participant",
        )


def test_a_role_change_to_observer_takes_posting_away(world: World) -> None:
    admission_set(
        actor=world.owner,
        channel=world.channel,
        institution=world.participant_institution,
        role="observer",
    )
    access = channel_access(world.member, world.channel)
    assert access.can_read and not access.can_post


def test_the_admin_cannot_change_access_behind_the_services_back(world: World) -> None:
    from tests.signing_in import signed_in

    admin_user = User.objects.create_superuser("root", password="x" * 16)
    client = signed_in(admin_user)
    assert client.get("/admin/permissions/admission/").status_code == 200
    assert client.get("/admin/permissions/admission/add/").status_code == 403
    admission = world.channel.admissions.first()
    assert admission is not None
    assert (
        client.post(
            f"/admin/permissions/admission/{admission.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert world.channel.admissions.filter(pk=admission.pk).exists()
