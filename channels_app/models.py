"""What is said: channels and their messages."""

from __future__ import annotations

from django.conf import settings
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


class HistoryVisibility(models.TextChoices):
    ALL = "all", _("All history")
    SINCE_JOIN = "since_join", _("Since the institution joined")


class Channel(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=200)
    theme = models.CharField(max_length=20, choices=Theme.choices, default=Theme.GENERAL)
    description = models.TextField(blank=True)
    listed = models.BooleanField(default=True)
    archived = models.BooleanField(default=False)
    history_visibility = models.CharField(
        max_length=16, choices=HistoryVisibility.choices, default=HistoryVisibility.ALL
    )
    max_handling_code = models.CharField(
        max_length=20, choices=HandlingCode.choices, default=HandlingCode.AMBER_STRICT
    )
    # The seq of the newest message: bumped under a row lock in message_send, so seq
    # numbers are contiguous and follow commit order.
    last_seq = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]
        permissions = [
            ("post_to_channel", "May post in the channel"),
            ("moderate_channel", "May moderate the channel"),
        ]

    def __str__(self) -> str:
        return self.slug


class Message(models.Model):
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveBigIntegerField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="messages"
    )
    client_id = models.UUIDField()
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replies"
    )
    body = models.TextField(blank=True)
    # The sanitised rendering of body, made once at write time rather than per reader.
    html = models.TextField(blank=True)
    handling_code = models.CharField(
        max_length=20, choices=HandlingCode.choices, default=HandlingCode.AMBER
    )
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "seq"], name="message_seq_unique"),
            models.UniqueConstraint(
                fields=["author", "client_id"], name="message_client_id_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}#{self.seq}"
