"""Email over SMTP (RFC 5321) with STARTTLS (RFC 3207) or implicit TLS (RFC 8314), AUTH, and one reused
connection.

Classification (``SendResult.outcome``):

* reply 2xx to MAIL, RCPT and end of DATA: ``accepted``; ``provider_status`` is the enhanced status code
  (``2.0.0``) when the server sends one, ``provider_id`` the queue id when the reply names one.
* reply 4xx (to MAIL, RCPT or DATA): ``temporary_failure``; reply 5xx: ``permanent_failure``. The
  per-recipient refusal (RCPT 550 5.1.1 "user unknown") counts the same way; enhanced codes ``5.1.1``,
  ``5.1.2``, ``5.1.3``, ``5.1.6`` and ``5.1.10`` (the mailbox or domain does not exist) also set
  ``dead_contact``.
* failures of the connection itself (connect, TLS, timeout, AUTH rejected): ``temporary_failure`` with
  ``error_code`` ``connect`` / ``tls`` / ``timeout`` / ``auth``: they say nothing about the recipient.
* The connection is reused across sends. When the server has closed it before DATA (idle timeout), the
  channel reconnects once and sends; a disconnect after DATA started gives ``temporary_failure`` with
  ``error_code="disconnected_in_data"`` (the server may or may not have taken the message).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import re
import smtplib
import socket
import ssl
import threading
from email.message import EmailMessage
from typing import Literal

from app.channels.base import EmailOutbound, OutboundMessage, SendResult, WrongMessageKind, redact
from app.notices.email_build import wire_bytes

log = logging.getLogger(__name__)

Security = Literal["starttls", "tls", "none"]
_DEAD_ENHANCED = frozenset({"5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10"})
_ENHANCED = re.compile(rb"^([245]\.\d{1,3}\.\d{1,3})\b")
_QUEUE_ID = re.compile(rb"(?:queued as|id=)\s*([A-Za-z0-9._-]{4,64})", re.IGNORECASE)


_DISCONNECTED_IN_DATA = SendResult("temporary_failure", error_code="disconnected_in_data",
                                   error_message="SMTP server closed the connection during DATA")


def _in_data(exc: smtplib.SMTPServerDisconnected) -> bool:
    return bool(exc.args) and exc.args[0] == "in-data"


class _NotDelivered(Exception):
    """Internal: the server answered a command with a non-success reply."""

    def __init__(self, code: int, reply: bytes, stage: str) -> None:
        super().__init__(code)
        self.code, self.reply, self.stage = code, reply, stage


def _reply_result(code: int, reply: bytes, stage: str) -> SendResult:
    enhanced_match = _ENHANCED.match(reply)
    enhanced = enhanced_match.group(1).decode() if enhanced_match else None
    text = redact(reply.decode("utf-8", "replace"))
    message = f"SMTP {stage} rejected: {code} {text}".strip()
    if 400 <= code < 500:
        return SendResult("temporary_failure", provider_status=enhanced, error_code=str(code), error_message=message)
    return SendResult("permanent_failure", provider_status=enhanced, error_code=str(code), error_message=message,
                      dead_contact=enhanced in _DEAD_ENHANCED)


class SmtpChannel:
    """Sends ``EmailOutbound`` messages through one SMTP server, reusing one connection.

    ``security``: ``starttls`` (port 587; the server must offer STARTTLS), ``tls`` (implicit TLS, port 465) or
    ``none`` (loopback sandboxes only). ``username``/``password`` enable AUTH (after TLS). ``timeout`` is the
    socket timeout in seconds. ``ca_file`` is a PEM bundle to trust instead of the system store (the
    certificate's name is still checked against ``host``). ``local_hostname`` is sent in EHLO.
    Thread-safe (sends are serialised); use one channel per worker thread for parallel sending.
    """

    name = "email"

    def __init__(self, host: str, port: int, *, security: Security = "starttls", username: str | None = None,
                 password: str | None = None, timeout: float = 30.0, ca_file: str | None = None,
                 local_hostname: str | None = None) -> None:
        if security not in ("starttls", "tls", "none"):
            raise ValueError(f"SMTP security must be starttls, tls or none, not {security!r}")
        if (username is None) != (password is None):
            raise ValueError("SMTP username and password go together")
        self.host, self.port, self.security = host, port, security
        self._username, self._password = username, password
        self._timeout = timeout
        self._local_hostname = local_hostname
        self._tls = ssl.create_default_context(cafile=ca_file) if security != "none" else None
        self._conn: smtplib.SMTP | None = None
        self._lock = threading.Lock()
        self.connections_opened = 0

    def _connect(self) -> smtplib.SMTP:
        conn: smtplib.SMTP
        if self.security == "tls":
            conn = smtplib.SMTP_SSL(self.host, self.port, local_hostname=self._local_hostname,
                                    timeout=self._timeout, context=self._tls)
        else:
            conn = smtplib.SMTP(self.host, self.port, local_hostname=self._local_hostname, timeout=self._timeout)
        try:
            conn.ehlo()
            if self.security == "starttls":
                conn.starttls(context=self._tls)
                conn.ehlo()
            if self._username is not None and self._password is not None:
                conn.login(self._username, self._password)
        except BaseException:
            _quietly_close(conn)
            raise
        # Sockets are created with the timeout; TCP_NODELAY so the small SMTP commands go out at once.
        if conn.sock is not None:
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connections_opened += 1
        return conn

    def send(self, message: OutboundMessage) -> SendResult:
        """Send one email: MAIL FROM ``envelope_from``, RCPT TO ``envelope_to``, DATA the message.

        Raises only ``WrongMessageKind``; every server or network answer becomes a ``SendResult``.
        """
        if not isinstance(message, EmailOutbound):
            raise WrongMessageKind(self.name, message)
        data = _wire_bytes(message.message)
        with self._lock:
            try:
                return self._send_locked(message, data)
            except smtplib.SMTPAuthenticationError as exc:
                self._drop()
                log.warning("smtp auth rejected host=%s code=%s", self.host, exc.smtp_code)
                return SendResult("temporary_failure", error_code="auth",
                                  error_message=f"SMTP AUTH rejected ({exc.smtp_code})")
            except (ssl.SSLError, smtplib.SMTPNotSupportedError) as exc:
                self._drop()
                return SendResult("temporary_failure", error_code="tls",
                                  error_message=f"TLS to SMTP server failed: {type(exc).__name__}")
            except TimeoutError:
                self._drop()
                return SendResult("temporary_failure", error_code="timeout", error_message="SMTP timeout")
            except (OSError, smtplib.SMTPException) as exc:
                self._drop()
                return SendResult("temporary_failure", error_code="connect",
                                  error_message=f"SMTP connection failed: {type(exc).__name__}")

    def _send_locked(self, message: EmailOutbound, data: bytes) -> SendResult:
        reused = self._conn is not None
        conn = self._conn if self._conn is not None else self._connect()
        self._conn = conn
        try:
            return self._transaction(conn, message, data)
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            if _in_data(exc):
                return _DISCONNECTED_IN_DATA
            if not reused:
                raise
            log.info("smtp connection closed by server; reconnecting host=%s", self.host)
            self._conn = self._connect()
            try:
                return self._transaction(self._conn, message, data)
            except smtplib.SMTPServerDisconnected as again:
                self._drop()
                if _in_data(again):
                    return _DISCONNECTED_IN_DATA
                raise

    def _transaction(self, conn: smtplib.SMTP, message: EmailOutbound, data: bytes) -> SendResult:
        options = []
        if conn.does_esmtp and conn.has_extn("size"):
            options.append(f"SIZE={len(data)}")
        if conn.has_extn("8bitmime") and not data.isascii():
            options.append("BODY=8BITMIME")
        try:
            code, reply = conn.mail(message.envelope_from, options)
            if code != 250:
                raise _NotDelivered(code, reply, "MAIL")
            code, reply = conn.rcpt(message.envelope_to)
            if code not in (250, 251):
                raise _NotDelivered(code, reply, "RCPT")
        except _NotDelivered as refused:
            self._reset(conn)
            return _reply_result(refused.code, refused.reply, refused.stage)
        try:
            code, reply = conn.data(data)
        except smtplib.SMTPDataError as exc:  # DATA itself refused (no 354)
            self._reset(conn)
            error = exc.smtp_error if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error).encode()
            return _reply_result(exc.smtp_code, error, "DATA")
        except smtplib.SMTPServerDisconnected as exc:
            raise smtplib.SMTPServerDisconnected("in-data") from exc
        if code != 250:
            return _reply_result(code, reply, "DATA")
        enhanced = _ENHANCED.match(reply)
        queue_id = _QUEUE_ID.search(reply)
        log.debug("smtp accepted ref=%s", message.reference)
        return SendResult("accepted", provider_id=queue_id.group(1).decode() if queue_id else None,
                          provider_status=enhanced.group(1).decode() if enhanced else str(code))

    def _reset(self, conn: smtplib.SMTP) -> None:
        try:
            conn.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            _quietly_close(self._conn)
            self._conn = None

    def close(self) -> None:
        """QUIT and close the connection, if one is open; the next send reconnects."""
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(OSError, smtplib.SMTPException):
                    self._conn.quit()
            self._drop()


def _quietly_close(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        conn.close()


def _wire_bytes(message: EmailMessage | bytes) -> bytes:
    """The message as sent on the wire: CRLF line ends, without ``Bcc`` (as ``smtplib.send_message``);
    bytes are taken as already in that form."""
    if isinstance(message, bytes):
        return message
    if "Bcc" in message or "Resent-Bcc" in message:
        message = copy.copy(message)
        del message["Bcc"]
        del message["Resent-Bcc"]
    return wire_bytes(message)
