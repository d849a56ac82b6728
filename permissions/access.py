"""The guards: the one place that answers "may user U do X in channel C".

The HTTP API, the pages and the WebSocket consumer all ask here, afresh for every
request and every frame: nothing is cached between two checks, so a revocation takes
effect on the very next one. Membership is read from django-guardian permissions on
the Channel (granted to the institution's group by admission_create, to moderators'
user accounts by moderator_appoint), narrowed by what guardian does not know: the user
and the institution must be active, the user's certification not lapsed
(permissions/institutions/certification.py: a lapsed user is refused exactly like an inactive one)
and the user not banned from the channel.

Superusers get nothing for free: guardian's superuser shortcut is deliberately avoided,
because staff status alone must never show channel content (SPEC §1).
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import Case, Exists, Model, OuterRef, Q, QuerySet, Subquery, Value, When
from django.utils import timezone

from exchange.kernel.errors import Forbidden, NotAuthenticated, NotFound
from permissions.institutions.certification import is_lapsed, lapse_cutoff
from permissions.models import (
    AdmissionRole,
    Ban,
    ChannelGroupObjectPermission,
    ChannelUserObjectPermission,
    Institution,
    User,
)

if TYPE_CHECKING:
    from channels_app.models import Attachment, Channel, Document, Message

VIEW = "view_channel"
POST = "post_to_channel"
MODERATE = "moderate_channel"
# channels_app.models.HistoryVisibility.SINCE_JOIN, by value: access imports nothing of
# what is said at import time (channels_app imports access).
SINCE_JOIN = "since_join"


class Need(enum.Enum):
    """What the caller is about to do, from least to most privileged."""

    READ = "read"
    POST = "post"
    MODERATE = "moderate"


@dataclass(frozen=True)
class ChannelAccess:
    """What one user may do in one channel, as of the moment it was computed."""

    user: User
    channel: Channel
    role: str | None  # the institution's admission role, or None
    is_moderator: bool
    is_banned: bool = False

    @property
    def is_member(self) -> bool:
        return self.is_moderator or (self.role is not None and not self.is_banned)

    @property
    def can_read(self) -> bool:
        return self.is_member

    @property
    def can_post(self) -> bool:
        return self.is_moderator or (self.is_member and self.role == AdmissionRole.PARTICIPANT)

    @property
    def can_moderate(self) -> bool:
        return self.is_moderator

    def allows(self, need: Need) -> bool:
        if need is Need.READ:
            return self.can_read
        if need is Need.POST:
            return self.can_post
        return self.can_moderate


def _annotated(user: User) -> QuerySet[Channel]:
    """Channels annotated with what `user` holds on each, read in one query.

    The permissions are django-guardian's rows (direct foreign-key models, granted by
    admission_set and moderator_appoint); reading them with EXISTS subqueries gives the
    socket's per-frame check one round trip instead of guardian's three or four.
    """
    channels = apps.get_model("channels_app", "Channel").objects.all()
    institution = user.institution
    group_perms = ChannelGroupObjectPermission.objects.filter(content_object=OuterRef("pk"))
    if institution is not None and institution.active:
        group_perms = group_perms.filter(group_id=institution.group_id)
    else:
        group_perms = group_perms.none()
    return channels.annotate(
        _view=Exists(group_perms.filter(permission__codename=VIEW)),
        _post=Exists(group_perms.filter(permission__codename=POST)),
        _moderate=Exists(
            ChannelUserObjectPermission.objects.filter(
                content_object=OuterRef("pk"), user_id=user.pk, permission__codename=MODERATE
            )
        ),
        _banned=Exists(Ban.objects.filter(channel=OuterRef("pk"), user_id=user.pk)),
    )


def _access_of(user: User, channel: Any) -> ChannelAccess:
    role = None
    if channel._view:
        role = AdmissionRole.PARTICIPANT if channel._post else AdmissionRole.OBSERVER
    return ChannelAccess(
        user=user,
        channel=channel,
        role=role,
        is_moderator=bool(channel._moderate),
        is_banned=role is not None and bool(channel._banned),
    )


def _nothing(user: User, channel: Channel) -> ChannelAccess:
    return ChannelAccess(user=user, channel=channel, role=None, is_moderator=False)


def in_good_standing(user: User, *, even_if_lapsed: bool = False) -> bool:
    """Whether `user` (as loaded) may hold any access at all: signed in, active and, unless
    `even_if_lapsed`, not past their certification's grace period. Every guard that is
    not about one channel (the audit log, administering an institution) asks this too,
    so a lapsed user is refused everywhere before the daily sweep deactivates them."""
    if not user.is_authenticated or not user.is_active:
        return False
    return even_if_lapsed or not is_lapsed(user)


def channel_access(user: User, channel: Channel) -> ChannelAccess:
    """Compute the user's access to one channel from the database, now."""
    if not in_good_standing(user):
        return _nothing(user, channel)
    annotated = _annotated(user).filter(pk=channel.pk).first()
    return _access_of(user, annotated) if annotated is not None else _nothing(user, channel)


