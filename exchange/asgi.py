"""The ASGI entry point: HTTP through Django, WebSocket through the Channels router."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings")
# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from channels_app.socket.consumer import ChannelSocket  # noqa: E402
from permissions.sign_in.ws_auth import TokenOrSessionAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": TokenOrSessionAuthMiddleware(
            URLRouter([path("ws/v1/", ChannelSocket.as_asgi())])
        ),
    }
)
