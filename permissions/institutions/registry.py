"""Writes about the institutions themselves: registering them and switching them off.

Platform admins (or the command line) do this; what a focal point does for its own
institution is in permissions/institutions/services.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django_countries import countries

from audit.chain import record
from exchange.kernel.errors import BadRequest, Forbidden
from exchange.kernel.realtime import (
    members_changed_on_commit,
)
from permissions.models import (
    Admission,
    Institution,
    InstitutionKind,
    User,
)
from permissions.people.validators import clean_name

if TYPE_CHECKING:
    pass
from permissions.membership.services import access_change_announce, channel_key_retire


def institution_upsert(
    *, slug: str, name: str, country: str, kind: str, actor: User | None = None
) -> Institution:
    """Create an institution, or bring an existing one (same slug) to these values."""
    name = clean_name(name, field="name")
    country = country.upper()
    if country not in countries:
        raise BadRequest(f"{country!r} is not an ISO 3166-1 alpha-2 country code.", field="country")
    if kind not in InstitutionKind.values:
        raise BadRequest(
            f"Unknown kind {kind!r}; one of {', '.join(InstitutionKind.values)}.", field="kind"
        )
    with transaction.atomic():
        institution = Institution.objects.select_for_update().filter(slug=slug).first()
        created = institution is None
        if institution is None:
            group = Group.objects.create(name=f"institution:{slug}")
            institution = Institution(slug=slug, group=group)
        institution.name, institution.country, institution.kind = name, country, kind
        try:
            institution.full_clean()
        except ValidationError as exc:
            field, errors = next(iter(exc.message_dict.items()))
            raise BadRequest(f"{field}: {' '.join(errors)}", field=field) from None
        institution.save()
        record(
            action="institution.created" if created else "institution.updated",
            actor=actor,
            target=f"institution:{slug}",
            data={"name": name, "country": country, "kind": kind},
        )
    return institution


def institution_set_active(*, actor: User | None, institution: Institution, active: bool) -> None:
    """Deactivate or reactivate an institution: its users lose, or regain, every channel
    it is admitted to at once (SPEC §1). Platform admins only."""
    if actor is not None and not actor.is_staff:
        raise Forbidden("Only platform admins deactivate institutions.")
    with transaction.atomic():
        institution = Institution.objects.select_for_update().get(pk=institution.pk)
        if institution.active == active:
            return
        institution.active = active
        institution.save(update_fields=["active"])
        record(
            action="institution.reactivated" if active else "institution.deactivated",
            actor=actor,
            target=f"institution:{institution.slug}",
        )
        users = list(institution.users.values_list("pk", flat=True))
        for admission in Admission.objects.filter(institution=institution).select_related(
            "channel"
        ):
            if not active:
                channel_key_retire(admission.channel, actor=actor, reason="institution deactivated")
            else:
                members_changed_on_commit(admission.channel_id)
            access_change_announce(admission.channel, users)