def channel_access_many(
    user: User, channels: list[Channel], *, even_if_lapsed: bool = False
) -> dict[int, ChannelAccess]:
    """The same answer as channel_access for a list, in one query.

    `even_if_lapsed` answers what a lapsed user would hold once confirmed again: what
    user_set_active needs to know which channel keys to retire when it deactivates them.
    """
    if not in_good_standing(user, even_if_lapsed=even_if_lapsed):
        return {c.pk: _nothing(user, c) for c in channels}
    annotated = {c.pk: c for c in _annotated(user).filter(pk__in=[c.pk for c in channels])}
    return {
        c.pk: _access_of(user, annotated[c.pk]) if c.pk in annotated else _nothing(user, c)
        for c in channels
    }


@dataclass(frozen=True)
class HeldRole:
    """One role of SPEC §1 a user holds: platform-wide (`channel` None) or in a channel."""

    role: str  # platform_admin, focal_point, moderator, participant or observer
    channel: str | None = None


def roles_held(user: User) -> list[HeldRole]:
    """Every role of SPEC §1 `user` holds now, platform-wide first, then channel by channel.

    "member" is implied by participant or observer and not listed on its own; a banned
    user holds no admission role in that channel, and a user who is not in good standing
    (inactive, lapsed) holds none anywhere, as the guards say.
    """
    held: list[HeldRole] = []
    if user.is_staff:
        held.append(HeldRole("platform_admin"))
    if user.is_focal_point:
        held.append(HeldRole("focal_point"))
    channel_model = apps.get_model("channels_app", "Channel")
    channels = list(channel_model.objects.order_by("slug"))
    accesses = channel_access_many(user, channels)
    for channel in channels:
        access = accesses[channel.pk]
        if access.is_moderator:
            held.append(HeldRole("moderator", channel.slug))
        if access.role is not None and not access.is_banned:
            held.append(HeldRole(access.role, channel.slug))
    return held


def moderates_any_channel(user: User) -> bool:
    """Whether `user` holds `moderate_channel` on at least one channel (two-factor
    sign-in is required of moderators: permissions.sign_in.two_factor)."""
    return ChannelUserObjectPermission.objects.filter(
        user_id=user.pk, permission__codename=MODERATE
    ).exists()


def require(access: ChannelAccess, need: Need) -> ChannelAccess:
    """Raise the error SPEC §1 prescribes when `access` does not allow `need`.

    A non-member is told 404 for an unlisted channel (its existence is secret) and 403
    for a listed one; a member who lacks the role is told 403.
    """
    if access.allows(need):
        return access
    if not access.is_member and not access.channel.listed:
        raise NotFound("No such channel.")
    if not access.is_member:
        raise Forbidden("Your institution is not a member of this channel.")
    if need is Need.POST:
        raise Forbidden("Your institution may only read this channel.")
    raise Forbidden("Only the channel's moderators may do this.")


def access_channel(user: User, slug: str, need: Need) -> ChannelAccess:
    """Look up a channel by slug and check `need`, with SPEC's 404/403 rules.

    This is the check every socket frame and API call makes, so it is one SQL statement
    that reads, as of now, whether the user and their institution are still active and
    what guardian grants them on the channel: the caller's `user` object may be minutes
    old (a socket loads it once), the answer never is. A user deactivated since, or whose
    certification lapsed since, is told NotAuthenticated. `channel_access` answers the
    same question through the ORM; the tests hold the two to the same answers.
    """
    # A NUL can name no channel, and PostgreSQL refuses it even in a query: not a 500.
    if not user.is_authenticated or "\x00" in slug:
        raise NotFound("No such channel.")
    channel = _channel_by_slug_for(user.pk, slug)
    if channel is None:
        raise NotFound("No such channel.")
    if not channel._user_active:
        raise NotAuthenticated("Your account is no longer active.")
    if not channel._user_certified:
        raise NotAuthenticated(
            "Your access lapsed: your institution's focal point has not confirmed it in time."
        )
    return require(_access_of(user, channel), need)


