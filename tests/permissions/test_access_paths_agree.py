"""permissions/access.py writes the channel access rule more than once: the ORM's
ChannelAccess (channel_access, channel_access_many, readable_channels), the one SQL
statement every frame runs (access_channel), the fragment the PostgreSQL send folds into its insert
(may_post_subquery), and the set of current members. Each is held here to an expected
truth written independently of all of them, over every combination of what the rule
depends on.

One channel pair (listed and unlisted, the same grants on both), one institution per
(active, admission) and one user per combination: the rows are written directly, where
the services would refuse some combinations (appointing an inactive moderator) that a
later change reaches anyway (deactivating a moderator).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import connection
from django.utils import timezone

from channels_app.models import Channel
from exchange.kernel.errors import Forbidden, NotAuthenticated, NotFound, ServiceError
from permissions.access import (
    MODERATE,
    Need,
    access_channel,
    channel_access,
    channel_access_many,
    current_members,
    may_post_subquery,
    readable_channels,
)
from permissions.models import Ban, ChannelUserObjectPermission, Institution, User
from tests import factories

pytestmark = pytest.mark.django_db

ADMISSIONS = (None, "observer", "participant")


@dataclass(frozen=True)
class Case:
    active: bool
    certified: bool  # False: past the grace period (lapsed)
    institution_active: bool
    admission: str | None
    moderator: bool
    banned: bool

    @property
    def username(self) -> str:
        flags = (
            ("active" if self.active else "inactive"),
            ("certified" if self.certified else "lapsed"),
            ("inst" if self.institution_active else "deadinst"),
            self.admission or "unadmitted",
            ("mod" if self.moderator else "nomod"),
            ("banned" if self.banned else "free"),
        )
        return "-".join(flags)


BOTH = (True, False)
CASES = [Case(*v) for v in itertools.product(BOTH, BOTH, BOTH, ADMISSIONS, BOTH, BOTH)]


def may(case: Case, need: Need, *, even_if_lapsed: bool = False) -> bool:
    """SPEC §1, read independently of permissions.access: a moderator's own grant holds
    whatever their institution, admission or ban; anyone else needs an active institution
    admitted to the channel and no ban, and `participant` to post; nobody moderates by
    admission; and nothing at all for a user who is inactive or lapsed."""
    if not case.active or not (case.certified or even_if_lapsed):
        return False
    if case.moderator:
        return True
    member = case.institution_active and case.admission is not None and not case.banned
    if need is Need.READ:
        return member
    if need is Need.POST:
        return member and case.admission == "participant"
    return False


def refusal(case: Case, need: Need, *, listed: bool) -> type[ServiceError]:
    """What access_channel raises when `may` says no: 401 for an account that is gone,
    404 to a non-member of an unlisted channel (its existence is secret), else 403."""
    if not case.active or not case.certified:
        return NotAuthenticated
    if not may(case, Need.READ) and not listed:
        return NotFound
    return Forbidden


def expected_role(case: Case) -> str:
    return "moderator" if case.moderator else str(case.admission)


@dataclass
class Table:
    channels: list[Channel]
    users: dict[Case, User]


@pytest.fixture
def table() -> Table:
    channels = [
        factories.make_channel("agree-listed"),
        factories.make_channel("agree-unlisted", listed=False),
    ]
    institutions: dict[tuple[bool, str | None], Institution] = {}
    for active, admission in itertools.product((True, False), ADMISSIONS):
        institution = factories.make_institution(
            f"{'on' if active else 'off'}-{admission or 'none'}"
        )
        if admission is not None:
            for channel in channels:
                factories.admit(channel, institution, admission)
        institutions[active, admission] = institution
    Institution.objects.filter(pk__in=[i.pk for (a, _), i in institutions.items() if not a]).update(
        active=False
    )
    lapsed_at = timezone.now() - timedelta(
        days=settings.RECERTIFY_DAYS + settings.RECERTIFY_GRACE_DAYS + 1
    )
    User.objects.bulk_create(
        User(
            username=case.username,
            institution=institutions[case.institution_active, case.admission],
            is_active=case.active,
            certified_at=timezone.now() if case.certified else lapsed_at,
        )
        for case in CASES
    )
    users = {u.username: u for u in User.objects.select_related("institution")}
    moderate = Permission.objects.get(codename=MODERATE)
    ChannelUserObjectPermission.objects.bulk_create(
        ChannelUserObjectPermission(
            user=users[case.username], permission=moderate, content_object=channel
        )
        for case in CASES
        if case.moderator
        for channel in channels
    )
    Ban.objects.bulk_create(
        Ban(user=users[case.username], channel=channel)
        for case in CASES
        if case.banned
        for channel in channels
    )
    return Table(channels=channels, users={case: users[case.username] for case in CASES})


def _sql_allows(user: User, channel: Channel, need: Need, case: Case) -> tuple[bool, str | None]:
    """Whether access_channel allows `need`, and what is wrong with how it refused."""
    try:
        access_channel(user, channel.slug, need)
    except ServiceError as exc:
        wanted = refusal(case, need, listed=channel.listed)
        wrong = None if type(exc) is wanted else f"raised {type(exc).__name__}"
        return False, wrong
    return True, None


def _subquery_allows(user: User, channel: Channel) -> bool:
    sql, params = may_post_subquery(user, channel.slug)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


def test_the_sql_and_orm_paths_and_the_members_agree_with_the_rule(table: Table) -> None:
    assert len(CASES) == 2 * 2 * 2 * 3 * 2 * 2
    disagreements: list[str] = []
    for channel in table.channels:
        members = {u.username: u.member_role for u in current_members(channel)}  # type: ignore[attr-defined]
        for case, user in table.users.items():
            many = channel_access_many(user, table.channels)[channel.pk]
            unlapsed = channel_access_many(user, table.channels, even_if_lapsed=True)[channel.pk]
            single = channel_access(user, channel)
            readable = {r.access.channel.pk for r in readable_channels(user)}
            where = f"{case.username} in {channel.slug}"
            for need in Need:
                truth = may(case, need)
                sql, wrong = _sql_allows(user, channel, need, case)
                answers = {
                    "access_channel": sql,
                    "channel_access": single.allows(need),
                    "channel_access_many": many.allows(need),
                }
                if need is Need.POST:
                    answers["may_post_subquery"] = _subquery_allows(user, channel)
                if need is Need.READ:
                    answers["current_members"] = case.username in members
                    answers["readable_channels"] = channel.pk in readable
                for path, allowed in answers.items():
                    if allowed != truth:
                        disagreements.append(f"{where}: {path} says {allowed} to {need.name}")
                if wrong is not None:
                    disagreements.append(f"{where}: access_channel {wrong} for {need.name}")
                if unlapsed.allows(need) != may(case, need, even_if_lapsed=True):
                    said = unlapsed.allows(need)
                    disagreements.append(f"{where}: even_if_lapsed says {said} to {need.name}")
            if case.username in members and members[case.username] != expected_role(case):
                disagreements.append(f"{where}: current_members says {members[case.username]}")
    assert disagreements == []
