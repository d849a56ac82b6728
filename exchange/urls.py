"""URL wiring: the pages, the JSON API, the admin."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from channels_app import views
from exchange import views as error_views
from exchange.api import api

urlpatterns = [
    path("", views.catalogue, name="catalogue"),
    path("c/<slug:slug>/", views.channel_page, name="channel"),
    path("keys/", views.keys_page, name="keys"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", api.urls),
    re_path(r"^api/", error_views.api_not_found),
    path("admin/", admin.site.urls),
]

handler404 = "exchange.views.not_found"
handler500 = "exchange.views.server_error"
