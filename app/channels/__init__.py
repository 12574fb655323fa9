"""Channels: email (SMTP), SMS and voice calls (Twilio), Web Push and the sandbox, behind one small interface.

See ``app.channels.base`` for the interface and ``app.channels.registry`` for the settings.
"""

from app.channels.base import (
    Channel,
    EmailOutbound,
    OutboundMessage,
    PushOutbound,
    ReceiptUpdate,
    SendResult,
    SmsOutbound,
    VoiceOutbound,
    WrongMessageKind,
)
from app.channels.registry import ChannelConfigError, build_channels

__all__ = ["Channel", "ChannelConfigError", "EmailOutbound", "OutboundMessage", "PushOutbound", "ReceiptUpdate",
           "SendResult", "SmsOutbound", "VoiceOutbound", "WrongMessageKind", "build_channels"]
