from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from email.message import EmailMessage

import pytest

from app.notices.email_build import (
    POLICY,
    Attachment,
    HeaderInjectionError,
    InvalidAddressError,
    Mailbox,
    build_email,
    message_id,
    wire_bytes,
    wire_email,
)

SENDER = Mailbox("Zoë Müller-Łukasiewicz, Datenschutz", "privacy@acme.example")
REPLY = Mailbox("Hotline «Acme»", "hotline@acme.example")
TO = Mailbox("王小明", "xiaoming@example.org")
SUBJECT = "Benachrichtigung über eine Datenpanne \u2013 个人信息安全事件告知 " + "lang " * 20


def build(**changes: object) -> EmailMessage:
    values: dict[str, object] = {
        "sender": SENDER, "reply_to": REPLY, "to": TO, "subject": SUBJECT,
        "text": "Hallo O'Brien,\nmehr Text.\n", "html": "<p>Hallo O&#39;Brien</p>\n",
        "delivery_id": 4711, "domain": "notify.acme.example",
    }
    values.update(changes)
    return build_email(**values)  # type: ignore[arg-type]


def content(part: EmailMessage | None) -> str:
    """Decoded text of a part; line breaks are canonical CRLF on the wire (RFC 2046 4.1.1)."""
    assert part is not None
    text = part.get_content()
    assert isinstance(text, str)
    return text.replace("\r\n", "\n")


