"""A notice filled into its per-version skeleton is the same, byte for byte, as rendering it per person."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from pathlib import Path

import pytest

from app.channels.base import EmailOutbound, PushOutbound, SmsOutbound, VoiceOutbound
from app.crypto import FieldCipher
from app.dispatch.outbox import Job
from app.dispatch.render import MessageBuilder, VersionInfo
from app.dispatch.settings import DispatchSettings
from app.notices.context import NoticeContext, Recipient
from app.notices.email_build import Mailbox
from app.notices.rendering import NoticeRenderer
from app.notices.skeleton import make_skeleton, personal_outputs_only
from tests.notices.notices_sample import LINK, TEMPLATES, facts

NAMES = ("O'Brien & <Co>", 'Zoë "Zed" Müller', "李伟", "<script>alert(1)</script>", "A&amp;B",
         "Ünal   Y\u0131lmaz", "  spaced  ", "Customer")
LANGUAGES = ("en", "de", "fr", "zh", None, "pt-BR")
NOW = dt.datetime(2026, 3, 20, 9, 30, tzinfo=dt.UTC)
SETTINGS = DispatchSettings(public_url="https://notify.example", link_key=b"k" * 32)


def context(name: str, language: str | None, link: str = LINK) -> NoticeContext:
    recipient = Recipient(full_name=name, preferred_language=language, personal_link=link)
    return NoticeContext(facts=facts(organisation_name="Acme <Health> & O'Neil"), recipient=recipient,
                         notice_date=NOW.date())


@pytest.mark.parametrize("channel", ["email", "sms", "push", "voice"])
@pytest.mark.parametrize("locale", ["en", "de", "fr", "zh"])
def test_filled_skeleton_equals_full_render(channel: str, locale: str) -> None:
    renderer = NoticeRenderer(TEMPLATES)
    folder = ("default", locale)
    first = context("Seed Person", locale)
    skeleton = make_skeleton(renderer, channel=channel, folder=folder, requested_regime="us-ca",
                             values=first.template_vars())
    assert skeleton is not None
    for i, name in enumerate(NAMES):
        ctx = context(name, locale, f"https://notify.example/n/{i}.abc-_{i}?x=1&y=<2>")
        full = renderer.render_resolved(channel=channel, folder=folder, requested_regime="us-ca", context=ctx)
        assert ctx.recipient is not None
        filled = skeleton.fill({"full_name": ctx.recipient.full_name,
                                "personal_link": str(ctx.recipient.personal_link)})
        assert filled == full
    if channel == "email":
        assert "O&#39;Brien &amp; &lt;Co&gt;" in skeleton.fill(
            {"full_name": "O'Brien & <Co>", "personal_link": LINK}).parts["html"]


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(("source", "safe"), [
    ("Dear {{ recipient.full_name }}, read {{ recipient.personal_link }}", True),
    ("{% if recipient.preferred_language == 'de' %}Hallo{% else %}Hello{% endif %} {{ recipient.full_name }}", True),
    ("{% for x in facts.data_involved %}{{ x }} {{ recipient.full_name }}{% endfor %}", True),
    ("{{ recipient.full_name|upper }}", False),
    ("{{ recipient.full_name ~ '!' }}", False),
    ("{% if recipient.full_name == 'Customer' %}Hi{% endif %}", False),
    ("{% if recipient.personal_link %}{{ recipient.personal_link }}{% endif %}", False),
    ("{% set n = recipient.full_name %}{{ n }}", False),
    ("{% set n %}{{ recipient.full_name }}{% endset %}{{ n|upper }}", False),
    ("{% filter upper %}{{ recipient.full_name }}{% endfilter %}", False),
    ("{% autoescape false %}{{ recipient.full_name }}{% endautoescape %}", False),
    ("{% macro m() %}{{ recipient.full_name }}{% endmacro %}{{ m()|upper }}", False),
    ("{{ recipient }}", False),
    ("{{ recipient['full_name'] }}", False),
    ("{{ recipient.full_name[:3] }}", False),
    ("{{ recipient.full_name.split()[0] }}", False),
    ("{% for recipient in facts.data_involved %}{{ recipient }}{% endfor %}", False),
    ("{% include 'other.txt.j2' %}", False),
    ("{% block b %}{{ recipient.full_name }}{% endblock %}{{ self.b()|upper }}", False),
    ("{{ recipient.full_name", False),
])
def test_only_templates_printing_the_values_as_they_are_qualify(source: str, safe: bool) -> None:
    assert personal_outputs_only(source, NoticeRenderer(TEMPLATES)) is safe


def builder_pair(templates: Path) -> tuple[FieldCipher, VersionInfo, MessageBuilder, MessageBuilder]:
    cipher = FieldCipher([b"c" * 32])
    renderer = NoticeRenderer(templates)
    info = VersionInfo(0, "", "us-ca", ("default", "en"), renderer, facts(), Mailbox("Acme Ü", "n@acme.example"),
                       Mailbox("Privacy", "privacy@acme.example"))
    return cipher, info, MessageBuilder(cipher, SETTINGS), MessageBuilder(cipher, SETTINGS, skeletons=False)


def wire(outbound: object) -> object:
    """Comparable form of an outbound message (the multipart boundary is random in both paths)."""
    if isinstance(outbound, EmailOutbound):
        data = outbound.message  # the wire form (app.notices.email_build.wire_email)
        assert isinstance(data, bytes)
        boundary = re.search(rb'boundary="(=_[0-9a-f]{32})"', data)
        assert boundary
        return (data.replace(boundary.group(1), b"BOUNDARY"), outbound.envelope_from, outbound.envelope_to,
                outbound.reference)
    assert isinstance(outbound, SmsOutbound | PushOutbound | VoiceOutbound)
    return outbound


@pytest.mark.parametrize("channel", ["email", "sms", "voice"])
def test_message_builder_with_skeletons_builds_the_same_messages(channel: str) -> None:
    cipher, base, cached, plain = builder_pair(TEMPLATES)
    messages = 0
    for number, locale in enumerate(("en", "de", "fr", "zh")):
        info = VersionInfo(7 + number, channel, base.regime, ("default", locale), base.renderer, base.facts,
                           base.sender, base.reply_to)
        for i, name in enumerate(NAMES * 2):
            contact = f"p{i}@example.org" if channel == "email" else f"+1415555{i:04d}"
            job = Job(100 + i, 1, 7 + number, channel, 1, cipher.encrypt(name), LANGUAGES[i % len(LANGUAGES)],
                      cipher.encrypt(contact))
            assert wire(cached.build(job, info, NOW)) == wire(plain.build(job, info, NOW))
            messages += 1
    assert messages == 64
    assert any(s is not None for s in cached._skeletons.values())
    if channel == "email":
        html = cached.build(Job(1, 1, 10, "email", 1, cipher.encrypt("O'Brien & <Co>"), "en",
                                cipher.encrypt("o@example.org")), info, NOW)
        assert isinstance(html, EmailOutbound) and isinstance(html.message, bytes)
        body = email.message_from_bytes(html.message, policy=email.policy.default).get_body(("html",))
        assert body is not None and "O&#39;Brien &amp; &lt;Co&gt;" in body.get_content()


def test_templates_that_inspect_the_name_are_rendered_per_person(tmp_path: Path) -> None:
    write(tmp_path, "default/en/sms.txt.j2",
          "{% if recipient.full_name|length > 10 %}Hi{% else %}Hello{% endif %} "
          "{{ recipient.full_name|upper }} {{ recipient.personal_link }}")
    cipher, base, cached, _ = builder_pair(tmp_path)
    info = VersionInfo(3, "sms", "us-ca", ("default", "en"), base.renderer, base.facts, base.sender, None)
    texts = []
    for i, name in enumerate(("Al", "Bartholomew Long")):
        out = cached.build(Job(i + 1, 1, 3, "sms", 1, cipher.encrypt(name), "en", cipher.encrypt("+14155550100")),
                           info, NOW)
        assert isinstance(out, SmsOutbound)
        texts.append(re.sub(r"/n/\S+", "/n/LINK", out.body))
    assert texts == ["Hello AL https://notify.example/n/LINK", "Hi BARTHOLOMEW LONG https://notify.example/n/LINK"]
    assert list(cached._skeletons.values()) == [None]


def test_no_skeleton_without_a_recipient() -> None:
    values = NoticeContext(facts=facts(), recipient=None, notice_date=NOW.date()).template_vars()
    assert make_skeleton(NoticeRenderer(TEMPLATES), channel="sms", folder=("default", "en"), requested_regime="us-ca",
                         values=values) is None
