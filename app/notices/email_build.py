"""Build a notice email as an ``email.message.EmailMessage`` (policy ``email.policy.SMTP``, see ``POLICY``).

* ``multipart/alternative`` with a ``text/plain`` and a ``text/html`` part, both UTF-8 and
  quoted-printable, so every body line stays far below the RFC 5322 limit of 998 octets (2.1.1) whatever
  the template produced; attachments (e.g. the PDF letter) make it ``multipart/mixed``.
* ``From``, ``To`` and ``Reply-To`` are ``email.headerregistry.Address`` objects, never strings:
  non-ASCII display names and subjects are encoded as RFC 2047 encoded-words on serialisation.
* A CR or LF (or any other line break) in any header value raises ``HeaderInjectionError``.
* ``Message-ID`` is ``<delivery-{delivery_id}@{domain}>`` so a bounce or reply can be matched to the
  delivery.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import functools
import io
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from email import quoprimime
from email.generator import BytesGenerator
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, ClassVar

_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_DELIVERY_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]"
                     r"([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


_SHARED_HEADERS = frozenset({"content-type", "content-transfer-encoding", "mime-version", "from", "reply-to",
                             "subject"})


class _HeaderClasses(HeaderRegistry):
    """The standard header registry, making each header class once (the stdlib's ``__getitem__`` creates a
    new class on every header set or parsed) and parsing each MIME structure header value once (``text/plain;
    charset="utf-8"`` is the same in every notice; values with a random ``boundary`` are parsed every time).
    ``From`` and ``Reply-To`` (the incident's sender, the same in all its notices) and ``Subject`` (the same
    for every notice of a version and language) are parsed once too (the first 256 distinct values).
    Header objects are immutable, so messages may share them. Together that was most of the CPU time of
    building a notice email."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}
        self._parsed: dict[tuple[str, object], BaseHeader] = {}
        self._shared: set[int] = set()

    def __call__(self, name: str, value: str | Address) -> BaseHeader:
        lower = name.lower()
        if isinstance(value, Address):  # set from an Address object (From, Reply-To): keyed by its parts
            key: tuple[str, object] = (lower, (value.display_name, value.username, value.domain))
        elif "boundary" in value:
            return super().__call__(name, value)
        else:
            key = (lower, value)
        if lower not in _SHARED_HEADERS:
            return super().__call__(name, value)
        found = self._parsed.get(key)
        if found is None:
            found = super().__call__(name, value)
            if len(self._parsed) < 256:
                self._parsed[key] = found
                self._shared.add(id(found))
        return found

    def shares(self, header: object) -> bool:
        """Whether ``header`` is one of the header objects this registry hands to every message (kept
        for the life of the registry, so its id stays unique)."""
        return id(header) in self._shared

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


class _NoticePolicy(email.policy.EmailPolicy):
    """An ``EmailPolicy`` that folds each shared header object of its ``_HeaderClasses`` (MIME structure,
    ``From``, ``Reply-To``) once per policy setting: folding is a pure function of the immutable header and
    the policy, and was a third of flattening a notice."""

    _folded: ClassVar[dict[tuple[object, ...], bytes]] = {}

    def fold_binary(self, name: str, value: Any) -> bytes:
        """``EmailPolicy.fold_binary``, remembered for shared header objects."""
        factory = self.header_factory
        if not (isinstance(factory, _HeaderClasses) and factory.shares(value)):
            return super().fold_binary(name, value)
        key = (id(value), *sorted(self.__dict__.items()))
        found = self._folded.get(key)
        if found is None:
            found = super().fold_binary(name, value)
            if len(self._folded) < 1024:
                self._folded[key] = found
        return found


POLICY = _NoticePolicy().clone(linesep="\r\n", header_factory=_HeaderClasses())
"""``email.policy.SMTP`` (CRLF line ends) with the caching header registry and folding."""


class _WireGenerator(BytesGenerator):
    """``BytesGenerator`` producing the same bytes with less work: a body's line ends are rewritten in one
    replacement instead of one write per line (the stdlib's ``_write_lines``, a third of flattening a notice),
    and a multipart boundary is ``=_`` plus 128 random bits, which quoted-printable and base64 bodies cannot
    contain (``=`` only starts an escape or padding there), so the stdlib's scan of every line of every part
    for a collision is replaced by one substring test."""

    def _write_lines(self, lines: str) -> None:
        newline: str = self._NL  # type: ignore[attr-defined]  # the generator's linesep (private in the stubs)
        if lines:
            self.write(lines.replace("\n", newline) if "\r" not in lines else _NEWLINES.sub(newline, lines))

    @classmethod
    def _make_boundary(cls, text: str | bytes | None = None) -> str:
        boundary = f"=_{secrets.token_hex(16)}"
        line = f"--{boundary}"
        clash = line.encode() in text if isinstance(text, bytes) else text is not None and line in text
        if clash:  # cannot happen for quoted-printable or base64 parts; stay exact for any other
            return str(super()._make_boundary(text))  # type: ignore[misc]  # private in the stubs
        return boundary