def parse(msg: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_rfc2047_round_trip_of_subject_and_names() -> None:
    raw = build().as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"=?utf-8?" in head
    assert max(len(line) for line in head.split(b"\r\n")) <= 78
    back = parse(build())
    assert back["Subject"] == SUBJECT
    sender = back["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == (SENDER.name, SENDER.address)
    to = back["To"].addresses[0]
    assert (to.display_name, to.addr_spec) == (TO.name, TO.address)
    assert back["Reply-To"].addresses[0].display_name == REPLY.name
    assert back["Message-ID"] == "<delivery-4711@notify.acme.example>"


def test_multipart_alternative_with_text_and_html() -> None:
    back = parse(build())
    assert back.get_content_type() == "multipart/alternative"
    plain = back.get_body(preferencelist=("plain",))
    assert content(plain) == "Hallo O'Brien,\nmehr Text.\n"
    assert content(back.get_body(preferencelist=("html",))) == "<p>Hallo O&#39;Brien</p>\n"
    assert plain is not None and plain["Content-Transfer-Encoding"] == "quoted-printable"


def test_long_body_lines_stay_within_rfc5322_limit() -> None:
    text = "x" * 5000 + "\n" + "ü" * 3000 + "\n"
    msg = build(text=text, html="<p>" + "y" * 4000 + "</p>\n")
    raw = msg.as_bytes()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    back = parse(msg)
    assert content(back.get_body(preferencelist=("plain",))) == text


@pytest.mark.parametrize(("field", "changes"), [
    ("subject", {"subject": "Hello\r\nBcc: victim@example.org"}),
    ("subject", {"subject": "Hello\nthere"}),
    ("sender name", {"sender": Mailbox("Acme\rX", "a@acme.example")}),
    ("to name", {"to": Mailbox("Eve\n", "e@example.org")}),
    ("to address", {"to": Mailbox("Eve", "e@example.org\r\nBcc: x@y.z")}),
    ("reply_to address", {"reply_to": Mailbox("R", "r@example.org\n")}),
    ("delivery_id", {"delivery_id": "1\r\n2"}),
    ("attachment filename", {"attachments": [Attachment("a\n.pdf", b"%PDF")]}),
])
def test_line_breaks_in_headers_are_rejected(field: str, changes: dict[str, object]) -> None:
    with pytest.raises(HeaderInjectionError) as info:
        build(**changes)
    assert info.value.field == field
    assert field in str(info.value)


def test_invalid_addresses_and_ids() -> None:
    with pytest.raises(InvalidAddressError):
        build(to=Mailbox("X", "no-at-sign"))
    with pytest.raises(InvalidAddressError):
        build(to=Mailbox("X", "jörg@example.org"))
    with pytest.raises(InvalidAddressError):
        message_id("a b", "example.org")
    with pytest.raises(InvalidAddressError):
        message_id("1", "exa mple.org")


def test_attachment_date_and_no_reply_to() -> None:
    sent = dt.datetime(2026, 3, 20, 9, 30, tzinfo=dt.UTC)
    msg = build(reply_to=None, attachments=[Attachment("Benachrichtigung.pdf", b"%PDF-1.7 test")], sent_at=sent)
    back = parse(msg)
    assert back.get_content_type() == "multipart/mixed"
    assert back["Reply-To"] is None
    assert back["Date"].datetime == sent
    attachments = list(back.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["Benachrichtigung.pdf"]
    assert attachments[0].get_content() == b"%PDF-1.7 test"
    with pytest.raises(ValueError):
        build(sent_at=dt.datetime(2026, 3, 20, 9, 30))


@pytest.mark.parametrize("changes", [
    {},
    {"text": "Zeile mit CR\r\nund nur CR\rund LF\n" + "x" * 300 + " \t\n", "html": "<p>é" * 400 + "</p>"},
    {"attachments": [Attachment("letter.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 40)]},
    {"text": "--=_0123456789abcdef\n", "sent_at": dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)},
])
def test_wire_bytes_are_the_stdlib_flattening_with_a_safe_boundary(changes: dict[str, object]) -> None:
    msg = build(**changes)
    wire = wire_bytes(msg)  # picks the boundaries (stored on the message, as the stdlib generator does)
    assert wire == msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))  # same bytes, same boundaries
    boundary = msg.get_boundary()
    assert boundary is not None and re.fullmatch(r"=_[0-9a-f]{32}", boundary)
    assert b"\r\n" in wire and b"\n" not in wire.replace(b"\r\n", b"")  # CRLF only
    parsed = email.message_from_bytes(wire, policy=email.policy.default)
    assert content(parsed.get_body(("plain",))) == content(build(**changes).get_body(("plain",)))
    assert parsed.get_content_type() == ("multipart/mixed" if "attachments" in changes else "multipart/alternative")
    assert len(list(parsed.iter_parts())) == 2
    for item in changes.get("attachments", []):  # type: ignore[attr-defined]
        assert next(parsed.iter_attachments()).get_content() == item.content


def test_wire_boundary_falls_back_to_the_stdlib_scan_on_a_collision(monkeypatch: pytest.MonkeyPatch) -> None:
    msg = EmailMessage(policy=POLICY)  # a 7bit body may hold any line; ours are quoted-printable
    msg.set_content("--=_" + "ab" * 16 + "\n", subtype="plain", charset="utf-8", cte="7bit")
    msg.add_alternative("<p>x</p>", subtype="html")
    monkeypatch.setattr("app.notices.email_build.secrets.token_hex", lambda n: "ab" * n)
    wire = wire_bytes(msg)
    assert msg.get_boundary() != "=_" + "ab" * 16
    assert b"--=_" + b"ab" * 16 + b"\r\n" in wire  # the body line is kept, under another boundary


WIRE_CASES = [
    {},
    {"to": Mailbox("Zoë O'Brien, Jr. (\"ZO\")", "zoe@example.org"), "reply_to": None},
    {"text": "Zeile mit CR\r\nund nur CR\rund LF\n" + "x" * 300 + " \t\n" + "=" * 90, "html": "<p>é" * 400 + "</p>"},
    {"text": "", "html": "", "subject": "x"},
    {"text": "ends without newline", "html": "<p>a</p>\n\n\n", "subject": "Ü" * 120},
    {"sent_at": dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))), "delivery_id": "d" * 100},
    {"to": Mailbox("王小明 " * 20, "x@example.org"), "text": "Sehr geehrte/r 王小明,\n\n" + "Zeile\n" * 200},
]


