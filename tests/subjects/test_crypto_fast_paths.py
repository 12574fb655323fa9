"""The cheaper blind index and encryption produce exactly what the plain constructions produce."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import random
import re
import threading

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app import crypto
from app.crypto import BlindIndex, FieldCipher, key_id

KEY = bytes(range(32))
_TOKEN = re.compile(r"v1\.([0-9a-f]{8})\.([A-Za-z0-9_-]+=*)")


def _values() -> list[str]:
    rng = random.Random(7)
    alphabet = "abcXYZ019 @.+-_\u00e9\u00df\u4e2d\U0001f600\x00\n"
    values = ["", " ", "a", "ann@mail.de", "+4915112345678", "x" * 55, "x" * 56, "x" * 64, "x" * 200, "Zoë Ærø"]
    values += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 90))) for _ in range(3000)]
    return values


def _reference_digest(key: bytes, purpose: str, value: str) -> str:
    sub_key = hmac.new(key, f"breach-notify/blind-index/{purpose}".encode(), hashlib.sha256).digest()
    return hmac.new(sub_key, value.encode(), hashlib.sha256).hexdigest()[:32]


@pytest.mark.parametrize("purpose", ["email", "phone", "external_id", "postal", "", "zeichen-\u00fc"])
def test_blind_index_equals_hmac_of_the_purpose_sub_key(purpose: str) -> None:
    for key in (KEY, b"\xff" * 32):
        index = BlindIndex(key)
        differing = [v for v in _values() if index.digest(purpose, v) != _reference_digest(key, purpose, v)]
        assert differing == []


def test_digest_and_prefix_give_the_digest_and_its_indexed_key() -> None:
    from app.subjects.models import digest_key

    index = BlindIndex(KEY)
    for value in _values()[:500]:
        for kind in ("email", "phone", "external_id"):
            digest, prefix = index.digest_and_prefix(kind, value)
            assert digest == _reference_digest(KEY, kind, value)
            assert prefix == digest_key(kind, digest)
            assert prefix == int(digest[:16], 16) - (1 << 64 if int(digest[0], 16) >= 8 else 0)


def test_blind_index_keeps_purposes_apart_in_one_instance() -> None:
    index = BlindIndex(KEY)
    for value in _values()[:200]:
        for purpose in ("email", "phone", "email", "external_id"):
            assert index.digest(purpose, value) == _reference_digest(KEY, purpose, value)


def _opened(token: str, key: bytes, context: str) -> tuple[bytes, str]:
    """Nonce and plaintext of ``token``, read with the standard base64 and AES-GCM calls only."""
    match = _TOKEN.fullmatch(token)
    assert match is not None, token
    assert match.group(1) == key_id(key)
    blob = base64.urlsafe_b64decode(match.group(2))
    assert base64.urlsafe_b64encode(blob).decode() == match.group(2)  # canonical padding
    nonce, sealed = blob[:12], blob[12:]
    return nonce, AESGCM(key).decrypt(nonce, sealed, context.encode() or None).decode()


def test_tokens_keep_the_v1_format_and_decrypt_with_plain_aesgcm() -> None:
    cipher = FieldCipher([KEY])
    for context in ("subject.email", "", "subject.address", "subject.email"):
        for value in _values()[:400]:
            token = cipher.encrypt(value, context=context)
            assert _opened(token, KEY, context)[1] == value
            assert cipher.decrypt(token, context=context) == value
    sealed = AESGCM(KEY).encrypt(b"n" * 12, b"old", None)
    legacy = f"v1.{key_id(KEY)}.{base64.urlsafe_b64encode(b'n' * 12 + sealed).decode()}"  # the old encoding
    assert cipher.decrypt(legacy) == "old"


def test_nonces_are_unique_across_blocks_ciphers_and_threads() -> None:
    ciphers = [FieldCipher([KEY]), FieldCipher([KEY])]
    nonces = [_opened(ciphers[i % 2].encrypt("v", context="c"), KEY, "c")[0] for i in range(3000)]
    found: list[list[bytes]] = [[] for _ in range(4)]

    def draw(into: list[bytes]) -> None:
        into.extend(crypto._nonce() for _ in range(5000))

    threads = [threading.Thread(target=draw, args=(into,)) for into in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = nonces + [n for into in found for n in into]
    assert all(len(n) == 12 for n in everything)
    assert len(set(everything)) == len(everything)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_never_reuses_the_parents_pending_nonces() -> None:
    crypto._nonce()  # the parent now holds a block with unused nonces
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        os.write(write_end, b"".join(crypto._nonce() for _ in range(20)))
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    child_nonces = {child[i:i + 12] for i in range(0, len(child), 12)}
    parent_nonces = {crypto._nonce() for _ in range(crypto._NONCES_PER_DRAW)}
    assert len(child_nonces) == 20
    assert child_nonces.isdisjoint(parent_nonces)
