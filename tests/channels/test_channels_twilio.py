"""TwilioSmsChannel (the real twilio client) against the Twilio-compatible sandbox peer, and status
callbacks signed by the peer and verified by ``parse_status_callback``."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import requests
from twilio.request_validator import RequestValidator

from app.channels.base import SmsOutbound
from app.channels.twilio_sms import ForgedCallback, TwilioSmsChannel, map_status, parse_status_callback
from app.sandbox.common import free_port
from app.sandbox.twilio_peer import TwilioPeer
from tests.channels.peers_fixtures import CallbackReceiver

SID, TOKEN = "AC" + "1" * 32, "peer-token"


@pytest.fixture(scope="module")
def peer() -> Iterator[TwilioPeer]:
    peer = TwilioPeer(SID, TOKEN, callback_delay=0.0)
    peer.start()
    yield peer
    peer.stop()


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    receiver = CallbackReceiver(TOKEN)
    receiver.http.start()
    yield receiver
    receiver.http.stop()


@pytest.fixture
def channel(peer: TwilioPeer) -> Iterator[TwilioSmsChannel]:
    peer.clear()
    channel = TwilioSmsChannel(SID, TOKEN, from_number="+15005550006", base_url=peer.url, timeout=5,
                               wall_clock=lambda: 1_000_000.0)
    yield channel
    channel.close()


def sms(to: str, callback: str | None = None, ref: str = "d-7") -> SmsOutbound:
    return SmsOutbound(to, "Wichtig: Datenpanne. Details: https://n.example.org/x", callback, ref)


def test_accepted_with_sm_sid_and_recorded_at_peer(channel: TwilioSmsChannel, peer: TwilioPeer) -> None:
    result = channel.send(sms("+4915112345678"))

    assert result.outcome == "accepted" and result.provider_status == "queued"
    assert result.provider_id is not None and re.fullmatch(r"SM[0-9a-f]{32}", result.provider_id)
    [got] = peer.messages
    assert (got.sid, got.to, got.sender) == (result.provider_id, "+4915112345678", "+15005550006")
    assert got.body.startswith("Wichtig: Datenpanne")


def test_messaging_service_sid_is_sent(peer: TwilioPeer) -> None:
    peer.clear()
    channel = TwilioSmsChannel(SID, TOKEN, messaging_service_sid="MG" + "2" * 32, base_url=peer.url, timeout=5)
    result = channel.send(sms("+4915112345678"))
    assert result.outcome == "accepted" and result.provider_status == "accepted"
    assert peer.messages[0].messaging_service_sid == "MG" + "2" * 32 and peer.messages[0].sender is None


@pytest.mark.parametrize(("code", "dead"), [(21211, True), (21217, True), (21614, False), (21610, False)])
def test_permanent_codes(channel: TwilioSmsChannel, peer: TwilioPeer, code: int, dead: bool) -> None:
    peer.script("+15005550001", 400, code)
    result = channel.send(sms("+15005550001"))

    assert (result.outcome, result.error_code, result.dead_contact) == ("permanent_failure", str(code), dead)
    assert result.retry_after_seconds is None
    assert result.error_message is not None and "5005550001" not in result.error_message
    assert peer.messages == []


def test_429_is_temporary_with_retry_after_from_header(channel: TwilioSmsChannel, peer: TwilioPeer) -> None:
    peer.script("+15005550009", 429, 20429, retry_after="17")
    result = channel.send(sms("+15005550009"))
    assert (result.outcome, result.error_code, result.provider_status) == ("temporary_failure", "20429", "429")
    assert result.retry_after_seconds == 17.0


def test_retry_after_http_date_uses_injected_clock(channel: TwilioSmsChannel, peer: TwilioPeer) -> None:
    peer.script("+15005550010", 429, 20429, retry_after="Mon, 12 Jan 1970 13:47:00 GMT")  # 1_000_020 s
    result = channel.send(sms("+15005550010"))
    assert result.retry_after_seconds == 20.0


def test_500_is_temporary(channel: TwilioSmsChannel, peer: TwilioPeer) -> None:
    peer.script("+15005550011", 500, 20500)
    result = channel.send(sms("+15005550011"))
    assert (result.outcome, result.error_code, result.dead_contact) == ("temporary_failure", "20500", False)


def test_rfc9457_problem_body_is_classified(channel: TwilioSmsChannel, peer: TwilioPeer) -> None:
    peer.script("+15005550012", 400, 21610, rfc9457=True)
    peer.script("+15005550013", 503, 20503, rfc9457=True, retry_after="3")
    opted_out = channel.send(sms("+15005550012"))
    unavailable = channel.send(sms("+15005550013"))
    assert (opted_out.outcome, opted_out.error_code, opted_out.dead_contact) == ("permanent_failure", "21610", False)
    assert (unavailable.outcome, unavailable.retry_after_seconds) == ("temporary_failure", 3.0)


def test_wrong_token_is_temporary_configuration_error(peer: TwilioPeer) -> None:
    channel = TwilioSmsChannel(SID, "wrong", from_number="+15005550006", base_url=peer.url, timeout=5)
    result = channel.send(sms("+4915112345678"))
    assert (result.outcome, result.error_code) == ("temporary_failure", "20003")


def test_unreachable_api_is_temporary() -> None:
    channel = TwilioSmsChannel(SID, TOKEN, from_number="+15005550006",
                               base_url=f"http://127.0.0.1:{free_port()}", timeout=2)
    result = channel.send(sms("+4915112345678"))
    assert (result.outcome, result.error_code) == ("temporary_failure", "connect")


def test_signed_callbacks_arrive_and_map_to_receipts(channel: TwilioSmsChannel, peer: TwilioPeer,
                                                     receiver: CallbackReceiver) -> None:
    peer.receipt("+4915100000002", "undelivered", "30005")
    ok = channel.send(sms("+4915100000001", receiver.url, ref="d-1"))
    bad = channel.send(sms("+4915100000002", receiver.url, ref="d-2"))

    attempts = peer.wait_for_callbacks(4)
    assert [a.answer for a in attempts] == [204] * 4
    finals = {u.provider_id: u for u in receiver.updates if u.state != "sent"}
    assert finals[ok.provider_id or ""].state == "delivered"
    assert finals[ok.provider_id or ""].reference == "d-1"
    failed = finals[bad.provider_id or ""]
    assert (failed.state, failed.error_code, failed.dead_contact, failed.reference) == (
        "failed_permanent", "30005", True, "d-2")
    assert {u.state for u in receiver.updates} == {"sent", "delivered", "failed_permanent"}


def test_forged_signature_gets_403_and_changes_nothing(receiver: CallbackReceiver) -> None:
    form = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered"}
    url = receiver.url + "?ref=d-9"
    forged = RequestValidator("not-the-token").compute_signature(url, form)

    answer = requests.post(url, data=form, headers={"X-Twilio-Signature": forged}, timeout=5)
    unsigned = requests.post(url, data=form, timeout=5)

    assert (answer.status_code, unsigned.status_code) == (403, 403)
    assert receiver.updates == [] and receiver.forged == 2


def test_parse_status_callback_directly() -> None:
    url = "https://notify.example.org/twilio/status?ref=d-3"
    form = {"MessageSid": "SM" + "b" * 32, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    signature = RequestValidator(TOKEN).compute_signature(url, form)

    update = parse_status_callback(url, form, signature, TOKEN)

    assert (update.state, update.error_code, update.reference, update.provider_status) == (
        "failed_temporary", "30003", "d-3", "undelivered")
    with pytest.raises(ForgedCallback):
        parse_status_callback(url, {**form, "MessageStatus": "delivered"}, signature, TOKEN)


@pytest.mark.parametrize(("status", "code", "state"), [
    ("queued", None, "sent"), ("accepted", None, "sent"), ("sending", None, "sent"), ("sent", None, "sent"),
    ("delivered", None, "delivered"), ("read", None, "delivered"), ("undelivered", None, "failed_temporary"),
    ("failed", None, "failed_permanent"), ("failed", "30001", "failed_temporary"),
    ("undelivered", "21610", "failed_permanent")])
def test_status_vocabulary(status: str, code: str | None, state: str) -> None:
    assert map_status("SM1", status, code).state == state


def test_callbacks_wait_for_configured_delay(receiver: CallbackReceiver) -> None:
    slow = TwilioPeer(SID, TOKEN, callback_delay=0.3)
    slow.start()
    try:
        channel = TwilioSmsChannel(SID, TOKEN, from_number="+15005550006", base_url=slow.url, timeout=5)
        started = time.monotonic()
        channel.send(sms("+4915100000003", receiver.url))
        slow.wait_for_callbacks(2)
        assert time.monotonic() - started >= 0.3
        assert [u.state for u in receiver.updates] == ["sent", "delivered"]
    finally:
        slow.stop()


def test_no_callbacks_when_delay_is_none(receiver: CallbackReceiver) -> None:
    """``callback_delay=None`` (the dispatch bench, where nobody listens): the message is accepted with its
    StatusCallback recorded, and nothing is posted to it."""
    quiet = TwilioPeer(SID, TOKEN, callback_delay=None)
    quiet.start()
    try:
        channel = TwilioSmsChannel(SID, TOKEN, from_number="+15005550006", base_url=quiet.url, timeout=5)
        assert channel.send(sms("+4915100000004", receiver.url)).outcome == "accepted"
        [message] = quiet.messages
        assert message.status_callback is not None and message.status_callback.startswith(receiver.url)
        assert quiet.wait_for_callbacks(1, timeout=0.5) == [] and receiver.updates == []
    finally:
        quiet.stop()


def test_environment_proxy_and_ca_settings_are_read_once_for_the_api_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client resolves HTTPS_PROXY / NO_PROXY / REQUESTS_CA_BUNDLE when it is made, for the host it talks
    to, and its session then stops re-reading the environment on every request."""
    from app.channels.twilio_sms import RecordingHttpClient

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/company-ca.pem")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    twilio = RecordingHttpClient(None, 5.0)
    assert twilio.proxy.get("https") == "http://proxy.internal:3128"
    assert twilio.session.verify == "/etc/ssl/company-ca.pem" and twilio.session.trust_env is False
    monkeypatch.setenv("NO_PROXY", "peer.internal")
    sandbox = RecordingHttpClient("http://peer.internal:8080", 5.0)
    assert "http" not in sandbox.proxy and "https" not in sandbox.proxy  # the peer is exempt: no proxy
    monkeypatch.setenv("HTTPS_PROXY", "http://other:1")  # read once: a later change leaves a made client alone
    assert twilio.proxy.get("https") == "http://proxy.internal:3128"
