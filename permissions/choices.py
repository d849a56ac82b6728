"""The fixed vocabularies of who takes part: institution kinds, admission roles,
access request states.

Apart from the models so that routes, pages and forms can name a value without importing
a model (pyproject.toml, import-linter contract "routes"); migrations store the values.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class InstitutionKind(models.TextChoices):
    POLICE = "police", _("Police")
    PROSECUTION = "prosecution", _("Prosecution")
    JUDICIARY = "judiciary", _("Judiciary")
    PENITENTIARY = "penitentiary", _("Penitentiary")
    MINISTRY = "ministry", _("Ministry")
    CUSTOMS = "customs", _("Customs")
    AGENCY = "agency", _("Agency")
    PROGRAMME = "programme", _("Programme")
    OTHER = "other", _("Other")


class AdmissionRole(models.TextChoices):
    PARTICIPANT = "participant", _("Participant")
    OBSERVER = "observer", _("Observer")


class AccessRequestState(models.TextChoices):
    OPEN = "open", _("Open")
    APPROVED = "approved", _("Approved")
    DECLINED = "declined", _("Declined")
