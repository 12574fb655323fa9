"""Sandbox protocol peers on loopback (SMTP, Twilio-compatible REST, Web Push) for rehearsals and tests.

See ``app.sandbox.peers.SandboxPeers``.
"""

from app.sandbox.common import FailurePlan
from app.sandbox.peers import SandboxPeers
from app.sandbox.smtp_peer import SmtpPeer
from app.sandbox.twilio_peer import TwilioPeer
from app.sandbox.webpush_peer import WebPushPeer

__all__ = ["FailurePlan", "SandboxPeers", "SmtpPeer", "TwilioPeer", "WebPushPeer"]
