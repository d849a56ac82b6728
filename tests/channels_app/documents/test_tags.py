"""Tags in any script (issue 11): our users write in Spanish and Portuguese, so a tag is
letters and digits of any script, NFC-normalised and case-folded, joined by '-'; what
hides, reorders or fakes text is refused as before."""

from __future__ import annotations

import unicodedata

import pytest

from channels_app.documents.fields import clean_tag, clean_tags
from channels_app.models import DocumentTag
from exchange.kernel.errors import BadRequest
from tests import factories
from tests.conftest import World, api_client

pytestmark = pytest.mark.django_db


def test_a_portuguese_tag_corrupcao_is_kept_in_nfc_casefolded() -> None:
    decomposed = unicodedata.normalize("NFD", "Corrupção")
    assert decomposed != "Corrupção"
    assert clean_tag(decomposed) == clean_tag("CORRUPÇÃO") == "corrupção"
    assert unicodedata.is_normalized("NFC", clean_tag(decomposed))


def test_a_spanish_tag_ninos_and_tags_of_other_scripts_are_kept() -> None:
    assert clean_tag("Niños") == "niños"
    assert clean_tag("trata-de-Personas") == "trata-de-personas"
    assert clean_tag("Ελλάδα") == "ελλάδα"
    assert clean_tag("киберпреступность") == "киберпреступность"
    assert clean_tag("網絡犯罪") == "網絡犯罪"
    assert clean_tag("हिन्दी") == "हिन्दी"  # vowel signs are combining marks after a letter
    assert clean_tag("covid-19") == "covid-19"
    assert clean_tag("٣") == "٣"  # an Arabic-Indic digit is a decimal digit


def test_case_folding_makes_two_spellings_one_tag_so_a_document_cannot_hold_both() -> None:
    with pytest.raises(BadRequest, match="twice"):
        clean_tags(["Prisões", "PRISÕES"])
    assert clean_tags(["Straße"]) == ["strasse"]


@pytest.mark.parametrize(
    ("attack", "tag"),
    [
        ("a bidi override that makes a tag read backwards", "abc\u202edef"),
        ("a right-to-left isolate", "abc\u2067def"),
        ("a zero-width space that makes two tags look alike", "corrup\u200bção"),
        ("a zero-width joiner", "ab\u200dc"),
        ("a byte order mark", "\ufeffabc"),
        ("a soft hyphen", "ab\u00adc"),
        ("a NUL", "ab\x00c"),
        ("a line break", "ab\nc"),
        ("a space", "lavado de dinero"),
        ("a no-break space", "lavado\u00a0dinero"),
        ("punctuation other than '-'", "drugs/arms"),
        ("a dot, as in a file name", "report.exe"),
        ("an underscore", "a_b"),
        ("a symbol", "a+b"),
        ("an emoji", "police👮"),
        ("a combining mark standing alone", "\u0301"),
        ("a combining mark after a hyphen", "a-\u0301b"),
        ("a superscript digit", "x²"),
        ("a Roman numeral", "Ⅻ"),
        ("forty-one letters", "x" * 41),
        ("forty-one letters only once case-folded", "ß" * 21),
        ("an empty tag", ""),
        ("a private-use character", "a\ue000"),
    ],
)
def test_a_hostile_tag_is_refused(attack: str, tag: str) -> None:
    with pytest.raises(BadRequest) as refused:
        clean_tag(tag)
    assert refused.value.field == "tags", attack


def test_a_tag_with_a_bidi_override_is_refused() -> None:
    with pytest.raises(BadRequest, match="U\\+202E"):
        clean_tag("pdf\u202eexe")


def test_a_tag_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(BadRequest):
        clean_tag(5)


def test_a_document_added_with_accented_tags_is_found_by_the_tag_in_any_spelling(
    world: World,
) -> None:
    document = factories.make_document(world.member, world.channel, tags=["Corrupção", "niños"])
    assert sorted(DocumentTag.objects.values_list("name", flat=True)) == ["corrupção", "niños"]
    client = api_client(world.observer)
    for spelling in ("corrupção", "CORRUPÇÃO", unicodedata.normalize("NFD", "Corrupção")):
        response = client.get("/api/v1/channels/ops/documents", {"tag": spelling})
        assert response.status_code == 200, response.content
        assert [d["id"] for d in response.json()] == [document.pk]
    refused = client.get("/api/v1/channels/ops/documents", {"tag": "a\u202eb"})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "tag"
