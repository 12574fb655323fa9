from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.notices.rendering import NoticeRenderer, NoticeRenderError, locale_chain, normalise_locale
from tests.notices.notices_sample import LINK, TEMPLATES, context


def renderer() -> NoticeRenderer:
    return NoticeRenderer(TEMPLATES)


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_missing_field_names_the_field() -> None:
    values = context().template_vars()
    del values["facts"]["what_happened"]
    with pytest.raises(NoticeRenderError) as info:
        renderer().render(regime="default", locale="en", channel="email", context=values)
    assert info.value.missing == "what_happened"
    assert "what_happened" in str(info.value)
    assert info.value.template == "default/en/email/body.txt.j2"


def test_missing_top_level_value_is_named() -> None:
    values = context().template_vars()
    del values["recipient"]
    with pytest.raises(NoticeRenderError) as info:
        renderer().render(regime="default", locale="en", channel="sms", context=values)
    assert info.value.missing == "recipient"


def test_printing_none_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "default/en/sms.txt.j2", "Cause: {{ facts.cause }}")
    with pytest.raises(NoticeRenderError, match="None"):
        NoticeRenderer(tmp_path).render(regime="default", locale="en", channel="sms",
                                        context=context(cause=None))


def test_autoescape_only_in_html_parts() -> None:
    ctx = context(organisation_name="O'Brien & <b>Sons</b>")
    email = renderer().render_for(ctx, regime="default", channel="email")
    raw = "O'Brien & <b>Sons</b>"
    assert email.parts["subject"] == f"Notice of Data Breach from {raw}"
    assert raw in email.parts["text"]
    assert "O&#39;Brien &amp; &lt;b&gt;Sons&lt;/b&gt;" in email.parts["html"]
    assert "<b>Sons" not in email.parts["html"]
    assert "Siobhán O&#39;Brien" in email.parts["html"]
    assert "Dear Siobhán O'Brien," in email.parts["text"]
    sms = renderer().render_for(ctx, regime="default", channel="sms")
    assert sms.parts["text"] == f"{raw}: important notice about your personal information. Please read it here: {LINK}"
    push = renderer().render_for(ctx, regime="default", channel="push")
    assert push.parts["title"] == f"{raw}: Notice of Data Breach"


def test_subject_is_collapsed_to_one_line(tmp_path: Path) -> None:
    write(tmp_path, "default/en/email/subject.txt.j2", "Notice\n  of   {{ facts.organisation_name }}\n\n")
    write(tmp_path, "default/en/email/body.txt.j2", "Body\n")
    write(tmp_path, "default/en/email/body.html.j2", "<p>Body</p>\n")
    notice = NoticeRenderer(tmp_path).render(regime="default", locale="en", channel="email",
                                             context={"facts": {"organisation_name": "A\r\nBcc: x@y"}})
    assert notice.parts["subject"] == "Notice of A Bcc: x@y"
    assert notice.parts["text"] == "Body\n"


def test_locale_chain() -> None:
    assert locale_chain("pt-BR", "de") == ("pt-BR", "pt", "de", "en")
    assert locale_chain("pt_br", "pt") == ("pt-BR", "pt", "en")
    assert locale_chain(None, "zh-Hant-TW") == ("zh-Hant-TW", "zh-Hant", "zh", "en")
    assert locale_chain("../../etc", None) == ("en",)
    assert normalise_locale("ZH_hant_tw") == "zh-Hant-TW"
    assert normalise_locale("") is None


@pytest.mark.parametrize(("preferred", "default", "expected"), [
    ("de-AT", "en", "de"),
    ("pt-BR", "fr", "fr"),
    ("pt-BR", "pt", "en"),
    (None, "zh", "zh"),
    ("fr", "de", "fr"),
])
def test_render_uses_locale_fallback(preferred: str | None, default: str, expected: str) -> None:
    notice = renderer().render(regime="us-ca", locale=preferred, channel="letter", context=context(),
                               default_locale=default)
    assert notice.locale == expected
    assert notice.regime == "default"
    assert notice.requested_regime == "us-ca"
    assert notice.templates["html"] == f"default/{expected}/letter.html.j2"


