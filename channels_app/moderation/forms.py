"""The moderation pages' and the catalogue's forms: they check the shape of what was
posted; whether it is allowed is the services' business."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from permissions.membership.requests import MAX_NOTE
from permissions.models import AdmissionRole


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=AdmissionRole.choices)


class AdmitForm(RoleForm):
    institution = forms.SlugField(label=_("Institution"), max_length=64)


class BanForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150, strip=True)


class ResolveForm(forms.Form):
    delete_message = forms.BooleanField(required=False)
    resolution = forms.CharField(
        label=_("Note (optional)"), required=False, max_length=1000, strip=True
    )


class AskToJoinForm(forms.Form):
    note = forms.CharField(
        label=_("Note to the moderators (optional)"),
        required=False,
        max_length=MAX_NOTE,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


def first_error(form: forms.Form) -> str:
    """One line saying what is wrong with a posted form, for a flash message."""
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else None
        return f"{label}: {errors[0]}" if label else str(errors[0])
    return str(_("The form was not valid."))
