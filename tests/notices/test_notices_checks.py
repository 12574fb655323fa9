from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.notices.checks import (
    ReadabilityLimits,
    check_elements,
    check_forbidden,
    check_short_channel,
    readability,
    review,
)
from app.notices.elements import ELEMENT_SETS, ContentElement, elements_for
from app.notices.forbidden import cn_id_valid, iban_valid, luhn_valid
from app.notices.rendering import NoticeRenderer, RenderedNotice
from app.notices.sms import segments
from tests.notices.notices_sample import LINK, TEMPLATES, context

US_AND_EU = elements_for("us-ca", "us-ca-ssn", "us-hipaa", "eu-gdpr")
CHINA = elements_for("eu-gdpr", "cn-pipl", "cn-gbt35273")


def render(channel: str, lang: str = "en", root: Path = TEMPLATES, regime: str = "us-ca",
           **changes: object) -> tuple[RenderedNotice, dict[str, object]]:
    ctx = context(lang, **changes)
    return NoticeRenderer(root).render_for(ctx, regime=regime, channel=channel), ctx.template_vars()


@pytest.mark.parametrize("channel", ["email", "letter", "announcement"])
def test_full_english_notice_passes_ca_hipaa_gdpr(channel: str) -> None:
    notice, values = render(channel)
    assert check_elements(notice, US_AND_EU, values) == []
    result = review(notice, elements=US_AND_EU, context=values)
    assert result.ok, result.blocking()


@pytest.mark.parametrize("lang", ["de", "fr", "zh"])
@pytest.mark.parametrize("channel", ["email", "letter", "announcement"])
def test_other_languages_pass_gdpr(lang: str, channel: str) -> None:
    notice, values = render(channel, lang, regime="default")
    assert notice.locale == lang
    assert check_elements(notice, ELEMENT_SETS["eu-gdpr"], values) == []


def test_chinese_notice_passes_pipl_and_gbt() -> None:
    for channel in ("email", "letter", "announcement"):
        notice, values = render(channel, "zh", regime="cn")
        assert check_elements(notice, CHINA, values) == []


def test_german_notice_does_not_pass_california() -> None:
    notice, values = render("letter", "de")
    missing = {m.element_id for m in check_elements(notice, ELEMENT_SETS["us-ca"], values)}
    assert "ca.title" in missing and "ca.heading.what_happened" in missing


def test_removing_a_heading_fails_naming_it(tmp_path: Path) -> None:
    shutil.copytree(TEMPLATES / "default", tmp_path / "default")
    body = tmp_path / "default/en/email/body.txt.j2"
    body.write_text(body.read_text().replace("What We Are Doing\n", "Our response\n"))
    notice, values = render("email", root=tmp_path)
    missing = check_elements(notice, US_AND_EU, values)
    assert [(m.element_id, m.part) for m in missing] == [("ca.heading.what_we_are_doing", "text")]
    assert missing[0].citation == "Cal. Civ. Code 1798.82(d)(1)"
    result = review(notice, elements=US_AND_EU, context=values)
    assert not result.ok
    assert result.blocking() == ['missing ca.heading.what_we_are_doing in text: "What We Are Doing" is '
                                 'not on a line of its own (Cal. Civ. Code 1798.82(d)(1))']


def test_heading_inside_a_sentence_does_not_count(tmp_path: Path) -> None:
    shutil.copytree(TEMPLATES / "default", tmp_path / "default")
    html = tmp_path / "default/en/letter.html.j2"
    html.write_text(html.read_text().replace("<h2>What Happened</h2>\n<p>", "<p>What Happened: "))
    notice, values = render("letter", root=tmp_path)
    assert [m.element_id for m in check_elements(notice, US_AND_EU, values)] == ["ca.heading.what_happened"]


