"""Channel throughput against the sandbox peers, next to the simplest possible sender loop (the ceiling).

Usage: python bench/channels_ceiling.py [--n 2000] [--only email,sms,push]

The peers (app.sandbox.SandboxPeers) run in a separate process so they do not share the GIL with the
sender. For each channel it times N sends of the same prepared message with
  raw:  (a) smtplib.SMTP, one connection, send_message in a loop
        (b) twilio.rest.Client with a base-URL-rewriting TwilioHttpClient, messages.create in a loop
        (c) pywebpush.webpush with a parsed Vapid key and a fresh claims dict, in a loop
  ours: SmtpChannel / TwilioSmsChannel / WebPushChannel .send in a loop
and prints msgs/s, ours/raw and the sender's CPU milliseconds per message (independent of the peer).
Each side runs once after a short warm-up.
"""

from __future__ import annotations

import argparse
import multiprocessing
import smtplib
import sys
import time
import urllib.parse
from collections.abc import Callable
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from py_vapid import Vapid
from pywebpush import webpush
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from app.channels.base import EmailOutbound, PushOutbound, SmsOutbound
from app.channels.email_smtp import SmtpChannel
from app.channels.registry import build_channels
from app.channels.twilio_sms import TwilioSmsChannel
from app.channels.webpush import WebPushChannel
from app.sandbox.peers import SandboxPeers

WARMUP = 20
Pair = tuple[tuple[float, float], tuple[float, float]]  # (raw, ours) x (msgs/s, cpu ms/msg)


def serve_peers(conn: Connection) -> None:
    """Child process: run the peers, send (settings, push subscription), wait for 'stop'."""
    with SandboxPeers(receipt_delay=None) as peers:  # no status callbacks: see bench/dispatch.serve_peers
        peers.smtp._messages = type(peers.smtp._messages)(maxlen=100)  # keep memory flat
        conn.send((peers.settings(), peers.webpush.new_subscription()))
        conn.recv()


class LocalTwilioHttpClient(TwilioHttpClient):
    """The recipe's redirecting client (RECIPES.md section 1)."""

    def __init__(self, base_url: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.base = urllib.parse.urlsplit(base_url)

    def request(self, method: str, url: str, *a: Any, **kw: Any) -> Any:
        u = urllib.parse.urlsplit(url)
        url = urllib.parse.urlunsplit((self.base.scheme, self.base.netloc, u.path, u.query, u.fragment))
        return super().request(method, url, *a, **kw)


def rate(n: int, step: Callable[[], object]) -> tuple[float, float]:
    """(msgs/s wall clock, sender CPU ms per message)."""
    for _ in range(WARMUP):
        step()
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        step()
    return n / (time.perf_counter() - started), (time.process_time() - cpu) / n * 1000


def notice() -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["From"] = Address("Datenschutz Müller GmbH", addr_spec="dpo@example.org")
    message["To"] = Address("Zoë Ødegård", addr_spec="zoe@example.net")
    message["Subject"] = "Benachrichtigung über eine Datenpanne"
    message.set_content("Sehr geehrte Zoë,\n\n" + "Wir informieren Sie über eine Datenpanne. " * 30,
                        cte="quoted-printable")
    return message


def bench_email(n: int, settings: dict[str, str]) -> Pair:
    host, port = settings["SMTP_HOST"], int(settings["SMTP_PORT"])
    message = notice()
    with smtplib.SMTP(host, port, local_hostname="bench.local", timeout=10) as raw:
        raw_rate = rate(n, lambda: raw.send_message(message, "bounces@example.org", ["zoe@example.net"]))
    channel = SmtpChannel(host, port, security="none", timeout=10, local_hostname="bench.local")
    outbound = EmailOutbound(message, "bounces@example.org", "zoe@example.net", "d-1")

    def ours() -> None:
        result = channel.send(outbound)
        assert result.accepted, result

    ours_rate = rate(n, ours)
    channel.close()
    return raw_rate, ours_rate


def bench_sms(n: int, settings: dict[str, str]) -> Pair:
    sid, token, sender = settings["TWILIO_ACCOUNT_SID"], settings["TWILIO_AUTH_TOKEN"], settings["TWILIO_FROM"]
    body = "Wichtig: Datenpanne bei Beispiel GmbH. Details: https://n.example.org/p/abc123"
    client = Client(sid, token, http_client=LocalTwilioHttpClient(settings["TWILIO_BASE_URL"], timeout=10))
    raw_rate = rate(n, lambda: client.messages.create(to="+4915112345678", from_=sender, body=body))
    channel = TwilioSmsChannel(sid, token, from_number=sender, base_url=settings["TWILIO_BASE_URL"], timeout=10)
    outbound = SmsOutbound("+4915112345678", body, None, "d-1")

    def ours() -> None:
        result = channel.send(outbound)
        assert result.accepted, result

    ours_rate = rate(n, ours)
    channel.close()
    return raw_rate, ours_rate


def bench_push(n: int, settings: dict[str, str], subscription: dict[str, Any]) -> Pair:
    vapid = Vapid.from_pem(settings["VAPID_PRIVATE_KEY"].encode())
    subject = settings["VAPID_SUBJECT"]
    payload = b'{"title":"Datenpanne","body":"Bitte lesen Sie den Hinweis.","url":"https://n.example.org/p/abc"}'
    raw_rate = rate(n, lambda: webpush(subscription, data=payload, vapid_private_key=vapid,
                                       vapid_claims={"sub": subject}, ttl=3600, timeout=10))
    channel = WebPushChannel(settings["VAPID_PRIVATE_KEY"], subject, timeout=10)
    outbound = PushOutbound(subscription, payload, 3600, "high", "d-1")

    def ours() -> None:
        result = channel.send(outbound)
        assert result.accepted, result

    ours_rate = rate(n, ours)
    channel.close()
    return raw_rate, ours_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="messages per loop")
    parser.add_argument("--only", default="email,sms,push", help="comma-separated subset")
    args = parser.parse_args()
    wanted = set(args.only.split(","))

    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=serve_peers, args=(child,), daemon=True)
    process.start()
    try:
        settings, subscription = parent.recv()
        build_channels(settings)  # the settings are valid for the registry too
        print(f"n={args.n} per loop, peers in a separate process; msgs/s")
        print(f"{'channel':<8} {'raw loop':>10} {'ours':>10} {'ours/raw':>9} {'raw cpu ms':>11} {'our cpu ms':>11}")
        runs = {"email": lambda: bench_email(args.n, settings), "sms": lambda: bench_sms(args.n, settings),
                "push": lambda: bench_push(args.n, settings, subscription)}
        for name, run in runs.items():
            if name in wanted:
                (raw_rate, raw_cpu), (ours_rate, ours_cpu) = run()
                print(f"{name:<8} {raw_rate:>10.0f} {ours_rate:>10.0f} {ours_rate / raw_rate:>9.2f} "
                      f"{raw_cpu:>11.2f} {ours_cpu:>11.2f}", flush=True)
    finally:
        parent.send("stop")
        process.join(timeout=10)


if __name__ == "__main__":
    main()
