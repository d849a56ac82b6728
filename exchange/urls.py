"""URL wiring: the pages, the JSON API, the admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path, re_path

from audit import views as audit_views
from channels_app.moderation import views as moderation
from channels_app.pages import views
from exchange import health
from exchange import views as error_views
from exchange.api import api
from permissions.institutions import views as people_views
from permissions.sign_in import views as sign_in_views

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
    path("institution/", people_views.institution_page, name="institution"),
    path("institution/invite/", people_views.institution_invite, name="institution_invite"),
    path(
        "institution/users/<str:username>/deactivate/",
        people_views.institution_user_active,
        {"active": False},
        name="institution_deactivate",
    ),
    path(
        "institution/users/<str:username>/reactivate/",
        people_views.institution_user_active,
        {"active": True},
        name="institution_reactivate",
    ),
    path(
        "institution/recertify/", people_views.institution_recertify, name="institution_recertify"
    ),
    path("invite/<uidb64>/<token>/", people_views.InviteAcceptView.as_view(), name="invite_accept"),
    path("invite/done/", people_views.invite_done, name="invite_done"),
    path("login/", sign_in_views.SignInView.as_view(), name="login"),
    path("logout/", sign_in_views.SignOutView.as_view(), name="logout"),
    path("two-factor/", sign_in_views.two_factor_verify, name="two_factor_verify"),
    path("two-factor/enrol/", sign_in_views.two_factor_enrol, name="two_factor_enrol"),
    path("password/", sign_in_views.ExchangePasswordChangeView.as_view(), name="password_change"),
    path("healthz", health.healthz, name="healthz"),
    path("api/v1/", api.urls),
    re_path(r"^api/", error_views.api_not_found),
    path("admin/", admin.site.urls),
]

handler400 = "exchange.views.bad_request"
handler403 = "exchange.views.permission_denied"
handler404 = "exchange.views.not_found"
handler500 = "exchange.views.server_error"