def _access_select() -> str:
    """The one SELECT of a channel (by slug) with what a user (by id) holds on it now.

    Parameters, in order: the certification cutoff, VIEW, POST, MODERATE, the user's id,
    the slug (`_access_params`).
    """
    table = _tables()
    return f"""
        SELECT c.*, u.is_active AS _user_active, u.certified_at >= %s AS _user_certified,
          EXISTS (SELECT 1 FROM {table["group_perm"]} g
                  JOIN {table["perm"]} p ON p.id = g.permission_id
                  WHERE g.content_object_id = c.id AND g.group_id = i.group_id
                    AND i.active AND p.codename = %s) AS _view,
          EXISTS (SELECT 1 FROM {table["group_perm"]} g
                  JOIN {table["perm"]} p ON p.id = g.permission_id
                  WHERE g.content_object_id = c.id AND g.group_id = i.group_id
                    AND i.active AND p.codename = %s) AS _post,
          EXISTS (SELECT 1 FROM {table["user_perm"]} x
                  JOIN {table["perm"]} p ON p.id = x.permission_id
                  WHERE x.content_object_id = c.id AND x.user_id = u.id
                    AND p.codename = %s) AS _moderate,
          EXISTS (SELECT 1 FROM {table["ban"]} b
                  WHERE b.channel_id = c.id AND b.user_id = u.id) AS _banned
        FROM {table["channel"]} c
        JOIN {table["user"]} u ON u.id = %s
        LEFT JOIN {table["institution"]} i ON i.id = u.institution_id
        WHERE c.slug = %s
    """  # noqa: S608  (table names come from model metadata, values are parameters)


def _access_params(user_id: int, slug: str) -> list[Any]:
    cutoff = connection.ops.adapt_datetimefield_value(lapse_cutoff())
    return [cutoff, VIEW, POST, MODERATE, user_id, slug]


def _channel_by_slug_for(user_id: int, slug: str) -> Any:
    channel_model = apps.get_model("channels_app", "Channel")
    rows = list(channel_model.objects.raw(_access_select(), _access_params(user_id, slug)))
    return rows[0] if rows else None


# What `access_channel(..., Need.POST)` allows, over a row of `_access_select()` named `a`:
# an active, certified user who moderates, or whose institution may post and who is not
# banned (ChannelAccess.can_post).
_MAY_POST = (
    "a._user_active AND a._user_certified"
    " AND (a._moderate OR (a._view AND a._post AND NOT a._banned))"
)


def may_post_subquery(user: User, slug: str) -> tuple[str, list[Any]]:
    """A sub-select of the channel's row (`a.*`) that yields it only if `user` may post
    there now, for a writer that folds the check into its own statement (the message
    insert on PostgreSQL). It allows nothing `access_channel(user, slug, Need.POST)`
    refuses; a caller that gets no row asks `access_channel` for the exact refusal.
    """
    if not user.is_authenticated or "\x00" in slug:
        return "SELECT NULL WHERE FALSE", []
    sql = f"SELECT a.* FROM ({_access_select()}) a WHERE {_MAY_POST}"  # noqa: S608
    return sql, _access_params(user.pk, slug)


@functools.cache
def _tables() -> dict[str, str]:
    quote = connection.ops.quote_name
    models: dict[str, type[Model]] = {
        "channel": apps.get_model("channels_app", "Channel"),
        "group_perm": ChannelGroupObjectPermission,
        "user_perm": ChannelUserObjectPermission,
        "perm": Permission,
        "ban": Ban,
        "user": User,
        "institution": Institution,
    }
    return {name: quote(model._meta.db_table) for name, model in models.items()}


def moderated_channel_ids(user: User) -> list[int]:
    """The channels `user` moderates (guardian's `moderate_channel` on their account), none
    while they are not in good standing: a lapsed moderator reads no audit event and
    resolves no report from the moment they lapse, not from the next daily sweep."""
    if not in_good_standing(user):
        return []
    return list(
        ChannelUserObjectPermission.objects.filter(
            user_id=user.pk, permission__codename=MODERATE
        ).values_list("content_object_id", flat=True)
    )


