"""URL wiring: the pages, the JSON API, the admin."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from audit import views as audit_views
from channels_app import moderation_views as moderation
from channels_app import views
from exchange import views as error_views
from exchange.api import api

urlpatterns = [
    path("", views.catalogue, name="catalogue"),
    path("c/<slug:slug>/", views.channel_page, name="channel"),
    path("c/<slug:slug>/ask/", views.ask_to_join, name="ask-to-join"),
    path("c/<slug:slug>/moderate/", moderation.moderate, name="moderate"),
    path("c/<slug:slug>/moderate/admissions/", moderation.admit, name="moderate-admit"),
    path(
        "c/<slug:slug>/moderate/admissions/<slug:institution>/role/",
        moderation.change_role,
        name="moderate-role",
    ),
    path(
        "c/<slug:slug>/moderate/admissions/<slug:institution>/remove/",
        moderation.remove_institution,
        name="moderate-remove",
    ),
    path("c/<slug:slug>/moderate/bans/", moderation.ban, name="moderate-ban"),
    path(
        "c/<slug:slug>/moderate/bans/<str:username>/lift/",
        moderation.unban,
        name="moderate-unban",
    ),
    path(
        "c/<slug:slug>/moderate/requests/<int:request_id>/approve/",
        moderation.approve_request,
        name="moderate-approve",
    ),
    path(
        "c/<slug:slug>/moderate/requests/<int:request_id>/decline/",
        moderation.decline_request,
        name="moderate-decline",
    ),
    path(
        "c/<slug:slug>/moderate/reports/<int:report_id>/resolve/",
        moderation.resolve_report,
        name="moderate-resolve",
    ),
    path("audit/", audit_views.audit_page, name="audit"),
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