def test_missing_fact_value_and_unrendered_fact(tmp_path: Path) -> None:
    notice, values = render("email", "zh", cause=None)
    missing = check_elements(notice, ELEMENT_SETS["cn-pipl"], values)
    assert {(m.element_id, m.reason) for m in missing} == {
        ("pipl.cause", "no value for facts.cause in the notice context")}
    shutil.copytree(TEMPLATES / "default", tmp_path / "default")
    html = tmp_path / "default/fr/letter.html.j2"
    html.write_text(html.read_text().replace("{{ facts.likely_consequences|paragraphs }}", "..."))
    notice, values = render("letter", "fr", root=tmp_path)
    missing = check_elements(notice, ELEMENT_SETS["eu-gdpr"], values)
    assert [(m.element_id, m.reason) for m in missing] == [
        ("gdpr.consequences", "the value of facts.likely_consequences does not appear in the notice")]


def test_optional_fact_and_any_of() -> None:
    notice, values = render("email", breach_start=None, breach_end=None)
    assert check_elements(notice, ELEMENT_SETS["us-hipaa"], values) == []
    element = ContentElement("x.contact", "fact", any_of=("facts.contact.fax", "facts.contact.email"))
    assert check_elements(notice, [element], values) == []
    nothing = ContentElement("x.fax", "fact", any_of=("facts.contact.fax",))
    assert [m.reason for m in check_elements(notice, [nothing], values)] == [
        "none of facts.contact.fax appears"] * 2


def test_sms_push_and_cover_have_no_element_checks() -> None:
    for channel in ("sms", "push", "regulator_cover"):
        notice, values = render(channel)
        assert check_elements(notice, US_AND_EU, values) == []


def test_element_needs_text_or_field() -> None:
    with pytest.raises(ValueError):
        ContentElement("bad", "heading")
    with pytest.raises(ValueError):
        ContentElement("bad", "fact", field="a", any_of=("b",))


@pytest.mark.parametrize("lang", ["en", "de", "fr", "zh"])
def test_clean_notice_has_no_forbidden_data(lang: str) -> None:
    for channel in ("email", "letter", "announcement", "regulator_cover", "sms", "push", "voice"):
        notice, values = render(channel, lang, regime="default")
        assert check_forbidden(notice, context=values) == [], channel


def test_ssn_in_the_facts_is_caught() -> None:
    notice, values = render("email", what_happened="Your SSN 123-45-6789 was exposed.")
    hits = check_forbidden(notice, context=values)
    assert {(h.kind, h.excerpt) for h in hits} == {("ssn", "***6789")}
    assert all("123-45" not in h.excerpt for h in hits)
    notice, values = render("email", what_happened="Your SSN: 123456789 was exposed.")
    assert {h.kind for h in check_forbidden(notice, context=values)} == {"ssn"}


def test_luhn_valid_card_is_caught_and_invalid_is_not() -> None:
    notice, values = render("letter", what_happened="The card 4111 1111 1111 1111 was used.")
    assert {(h.kind, h.excerpt) for h in check_forbidden(notice, context=values)} == {("card", "***1111")}
    notice, values = render("letter", what_happened="Reference 4111 1111 1111 1112 was used.")
    assert check_forbidden(notice, context=values) == []
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")


def test_iban_and_chinese_id_are_caught() -> None:
    assert iban_valid("DE89 3704 0044 0532 0130 00") and not iban_valid("DE88 3704 0044 0532 0130 00")
    assert cn_id_valid("11010519491231002X") and not cn_id_valid("110105194912310021")
    notice, values = render("email", "zh", what_happened="账户 DE89 3704 0044 0532 0130 00; "
                                                            "身份证 11010519491231002X。")
    assert {h.kind for h in check_forbidden(notice, context=values)} == {"iban", "cn-id"}


def test_breached_values_and_sensitive_context_keys() -> None:
    notice, values = render("email", what_you_can_do="Change your password O'Hara<99 now.")
    hits = check_forbidden(notice, breached_values=["O'Hara<99"], context=values)
    assert {h.kind for h in hits} == {"breached-value"}
    assert {h.part for h in hits} >= {"text", "html (visible text)"}
    leaked = dict(values, extra={"account_number": "00123456", "password": "hunter2!"})
    notice, _ = render("sms")
    assert check_forbidden(notice, context=leaked) == []
    notice, _ = render("email", what_happened="Account 00123456 was read; password hunter2! was reset.")
    assert {(h.kind, h.excerpt) for h in check_forbidden(notice, context=leaked)} == {
        ("breached-value", "***3456"), ("breached-value", "***er2!"), ("password", "***")}


