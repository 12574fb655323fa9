"""SmtpChannel against the aiosmtpd sandbox peer on loopback (plain, and STARTTLS + AUTH)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.channels.base import EmailOutbound, SmsOutbound, WrongMessageKind
from app.channels.email_smtp import SmtpChannel
from app.sandbox.common import FailurePlan, free_port
from app.sandbox.smtp_peer import SmtpPeer
from tests.channels.peers_fixtures import notice_email, self_signed, server_tls


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def secure_peer(cert: tuple[Path, Path]) -> Iterator[SmtpPeer]:
    peer = SmtpPeer(tls_context=server_tls(*cert), credentials=("svc", "s3cret"))
    peer.start()
    yield peer
    peer.stop()


def outbound(to: str = "zoe@example.net", ref: str = "d-1") -> EmailOutbound:
    return EmailOutbound(notice_email(to), "bounces@example.org", to, ref)


def test_plain_send_reaches_peer_with_non_ascii_headers_intact(plain_peer: SmtpPeer) -> None:
    channel = SmtpChannel(plain_peer.host, plain_peer.port, security="none", timeout=5)
    result = channel.send(outbound())
    channel.close()

    assert result.outcome == "accepted"
    [got] = plain_peer.messages
    assert result.provider_id == got.queue_id and result.provider_status == "2.0.0"
    assert got.mail_from == "bounces@example.org" and got.rcpt_tos == ("zoe@example.net",)
    parsed = got.parsed()
    assert parsed["Subject"] == "Benachrichtigung über eine Datenpanne \u2013 Art. 34 ✉"
    assert parsed["To"].addresses[0].display_name == "Zoë Ødegård"
    assert parsed["From"].addresses[0].display_name == "Datenschutz Müller GmbH"
    assert parsed.get_content().startswith("Sehr geehrte Zoë")
    assert b"=?utf-8?" in got.content  # RFC 2047 on the wire
    assert not got.tls and not got.authenticated


def test_starttls_and_auth(secure_peer: SmtpPeer, cert: tuple[Path, Path]) -> None:
    channel = SmtpChannel("127.0.0.1", secure_peer.port, security="starttls", username="svc", password="s3cret",
                          timeout=5, ca_file=str(cert[0]))
    result = channel.send(outbound())
    channel.close()

    assert result.outcome == "accepted"
    [got] = secure_peer.messages
    assert got.tls and got.authenticated


def test_wrong_password_is_temporary_auth_failure_and_nothing_arrives(secure_peer: SmtpPeer,
                                                                     cert: tuple[Path, Path]) -> None:
    channel = SmtpChannel("127.0.0.1", secure_peer.port, security="starttls", username="svc", password="wrong",
                          timeout=5, ca_file=str(cert[0]))
    result = channel.send(outbound())

    assert (result.outcome, result.error_code) == ("temporary_failure", "auth")
    assert secure_peer.messages == []


def test_untrusted_certificate_is_refused(secure_peer: SmtpPeer) -> None:
    channel = SmtpChannel("127.0.0.1", secure_peer.port, security="starttls", username="svc", password="s3cret",
                          timeout=5)  # system store: the self-signed certificate is not trusted
    result = channel.send(outbound())

    assert (result.outcome, result.error_code) == ("temporary_failure", "tls")
    assert secure_peer.messages == []


def test_4xx_is_temporary_5xx_permanent_and_dead(plain_peer: SmtpPeer) -> None:
    plain_peer.fail_recipient("busy@example.net", 451)
    plain_peer.fail_recipient("gone@example.net", 550)
    channel = SmtpChannel(plain_peer.host, plain_peer.port, security="none", timeout=5)

    busy = channel.send(outbound("busy@example.net"))
    gone = channel.send(outbound("gone@example.net"))
    fine = channel.send(outbound("ok@example.net"))
    channel.close()

    assert (busy.outcome, busy.error_code, busy.provider_status, busy.dead_contact) == (
        "temporary_failure", "451", "4.3.0", False)
    assert (gone.outcome, gone.error_code, gone.provider_status, gone.dead_contact) == (
        "permanent_failure", "550", "5.1.1", True)
    assert fine.outcome == "accepted"
    assert [m.rcpt_tos for m in plain_peer.messages] == [("ok@example.net",)]
    assert plain_peer.connections == 1  # refusals RSET and keep the connection
    for result in (busy, gone):
        assert result.error_message is not None and "example.net" not in result.error_message


def test_connection_reused_across_sends(plain_peer: SmtpPeer) -> None:
    channel = SmtpChannel(plain_peer.host, plain_peer.port, security="none", timeout=5)
    results = [channel.send(outbound(f"user{i}@example.net", f"d-{i}")) for i in range(5)]
    channel.close()

    assert [r.outcome for r in results] == ["accepted"] * 5
    assert len(plain_peer.messages) == 5
    assert plain_peer.connections == 1 and channel.connections_opened == 1


def test_reconnects_after_server_closed_the_connection(plain_peer: SmtpPeer) -> None:
    channel = SmtpChannel(plain_peer.host, plain_peer.port, security="none", timeout=5)
    assert channel.send(outbound(ref="d-1")).outcome == "accepted"
    plain_peer.stop()  # drops the open connection
    plain_peer.start()

    result = channel.send(outbound(ref="d-2"))
    channel.close()

    assert result.outcome == "accepted"
    assert channel.connections_opened == 2
    assert len(plain_peer.messages) == 2


def test_random_failures_from_plan() -> None:
    peer = SmtpPeer(failures=FailurePlan(temporary_rate=0.5, permanent_rate=0.5, seed=3))
    peer.start()
    try:
        channel = SmtpChannel(peer.host, peer.port, security="none", timeout=5)
        outcomes = {channel.send(outbound(f"u{i}@example.net")).outcome for i in range(10)}
        channel.close()
    finally:
        peer.stop()
    assert outcomes == {"temporary_failure", "permanent_failure"}
    assert peer.messages == []


def test_nobody_listening_is_temporary() -> None:
    channel = SmtpChannel("127.0.0.1", free_port(), security="none", timeout=2)
    result = channel.send(outbound())
    assert (result.outcome, result.error_code) == ("temporary_failure", "connect")


def test_wrong_message_kind_raises(plain_peer: SmtpPeer) -> None:
    channel = SmtpChannel(plain_peer.host, plain_peer.port, security="none", timeout=5)
    with pytest.raises(WrongMessageKind):
        channel.send(SmsOutbound("+15551234567", "hi", None, "d-1"))
