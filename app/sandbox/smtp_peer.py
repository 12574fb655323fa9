"""A loopback SMTP server (aiosmtpd) that records every message instead of delivering it.

Optional STARTTLS (required before MAIL when a TLS context is given) and AUTH (PLAIN/LOGIN with one
username and password, required when set). Failures for rehearsals: ``fail_recipient(address, code)``
answers RCPT for that address with 451 (``4.3.0``) or 550 (``5.1.1``), and a ``FailurePlan`` does the same
for random recipients.
"""

from __future__ import annotations

import email
import email.policy
import logging
import ssl
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from app.sandbox.common import LOOPBACK, FailurePlan, free_port, require_loopback

log = logging.getLogger(__name__)

_REPLIES = {451: "451 4.3.0 Temporary failure (sandbox), try again later",
            550: "550 5.1.1 Mailbox unavailable (sandbox)"}


@dataclass(frozen=True)
class ReceivedEmail:
    """One accepted message: envelope ``mail_from`` and ``rcpt_tos``, the raw ``content`` (bytes as
    received), whether the session was ``authenticated`` and used ``tls``, and the ``queue_id`` named in
    the 250 reply, and ``received_at`` (``time.monotonic()`` seconds when the data was accepted)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    authenticated: bool
    tls: bool
    queue_id: str
    received_at: float = 0.0

    def parsed(self) -> EmailMessage:
        """The content parsed with ``email.policy.default`` (headers decoded)."""
        message = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


class _Handler:
    def __init__(self, peer: SmtpPeer) -> None:
        self._peer = peer

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        code = self._peer.reply_for(address)
        if code is not None:
            return _REPLIES[code]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        queue_id = uuid.uuid4().hex[:16]
        self._peer.record(ReceivedEmail(str(envelope.mail_from), tuple(envelope.rcpt_tos), bytes(content),
                                        bool(session.authenticated), session.ssl is not None, queue_id,
                                        time.monotonic()))
        return f"250 2.0.0 OK queued as {queue_id}"


class _Controller(Controller):
    def __init__(self, peer: SmtpPeer, **kwargs: Any) -> None:
        super().__init__(_Handler(peer), **kwargs)
        self._peer = peer

    def factory(self) -> SMTP:
        self._peer.count_connection()
        return SMTP(self.handler, **self.SMTP_kwargs)


class SmtpPeer:
    """Sandbox SMTP server on ``host``:``port`` (a free loopback port when 0).

    ``tls_context``: a server ``ssl.SSLContext`` (with its certificate loaded) enables and requires
    STARTTLS; ``credentials=(username, password)`` enables and requires AUTH; ``failures`` a random
    ``FailurePlan``; ``max_messages`` bounds the kept messages (oldest dropped). ``connections`` counts the
    client connections since ``start()``.
    """

    def __init__(self, *, host: str = LOOPBACK, port: int = 0, tls_context: ssl.SSLContext | None = None,
                 credentials: tuple[str, str] | None = None, failures: FailurePlan | None = None,
                 max_messages: int = 10_000) -> None:
        require_loopback(host)
        self.host, self.port = host, port or free_port(host)
        self._tls = tls_context
        self._credentials = credentials
        self.failures = failures or FailurePlan()
        self._scripted: dict[str, int] = {}
        self._messages: deque[ReceivedEmail] = deque(maxlen=max_messages)
        self._lock = threading.Lock()
        self.connections = 0
        self._controller: _Controller | None = None

    def fail_recipient(self, address: str, code: int) -> None:
        """Answer RCPT TO ``address`` with ``code`` (451 temporary or 550 permanent) from now on."""
        if code not in _REPLIES:
            raise ValueError("code must be 451 or 550")
        with self._lock:
            self._scripted[address.lower()] = code

    def reply_for(self, address: str) -> int | None:
        """The failure code for a RCPT address, or ``None`` to accept it (scripted first, then random)."""
        with self._lock:
            scripted = self._scripted.get(address.lower())
        if scripted is not None:
            return scripted
        draw = self.failures.draw()
        return {"temporary": 451, "permanent": 550}.get(draw)

    def record(self, message: ReceivedEmail) -> None:
        """Keep one accepted message."""
        with self._lock:
            self._messages.append(message)

    def count_connection(self) -> None:
        """Count one client connection."""
        with self._lock:
            self.connections += 1

    @property
    def messages(self) -> list[ReceivedEmail]:
        """The kept messages, oldest first."""
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        """Forget messages, scripted failures and the connection count."""
        with self._lock:
            self._messages.clear()
            self._scripted.clear()
            self.connections = 0

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        expected = self._credentials
        ok = (expected is not None and isinstance(auth_data, LoginPassword)
              and (auth_data.login, auth_data.password) == (expected[0].encode(), expected[1].encode()))
        return AuthResult(success=ok, handled=False)  # handled=False: a failure answers 535, not silence

    def start(self) -> None:
        """Listen (idempotent); returns once the server answers."""
        if self._controller is not None:
            return
        kwargs: dict[str, Any] = {"hostname": self.host, "port": self.port, "ready_timeout": 5.0}
        if self._tls is not None:
            kwargs.update(tls_context=self._tls, require_starttls=True)
        if self._credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=self._tls is not None)
        self._controller = _Controller(self, **kwargs)
        self._controller.start()
        with self._lock:
            self.connections = 0  # the controller's own start-up probe is not a client

    def stop(self) -> None:
        """Stop listening (idempotent)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