# --- "may U read object X by id": one rule for messages, attachments and documents ---


def readable_since(access: ChannelAccess) -> datetime | None:
    """When the reader's view of the channel begins: None (the beginning) in a channel that
    shows all history and for its moderators; in a since_join channel, when the reader's
    institution was admitted (SPEC §3: `since_join` counts from when it gained access).

    Messages, documents and attachments alike, in lists and by id. The Admission row is
    written with the group permission that makes the reader a member (admission_set); a
    member without one reads nothing of the past rather than all of it.
    """
    if access.channel.history_visibility != SINCE_JOIN or access.is_moderator:
        return None
    # Read lazily: only a since_join channel pays for the admission lookup.
    joined = (
        apps.get_model("permissions", "Admission")
        .objects.filter(channel_id=access.channel.pk, institution_id=access.user.institution_id)
        .values_list("created_at", flat=True)
        .first()
    )
    return _view_begins(access, joined)


def _view_begins(access: ChannelAccess, joined: datetime | None) -> datetime | None:
    """`readable_since`, given when the reader's institution was admitted (None: no
    Admission row): shared by the one-channel and the every-channel reads."""
    if access.channel.history_visibility != SINCE_JOIN or access.is_moderator:
        return None
    return joined if joined is not None else timezone.now()


@dataclass(frozen=True)
class ReadableChannel:
    """A channel the user may read now, and when their view of it begins
    (`readable_since`: None for the beginning)."""

    access: ChannelAccess
    since: datetime | None


def readable_channels(user: User) -> list[ReadableChannel]:
    """Every channel `user` may read now, each with `readable_since`, in one query: the
    cross-channel reads (the library across channels) narrow by this, so they say yes
    exactly where `channel_access(...).can_read` and `may_read_from` do (a test holds
    them to the same answers). Nothing for a user out of good standing."""
    if not in_good_standing(user):
        return []
    joined = (
        apps.get_model("permissions", "Admission")
        .objects.filter(channel_id=OuterRef("pk"), institution_id=user.institution_id)
        .values("created_at")[:1]
    )
    # Only rows ChannelAccess.can_read will say yes to (a moderator, or an admitted
    # institution's unbanned user) leave the database; the loop still asks can_read.
    channels = (
        _annotated(user)
        .filter(Q(_moderate=True) | Q(_view=True, _banned=False))
        .annotate(_joined=Subquery(joined))
        .order_by("pk")
    )
    readable = []
    for channel in channels:
        access = _access_of(user, channel)
        if access.can_read:
            readable.append(ReadableChannel(access, _view_begins(access, channel._joined)))
    return readable


def may_read_from(access: ChannelAccess, created_at: datetime) -> bool:
    """Whether the reader may see something of the channel dated `created_at`: they may
    read the channel and it does not predate their view of it (`readable_since`)."""
    if not access.can_read:
        return False
    since = readable_since(access)
    return since is None or created_at >= since


def message_by_id(actor: User, message_id: int) -> tuple[Message, ChannelAccess]:
    """The message and the actor's access to its channel, once the actor may read it.

    Otherwise the same NotFound as for an id that names nothing: not a member, banned,
    inactive, lapsed, or sent before their institution joined a since_join channel.
    Existence is as secret as content; a caller that needs more than reading asks
    `require` afterwards, so a 403 only ever tells a reader what they lack.
    """
    message_model = apps.get_model("channels_app", "Message")
    message = message_model.objects.select_related("channel").filter(pk=message_id).first()
    if message is None:
        raise NotFound("No such message.")
    access = channel_access(actor, message.channel)
    if not may_read_from(access, message.created_at):
        raise NotFound("No such message.")
    return message, access


def attachment_date(attachment: Attachment) -> datetime:
    """What an attachment counts as dated, for `since_join`: the message that carries it,
    else the document whose version carries it, else its own upload (carried by nothing
    yet). A reader sees a carried file exactly when they see its carrier: a message sent
    after they joined may carry a file uploaded before, and a document added before they
    joined keeps all its versions from them, even those uploaded since."""
    if attachment.message is not None:
        return attachment.message.created_at
    version = getattr(attachment, "document_version", None)
    if version is not None:
        return version.document.created_at
    return attachment.created_at


