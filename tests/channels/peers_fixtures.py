"""Shared helpers for the channel tests: a self-signed certificate (made with ``cryptography``), TLS
contexts, a status-callback receiver, and message builders."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.wrappers import Request, Response

from app.channels.base import ReceiptUpdate
from app.channels.twilio_sms import ForgedCallback, parse_status_callback
from app.sandbox.common import HttpPeer


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A P-256 certificate for ``localhost`` and ``127.0.0.1`` valid for a day: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side TLS context with the certificate loaded."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return context


def notice_email(to: str = "zoe@example.net", subject: str = "Benachrichtigung über eine Datenpanne \u2013 Art. 34 ✉",
                 body: str = "Sehr geehrte Zoë, ...") -> EmailMessage:
    """A notice-like email with non-ASCII display names and subject."""
    message = EmailMessage(policy=SMTP)
    message["From"] = Address("Datenschutz Müller GmbH", addr_spec="dpo@example.org")
    message["To"] = Address("Zoë Ødegård", addr_spec=to)
    message["Subject"] = subject
    message["Message-ID"] = "<delivery-1@example.org>"
    message.set_content(body, cte="quoted-printable")
    return message


@dataclass
class CallbackReceiver:
    """Our side of Twilio status callbacks: a loopback server that verifies each POST with
    ``parse_status_callback`` and answers 204, or 403 for a forged signature (recording nothing)."""

    auth_token: str
    updates: list[ReceiptUpdate] = field(default_factory=list)
    forged: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.http = HttpPeer(self._wsgi)

    @property
    def url(self) -> str:
        return f"{self.http.url}/twilio/status"

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            update = parse_status_callback(request.url, request.form, request.headers.get("X-Twilio-Signature"),
                                           self.auth_token)
        except ForgedCallback:
            with self._lock:
                self.forged += 1
            return Response("forged", status=403)(environ, start_response)
        with self._lock:
            self.updates.append(update)
        return Response(status=204)(environ, start_response)