@pytest.mark.parametrize("changes", WIRE_CASES)
def test_wire_email_is_byte_for_byte_the_built_message(changes: dict[str, object],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.notices.email_build.secrets.token_hex", lambda n: "5f" * n)  # same boundary
    values: dict[str, object] = {
        "sender": SENDER, "reply_to": REPLY, "to": TO, "subject": SUBJECT, "text": "Hallo O'Brien,\nmehr Text.\n",
        "html": "<p>Hallo O&#39;Brien</p>\n", "delivery_id": 4711, "domain": "notify.acme.example", **changes}
    fast = wire_email(**values)  # type: ignore[arg-type]
    built = build_email(**values)  # type: ignore[arg-type]
    assert fast == wire_bytes(built)  # sets the boundary on ``built``
    assert fast == built.as_bytes(policy=email.policy.SMTP)  # the plain stdlib policy: our caches change nothing
    parsed = email.message_from_bytes(fast, policy=email.policy.default)
    assert content(parsed.get_body(("plain",))) == "\n".join(str(values["text"]).splitlines()) + "\n"
    assert parsed["Subject"] == values["subject"]


def test_wire_email_checks_like_build_email() -> None:
    with pytest.raises(HeaderInjectionError):
        wire_email(sender=SENDER, reply_to=None, to=Mailbox("a\nb", "a@example.org"), subject="s", text="t",
                   html="h", delivery_id=1, domain="example.org")
    with pytest.raises(InvalidAddressError):
        wire_email(sender=SENDER, reply_to=None, to=Mailbox("a", "not an address"), subject="s", text="t",
                   html="h", delivery_id=1, domain="example.org")
    with pytest.raises(ValueError, match="timezone-aware"):
        wire_email(sender=SENDER, reply_to=None, to=TO, subject="s", text="t", html="h", delivery_id=1,
                   domain="example.org", sent_at=dt.datetime(2026, 1, 1))


@pytest.mark.parametrize("to", [
    Mailbox("Ann O'Neil-Smith", "ann.o-neil+x@mail.example.org"), Mailbox("", "plain@example.org"),
    Mailbox("A", "a@b.example"), Mailbox("Ann  Double", "ann@example.org"), Mailbox("Ann. Dot", "ann@example.org"),
    Mailbox("Ann", "\"odd local\"@example.org".replace(" ", "_")), Mailbox("x" * 60, "long-address@example.org"),
    Mailbox("x" * 48, "y" * 10 + "@example.org"), Mailbox("x" * 49, "y" * 10 + "@example.org"),
    Mailbox("x" * 50, "y" * 10 + "@example.org"),
    Mailbox("Jo", "jo@xn--r8jz45g.jp"),
])
def test_the_direct_to_line_is_the_stdlib_header(to: Mailbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``To`` line written without the stdlib's parser (plain names that fit) is byte for byte the
    stdlib's, and names that need quoting, folding or encoding still take the stdlib's path."""
    monkeypatch.setattr("app.notices.email_build.secrets.token_hex", lambda n: "5f" * n)
    values: dict[str, object] = {"sender": SENDER, "reply_to": REPLY, "to": to, "subject": SUBJECT, "text": "t",
                                 "html": "<p>t</p>", "delivery_id": 7, "domain": "notify.acme.example",
                                 "sent_at": dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)}
    built = build_email(**values)  # type: ignore[arg-type]
    assert wire_email(**values) == wire_bytes(built)  # type: ignore[arg-type]  # sets the boundary on ``built``
    assert wire_bytes(built) == built.as_bytes(policy=email.policy.SMTP)


def test_plain_to_message_id_and_date_lines_skip_the_header_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    from email.headerregistry import Address

    from app.notices import email_build

    monkeypatch.setattr(email_build, "_folded", lambda name, value: pytest.fail(f"parsed {name}"))
    assert email_build._to_line(Address("Ann O'Neil", "ann", "example.org")) == b"To: Ann O'Neil <ann@example.org>\r\n"
    assert email_build._short_line("Message-ID", "<delivery-7@x.example>") == b"Message-ID: <delivery-7@x.example>\r\n"