_NEWLINES = re.compile(r"\r\n|\r|\n")  # the stdlib generator's NLCRE


def wire_bytes(message: EmailMessage) -> bytes:
    """``message`` flattened for SMTP DATA: CRLF line ends, as ``message.as_bytes`` with the ``linesep``
    set to CRLF would give (bodies byte for byte; a fresh boundary of ``=_`` and 32 hex digits)."""
    policy = message.policy if message.policy.linesep == "\r\n" else message.policy.clone(linesep="\r\n")
    out = io.BytesIO()
    _WireGenerator(out, mangle_from_=False, policy=policy).flatten(message)
    return out.getvalue()


_PART_HEAD = {subtype: f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: '
                         f'quoted-printable\r\n{"MIME-Version: 1.0" + chr(13) + chr(10) if subtype == "html" else ""}'
                         "\r\n".encode("ascii") for subtype in ("plain", "html")}
"""Each part's header block as the stdlib writes it (``add_alternative`` gives the html part its own
``MIME-Version``)."""
_MULTIPART = "multipart/alternative; boundary=\"=_{}\""
_FOLD_AT = 78  # POLICY.max_line_length
_BOUNDARY_STUB = "0" * 32


def _folded(name: str, value: str | Address) -> bytes:
    """One header line as the generator writes it under ``POLICY`` (RFC 2047, folding at 78)."""
    return POLICY.fold_binary(name, POLICY.header_factory(name, value))


def _qp_part(subtype: str, body: str) -> bytes:
    """One text part as ``set_content(body, subtype, charset="utf-8", cte="quoted-printable")`` and the
    generator produce it (``email.contentmanager._encode_text``, then CRLF line ends)."""
    payload = quoprimime.body_encode((b"\n".join(body.encode("utf-8").splitlines()) + b"\n").decode("latin-1"),
                                     POLICY.max_line_length or 78)
    return _PART_HEAD[subtype] + payload.replace("\n", "\r\n").encode("ascii")


def wire_email(*, sender: Mailbox, reply_to: Mailbox | None, to: Mailbox, subject: str, text: str, html: str,
               delivery_id: str | int, domain: str, sent_at: dt.datetime | None = None) -> bytes:
    """The bytes ``wire_bytes(build_email(...))`` gives for a notice without attachments (same checks and
    errors), written directly: no ``EmailMessage`` is built and the MIME structure is fixed, which halves
    the CPU cost of a notice email. ``tests/notices/test_notices_email.py`` holds the two paths byte for byte
    equal over names, scripts, line ends and lengths; attachments still go through :func:`build_email`."""
    if sent_at is not None and sent_at.tzinfo is None:
        raise ValueError("sent_at must be timezone-aware")
    head = [_folded("From", _address(sender, "sender")), _to_line(_address(to, "to"))]
    if reply_to is not None:
        head.append(_folded("Reply-To", _address(reply_to, "reply_to")))
    head += [_folded("Subject", _clean(subject, "subject")), _short_line("Message-ID", message_id(delivery_id, domain))]
    if sent_at is not None:
        head.append(_short_line("Date", format_datetime(sent_at)))
    parts = [_qp_part("plain", text), _qp_part("html", html)]
    boundary = _WireGenerator._make_boundary(b"\r\n".join(parts))
    line = f"--{boundary}".encode("ascii")
    head += [b"MIME-Version: 1.0\r\n", _content_type(boundary), b"\r\n", line, b"\r\n", parts[0], b"\r\n", line,
             b"\r\n", parts[1], b"\r\n", line, b"--\r\n"]
    return b"".join(head)


def _content_type(boundary: str) -> bytes:
    """The folded multipart ``Content-Type``: folded once (per process) for a stub boundary of the same
    length (folding depends only on lengths), the real one put in its place; any other boundary is folded
    in full."""
    if not (boundary.startswith("=_") and len(boundary) == 34):
        return _folded("Content-Type", f'multipart/alternative; boundary="{boundary}"')
    return _stub_content_type().replace(_BOUNDARY_STUB.encode("ascii"), boundary[2:].encode("ascii"), 1)


@functools.cache
def _stub_content_type() -> bytes:
    return _folded("Content-Type", _MULTIPART.format(_BOUNDARY_STUB))


