"""WebPushChannel (pywebpush + VAPID) against the sandbox push service, which verifies the VAPID JWT and
decrypts the payload with http_ece."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from py_vapid import Vapid

from app.channels.base import PushOutbound
from app.channels.webpush import WebPushChannel, b64url
from app.sandbox.common import free_port
from app.sandbox.webpush_peer import WebPushPeer

SUBJECT = "mailto:dpo@example.org"


@pytest.fixture(scope="module")
def peer() -> Iterator[WebPushPeer]:
    peer = WebPushPeer()
    peer.start()
    yield peer
    peer.stop()


@pytest.fixture(scope="module")
def vapid() -> Vapid:
    key = Vapid()
    key.generate_keys()
    return key


@pytest.fixture
def channel(vapid: Vapid, peer: WebPushPeer) -> Iterator[WebPushChannel]:
    peer.clear()
    channel = WebPushChannel(vapid.private_pem().decode(), SUBJECT, timeout=5)
    yield channel
    channel.close()


def push(subscription: dict[str, object], payload: bytes = b"{}") -> PushOutbound:
    return PushOutbound(subscription, payload, 3600, "high", "d-5", topic="breach-42")


def test_payload_decrypts_to_what_was_sent_and_vapid_verifies(channel: WebPushChannel, peer: WebPushPeer) -> None:
    payload = json.dumps({"title": "Datenpanne", "body": "Grüße, Zoë", "url": "https://n.example.org/p/abc"},
                         ensure_ascii=False).encode()
    result = channel.send(push(peer.new_subscription(), payload))

    assert result.outcome == "accepted" and result.provider_status == "201"
    assert result.provider_id is not None and result.provider_id.startswith(peer.url + "/msg/")
    [got] = peer.pushes
    assert got.payload == payload
    assert (got.ttl, got.urgency, got.topic) == (3600, "high", "breach-42")
    assert got.claims["aud"] == peer.url and got.claims["sub"] == SUBJECT
    assert got.vapid_key == channel.vapid_public_key_b64()


def test_claims_are_fresh_per_origin(channel: WebPushChannel, peer: WebPushPeer, vapid: Vapid) -> None:
    other = WebPushPeer()
    other.start()
    try:
        assert channel.send(push(peer.new_subscription())).accepted
        assert channel.send(push(other.new_subscription())).accepted  # a reused claims dict keeps the old aud
        assert other.pushes[0].claims["aud"] == other.url
    finally:
        other.stop()


def test_raw_base64_private_key_works(peer: WebPushPeer, vapid: Vapid) -> None:
    raw = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    channel = WebPushChannel(b64url(raw), SUBJECT, timeout=5)
    from_pem = WebPushChannel(vapid.private_pem().decode(), SUBJECT)
    assert channel.vapid_public_key_b64() == from_pem.vapid_public_key_b64()
    assert channel.send(push(peer.new_subscription())).accepted


@pytest.mark.parametrize("status", [410, 404])
def test_gone_subscription_is_permanent_and_dead(channel: WebPushChannel, peer: WebPushPeer, status: int) -> None:
    subscription = peer.new_subscription()
    peer.fail(subscription, status)
    result = channel.send(push(subscription))
    assert (result.outcome, result.error_code, result.dead_contact) == ("permanent_failure", str(status), True)
    assert peer.pushes == []


def test_unknown_endpoint_is_dead(channel: WebPushChannel, peer: WebPushPeer) -> None:
    subscription = peer.new_subscription()
    subscription["endpoint"] = peer.url + "/wpush/never-issued"
    result = channel.send(push(subscription))
    assert (result.outcome, result.dead_contact) == ("permanent_failure", True)


def test_429_is_temporary_with_retry_after(channel: WebPushChannel, peer: WebPushPeer) -> None:
    subscription = peer.new_subscription()
    peer.fail(subscription, 429, retry_after="42")
    result = channel.send(push(subscription))
    assert (result.outcome, result.error_code, result.retry_after_seconds) == ("temporary_failure", "429", 42.0)
    assert result.dead_contact is False


def test_500_is_temporary(channel: WebPushChannel, peer: WebPushPeer) -> None:
    subscription = peer.new_subscription()
    peer.fail(subscription, 500)
    assert channel.send(push(subscription)).outcome == "temporary_failure"


def test_peer_rejects_missing_or_bad_vapid(peer: WebPushPeer) -> None:
    endpoint = peer.new_subscription()["endpoint"]
    assert requests.post(endpoint, data=b"x", headers={"TTL": "60"}, timeout=5).status_code == 401
    bad = requests.post(endpoint, data=b"x", headers={"TTL": "60", "Authorization": "vapid t=a.b.c,k=AAAA"},
                        timeout=5)
    assert bad.status_code == 403


def test_malformed_subscription_is_dead_without_network(channel: WebPushChannel) -> None:
    result = channel.send(push({"endpoint": "https://push.example.net/x", "keys": {"p256dh": "", "auth": ""}}))
    assert (result.outcome, result.error_code, result.dead_contact) == (
        "permanent_failure", "invalid_subscription", True)


def test_unreachable_push_service_is_temporary(channel: WebPushChannel, peer: WebPushPeer) -> None:
    subscription = peer.new_subscription()
    subscription["endpoint"] = f"http://127.0.0.1:{free_port()}/wpush/x"
    result = channel.send(push(subscription))
    assert (result.outcome, result.error_code) == ("temporary_failure", "connect")


def test_bad_subject_or_key_is_rejected() -> None:
    with pytest.raises(ValueError, match="subject"):
        WebPushChannel("x", "dpo@example.org")
    with pytest.raises(ValueError, match="VAPID private key"):
        WebPushChannel("not a key", SUBJECT)
