"""The forms of the institution page (/institution/). They only shape input for the
services in permissions/institutions/services.py, which decide everything else."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from permissions.models import User


class InviteForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    email = forms.EmailField(label=_("Email"), max_length=254)
    display_name = forms.CharField(label=_("Display name"), max_length=150, required=False)
    preferred_language = forms.ChoiceField(
        label=_("Preferred language"), choices=settings.LANGUAGES, initial=settings.LANGUAGE_CODE
    )


class RecertifyForm(forms.Form):
    usernames = forms.MultipleChoiceField(
        label=_("Users to confirm"), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, users: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["usernames"]
        assert isinstance(field, forms.MultipleChoiceField)  # noqa: S101  (declared above)
        field.choices = [(user.username, user.username) for user in users if user.is_active]
