"""Per-user rate limits and the cap on open sockets (exchange/kernel/ratelimit.py), in process.

Over HTTP through the test client and over the WebSocket through the real ASGI router,
with limits made small by override_settings so that a handful of requests reach them.
The same limits shared by two server processes over Redis are in tests/live/test_hardening.py.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from channels.layers import get_channel_layer
from django.test import Client, override_settings

from channels_app.models import Attachment, Message
from tests.channels_app.socket.test_consumer import bearer, handshake, open_socket, receive, sync
from tests.conftest import World, api_client
from tests.e2ee_clients import Member


def post_message(client: Client, body: str = "hello") -> tuple[int, dict[str, object], str]:
    response = client.post(
        "/api/v1/channels/ops/messages",
        {"body": body, "client_id": str(uuid.uuid4())},
        content_type="application/json",
    )
    return response.status_code, response.json(), response.get("Retry-After", "")


# --- the HTTP API --------------------------------------------------------------------------


@pytest.mark.django_db
def test_flooding_the_api_with_writes_gets_429_with_retry_after_and_stores_nothing_more(
    world: World,
) -> None:
    member, owner = api_client(world.member), api_client(world.owner)
    with override_settings(RATE_API_WRITES="3/minute"):
        assert [post_message(member)[0] for _ in range(3)] == [201, 201, 201]
        status, body, retry_after = post_message(member, "one too many")
        assert status == 429
        assert body["error"]["code"] == "rate_limited"  # type: ignore[index]
        assert body["error"]["message"]  # type: ignore[index]
        assert int(retry_after) >= 1
        assert body["error"]["retry_after"] == int(retry_after)  # type: ignore[index]
        # Reads are not writes; and the limit is the flooding user's, nobody else's.
        assert member.get("/api/v1/channels/ops/messages").status_code == 200
        assert post_message(owner)[0] == 201
        # Every unsafe method counts, whatever the route.
        edit = member.patch(
            f"/api/v1/messages/{Message.objects.first().pk}",  # type: ignore[union-attr]
            {"body": "edited"},
            content_type="application/json",
        )
        assert edit.status_code == 429
    assert Message.objects.filter(author=world.member).count() == 3
    assert not Message.objects.filter(body__in=["one too many", "edited"]).exists()


@pytest.mark.django_db
def test_flooding_uploads_is_refused_before_the_body_is_read(
    world: World,
    settings,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    uploader = Member(world.member.username, api_client(world.member))
    uploader.register()
    assert uploader.start_epoch("ops", 1).status_code == 201
    with override_settings(RATE_UPLOADS="2/minute"):
        assert [uploader.upload("ops", 1, b"evidence").status_code for _ in range(2)] == [201, 201]
        refused = uploader.upload("ops", 1, b"evidence")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert int(refused["Retry-After"]) >= 1
        # The refusal comes before the multipart body is parsed: a garbage body too.
        garbage = uploader.client.post("/api/v1/channels/ops/attachments", {"epoch": "x"})
        assert garbage.status_code == 429
        # Other writes still have their own, larger budget.
        assert post_message(uploader.client)[0] == 201
    assert Attachment.objects.count() == 2


@pytest.mark.django_db
def test_an_oversized_json_body_is_refused_with_413_and_changes_nothing(world: World) -> None:
    response = api_client(world.member).post(
        "/api/v1/channels/ops/messages",
        {"body": "x" * (2 * 1024 * 1024), "client_id": str(uuid.uuid4())},
        content_type="application/json",
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not Message.objects.exists()


# --- the WebSocket -------------------------------------------------------------------------

pytestmark_ws = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def empty_layer() -> AsyncIterator[None]:
    layer = get_channel_layer()
    await layer.flush()
    yield
    await layer.flush()


@pytestmark_ws
async def test_flooding_a_socket_with_frames_gets_rate_limited_errors_and_it_stays_open(
    world: World, empty_layer: None
) -> None:
    with override_settings(RATE_WS_FRAMES="3/minute"):
        async with open_socket(world.member) as flood, open_socket(world.owner) as other:
            for _ in range(3):
                await flood.send_json_to({"type": "ping"})
                assert await receive(flood) == {"type": "pong"}
            client_id = str(uuid.uuid4())
            await flood.send_json_to(
                {"type": "message.send", "channel": "ops", "client_id": client_id,
                 "body": "refused"}
            )  # fmt: skip
            error = await receive(flood)
            assert error["type"] == "error" and error["code"] == "rate_limited"
            assert error["ref"] == client_id  # which send to retry
            assert isinstance(error["message"], str) and error["message"]
            assert isinstance(error["retry_after"], int) and error["retry_after"] >= 1
            # Still open and still answering (with the same refusal) ...
            await flood.send_json_to({"type": "ping"})
            assert (await receive(flood))["code"] == "rate_limited"
            # ... and another user's socket is not limited by it.
            await other.send_json_to({"type": "ping"})
            assert await receive(other) == {"type": "pong"}
    assert not await sync(Message.objects.exists)()


@pytestmark_ws
async def test_a_socket_that_keeps_flooding_after_being_told_to_wait_is_closed_with_4008(
    world: World, empty_layer: None
) -> None:
    with override_settings(RATE_WS_FRAMES="2/minute", WS_RATE_LIMITED_CLOSE_AFTER=3):
        async with open_socket(world.member) as flood:
            for _ in range(2):
                await flood.send_json_to({"type": "ping"})
                assert await receive(flood) == {"type": "pong"}
            for _ in range(3):
                await flood.send_json_to({"type": "ping"})
                assert (await receive(flood))["code"] == "rate_limited"
            await flood.send_json_to({"type": "ping"})
            closed = await flood.receive_output(timeout=3)
            assert closed == {"type": "websocket.close", "code": 4008}


@pytestmark_ws
async def test_opening_sockets_past_the_per_user_cap_is_refused_at_the_handshake(
    world: World, empty_layer: None
) -> None:
    with override_settings(MAX_SOCKETS_PER_USER=2):
        async with open_socket(world.member), open_socket(world.member) as second:
            connected, refused = await handshake(await sync(bearer)(world.member))
            assert not connected, "a third socket of the same user must be refused"
            await refused.disconnect()
            async with open_socket(world.owner) as someone_else:  # their own cap
                await someone_else.send_json_to({"type": "ping"})
                assert await receive(someone_else) == {"type": "pong"}
            await second.disconnect()
            # Closing a socket gives its slot back.
            async with open_socket(world.member) as again:
                await again.send_json_to({"type": "ping"})
                assert await receive(again) == {"type": "pong"}


# --- leases: counting frames a tenth of a window at a time ------------------------------


async def test_a_flood_that_leases_its_frames_still_gets_no_more_than_the_limit() -> None:
    """Frames are counted from leases (ten at a time under a 100/second limit) to spare
    Redis a round trip per frame; leased frames count whether spent or not, so a flood
    gets at most the limit, and loses at most one lease to it."""
    from exchange.kernel import ratelimit

    with override_settings(RATE_WS_FRAMES="100/second;5000/minute"):
        ratelimit.reset()
        answers = [await ratelimit.frame_allowed(user_id=7) for _ in range(150)]
        allowed = sum(answer is None for answer in answers)
        assert 90 <= allowed <= 100
        assert all(answer is not None for answer in answers[allowed:])
        # Another user's budget is their own.
        assert await ratelimit.frame_allowed(user_id=8) is None


async def test_a_small_limit_is_counted_frame_by_frame_and_exactly() -> None:
    from exchange.kernel import ratelimit

    with override_settings(RATE_WS_FRAMES="5/minute"):
        ratelimit.reset()
        answers = [await ratelimit.frame_allowed(user_id=7) for _ in range(8)]
        assert [answer is None for answer in answers] == [True] * 5 + [False] * 3