def attachment_by_id(actor: User, attachment_id: int) -> tuple[Attachment, ChannelAccess]:
    """The attachment and the actor's access to its channel, once the actor may read it
    (`attachment_date`); otherwise the same NotFound as for an id that names nothing."""
    attachment_model = apps.get_model("channels_app", "Attachment")
    attachment = (
        attachment_model.objects.select_related(
            "channel", "epoch", "message", "document_version__document"
        )
        .filter(pk=attachment_id)
        .first()
    )
    if attachment is None:
        raise NotFound("No such attachment.")
    access = channel_access(actor, attachment.channel)
    if not may_read_from(access, attachment_date(attachment)):
        raise NotFound("No such attachment.")
    return attachment, access


def document_by_id(actor: User, document_id: int) -> tuple[Document, ChannelAccess]:
    """The document and the actor's access to its channel, once the actor may read it;
    otherwise the same NotFound as for an id that names nothing (as `message_by_id`)."""
    document_model = apps.get_model("channels_app", "Document")
    document = document_model.objects.select_related("channel").filter(pk=document_id).first()
    if document is None:
        raise NotFound("No such document.")
    access = channel_access(actor, document.channel)
    if not may_read_from(access, document.created_at):
        raise NotFound("No such document.")
    return document, access


def may_change_document(access: ChannelAccess, document: Document) -> bool:
    """Who may add a version to, edit (PATCH) or withdraw (DELETE) a document (SPEC §3):
    the author, a user of the document's institution or a moderator, each while they may
    post in its channel (an observer institution changes nothing). The caller has read
    the document through `document_by_id`, so a refusal here is a 403 to a reader."""
    if not access.can_post:
        return False
    user = access.user
    return (
        access.is_moderator
        or document.author_id == user.pk
        or (user.institution_id is not None and user.institution_id == document.institution_id)
    )


# --- "who holds access to channel C now": one set ------------------------------------


def current_members(channel: Channel, *, moderators: bool = True) -> QuerySet[User]:
    """Everyone who holds access to `channel` now, by username, with their institution.

    The same people `channel_access(user, channel).is_member` says yes to: active users not
    past their certification's grace period who moderate the channel, or whose active
    institution holds `view_channel` on it (admission_set grants it with the Admission
    row) and who are not banned. Each carries `member_role`: "moderator", else the
    admission's "participant" or "observer". The members list, the key shares an epoch
    must cover and who a ban can take access from are all built on this; the last asks
    without `moderators`, whose access a ban would not take.
    """
    group_perms = ChannelGroupObjectPermission.objects.filter(
        content_object_id=channel.pk, group_id=OuterRef("institution__group_id")
    )
    members = (
        User.objects.annotate(
            _view=Exists(group_perms.filter(permission__codename=VIEW)),
            _post=Exists(group_perms.filter(permission__codename=POST)),
            _moderate=Exists(
                ChannelUserObjectPermission.objects.filter(
                    content_object_id=channel.pk,
                    user_id=OuterRef("pk"),
                    permission__codename=MODERATE,
                )
            ),
            _banned=Exists(Ban.objects.filter(channel_id=channel.pk, user_id=OuterRef("pk"))),
        )
        .filter(is_active=True, certified_at__gte=lapse_cutoff())
        .filter(Q(_moderate=True) | Q(_view=True, _banned=False, institution__active=True))
        .annotate(
            member_role=Case(
                When(_moderate=True, then=Value("moderator")),
                When(_post=True, then=Value(AdmissionRole.PARTICIPANT.value)),
                default=Value(AdmissionRole.OBSERVER.value),
            )
        )
        .select_related("institution")
        .order_by("username")
    )
    return members if moderators else members.filter(_moderate=False)


# --- "may U administer the users of institution I" -----------------------------------


def may_administer(actor: User, institution: Institution | None) -> bool:
    """Platform admins administer every institution's users (and those of none); a focal
    point their own institution's, while they are themselves in good standing (active,
    not lapsed): an inactive or lapsed focal point administers nobody."""
    if not in_good_standing(actor):
        return False
    if actor.is_staff:
        return True
    return (
        actor.is_focal_point and institution is not None and actor.institution_id == institution.pk
    )