def test_regime_folder_wins_within_a_locale_and_needs_all_parts(tmp_path: Path) -> None:
    shutil.copytree(TEMPLATES / "default", tmp_path / "default")
    write(tmp_path, "us-xx/en/sms.txt.j2", "XX {{ facts.organisation_name }} {{ recipient.personal_link }}")
    write(tmp_path, "us-xx/en/email/subject.txt.j2", "only a subject")  # incomplete: not used
    r = NoticeRenderer(tmp_path)
    assert r.render(regime="us-xx", locale="en", channel="sms", context=context()).parts["text"].startswith("XX ")
    assert r.render(regime="us-xx", locale="en", channel="email", context=context()).regime == "default"
    # the person's language outranks a regime template in another language
    german = r.render(regime="us-xx", locale="de", channel="sms", context=context())
    assert (german.regime, german.locale) == ("default", "de")


def test_dates_are_formatted_for_the_locale() -> None:
    texts = {lang: renderer().render_for(context(lang), regime="default", channel="email").parts["text"]
             for lang in ("en", "de", "fr", "zh")}
    assert "March 4, 2026" in texts["en"]
    assert "4. März 2026" in texts["de"]
    assert "4 mars 2026" in texts["fr"]
    assert "2026年3月4日" in texts["zh"]


@pytest.mark.parametrize(("lang", "number", "euros", "dollars"), [
    ("en", "1,234,567.891", "€1,234.50", "$99.00"),
    ("de", "1.234.567,891", "1.234,50\u00a0€", "99,00\u00a0$"),
    ("fr", "1\u202f234\u202f567,891", "1\u202f234,50\u00a0€", "99,00\u00a0$US"),
])
def test_numbers_and_amounts_are_formatted_for_the_locale(tmp_path: Path, lang: str, number: str, euros: str,
                                                           dollars: str) -> None:
    source = "{{ 1234567.891|number }} | {{ 1234.5|currency('EUR') }} | {{ 99|currency('USD') }}"
    write(tmp_path, f"default/{lang}/sms.txt.j2", source)
    write(tmp_path, f"default/{lang}/announcement.html.j2", f"<p>{source}</p>")
    sms = NoticeRenderer(tmp_path).render_for(context(lang), regime="default", channel="sms")
    assert (sms.locale, sms.parts["text"]) == (lang, f"{number} | {euros} | {dollars}")
    page = NoticeRenderer(tmp_path).render(regime="default", locale=lang, channel="announcement",
                                           context=context(lang))
    assert page.parts["html"].strip() == f"<p>{number} | {euros} | {dollars}</p>"  # signs are not escaped


def test_every_default_locale_renders_every_channel() -> None:
    for lang in ("en", "de", "fr", "zh"):
        for channel in ("email", "sms", "voice", "push", "letter", "announcement", "regulator_cover"):
            notice = renderer().render_for(context(lang), regime="default", channel=channel)
            assert notice.locale == lang
            assert all(text.strip() for text in notice.parts.values())


def test_announcement_and_cover_need_no_recipient() -> None:
    ctx = context().model_copy(update={"recipient": None})
    for channel in ("announcement", "regulator_cover"):
        notice = renderer().render_for(ctx, regime="default", channel=channel)
        assert "Acme Health, Inc." in next(iter(notice.parts.values()))


def test_unknown_channel_and_bad_regime_are_refused() -> None:
    with pytest.raises(NoticeRenderError, match="unknown channel"):
        renderer().render(regime="default", locale="en", channel="fax", context=context())
    with pytest.raises(NoticeRenderError, match="invalid regime"):
        renderer().render(regime="../default", locale="en", channel="sms", context=context())


def test_sandbox_blocks_python_internals(tmp_path: Path) -> None:
    write(tmp_path, "default/en/sms.txt.j2", "{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(NoticeRenderError):
        NoticeRenderer(tmp_path).render(regime="default", locale="en", channel="sms", context={})


def test_paragraphs_filter_escapes_and_splits() -> None:
    html = renderer().render_for(context(what_happened="First <i>one</i>.\n\nSecond."), regime="default",
                                 channel="email").parts["html"]
    assert "<p>First &lt;i&gt;one&lt;/i&gt;.</p>\n<p>Second.</p>" in html
