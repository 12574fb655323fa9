"""The Ed25519 signing key of export bundles.

The private key comes from ``BREACH_NOTIFY_SIGNING_KEY`` (a PKCS#8 PEM, or base64 of the 32-byte raw
seed), else from ``signing-key.pem`` in the instance folder, generated once (mode 0600). The public key is
published as a SubjectPublicKeyInfo PEM at ``/.well-known/breach-notify/signing-key`` and inside every
bundle; ``key_id`` is the SHA-256 (hex) of its DER encoding.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_FILE = "signing-key.pem"


class SigningKeyError(ValueError):
    """The configured signing key cannot be read (the message says why; never the key)."""


def _from_env(value: str) -> Ed25519PrivateKey:
    text = value.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise SigningKeyError("BREACH_NOTIFY_SIGNING_KEY is not an Ed25519 key")
            return key
        raw = base64.b64decode(text, validate=True)
        return Ed25519PrivateKey.from_private_bytes(raw)
    except (ValueError, binascii.Error) as exc:
        if isinstance(exc, SigningKeyError):
            raise
        raise SigningKeyError("BREACH_NOTIFY_SIGNING_KEY must be an Ed25519 PKCS#8 PEM or base64 of 32 bytes"
                              ) from exc


def load_signing_key(env_value: str | None, instance: Path) -> Ed25519PrivateKey:
    """The signing key (see the module docstring); generates ``instance/signing-key.pem`` when absent."""
    if env_value:
        return _from_env(env_value)
    path = instance / KEY_FILE
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"{path} is not an Ed25519 key")
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    instance.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The public key as a SubjectPublicKeyInfo PEM."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the public key's DER encoding."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()