_PLAIN_PHRASE = re.compile(r"[A-Za-z0-9'-]+(?: [A-Za-z0-9'-]+)*")
"""A display name of ASCII atoms (no specials, no encoded words): written as it is, unquoted."""
_PLAIN_SPEC = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def _short_line(name: str, value: str) -> bytes:
    """``name: value`` CRLF, which is what the stdlib writes for a short printable ASCII value without
    surrounding spaces (``Message-ID``, ``Date``); anything else goes through :func:`_folded`."""
    line = f"{name}: {value}"
    if len(line) < _FOLD_AT and line.isascii() and line.isprintable() and value.strip() == value and "  " not in value:
        return line.encode("ascii") + b"\r\n"
    return _folded(name, value)


def _to_line(address: Address) -> bytes:
    """The ``To`` header: written directly for a plain ASCII name (``Ann O'Neil <ann@example.org>``) that
    fits on one line, else parsed and folded by the stdlib (quoting, RFC 2047 words, folding)."""
    name, spec = address.display_name, address.addr_spec
    if not _PLAIN_SPEC.fullmatch(spec) or (name and not _PLAIN_PHRASE.fullmatch(name)):
        return _folded("To", address)
    return _short_line("To", f"{name} <{spec}>" if name else spec)


class HeaderInjectionError(ValueError):
    """A header value contains CR, LF or another line break; ``field`` names the header input."""

    def __init__(self, field: str) -> None:
        super().__init__(f"line break (CR/LF) not allowed in email header value: {field}")
        self.field = field


class InvalidAddressError(ValueError):
    """An address, delivery id or domain is not acceptable for a header."""


@dataclass(frozen=True)
class Mailbox:
    """A display name (any Unicode, may be empty) and an ASCII ``addr_spec`` such as ``a@example.org``."""

    name: str
    address: str


@dataclass(frozen=True)
class Attachment:
    """A file to attach: ``filename``, raw ``content`` bytes and ``mime_type`` like ``application/pdf``."""

    filename: str
    content: bytes
    mime_type: str = "application/pdf"


def _clean(value: str, field: str) -> str:
    if _LINE_BREAKS.search(value):
        raise HeaderInjectionError(field)
    return value


def _address(box: Mailbox, field: str) -> Address:
    name = _clean(box.name, f"{field} name")
    spec = _clean(box.address, f"{field} address").strip()
    if not spec.isascii() or spec.count("@") != 1 or " " in spec:
        raise InvalidAddressError(f"{field} address is not a plain ASCII addr-spec: {spec!r}")
    local, domain = spec.split("@")
    if not local or not domain:
        raise InvalidAddressError(f"{field} address is incomplete: {spec!r}")
    return Address(display_name=name, username=local, domain=domain)


def message_id(delivery_id: str | int, domain: str) -> str:
    """``<delivery-{delivery_id}@{domain}>``; the id is ``[A-Za-z0-9._-]``, the domain a hostname."""
    ident = _clean(str(delivery_id), "delivery_id")
    host = _clean(domain, "domain")
    if not _DELIVERY_ID.match(ident):
        raise InvalidAddressError(f"delivery id not usable in Message-ID: {ident!r}")
    if not _DOMAIN.match(host):
        raise InvalidAddressError(f"domain not usable in Message-ID: {host!r}")
    return f"<delivery-{ident}@{host}>"


def _attach(msg: EmailMessage, item: Attachment) -> None:
    filename = _clean(item.filename, "attachment filename")
    maintype, _, subtype = _clean(item.mime_type, "attachment mime_type").partition("/")
    if not maintype or not subtype:
        raise ValueError(f"attachment mime_type must be type/subtype: {item.mime_type!r}")
    msg.add_attachment(item.content, maintype=maintype, subtype=subtype, filename=filename)


def build_email(
    *,
    sender: Mailbox,
    reply_to: Mailbox | None,
    to: Mailbox,
    subject: str,
    text: str,
    html: str,
    delivery_id: str | int,
    domain: str,
    attachments: Sequence[Attachment] = (),
    sent_at: dt.datetime | None = None,
) -> EmailMessage:
    """Build the notice email; see the module docstring for the guarantees.

    ``sent_at`` (aware) sets the ``Date`` header; without it the sending transport adds one.
    Raises ``HeaderInjectionError`` for a line break in any header value and ``InvalidAddressError``
    for an unusable address, delivery id or domain.
    """
    msg = EmailMessage(policy=POLICY)
    msg["From"] = _address(sender, "sender")
    msg["To"] = _address(to, "to")
    if reply_to is not None:
        msg["Reply-To"] = _address(reply_to, "reply_to")
    msg["Subject"] = _clean(subject, "subject")
    msg["Message-ID"] = message_id(delivery_id, domain)
    if sent_at is not None:
        if sent_at.tzinfo is None:
            raise ValueError("sent_at must be timezone-aware")
        msg["Date"] = format_datetime(sent_at)
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for item in attachments:
        _attach(msg, item)
    return msg