@pytest.mark.parametrize(("lang", "text", "found"), [
    ("en", "Your account number 00123456 and password hunter2! were read.", {("account-number", "***3456"),
                                                                            ("password", "***")}),
    ("en", "The file held Driver's license D1234567 / passport 123456789.", {("driver-licence", "***4567"),
                                                                             ("passport", "***6789")}),
    ("en", "Routing number: 021000021. Your PIN is 4711. Security code '123'.", {("account-number", "***0021"),
                                                                                  ("password", "***")}),
    ("en", 'Her password was "letmein".', {("password", "***")}),
    ("de", "Kontonummer 1234567890, Passwort lautet Geheim123!, Reisepassnummer C01X00T47.", {
        ("account-number", "***7890"), ("password", "***"), ("passport", "***0T47")}),
    ("fr", "Numéro de compte : 12345678901 ; mot de passe « azerty12 » ; permis de conduire 123456789012.", {
        ("account-number", "***8901"), ("password", "***"), ("driver-licence", "***9012")}),
    ("zh", "账号\uff1a6222020200112233\uff0c密码为abc12345\uff0c护照号码E12345678。", {
        ("account-number", "***2233"), ("password", "***"), ("passport", "***5678")}),
])
def test_a_value_right_after_its_label_is_found_masked(lang: str, text: str, found: set[tuple[str, str]]) -> None:
    notice, values = render("email", lang, regime="default", what_happened=text)
    hits = check_forbidden(notice, context=values)
    assert {(h.kind, h.excerpt) for h in hits} == found
    assert {h.part.split(" ")[0] for h in hits} == {"text", "html"}
    assert not any(secret in h.excerpt for h in hits for secret in ("hunter", "Geheim", "azerty", "abc1", "4711"))


@pytest.mark.parametrize(("lang", "text"), [
    ("en", "Change your password. Your account number was involved, not your PIN. Your password was exposed. "
           "Watch for statements about your account number ending in 3456 (account number: ****3456). "
           "Your passport and driver's license were not involved. We lock laptops with a password-protected "
           "screen since 2024. Ask the IRS for an Identity Protection PIN (IP PIN). We set 90-day password "
           "\u201cage\u201d limits."),
    ("de", "Ändern Sie Ihr Passwort. Ihre Kontonummer war betroffen. Ihr Reisepass ist nicht betroffen."),
    ("fr", "Changez votre mot de passe. Votre numéro de compte est concerné. Votre passeport n'est pas concerné."),
    ("zh", "请修改您的密码。您的账号可能受到影响。您的护照号码未受影响。"),
])
def test_advice_naming_a_label_without_a_value_passes(lang: str, text: str) -> None:
    notice, values = render("email", lang, regime="default", what_you_can_do=text)
    assert check_forbidden(notice, context=values) == []


def test_readability_grade_and_flag() -> None:
    plain = readability("We are sorry. Someone got into our email. We fixed it. Call us if you want help.",
                        locale="en", limits=ReadabilityLimits(en=8))
    assert plain.score is not None and plain.score < 8 and not plain.flagged
    dense = readability("Notwithstanding comprehensive organizational countermeasures, unauthorized "
                        "exfiltration of personally identifiable information necessitated notification.",
                        locale="en-US", limits=ReadabilityLimits(en=8))
    assert dense.score is not None and dense.score > 12 and dense.flagged
    assert dense.to_json() == {"grade": dense.score, "metric": "coleman-liau", "max_grade": 8, "flagged": True}


PLAIN_AND_DENSE = {
    "de": ("Wir haben einen Fehler gemacht. Jemand hat Ihre Daten gesehen. Wir haben das Problem behoben.",
           "Aufgrund unzureichender organisatorischer Sicherheitsvorkehrungen wurden personenbezogene "
           "Gesundheitsinformationen unbefugterweise offengelegt, weshalb entsprechende "
           "Benachrichtigungsverpflichtungen entstanden."),
    "fr": ("Nous avons eu un problème. Une personne a vu vos données. Nous avons réglé le problème.",
           "L'insuffisance des mesures organisationnelles de sécurisation informatique a occasionné la "
           "divulgation non autorisée d'informations médicales particulièrement confidentielles, nécessitant "
           "consécutivement l'accomplissement d'obligations réglementaires de notification."),
}


