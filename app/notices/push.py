"""Web Push payloads for the push channel, kept under the Web Push size limit.

Push services must accept encrypted payloads of up to 4096 bytes (RFC 8030 7.2). With the
``aes128gcm`` content coding (RFC 8188, as RFC 8291 requires and pywebpush uses) one record adds a
header of 86 bytes (16 salt + 4 record size + 1 key-id length + 65 sender public key), a padding
delimiter of 1 byte and a 16-byte AEAD tag. So the plaintext may be at most
``4096 - 86 - 1 - 16 = 3993`` bytes: ``PUSH_MAX_PLAINTEXT_BYTES``.

Push is supplementary: a short title, a short body and the personal link to the full notice.
"""

from __future__ import annotations

import json

PUSH_ENCRYPTED_LIMIT = 4096
AES128GCM_OVERHEAD = 86 + 1 + 16
PUSH_MAX_PLAINTEXT_BYTES = PUSH_ENCRYPTED_LIMIT - AES128GCM_OVERHEAD  # 3993
_ELLIPSIS = "…"


class PushPayloadTooLarge(ValueError):
    """The payload does not fit even with the body shortened (title or link too long)."""


def _encode(title: str, body: str, url: str) -> bytes:
    payload = {"title": title, "body": body, "url": url}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def build_push_payload(*, title: str, body: str, url: str,
                       max_bytes: int = PUSH_MAX_PLAINTEXT_BYTES) -> bytes:
    """Compact UTF-8 JSON ``{"title", "body", "url"}`` of at most ``max_bytes`` bytes.

    The title and the link are never cut; a body that does not fit is shortened at a character
    boundary and ends with ``…``. Raises ``PushPayloadTooLarge`` when title and link alone exceed
    ``max_bytes`` (``max_bytes`` may not exceed ``PUSH_MAX_PLAINTEXT_BYTES``).
    """
    if max_bytes > PUSH_MAX_PLAINTEXT_BYTES:
        raise ValueError(f"max_bytes may not exceed {PUSH_MAX_PLAINTEXT_BYTES}")
    whole = _encode(title, body, url)
    if len(whole) <= max_bytes:
        return whole
    if len(_encode(title, _ELLIPSIS, url)) > max_bytes:
        raise PushPayloadTooLarge(f"push title and link alone exceed {max_bytes} bytes")
    low, high = 0, len(body)
    while low < high:  # longest prefix that fits
        mid = (low + high + 1) // 2
        if len(_encode(title, body[:mid].rstrip() + _ELLIPSIS, url)) <= max_bytes:
            low = mid
        else:
            high = mid - 1
    return _encode(title, body[:low].rstrip() + _ELLIPSIS, url)
