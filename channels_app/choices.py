"""The fixed vocabularies of what is said: themes, TLP handling codes, the 4x4
evaluation, history visibility, report states.

They live apart from the models so that routes, pages and schemas can name a value
(a schema's Literal, a form's choices, `ReportState.OPEN`) without importing a model:
import-linter forbids that (pyproject.toml, contract "routes"). Migrations store the
values, not these classes, so where they are defined does not matter to them.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Theme(models.TextChoices):
    CYBERCRIME = "cybercrime", _("Cybercrime")
    PENITENTIARY = "penitentiary", _("Penitentiary policy")
    CORRUPTION = "corruption", _("Corruption")
    MEDICAL_WASTE = "medical_waste", _("Traffic of medical waste")
    GENERAL = "general", _("General")


class HandlingCode(models.TextChoices):
    """TLP 2.0 labels, declared from least to most restricted: order is meaningful."""

    CLEAR = "TLP:CLEAR", "TLP:CLEAR"
    GREEN = "TLP:GREEN", "TLP:GREEN"
    AMBER = "TLP:AMBER", "TLP:AMBER"
    AMBER_STRICT = "TLP:AMBER+STRICT", "TLP:AMBER+STRICT"
    RED = "TLP:RED", "TLP:RED"

    @classmethod
    def rank(cls, code: str) -> int:
        return cls.values.index(code)


class SourceReliability(models.TextChoices):
    """The first half of the 4x4 evaluation law-enforcement exchanges grade with (SPEC §2)."""

    A = "A", _("A — reliable")
    B = "B", _("B — usually reliable")
    C = "C", _("C — usually unreliable")
    X = "X", _("X — cannot be judged")


class InformationAssessment(models.IntegerChoices):
    """The second half of the 4x4 evaluation: how far the information itself is known true."""

    KNOWN_TRUE = 1, _("1 — known to be true")
    KNOWN_TO_SOURCE = 2, _("2 — known to the source")
    CORROBORATED = 3, _("3 — corroborated")
    NOT_CORROBORATED = 4, _("4 — not corroborated")


class HistoryVisibility(models.TextChoices):
    ALL = "all", _("All history")
    SINCE_JOIN = "since_join", _("Since the institution joined")


class ReportState(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")
