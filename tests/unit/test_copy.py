"""Unit tests of the customer-facing words: e-mails, SMS, salutations, addressees, languages."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.channels.copy import (
    RenderedEmail,
    fits_one_segment,
    format_chf,
    format_speed,
    language_for,
    partially_addressed_addressee,
    render_email,
    render_sms,
    salutation,
    speed_factor,
)
from shared.offers import Offer, load_offers

URL = "https://unsubscribe.example.ch/u?lang=x&token=abc.def"
OFFERS = {offer.offer_id: offer for offer in load_offers()}
UPGRADE = OFFERS["fibre-1g-upgrade"]
SWITCH = OFFERS["fibre-1g-switch-combo"]


def _email(language: str = "de", offer: Offer = UPGRADE, **overrides: object) -> RenderedEmail:
    fields: dict[str, object] = {
        "language": language, "first_name": "Anna", "last_name": "Muster", "offer": offer,
        "target_group": offer.target_group, "new_speed_mbps": 1000, "current_speed_mbps": 100,
        "unsubscribe_url": URL,
    }
    fields.update(overrides)
    return render_email(**fields)  # type: ignore[arg-type]


def _visible(rendered_html: str) -> str:
    """The text a reader sees in the HTML part."""
    without_head = re.sub(r"<head>.*?</head>", "", rendered_html, flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", without_head)).split())


EXPECTED = {
    "de": ("Guten Tag Anna Muster", "bis zu 10-mal schneller", "CHF 59.– pro Monat", "CHF 10.– Rabatt pro Monat",
           "Hier abmelden", "Ihr Zuhause ist jetzt am Glasfasernetz"),
    "fr": ("Bonjour Anna Muster", "jusqu'à 10 fois plus vite", "CHF 59.– par mois",
           "CHF 10.– de rabais par mois",
           "Se désinscrire", "Votre logement est raccordé à la fibre optique"),
    "it": ("Buongiorno Anna Muster", "fino a 10 volte più veloce", "CHF 59.– al mese",
           "CHF 10.– di sconto al mese",
           "Annulli l'iscrizione", "La sua abitazione è collegata alla fibra ottica"),
    "en": ("Hello Anna Muster", "up to 10 times faster", "CHF 59.– per month", "CHF 10.– discount per month",
           "Unsubscribe", "Your home is now connected to fibre"),
}


@pytest.mark.parametrize("language", ["de", "fr", "it", "en"])
def test_email_in_each_language_has_the_same_content_in_both_parts(language: str) -> None:
    rendered = _email(language)
    copy = UPGRADE.copy_for(language)
    assert rendered.subject == copy.headline
    assert rendered.language == language
    for part in (rendered.text, _visible(rendered.html)):
        for phrase in (*EXPECTED[language], copy.body, "1 Gbit/s", "100 Mbit/s", "CHF 49.–"):
            assert phrase in part, (language, phrase)
    assert URL in rendered.text
    assert f'href="{html.escape(URL)}"' in rendered.html
    assert f'lang="{language}"' in rendered.html


@pytest.mark.parametrize("language", ["rm", "", "DE ", "xx"])
def test_unknown_language_falls_back_to_english_but_known_is_normalised(language: str) -> None:
    expected = "de" if language == "DE " else "en"
    assert _email(language).language == expected


def test_footer_link_is_last_and_visible() -> None:
    rendered = _email("fr")
    footer = rendered.html[rendered.html.rindex("border-top"):]
    assert "Se désinscrire ici</a>" in footer
    assert rendered.text.rstrip().endswith(URL)


def test_html_is_self_contained_with_inline_styles() -> None:
    rendered = _email("de")
    assert "<img" not in rendered.html
    assert "<link" not in rendered.html and "<script" not in rendered.html
    assert "<style" not in rendered.html
    assert 'style="' in rendered.html
    assert re.findall(r'(?:src|href)="([^"]+)"', rendered.html) == [html.escape(URL)]


def test_names_are_escaped_in_html_and_plain_in_text() -> None:
    rendered = _email("en", first_name="<b>Jo</b>", last_name="O'Brien & Co")
    assert "<b>Jo</b>" not in rendered.html
    assert "&lt;b&gt;Jo&lt;/b&gt; O&#39;Brien &amp; Co" in rendered.html
    assert "Hello <b>Jo</b> O'Brien & Co," in rendered.text


def test_names_lose_stray_whitespace_and_line_breaks() -> None:
    rendered = _email("de", first_name="  Anna\r\n", last_name=" Muster ")
    assert rendered.text.startswith("Guten Tag Anna Muster,\n")


def test_no_speed_comparison_without_current_speed_or_for_other_groups() -> None:
    for rendered in (_email("de", current_speed_mbps=None), _email("de", offer=SWITCH)):
        assert "schneller" not in rendered.text.replace("40-mal schneller", "")
        assert "An Ihrer Adresse sind jetzt bis zu 1 Gbit/s verfügbar." in rendered.text
        assert "Heute surfen Sie" not in rendered.text


def test_comparison_never_promises_more_than_the_offer() -> None:
    rendered = _email("de", offer=OFFERS["fibre-500-upgrade"], new_speed_mbps=10000, current_speed_mbps=50)
    assert "bis zu 10 Gbit/s verfügbar: bis zu 10-mal schneller" in rendered.text


def test_switch_offer_shows_price_and_discount_months() -> None:
    rendered = _email("fr", offer=SWITCH, current_speed_mbps=None)
    assert "Fibre 1 Gbit/s + Mobile: CHF 65.– par mois" in rendered.text
    expected = "CHF 25.– de rabais par mois pendant les 24 premiers mois et payez ainsi CHF 40.– par mois"
    assert expected in rendered.text


def test_no_discount_line_without_a_discount() -> None:
    offer = UPGRADE.model_copy(update={"discount_chf": 0.0})
    rendered = _email("it", offer=offer)
    assert "sconto" not in rendered.text
    assert "CHF 59.– al mese" in rendered.text


def test_a_single_discount_month_is_singular() -> None:
    offer = UPGRADE.model_copy(update={"discount_months": 1})
    assert "im ersten Monat" in _email("de", offer=offer).text
    assert "for the first month," in _email("en", offer=offer).text


def test_unsubscribe_url_must_be_https() -> None:
    with pytest.raises(ValueError):
        _email("de", unsubscribe_url="http://example.ch/u")


@pytest.mark.parametrize(("amount", "expected"), [
    (59.0, "CHF 59.–"), (10, "CHF 10.–"), (12.5, "CHF 12.50"), (0.05, "CHF 0.05"), (1290, "CHF 1'290.–"),
    (0, "CHF 0.–"), (49.999, "CHF 50.–"),
])
def test_format_chf(amount: float, expected: str) -> None:
    assert format_chf(amount) == expected


@pytest.mark.parametrize(("mbps", "language", "expected"), [
    (500, "de", "500 Mbit/s"), (1000, "fr", "1 Gbit/s"), (10000, "en", "10 Gbit/s"),
    (2500, "de", "2,5 Gbit/s"), (2500, "en", "2.5 Gbit/s"),
])
def test_format_speed(mbps: int, language: str, expected: str) -> None:
    assert format_speed(mbps, language) == expected


@pytest.mark.parametrize(("new", "current", "expected"), [
    (1000, 100, "10"), (1000, 300, "3"), (1000, 600, "1,6"), (1000, 1000, None), (500, 1000, None),
    (1000, None, None), (1000, 0, None), (1000, 990, None),
])
def test_speed_factor(new: int, current: int | None, expected: str | None) -> None:
    assert speed_factor(new, current, "de") == expected


@pytest.mark.parametrize(("customer_language", "canton", "expected"), [
    ("fr", "ZH", "fr"), ("it", "GE", "it"), ("en", "TI", "en"), ("de", "VD", "de"), (" FR ", "ZH", "fr"),
    (None, "VD", "fr"), ("", "GE", "fr"), (None, "JU", "fr"), (None, "NE", "fr"), (None, "FR", "fr"),
    (None, "VS", "fr"), ("rm", "TI", "it"), (None, "GR", "de"), (None, "ZH", "de"), (None, "BE", "de"),
    (None, "vd", "fr"), (None, "", "de"),
])
def test_language_for(customer_language: str | None, canton: str, expected: str) -> None:
    assert language_for(customer_language, canton) == expected


@pytest.mark.parametrize(("canton", "commune", "expected"), [
    ("BE", "Biel/Bienne", "de"), ("BE", "Bienne", "de"), ("BE", "BIEL", "de"),
    ("BE", "Saint-Imier", "fr"), ("BE", "St-Imier", "fr"), ("BE", "Tavannes", "fr"), ("BE", "La Neuveville", "fr"),
    ("BE", "Corcelles (BE)", "fr"), ("BE", "Corcelles", "fr"), ("BE", "Thun", "de"),
    ("FR", "Fribourg/Freiburg", "fr"), ("FR", "Freiburg", "fr"), ("FR", "Murten/Morat", "de"), ("FR", "Morat", "de"),
    ("FR", "Düdingen", "de"), ("FR", "Dudingen", "de"), ("FR", "Jaun", "de"), ("FR", "Bulle", "fr"),
    ("VS", "Visp", "de"), ("VS", "Brig-Glis", "de"), ("VS", "Zermatt", "de"), ("VS", "Sierre", "fr"),
    ("VS", "Siders", "fr"), ("VS", "Sion", "fr"), ("VS", "Martigny", "fr"),
    ("GR", "Chur", "de"), ("GR", "Poschiavo", "it"), ("GR", "Mesocco", "it"), ("GR", "Roveredo (GR)", "it"),
    ("GR", "Bregaglia", "it"), ("GR", "Disentis/Mustér", "de"), ("GR", "Mustér", "de"), ("GR", "Davos", "de"),
    ("JU", "Ederswiler", "de"), ("JU", "Les Breuleux", "fr"),
    ("ZH", "Biel", "de"), ("VD", "Murten", "fr"),  # a name is looked up in its own canton only
])
def test_a_household_without_a_known_language_gets_its_communes_language(canton: str, commune: str,
                                                                          expected: str) -> None:
    # Given a household in a multilingual canton whose residents' language is unknown
    # Then it gets its commune's language, else its canton's
    assert language_for(None, canton, commune=commune) == expected


def test_a_known_language_wins_over_the_commune_and_no_commune_means_the_canton() -> None:
    assert language_for("fr", "BE", commune="Thun") == "fr"
    assert language_for(None, "GR", commune="") == "de"
    assert language_for(None, "VS") == "fr"


def test_the_commune_table_names_its_source_and_ships_with_the_package() -> None:
    import csv
    import tomllib
    from fnmatch import fnmatch
    from pathlib import Path

    from shared.channels.copy import COMMUNE_LANGUAGES

    text = COMMUNE_LANGUAGES.read_text(encoding="utf-8")
    assert "Federal Statistical Office" in text and "census of 2000" in text
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    assert rows and all(r["canton"] in {"BE", "FR", "VS", "GR", "JU"} and r["region"] in {"de", "fr", "it", "rm"}
                        for r in rows)
    repo = Path(__file__).resolve().parents[2]
    package_data = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]["shared"]
    shipped = COMMUNE_LANGUAGES.relative_to(repo / "shared").as_posix()
    assert any(fnmatch(shipped, pattern) for pattern in package_data)


def test_addressees_and_salutations() -> None:
    assert partially_addressed_addressee("de") == "An die Bewohner des Hauses"
    assert partially_addressed_addressee("fr") == "Aux habitants de la maison"
    assert partially_addressed_addressee("it") == "Agli abitanti della casa"
    assert partially_addressed_addressee("en") == "To the residents of the house"
    assert [salutation(lang) for lang in ("de", "fr", "it", "en", "xx")] == [
        "Guten Tag", "Bonjour", "Buongiorno", "Hello", "Hello"]


OPT_OUT = {"de": "STOP an 9988", "fr": "STOP au 9988", "it": "STOP al 9988", "en": "Reply STOP to 9988"}


@pytest.mark.parametrize("language", ["de", "fr", "it", "en"])
@pytest.mark.parametrize("offer_id", sorted(OFFERS))
def test_sms_has_copy_and_opt_out_and_fits_one_segment(language: str, offer_id: str) -> None:
    offer = OFFERS[offer_id]
    text = render_sms(language=language, first_name="Anna", offer=offer, new_speed_mbps=1000)
    assert offer.copy_for(language).sms in text
    assert text.endswith(OPT_OUT[language])
    assert fits_one_segment(text)


def test_sms_keeps_accents_and_uses_the_given_keyword() -> None:
    offer = OFFERS["fibre-1g-switch-combo"]
    text = render_sms(language="fr", first_name="Zoé", offer=offer, new_speed_mbps=1000,
                      stop_keyword="ARRET", short_code="444")
    assert "combiné" in text
    assert text.endswith("ARRET au 444")


def test_sms_drops_the_greeting_when_the_name_would_need_a_second_segment() -> None:
    offer = OFFERS["fibre-1g-switch-combo"]
    text = render_sms(language="de", first_name="Zoë", offer=offer, new_speed_mbps=1000)  # ë is not GSM-7
    assert "Zoë" not in text
    assert text == f"{offer.copy_for('de').sms} STOP an 9988"


def test_sms_greets_by_first_name_when_it_fits() -> None:
    text = render_sms(language="it", first_name="Luca", offer=UPGRADE, new_speed_mbps=1000)
    assert text.startswith("Buongiorno Luca! ")


def test_sms_mentions_the_speed_only_when_the_copy_does_not() -> None:
    prospect = OFFERS["fibre-1g-welcome"]
    assert "Bis zu 1 Gbit/s verfügbar." in render_sms(language="de", first_name="", offer=prospect,
                                                       new_speed_mbps=1000)
    assert render_sms(language="de", first_name="", offer=UPGRADE, new_speed_mbps=1000).count("Gbit/s") == 1


def test_sms_unknown_language_is_english() -> None:
    assert render_sms(language="rm", first_name="", offer=UPGRADE, new_speed_mbps=1000).endswith(OPT_OUT["en"])


def test_sms_long_copy_still_carries_the_opt_out() -> None:
    long_copy = UPGRADE.copy_for("de").model_copy(update={"sms": "Glasfaser " * 25})
    offer = UPGRADE.model_copy(update={"copy_text": {**UPGRADE.copy_text, "de": long_copy}})
    text = render_sms(language="de", first_name="Anna", offer=offer, new_speed_mbps=1000)
    assert text.endswith("Glasfaser. STOP an 9988")
    assert "Anna" not in text


@given(st.text(max_size=200))
def test_fits_one_segment_matches_the_gsm7_and_ucs2_limits(text: str) -> None:
    gsm = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
              "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
    ext = set("\f^{}\\[~]|€")
    if all(c in gsm or c in ext for c in text):
        assert fits_one_segment(text) == (sum(2 if c in ext else 1 for c in text) <= 160)
    else:
        assert fits_one_segment(text) == (len(text.encode("utf-16-le")) // 2 <= 70)