def test_german_is_graded_by_the_wiener_sachtextformel() -> None:
    plain, dense = (readability(text, locale="de-AT") for text in PLAIN_AND_DENSE["de"])
    assert (plain.metric, plain.scale, plain.limit) == ("wiener-sachtextformel-1", "grade", 8.0)
    assert plain.score is not None and plain.score < 6 and not plain.flagged
    assert dense.score is not None and dense.score > 12 and dense.flagged
    assert not readability(PLAIN_AND_DENSE["de"][1], locale="de", limits=ReadabilityLimits(de=40)).flagged
    assert dense.warning("text") == f"readability grade {dense.score} in text is above 8.0"


def test_french_is_scored_by_kandel_and_moles_reading_ease() -> None:
    plain, dense = (readability(text, locale="fr") for text in PLAIN_AND_DENSE["fr"])
    assert (plain.metric, plain.scale, plain.limit) == ("flesch-kandel-moles", "ease", 60.0)
    assert plain.score is not None and plain.score > 80 and not plain.flagged  # higher is easier
    assert dense.score is not None and dense.score < 30 and dense.flagged
    assert not readability(PLAIN_AND_DENSE["fr"][1], locale="fr", limits=ReadabilityLimits(fr=-100)).flagged
    assert dense.to_json() == {"ease": dense.score, "metric": "flesch-kandel-moles", "min_ease": 60.0,
                               "flagged": True}
    assert dense.warning("html") == f"readability: reading ease {dense.score} in html is below 60.0"


def test_chinese_gets_no_readability_score() -> None:
    result = readability("我们很抱歉。有人看到了您的数据。", locale="zh")
    assert (result.score, result.metric, result.flagged, result.warning("text")) == (None, "none", False, None)


@pytest.mark.parametrize(("lang", "metric"), [("en", "coleman-liau"), ("de", "wiener-sachtextformel-1"),
                                              ("fr", "flesch-kandel-moles"), ("zh", "none")])
def test_the_default_templates_are_scored_in_their_language(lang: str, metric: str) -> None:
    notice, values = render("letter", lang, regime="default")
    result = review(notice, elements=ELEMENT_SETS["eu-gdpr"], context=values)
    assert result.readability["html"].metric == metric
    assert (result.readability["html"].score is None) == (lang == "zh")


def test_review_reports_readability_per_part() -> None:
    notice, values = render("email")
    result = review(notice, elements=US_AND_EU, context=values, limits=ReadabilityLimits(en=30))
    assert set(result.readability) == {"text"}
    grade = result.readability["text"].score
    assert grade is not None and 0 < grade < 30 and not result.readability["text"].flagged
    strict = review(notice, elements=US_AND_EU, context=values, limits=ReadabilityLimits(en=1))
    assert strict.readability["text"].flagged and strict.ok  # a flag, not a blocker


def test_short_channels_need_link_name_and_fit() -> None:
    sms, values = render("sms")
    assert review(sms, elements=US_AND_EU, context=values).ok
    assert check_short_channel(sms, personal_link="https://other.example/n/x", organisation_name="Acme") == [
        "sms: personal link missing"]
    long_sms, long_values = render("sms", organisation_name="Acme " + "Health " * 60)
    problems = review(long_sms, elements=US_AND_EU, context=long_values, max_sms_segments=2).problems
    fit = segments(long_sms.parts["text"])
    assert fit.segments > 2
    assert problems == [f"sms: SMS needs {fit.segments} segments ({fit.units} GSM-7 units), "
                        "more than the maximum of 2"]
    push, values = render("push")
    assert review(push, elements=US_AND_EU, context=values).ok
    assert check_short_channel(push, personal_link=LINK, organisation_name="Other Corp") == [
        "push: organisation name missing"]
    assert check_short_channel(push, personal_link=LINK, organisation_name="Acme", max_push_bytes=200) == [
        "push: body shortened to fit 200 bytes"]
