"""``SandboxPeers``: the three sandbox peers together, on loopback, for rehearsals (tabletop exercises) and
tests. Nothing they receive leaves the machine.

    with SandboxPeers(failure_rate=0.05, receipt_delay=2.0) as peers:
        channels = build_channels(peers.settings())   # live channels pointed at the peers
        ...
        peers.smtp.messages, peers.twilio.messages, peers.webpush.pushes   # what "went out"
"""

from __future__ import annotations

import secrets
import ssl
from types import TracebackType

from py_vapid import Vapid

from app.sandbox.common import FailurePlan
from app.sandbox.smtp_peer import SmtpPeer
from app.sandbox.twilio_peer import TwilioPeer
from app.sandbox.webpush_peer import WebPushPeer

SANDBOX_FROM = "+15005550006"


class SandboxPeers:
    """Starts an SMTP peer, a Twilio-compatible REST peer and a Web Push peer on free 127.0.0.1 ports.

    ``failure_rate``: fraction of sends that fail, split evenly between temporary and permanent failures on
    every peer (0..1). ``receipt_delay``: seconds before Twilio status callbacks are posted (``None``: none are posted).
    ``undelivered_rate``: fraction of SMS whose receipt says ``undelivered``. ``seed`` makes failures
    repeatable. ``smtp_tls_context``/``smtp_credentials`` make the SMTP peer require STARTTLS/AUTH.
    A fresh Twilio auth token and VAPID key are generated per instance.
    """

    def __init__(self, *, failure_rate: float = 0.0, receipt_delay: float | None = 0.05, undelivered_rate: float = 0.0,
                 seed: int | None = None, smtp_tls_context: ssl.SSLContext | None = None,
                 smtp_credentials: tuple[str, str] | None = None) -> None:
        def plan(offset: int) -> FailurePlan:
            return FailurePlan(failure_rate / 2, failure_rate / 2, None if seed is None else seed + offset)

        self.smtp = SmtpPeer(tls_context=smtp_tls_context, credentials=smtp_credentials, failures=plan(1))
        self._smtp_credentials = smtp_credentials
        self._smtp_tls = smtp_tls_context is not None
        self.twilio = TwilioPeer("AC" + secrets.token_hex(16), secrets.token_hex(16), callback_delay=receipt_delay,
                                 undelivered_rate=undelivered_rate, failures=plan(2), seed=seed)
        self.webpush = WebPushPeer(failures=plan(3))
        self.vapid = Vapid()
        self.vapid.generate_keys()
        self._started = False

    def start(self) -> SandboxPeers:
        """Start all three (idempotent); returns ``self``. A peer that fails to start stops the others."""
        if self._started:
            return self
        try:
            self.smtp.start()
            self.twilio.start()
            self.webpush.start()
        except BaseException:
            self.stop()
            raise
        self._started = True
        return self

    def stop(self) -> None:
        """Stop all three (idempotent)."""
        self.webpush.stop()
        self.twilio.stop()
        self.smtp.stop()
        self._started = False

    def settings(self) -> dict[str, str]:
        """Channel settings (see ``app.channels.registry``) that point live channels at these peers.

        SMTP security is ``none`` unless the peer requires STARTTLS; then it is ``starttls`` and the caller
        must add ``SMTP_CA_FILE`` for the peer's certificate.
        """
        private_pem = self.vapid.private_pem().decode("ascii")
        result = {"DISPATCH_MODE": "live", "SMTP_HOST": self.smtp.host, "SMTP_PORT": str(self.smtp.port),
                  "SMTP_SECURITY": "starttls" if self._smtp_tls else "none",
                  "TWILIO_ACCOUNT_SID": self.twilio.account_sid, "TWILIO_AUTH_TOKEN": self.twilio.auth_token,
                  "TWILIO_FROM": SANDBOX_FROM, "TWILIO_BASE_URL": self.twilio.url,
                  "VAPID_PRIVATE_KEY": private_pem, "VAPID_SUBJECT": "mailto:sandbox@example.invalid"}
        if self._smtp_credentials is not None:
            result["SMTP_USERNAME"], result["SMTP_PASSWORD"] = self._smtp_credentials
        return result

    def __enter__(self) -> SandboxPeers:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
