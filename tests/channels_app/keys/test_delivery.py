"""Who is asked to deliver keys (the `shares.pending` frame): a member holding the current
epoch while someone waits for a share, and one holding a stale epoch, which the remaining
members wait to see replaced (SPEC §5, Joining and Leaving)."""

from __future__ import annotations

import pytest

from channels_app.keys.services import user_can_deliver
from channels_app.models import Channel, Epoch
from permissions.membership.services import admission_remove, admission_set
from tests import factories
from tests.conftest import World, api_client
from tests.e2ee_clients import Member

pytestmark = pytest.mark.django_db


def test_a_key_holder_is_asked_only_while_someone_waits_or_the_epoch_is_stale(
    world: World,
) -> None:
    olivia = Member("olivia", api_client(world.owner))
    mateo = Member("mateo", api_client(world.member))
    olivia.register()
    assert olivia.start_epoch("ops", 1).status_code == 201
    channel_id = world.channel.pk
    assert not user_can_deliver(user_id=world.owner.pk, channel_id=channel_id)

    mateo.register()  # waits for his share of epoch 1
    assert user_can_deliver(user_id=world.owner.pk, channel_id=channel_id)
    assert not user_can_deliver(user_id=world.member.pk, channel_id=channel_id)  # holds none

    admission_remove(actor=None, channel=world.channel, institution=world.observer_institution)
    # Nobody waits for a share of a stale epoch, but its holder can start the next one.
    assert api_client(world.owner).get("/api/v1/channels/ops/shares/pending").json() == []
    assert user_can_deliver(user_id=world.owner.pk, channel_id=channel_id)
    assert not user_can_deliver(user_id=world.member.pk, channel_id=channel_id)


def test_admitting_an_institution_to_a_since_join_channel_makes_the_epoch_stale(
    world: World,
) -> None:
    Channel.objects.filter(pk=world.channel.pk).update(history_visibility="since_join")
    channel = Channel.objects.get(pk=world.channel.pk)
    olivia = Member("olivia", api_client(world.owner))
    olivia.register()
    assert olivia.start_epoch("ops", 1).status_code == 201
    newcomers = factories.make_institution("policia-nacional", country="CO")
    admission_set(actor=None, channel=channel, institution=newcomers, role="participant")
    # The next epoch starts without a back-link: newcomers cannot walk back to epoch 1.
    assert Epoch.objects.get(channel=channel, number=1).stale
    assert olivia.start_epoch("ops", 2, back_link=False).status_code == 201


def test_admitting_an_institution_to_an_all_history_channel_keeps_the_epoch(
    world: World,
) -> None:
    olivia = Member("olivia", api_client(world.owner))
    olivia.register()
    assert olivia.start_epoch("ops", 1).status_code == 201
    newcomers = factories.make_institution("policia-nacional", country="CO")
    admission_set(actor=None, channel=world.channel, institution=newcomers, role="participant")
    assert not Epoch.objects.get(channel=world.channel, number=1).stale
