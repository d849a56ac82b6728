"""What is said: channels and their messages."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from channels_app.choices import (
    HandlingCode,
    HistoryVisibility,
    InformationAssessment,
    ReportState,
    SourceReliability,
    Theme,
)
from permissions.people.validators import visible_name_validator


class EvaluationFields(models.Model):
    """A 4x4 evaluation as stored: both halves, or an empty string and NULL for none.

    Shared by what carries an evaluation (messages; documents later) and by its history
    (EvaluationChange); channels_app.evaluations.pair turns the pair into a value and back.
    """

    source_reliability = models.CharField(
        max_length=1, choices=SourceReliability.choices, blank=True
    )
    information_assessment = models.PositiveSmallIntegerField(
        choices=InformationAssessment.choices, null=True, blank=True
    )

    class Meta:
        abstract = True


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


class Message(EvaluationFields):
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
    # EvaluationFields: the current evaluation; every change is an EvaluationChange row.

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "seq"], name="message_seq_unique"),
            models.UniqueConstraint(
                fields=["author", "client_id"], name="message_client_id_unique"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(source_reliability="", information_assessment__isnull=True)
                    | (
                        models.Q(source_reliability__in=SourceReliability.values)
                        & models.Q(information_assessment__in=InformationAssessment.values)
                    )
                ),
                name="message_evaluation_whole",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}#{self.seq}"


class EvaluationChange(EvaluationFields):
    """One setting of a message's or a document's evaluation by its author: SPEC §2's
    "with history". Exactly one of `message` and `document` is set.

    Both halves empty records that the evaluation was withdrawn.
    """

    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="evaluations"
    )
    document = models.ForeignKey(
        "Document", null=True, blank=True, on_delete=models.CASCADE, related_name="evaluations"
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(message__isnull=False, document__isnull=True)
                    | models.Q(message__isnull=True, document__isnull=False)
                ),
                name="evaluation_change_of_one_thing",
            )
        ]

    def __str__(self) -> str:
        value = f"{self.source_reliability}{self.information_assessment or ''}" or "-"
        of = f"message {self.message_id}" if self.message_id else f"document {self.document_id}"
        return f"{of}: {value}"


class IdentityKey(models.Model):
    """A user's age X25519 recipient (`age1…`). The identity itself never leaves the device.

    Earlier keys are kept, marked replaced, so clients can show that a member's key
    changed and when.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identity_keys"
    )
    public_key = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    replaced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(replaced_at__isnull=True),
                name="one_current_identity_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.public_key[:16]}…"


class KeyBackup(models.Model):
    """The user's identity, age-encrypted under a recovery key only the user holds."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="key_backup"
    )
    data = models.BinaryField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"backup of {self.user_id}"


class Epoch(models.Model):
    """One channel key: an age X25519 identity made by a member's client. The server has
    its recipient and, per member, a share; never the identity."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="epochs")
    number = models.PositiveIntegerField()
    public_key = models.CharField(max_length=100)
    # The previous epoch's identity file, age-encrypted to this epoch's recipient.
    back_link = models.BinaryField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when someone left: nothing more may be encrypted to this epoch.
    stale = models.BooleanField(default=False)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "number"], name="epoch_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.channel_id} epoch {self.number}"


class KeyShare(models.Model):
    """An epoch's identity file, age-encrypted to one member's identity key."""

    epoch = models.ForeignKey(Epoch, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="key_shares"
    )
    # The recipient the share was made for: a share for a replaced key is useless.
    recipient = models.CharField(max_length=100)
    ciphertext = models.BinaryField()
    delivered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["epoch", "user", "recipient"], name="one_share_per_member_key"
            )
        ]

    def __str__(self) -> str:
        return f"share of {self.epoch_id} for {self.user_id}"


class Attachment(models.Model):
    """An age file stored as uploaded. The server knows its size and hash, not its name."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="attachments")
    epoch = models.ForeignKey(Epoch, on_delete=models.PROTECT, related_name="attachments")
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="attachments"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    # A generated name in the ciphertext store, never derived from anything the client said.
    storage_name = models.CharField(max_length=200, unique=True)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    meta = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"attachment {self.pk} in {self.channel_id}"


class Report(models.Model):
    """A member points a message out to the channel's moderators (never to platform staff)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(max_length=1000)
    state = models.CharField(max_length=16, choices=ReportState.choices, default=ReportState.OPEN)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "reporter"],
                condition=models.Q(state="open"),
                name="report_one_open_per_reporter",
            )
        ]

    def __str__(self) -> str:
        return f"report {self.pk} on message {self.message_id} ({self.state})"


class Document(EvaluationFields):
    """A lessons-learned document (SPEC §2): its text is metadata the server reads (title,
    summary, tags); its content is the versions' end-to-end encrypted attachments."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(max_length=200, validators=[visible_name_validator])
    summary = models.TextField(blank=True)
    # The sanitised rendering of summary, made once at write time rather than per reader.
    summary_html = models.TextField(blank=True)
    language = models.CharField(max_length=2)
    # The author's institution when the document was added: it stays the document's
    # institution (whose participants may add versions) if the author moves on.
    institution = models.ForeignKey(
        "permissions.Institution", on_delete=models.PROTECT, related_name="documents"
    )
    handling_code = models.CharField(
        max_length=20, choices=HandlingCode.choices, default=HandlingCode.AMBER
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="documents"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The channel message that announced the document (documents.services.document_add).
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Distinct users who fetched a version in full: the rows of DocumentDownload, counted
    # here in the same transaction so that "most downloaded" is an indexed sort.
    downloads = models.PositiveIntegerField(default=0)
    # A withdrawal is a tombstone (SPEC §3 DELETE /documents/{id}): lists and search omit
    # the document, by id it still answers, with withdrawn_at.
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["downloads", "id"], name="document_by_downloads"),
            models.Index(fields=["channel", "id"], name="document_by_channel"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(source_reliability="", information_assessment__isnull=True)
                    | (
                        models.Q(source_reliability__in=SourceReliability.values)
                        & models.Q(information_assessment__in=InformationAssessment.values)
                    )
                ),
                name="document_evaluation_whole",
            ),
        ]

    def __str__(self) -> str:
        return f"document {self.pk} in {self.channel_id}"


class DocumentTag(models.Model):
    """One tag of a document: 1-40 letters or digits of any script joined by "-", NFC and
    case-folded (channels_app.documents.fields.clean_tag)."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=40)

    class Meta:
        ordering = ["name"]
        # The `tag` filter looks tags up by name; the unique constraint leads with the
        # document.
        indexes = [models.Index(fields=["name", "document"], name="document_tag_by_name")]
        constraints = [
            models.UniqueConstraint(fields=["document", "name"], name="document_tag_unique")
        ]

    def __str__(self) -> str:
        return f"{self.document_id}: {self.name}"


class DocumentVersion(models.Model):
    """One version of a document: an attachment uploaded beforehand to the same channel."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    # RESTRICT, not PROTECT: deleting the channel deletes both sides in one go.
    attachment = models.OneToOneField(
        Attachment, on_delete=models.RESTRICT, related_name="document_version"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "number"], name="document_version_number_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.document_id} v{self.number}"


class DocumentDownload(models.Model):
    """That `user` fetched one of `document`'s versions in full, once per user: the
    distinct downloading users of SPEC §3 (`downloads`)."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    first_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["document", "user"], name="document_download_once")
        ]

    def __str__(self) -> str:
        return f"{self.document_id} fetched by {self.user_id}"
