"""Texts that the pages' modules show, translated on the server: the modules read them
from a json_script block, so every word the user reads goes through gettext."""

from __future__ import annotations

from django.utils.translation import gettext, gettext_lazy

from channels_app.models import InformationAssessment, SourceReliability


def e2ee_text() -> dict[str, object]:
    """What the encryption modules (static/js/keys-panel.js, channel-e2ee.js) may say,
    translated for the request's language. `{name}` marks a value filled in by the page."""
    return {
        "checking": gettext("Checking your encryption key…"),
        "creating": gettext("Making your encryption key…"),
        "unsupported": gettext(
            "This browser cannot keep encryption keys, so encrypted attachments cannot be "
            "used here."
        ),
        "failed": gettext("Your encryption key could not be set up: {message}"),
        "wrongCode": gettext(
            "That recovery code does not open your key backup. Check it and try again: it has "
            "32 letters and digits, in groups of four."
        ),
        "channel": {
            "starting": gettext("Checking the channel key…"),
            "no-identity": gettext(
                "Your encryption key is not on this browser (see above), so encrypted "
                "attachments can be neither read nor sent here yet."
            ),
            "no-epoch": gettext("Setting up the channel key…"),
            "waiting": gettext("Waiting for a member to share the channel key."),
            "stale": gettext(
                "The channel key is being replaced because someone left; files can be sent "
                "again in a moment."
            ),
            "ready": gettext("Attachments are end-to-end encrypted."),
            "error": gettext("The channel key could not be set up: {message}"),
        },
        "encryptedFile": gettext("Encrypted file"),
        "waitingForKey": gettext("Waiting for a member to share the channel key."),
        "needIdentity": gettext("Restore your encryption key to read this file."),
        "metaAltered": gettext("This file cannot be read: its description was altered."),
        "failedToRead": gettext("This file cannot be read: {message}"),
        "altered": gettext(
            "This file was altered or is incomplete, so it was not saved. Ask the sender to "
            "send it again."
        ),
        "downloadFailed": gettext("The download failed: {message}"),
        "encrypting": gettext("Encrypting {name}…"),
        "uploading": gettext("Uploading {name}…"),
        "noKeyToSend": gettext(
            "The file cannot be sent yet: waiting for a member to share the channel key."
        ),
        "uploadFailed": gettext("The file could not be sent: {message}"),
        "tooLarge": gettext("This file is too large: an attachment is at most {size}."),
        "peerKeyChanged": gettext(
            "The encryption key of {username} has changed (new fingerprint {fingerprint}). If "
            "you did not expect it, check with them before sending anything sensitive."
        ),
    }


def moderation_text() -> dict[str, str]:
    """What static/js/message-actions.js says on the channel page (report, delete)."""
    return {
        "confirmDelete": gettext("Delete this message for everyone? This cannot be undone."),
        "reported": gettext("Thank you: the channel's moderators will look at this message."),
        "failed": gettext("That did not work: {message}"),
    }


# What each grade of the 4x4 evaluation means, in Europol's wording; the short labels
# ("B — usually reliable") are the models' choices.
RELIABILITY_MEANINGS = {
    SourceReliability.A: gettext_lazy(
        "No doubt about the source's authenticity, trustworthiness and competence; or the "
        "source has proved reliable in all instances"
    ),
    SourceReliability.B: gettext_lazy(
        "Source from whom information received has in most instances proved to be reliable"
    ),
    SourceReliability.C: gettext_lazy(
        "Source from whom information received has in most instances proved to be unreliable"
    ),
    SourceReliability.X: gettext_lazy("The reliability of the source cannot be assessed"),
}
ASSESSMENT_MEANINGS = {
    InformationAssessment.KNOWN_TRUE: gettext_lazy("Information whose accuracy is not in doubt"),
    InformationAssessment.KNOWN_TO_SOURCE: gettext_lazy(
        "Information known personally to the source but not known personally to the "
        "official who is passing it on"
    ),
    InformationAssessment.CORROBORATED: gettext_lazy(
        "Information not known personally to the source, but corroborated by other "
        "information already recorded"
    ),
    InformationAssessment.NOT_CORROBORATED: gettext_lazy(
        "Information not known personally to the source and cannot be corroborated"
    ),
}


def evaluation_text() -> dict[str, object]:
    """The 4x4 evaluation (SPEC §2) as the channel page shows it: each grade's short label
    (what a select shows) and its meaning (for `title` and screen readers), and what
    static/js/evaluation.js says. The template renders its selects from the same lists."""
    return {
        "reliability": [
            {
                "value": grade.value,
                "label": str(grade.label),
                "meaning": str(RELIABILITY_MEANINGS[grade]),
            }
            for grade in SourceReliability
        ],
        "assessment": [
            {
                "value": str(grade.value),
                "label": str(grade.label),
                "meaning": str(ASSESSMENT_MEANINGS[grade]),
            }
            for grade in InformationAssessment
        ],
        # `{code}` is the grade as shown ("B2"), the others are the meanings above.
        "described": gettext(
            "Evaluation {code}. Source reliability {reliability}: {reliabilityMeaning}. "
            "Information assessment {assessment}: {assessmentMeaning}."
        ),
        "halfFilled": gettext(
            "Choose both a source reliability and an information assessment, or neither: "
            "an evaluation needs both."
        ),
        "cleared": gettext("Evaluation removed"),
        "unknown": gettext("not given"),
        "noHistory": gettext("This message has never been evaluated."),
        "failed": gettext("That did not work: {message}"),
    }
