"""SandboxChannel, the registry (settings -> channels) and SandboxPeers end to end."""

from __future__ import annotations

import pytest

from app.channels.base import EmailOutbound, PushOutbound, SmsOutbound
from app.channels.email_smtp import SmtpChannel
from app.channels.registry import ChannelConfigError, build_channels
from app.channels.sandbox import MemoryRecorder, SandboxChannel, SandboxRecord
from app.channels.twilio_sms import TwilioSmsChannel
from app.channels.webpush import WebPushChannel
from app.sandbox.common import FailurePlan
from app.sandbox.peers import SandboxPeers
from tests.channels.peers_fixtures import notice_email


def test_sandbox_channel_records_full_messages() -> None:
    recorder = MemoryRecorder()
    email = SandboxChannel("email", recorder, id_factory=lambda: "sandbox-1")
    sms = SandboxChannel("sms", recorder)

    first = email.send(EmailOutbound(notice_email(), "bounces@example.org", "zoe@example.net", "d-1"))
    second = sms.send(SmsOutbound("+4915112345678", "Grüße", "https://n.example.org/cb", "d-2"))

    assert (first.outcome, first.provider_id, first.provider_status) == ("accepted", "sandbox-1", "sandbox")
    assert second.accepted and second.provider_id and second.provider_id.startswith("sandbox-")
    mail, text = recorder.records()
    assert (mail.kind, mail.recipient, mail.reference) == ("email", "zoe@example.net", "d-1")
    assert mail.subject == "Benachrichtigung über eine Datenpanne \u2013 Art. 34 ✉"
    assert b"Content-Transfer-Encoding: quoted-printable" in mail.content
    assert (text.kind, text.content, text.details["status_callback"]) == (
        "sms", "Grüße".encode(), "https://n.example.org/cb")


def test_sandbox_channel_with_callback_recorder() -> None:
    seen: list[SandboxRecord] = []
    channel = SandboxChannel("push", seen.append)
    channel.send(PushOutbound({"endpoint": "https://push.example.net/abc", "keys": {}}, b'{"t":1}', 60, "low", "d"))
    assert (seen[0].content, seen[0].details["urgency"], seen[0].recipient) == (
        b'{"t":1}', "low", "https://push.example.net/abc")


def test_memory_recorder_is_bounded() -> None:
    recorder = MemoryRecorder(limit=2)
    channel = SandboxChannel("sms", recorder)
    for i in range(3):
        channel.send(SmsOutbound("+4915112345678", f"m{i}", None, f"d-{i}"))
    assert [r.reference for r in recorder.records()] == ["d-1", "d-2"]


def test_default_settings_give_sandbox_channels() -> None:
    recorder = MemoryRecorder()
    channels = build_channels({}, recorder=recorder)
    assert sorted(channels) == ["email", "push", "sms", "voice"]
    assert all(isinstance(c, SandboxChannel) for c in channels.values())
    channels["sms"].send(SmsOutbound("+4915112345678", "x", None, "d-1"))
    assert len(recorder.records()) == 1


@pytest.mark.parametrize(("settings", "setting"), [
    ({"DISPATCH_MODE": "loud"}, "DISPATCH_MODE"),
    ({"DISPATCH_MODE": "live", "SMTP_PORT": "25"}, "SMTP_HOST"),
    ({"DISPATCH_MODE": "live", "SMTP_HOST": "h", "SMTP_USERNAME": "u"}, "SMTP_PASSWORD"),
    ({"DISPATCH_MODE": "live", "SMTP_HOST": "h", "SMTP_SECURITY": "ssl"}, "SMTP_SECURITY"),
    ({"DISPATCH_MODE": "live", "SMTP_HOST": "h", "SMTP_TIMEOUT": "soon"}, "SMTP_TIMEOUT"),
    ({"DISPATCH_MODE": "live", "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t"}, "TWILIO_FROM"),
    ({"DISPATCH_MODE": "live", "VAPID_SUBJECT": "mailto:a@b.c"}, "VAPID_PRIVATE_KEY"),
    ({"DISPATCH_MODE": "live", "VAPID_SUBJECT": "mailto:a@b.c", "VAPID_PRIVATE_KEY": "nope"}, "VAPID_PRIVATE_KEY"),
])
def test_half_configured_channel_names_the_setting(settings: dict[str, str], setting: str) -> None:
    with pytest.raises(ChannelConfigError) as caught:
        build_channels(settings)
    assert caught.value.setting == setting


def test_live_mode_leaves_out_unconfigured_channels() -> None:
    channels = build_channels({"DISPATCH_MODE": "live", "SMTP_HOST": "mail.example.org"})
    assert list(channels) == ["email"]
    email = channels["email"]
    assert isinstance(email, SmtpChannel) and (email.port, email.security) == (587, "starttls")


def test_sandbox_peers_settings_drive_live_channels_end_to_end() -> None:
    with SandboxPeers(receipt_delay=0.0) as peers:
        channels = build_channels(peers.settings())
        assert isinstance(channels["email"], SmtpChannel)
        assert isinstance(channels["sms"], TwilioSmsChannel)
        assert isinstance(channels["push"], WebPushChannel)

        mail = channels["email"].send(EmailOutbound(notice_email(), "bounces@example.org", "zoe@example.net", "1"))
        text = channels["sms"].send(SmsOutbound("+4915112345678", "Hinweis", None, "2"))
        note = channels["push"].send(PushOutbound(peers.webpush.new_subscription(), b"{}", 60, "normal", "3"))
        for channel in channels.values():
            channel.close()

        assert [r.outcome for r in (mail, text, note)] == ["accepted"] * 3
        assert len(peers.smtp.messages) == len(peers.twilio.messages) == len(peers.webpush.pushes) == 1
        assert peers.webpush.pushes[0].vapid_key == channels["push"].vapid_public_key_b64()  # type: ignore[attr-defined]


def test_sandbox_peers_failure_rate() -> None:
    with SandboxPeers(failure_rate=1.0, seed=5) as peers:
        sms = build_channels(peers.settings())["sms"]
        outcomes = {sms.send(SmsOutbound("+4915112345678", "x", None, str(i))).outcome for i in range(12)}
    assert outcomes == {"temporary_failure", "permanent_failure"}


def test_failure_plan_validates_rates() -> None:
    with pytest.raises(ValueError, match="fractions"):
        FailurePlan(temporary_rate=0.7, permanent_rate=0.7)


def test_peers_refuse_non_loopback_hosts() -> None:
    from app.sandbox.smtp_peer import SmtpPeer

    with pytest.raises(ValueError, match="loopback"):
        SmtpPeer(host="0.0.0.0")
